#!/usr/bin/env bash
# Trials side by side on one GPU (issue 14): N copies of benchmarks/bench_training.py (one
# architecture, random in-memory datapoints, forward + backward + Adam in bf16) started at once,
# with and without CUDA MPS; per run the copies' datapoints/s summed and the GPU utilisation
# (nvidia-smi every 0.5 s while they all run). Only the repository travels (no data):
#   bash benchmarks/gpu/side_by_side.sh ARCH BATCH STEPS "N1 N2 ..." [mps|nomps ...]
# prints one line per run: mode, N, summed datapoints/s, per copy, mean/median GPU utilisation.
# BENCH_ARGS adds options to every copy, e.g. BENCH_ARGS='--cuda-graph --params {"hidden_size":288}'
# (the JSON without spaces).
set -u
arch=$1 batch=$2 steps=$3 counts=$4
shift 4
modes=${*:-mps nomps}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
run() {  # mode n
  local mode=$1 n=$2 dir
  dir=$(mktemp -d)
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 500 > "$dir/util" 2>/dev/null &
  local sampler=$!
  for i in $(seq "$n"); do
    python3 benchmarks/bench_training.py --device cuda --arch "$arch" --batch "$batch" --steps "$steps" \
      --warmup 10 ${BENCH_ARGS:-} > "$dir/out$i" 2>&1 &
  done
  wait $(jobs -p | grep -v "^$sampler$")
  kill "$sampler" 2>/dev/null
  python3 - "$dir" "$mode" "$n" <<'EOF'
import re, statistics, sys
from pathlib import Path
d, mode, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
dps = []
for f in sorted(d.glob("out*")):
    rows = [ln.split() for ln in f.read_text().splitlines() if ln and not ln.startswith("#") and ln.split()[0] != "arch"]
    nums = [r for r in rows if len(r) > 5]
    if not nums:
        print(f"{mode} n={n}: a copy failed: {f.read_text()[-300:]}")
        continue
    # columns: arch batch [options...] params datapoints/s ms/batch mem ...; datapoints/s is the
    # first float after the comma-grouped parameter count
    r = nums[-1]
    i = next(k for k, v in enumerate(r) if re.fullmatch(r"[\d,]+", v) and "," in v)
    dps.append(float(r[i + 1]))
util = [float(x) for x in (d / "util").read_text().split() if x.replace(".", "").isdigit()]
busy = util[2:-2] or util
print(f"{mode:6s} n={n:2d}: {sum(dps):9.0f} datapoints/s in all ({statistics.mean(dps) if dps else 0:7.0f} per copy), "
      f"GPU utilisation mean {statistics.mean(busy):5.1f} % median {statistics.median(busy):5.1f} % ({len(util)} samples)")
EOF
  rm -rf "$dir"
}
for mode in $modes; do
  if [ "$mode" = mps ]; then
    export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps/pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps/log
    mkdir -p /tmp/mps/pipe /tmp/mps/log
    nvidia-cuda-mps-control -d || { echo "no CUDA MPS"; continue; }
  fi
  for n in $counts; do run "$mode" "$n"; done
  if [ "$mode" = mps ]; then
    echo quit | nvidia-cuda-mps-control
    sleep 1
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
  fi
done
