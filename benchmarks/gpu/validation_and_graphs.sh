#!/usr/bin/env bash
# One device call (issue 14, docs/benchmarks.md "What bounds the slowest trials"): no data, the
# repository and the carried wheels (.whl.tar.xz; the GPU image's torch). Writes ${OUT:-.}/*.txt.
#   source benchmarks/gpu/setup_device.sh; bash benchmarks/gpu/validation_and_graphs.sh
# 0. the test of training.cuda_graphs (a captured step trains as the eager one; needs the wheels of
#    setup_device.sh, pytest among them);
# 1. validation: one epoch's activations over 170 one-minute tracks, per track (as before) and
#    in shared batches (now), alone and while 8 training copies load the GPU under CUDA MPS;
# 2. recurrent training under load: the study's slowest RNN (GRU 4 x 288) at batch 64, 1 and 8
#    copies side by side under MPS, eager and with the whole step in a CUDA graph;
# 3. where the vit's and the conv_transformer's compiled batch-1024 step spends its time
#    (torch.profiler, top operators by GPU time).
set -u
out=${OUT:-.}
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

# training.cuda_graphs on the GPU: its test (skipped on CPU machines, so CI never runs it)
python3 -m pytest -q -p no:cacheprovider tests/test_training.py -k captured 2>&1 | tail -15 | tee "$out/graph_test.txt"

python3 benchmarks/bench_validation.py --device cuda --repeat 1 2>&1 | tee "$out/validation_alone.txt"

source benchmarks/gpu/mps.sh
for i in $(seq 8); do
  python3 benchmarks/bench_training.py --device cuda --arch crnn --batch 64 --steps 100000 --warmup 2 \
    > /dev/null 2>&1 &
done
sleep 20
python3 benchmarks/bench_validation.py --device cuda --repeat 1 --config rnn_gru_288x4 crnn_gru_288x3 \
  conv_transformer_288x8 2>&1 | tee "$out/validation_loaded.txt"
kill $(jobs -p) 2>/dev/null; wait 2>/dev/null
echo quit | nvidia-cuda-mps-control 2>/dev/null; sleep 1
unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY

for graph in "" "--cuda-graph"; do
  BENCH_ARGS="$graph --params {\"hidden_size\":288}" \
    bash benchmarks/gpu/side_by_side.sh rnn 64 60 "1 8" mps 2>&1 | sed "s/^/rnn288 ${graph:-eager}: /" \
    | tee -a "$out/rnn_graph.txt"
done
python3 benchmarks/bench_training.py --device cuda --arch rnn crnn --batch 64 --steps 30 --warmup 5 --baseline \
  --cuda-graph 2>&1 | tee "$out/graph_alone.txt"

python3 benchmarks/bench_training.py --device cuda --arch vit conv_transformer --batch 1024 --compile --fused-adam \
  --cudnn-benchmark --channels-last --steps 8 --warmup 6 --profile 25 2>&1 | tee "$out/profile.txt"
