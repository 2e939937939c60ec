#!/usr/bin/env bash
# Start CUDA MPS on the lent GPU machine if its driver has it, so that the kernels of trials
# side by side run at once instead of taking turns (docs/benchmarks.md, "Trials side by side").
# Source it from the repository root after setup_device.sh:  source benchmarks/gpu/mps.sh
# Idempotent on a warm machine; without MPS it says so and leaves the GPU time-shared.
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps/pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps/log
if [ ! -S /tmp/mps/pipe/control ]; then
  mkdir -p /tmp/mps/pipe /tmp/mps/log
  if command -v nvidia-cuda-mps-control >/dev/null && nvidia-cuda-mps-control -d \
     && python3 -c "import torch; torch.ones(1).cuda().sum().item()"; then
    echo "mps: CUDA MPS started"
  else
    echo quit | nvidia-cuda-mps-control 2>/dev/null
    rm -rf /tmp/mps
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    echo "mps: no CUDA MPS; concurrent trials time-share the GPU"
  fi
fi
