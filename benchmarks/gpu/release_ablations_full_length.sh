#!/usr/bin/env bash
# The full-length ablation of the released model, two seeds, beside the graph building the
# full-length features (docs/results/release3-2026-11-25/):
#   STUDY_CONFIG="config/presets/release_gpu.yaml benchmarks/gpu/release_full_length.yaml" \
#   STUDY_SIDE='bash benchmarks/gpu/release_ablations_full_length.sh' \
#     bash benchmarks/gpu/run_study.sh 480 results/features/gmd_synth.h5 results/features/gmd_synth_mix.h5
set -u
run="python3 benchmarks/gpu/release_ablation.py"
cfg=(--configfile config/config.yaml config/presets/gpu.yaml config/presets/release_gpu.yaml
     benchmarks/gpu/release_full_length.yaml --wait 900)
$run full_length "${cfg[@]}" &
$run full_length_seed1 "${cfg[@]}" --set training.seed=1 &
wait
