#!/usr/bin/env bash
# Train past the 10-minute limit of one device call: snakemake runs in its own process session
# on the GPU machine (it outlives the call that started it while the machine is held), and the
# calls only start it, watch it and collect what it made. Issue the next call at once: the
# machine goes back 30 s after a call ends, and with it the run.
#   bash benchmarks/gpu/run_background.sh start SECONDS CONFIGS... -- TARGETS...
#        set-up (setup_device.sh), GPU and CPU sampling, snakemake on the configs' overlays
#        (--cores 16 --resources gpu=4), then watches it for at most SECONDS
#   bash benchmarks/gpu/run_background.sh watch SECONDS
#        a progress line a minute (the folds' last epoch lines) until snakemake ends or SECONDS pass
#   bash benchmarks/gpu/run_background.sh collect
#        every results/crossval/*/model.pt to $OUT/<fold>_model.pt, the rest (histories, metrics,
#        logs, benchmarks, GPU and CPU samples, snakemake's log) to $OUT/run.tar.xz
set -u
bg=/tmp/bg
mode=$1
shift
source benchmarks/gpu/setup_device.sh || exit 1

watch() {
  local until=$(( $(date +%s) + $1 )) last=0
  while [ ! -f $bg/rc ] && [ "$(date +%s)" -lt "$until" ]; do
    if [ $(( $(date +%s) - last )) -ge 60 ]; then
      last=$(date +%s)
      echo "--- $(date +%T) load $(cut -d' ' -f1 /proc/loadavg), GPU $(tail -1 $bg/gpu_util.csv | cut -d, -f2)%"
      for f in logs/train_fold/*.log; do [ -f "$f" ] && grep -h "epoch\|Error\|error" "$f" | tail -1; done
      grep -E "Error|steps \(" $bg/snakemake.log | tail -2
    fi
    sleep 5
  done
  [ -f $bg/rc ] && { echo "snakemake exit $(cat $bg/rc)"; tail -15 $bg/snakemake.log; }
  return 0
}

case "$mode" in
  start)
    limit=$1
    shift
    configs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do configs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    mkdir -p $bg
    rm -f $bg/rc
    # the songs' multi-track folders mark them as present; their audio comes from the pool
    for s in 80sRock Beatles Britpop Country1 Grunge Punk Rockabilly Shadows SpeedMetal; do
      mkdir -p "/tmp/carry/mdb/MDB Drums/audio/multi-tracks/MusicDelta_$s/MusicDelta_${s}_RAW"
    done
    find results/pool -exec touch {} +
    echo "time,utilization_gpu_pct,memory_used_mib" > $bg/gpu_util.csv
    setsid nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -l 5 \
      >> $bg/gpu_util.csv 2>/dev/null < /dev/null &
    setsid bash -c "while true; do echo \"\$(date +%T) \$(cat /proc/loadavg)\"; sleep 15; done" \
      > $bg/cpu_load.txt 2>/dev/null < /dev/null &
    setsid bash -c 'snakemake "$@" --cores 16 --resources gpu=4 --rerun-triggers mtime --keep-going; echo $? > '$bg'/rc' \
      snakemake "$@" --configfile "${configs[@]}" > $bg/snakemake.log 2>&1 < /dev/null &
    echo "started snakemake $* on ${configs[*]}"
    watch "$limit"
    ;;
  watch)
    watch "$1"
    ;;
  collect)
    out=${OUT:-/tmp/out}
    mkdir -p "$out"
    for m in results/crossval/*/model.pt; do [ -f "$m" ] && cp "$m" "$out/$(basename "$(dirname "$m")")_model.pt"; done
    XZ_OPT=-T0 tar -cJf "$out/run.tar.xz" --exclude='*.pt' results/crossval logs benchmarks/train_fold \
      benchmarks/render_kit .snakemake/log -C $bg gpu_util.csv cpu_load.txt snakemake.log 2>/dev/null
    ls -la "$out"
    ;;
  *)
    echo "run_background.sh: unknown mode $mode (start, watch, collect)"; exit 2 ;;
esac
