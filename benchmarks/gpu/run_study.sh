#!/usr/bin/env bash
# One call of the GPU study on the lent GPU machine (docs/results/gpu-2026-11-25/README.md says how it was run;
# the 2026-12-02 study used benchmarks/gpu/run_background.sh, which outlives a call: docs/results/gpu-study-2026-12-02/).
#   [STUDY_CONFIG=overlay.yaml] [STUDY_TAR=name.tar.xz] [STUDY_SIDE="command"] bash benchmarks/gpu/run_study.sh SECONDS [targets and snakemake arguments ...]
# STUDY_SIDE runs beside snakemake under the same time limit (e.g. benchmarks/gpu/release_ablation.py).
# Prepares the machine (benchmarks/gpu/setup_device.sh), starts CUDA MPS if the driver has it
# (kernels of concurrent trials then share the GPU instead of taking turns), samples the GPU's
# utilisation every 2 s into /tmp/gpu_util.csv, runs snakemake on config/presets/gpu.yaml for at
# most SECONDS (SIGINT at the limit: running trials stop and resume from their last epoch's
# checkpoint in the next call), and packs what the graph made (no audio, caches or checkpoints)
# into $OUT/${STUDY_TAR:-results.tar.xz}. On a machine kept warm between calls, everything made stays in place
# (the repository's ignored results/ and /tmp), so calls continue each other.
set -u
limit=$1
shift
source benchmarks/gpu/setup_device.sh || exit 1
source benchmarks/gpu/mps.sh
[ -f /tmp/gpu_util.csv ] || echo "time,utilization_gpu_pct,memory_used_mib" > /tmp/gpu_util.csv
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -l 2 >> /tmp/gpu_util.csv &
sampler=$!
start=$(date +%s)
side=
if [ -n "${STUDY_SIDE:-}" ]; then
  timeout -s INT "$limit" bash -c "$STUDY_SIDE" > /tmp/side-call.log 2>&1 &
  side=$!
fi
timeout -s INT "$limit" snakemake --cores 16 --resources gpu=12 --configfile config/presets/gpu.yaml ${STUDY_CONFIG:-} \
  --scheduler greedy --rerun-triggers mtime --rerun-incomplete --keep-going "$@" > /tmp/study-call.log 2>&1
status=$?
if [ -n "$side" ]; then
  wait "$side"; echo "run_study: side command exit $?"
  tail -5 /tmp/side-call.log; cat /tmp/side-call.log >> /tmp/side.log
fi
cat /tmp/study-call.log >> /tmp/study.log
grep -E "Error|error:|steps \(|Exiting|Terminating|Job stats" /tmp/study-call.log | tail -30
kill $sampler 2>/dev/null
echo "run_study: snakemake exit $status after $(( $(date +%s) - start )) s"
mkdir -p "${OUT:-/tmp/out}"
cp /tmp/gpu_util.csv /tmp/study.log /tmp/side.log "${OUT:-/tmp/out}/" 2>/dev/null
XZ_OPT=-T0 tar -cJf "${OUT:-/tmp/out}/${STUDY_TAR:-results.tar.xz}" --exclude='*.h5' --exclude='checkpoint.pt' --exclude='*.flac' \
  --exclude='results/trials/*/*/*/model.pt' --exclude='results/ablation/*/eval/*/predictions' results logs benchmarks/*/ .snakemake/log 2>/dev/null
ls -la "${OUT:-/tmp/out}"
exit $status
