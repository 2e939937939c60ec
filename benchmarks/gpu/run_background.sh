#!/usr/bin/env bash
# Train past the 10-minute limit of one device call: snakemake runs in its own process session
# on the GPU machine (it outlives the call that started it while the machine is held), and the
# calls only start it, watch it and collect what it made. Issue the next call at once: the
# machine goes back 30 s after a call ends, and with it the run.
#   [BG_GPUS=N] [BG_MPS=1] bash benchmarks/gpu/run_background.sh start SECONDS CONFIGS... -- TARGETS...
#        set-up (setup_device.sh; with BG_MPS=1 CUDA MPS too, benchmarks/gpu/mps.sh), GPU and CPU
#        sampling, snakemake on the configs' overlays (--cores 16 --resources gpu=${BG_GPUS:-4}:
#        that many GPU jobs side by side), then watches it for at most SECONDS
#   bash benchmarks/gpu/run_background.sh watch SECONDS
#        a progress line a minute (the folds' last epoch lines) until snakemake ends or SECONDS pass
#   BG_COLLECT=collect|collect-study before start or watch: the call ends by collecting what the run has
#        made so far (below), so that a machine taken back during a later call (it happened on
#        2026-12-07, 14:15 UTC, 8 minutes into a study) loses that call's work, not the whole run's
#   bash benchmarks/gpu/run_background.sh control CONFIGS... -- TARGETS...
#        the control arm of a comparison: a second snakemake beside the running one, in a copy of the
#        checkout (/tmp/ctl) that shares its renders and pool, started once the first one trains
#        (its train_fold logs exist), on its own configs; `watch` follows both
#   bash benchmarks/gpu/run_background.sh collect
#        every results/crossval/*/model.pt to $OUT/<fold>_model.pt, the rest (histories, metrics,
#        logs, benchmarks, GPU and CPU samples, snakemake's log) to $OUT/run.tar.xz; a control's
#        results/crossval (models too), logs and snakemake log to $OUT/control.tar.xz
#   bash benchmarks/gpu/run_background.sh collect-study
#        what a study made (results/ without audio, the pool, caches, checkpoints and trial weights;
#        logs, benchmarks, samples) to $OUT/study.tar.xz, and the models the tables are made of (each
#        search's winner and its seed runs, float16 weights: half_checkpoint.py) to
#        $OUT/models_<arch>.tar, the dataset study's kind models (results/combinations/, one per fold
#        and seed) to $OUT/models_kinds.tar; files back from the machine are at most 16 MiB each,
#        so larger ones come split (NAME.part.aa, ...; join with `cat NAME.part.* > NAME`)
set -u
bg=${BG_DIR:-/tmp/bg}    # the run's own files (samples, snakemake's log); BG_DIR for tests
ctl=${BG_CTL:-/tmp/ctl}
mode=$1
shift
case "${BG_COLLECT:-}" in
  ""|collect|collect-study) ;;
  *) echo "run_background.sh: BG_COLLECT=$BG_COLLECT is not collect or collect-study"; exit 2 ;;
esac
source benchmarks/gpu/setup_device.sh || exit 1
[ "${BG_MPS:-0}" = 1 ] && source benchmarks/gpu/mps.sh

watch() {
  local until=$(( $(date +%s) + $1 )) last=0
  # until the graph (and a control beside it, if one was started) ends, or SECONDS pass
  while { [ ! -f $bg/rc ] || { [ -d $ctl/repo ] && [ ! -f $ctl/rc ]; }; } && [ "$(date +%s)" -lt "$until" ]; do
    if [ $(( $(date +%s) - last )) -ge 60 ]; then
      last=$(date +%s)
      echo "--- $(date +%T) load $(cut -d' ' -f1 /proc/loadavg), GPU $(tail -1 $bg/gpu_util.csv | cut -d, -f2)%"
      for f in logs/train_fold/*.log $ctl/repo/logs/train_fold/*.log; do
        [ -f "$f" ] && echo "$f: $(grep -h "epoch\|Error\|error" "$f" | tail -1)"
      done
      n_trials=$(ls -d results/trials/*/*/*/metrics.json results/seeds/*/*/*/metrics.json 2>/dev/null | wc -l)
      [ "$n_trials" -gt 0 ] && echo "trials and seed runs finished: $n_trials"
      grep -E "Error|steps \(" $bg/snakemake.log | tail -2
    fi
    sleep 5
  done
  [ -f $bg/rc ] && { echo "snakemake exit $(cat $bg/rc)"; tail -15 $bg/snakemake.log; }
  [ -f $ctl/rc ] && { echo "control snakemake exit $(cat $ctl/rc)"; tail -5 $ctl/snakemake.log; }
  return 0
}

# Files back from the machine are at most 16 MiB each: split larger ones into NAME.part.aa, .ab, ...
# (joined on the dev machine by `cat NAME.part.* > NAME`).
split_large() {
  local f
  for f in "$1"/*; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt $((15 * 1024 * 1024)) ] || continue
    split -b 15M "$f" "$f.part." && rm "$f"
  done
}

collect() {
  out=${OUT:-/tmp/out}
  mkdir -p "$out"
  for m in results/crossval/*/model.pt; do [ -f "$m" ] && cp "$m" "$out/$(basename "$(dirname "$m")")_model.pt"; done
  XZ_OPT=-T0 tar -cJf "$out/run.tar.xz" --exclude='*.pt' results/crossval logs benchmarks/train_fold \
    benchmarks/pseudo_labels benchmarks/render_kit .snakemake/log -C $bg gpu_util.csv cpu_load.txt snakemake.log 2>/dev/null
  [ -d $ctl/repo/results/crossval ] && XZ_OPT=-T0 tar -cJf "$out/control.tar.xz" -C $ctl/repo results/crossval logs \
    benchmarks/train_fold -C $ctl snakemake.log 2>/dev/null
  split_large "$out"
  ls -la "$out"
}

collect_study() {
  out=${OUT:-/tmp/out}
  models=$bg/models
  rm -rf "$models"
  mkdir -p "$out" "$models"
  pairs=()
  for best in results/search/*/*/best.json; do
    [ -f "$best" ] || continue
    d=$(dirname "$best"); dataset=$(basename "$(dirname "$d")"); arch=$(basename "$d")
    trial=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['trial'])" "$best")
    for m in "results/trials/$dataset/$arch/$trial/model.pt" results/seeds/$dataset/$arch/s*/model.pt; do
      [ -f "$m" ] || continue
      mkdir -p "$models/$arch"
      pairs+=("$m" "$models/$arch/${dataset}_$(basename "$(dirname "$m")").pt")
    done
  done
  # the dataset study's kind models (one per fold and seed: results/combinations/...)
  for m in results/combinations/*/*/*/s*/model.pt; do
    [ -f "$m" ] || continue
    IFS=/ read -r _ _ combination arch fold seed _ <<< "$m"
    mkdir -p "$models/kinds"
    pairs+=("$m" "$models/kinds/${combination}_${arch}_${fold}_${seed}.pt")
  done
  [ ${#pairs[@]} -gt 0 ] && python3 benchmarks/gpu/half_checkpoint.py "${pairs[@]}"
  for a in "$models"/*/; do [ -d "$a" ] && tar -cf "$out/models_$(basename "$a").tar" -C "$a" .; done
  XZ_OPT=-T0 tar -cJf "$out/study.tar.xz" --exclude='*.h5' --exclude='*.pt' --exclude='*.flac' \
    --exclude='results/pool' \
    results logs benchmarks/*/ .snakemake/log -C $bg gpu_util.csv cpu_load.txt snakemake.log 2>/dev/null
  split_large "$out"
  ls -la "$out"
}

# what BG_COLLECT asks for at the end of a start or watch call
collect_now() {
  case "${BG_COLLECT:-}" in
    collect) collect ;;
    collect-study) collect_study ;;
  esac
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
    setsid bash -c 'snakemake "$@" --cores 16 --resources gpu=${BG_GPUS:-4} --rerun-triggers mtime --keep-going; echo $? > '$bg'/rc' \
      snakemake "$@" --configfile "${configs[@]}" > $bg/snakemake.log 2>&1 < /dev/null &
    echo "started snakemake $* on ${configs[*]}"
    watch "$limit"
    collect_now
    ;;
  watch)
    watch "$1"
    collect_now
    ;;
  control)
    configs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do configs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    until=$(( $(date +%s) + 900 ))
    while ! ls logs/train_fold/*.log >/dev/null 2>&1; do
      [ -f $bg/rc ] || [ "$(date +%s)" -gt "$until" ] && { echo "control: the first graph never trained"; exit 1; }
      sleep 5
    done
    mkdir -p $ctl/repo/results
    tar -cf - --exclude=./results --exclude=./logs --exclude=./.snakemake --exclude=./benchmarks/render_kit \
      --exclude=./.whl --exclude=./.whl.tar.xz --exclude=./.carry.tar.xz . \
      | tar -xf - -C $ctl/repo
    ln -s "$PWD/results/audio" $ctl/repo/results/audio
    cp -al results/pool $ctl/repo/results/pool
    rm -f $ctl/rc
    (cd $ctl/repo && setsid bash -c 'snakemake "$@" --cores 16 --resources gpu=${BG_GPUS:-4} --rerun-triggers mtime --keep-going; echo $? > '$ctl'/rc' \
      snakemake "$@" --configfile "${configs[@]}" > $ctl/snakemake.log 2>&1 < /dev/null &)
    echo "started the control: snakemake $* on ${configs[*]} in $ctl/repo"
    ;;
  collect)
    collect
    ;;
  collect-study)
    collect_study
    ;;
  *)
    echo "run_background.sh: unknown mode $mode (start, watch, control, collect, collect-study)"; exit 2 ;;
esac
