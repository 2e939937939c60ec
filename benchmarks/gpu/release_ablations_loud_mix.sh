#!/usr/bin/env bash
# The louder-accompaniment ablation of the released model, two seeds, at most 10 epochs (the release
# kept epoch 7; `release.training` is what caps a release's epochs), beside the graph building its
# caches (docs/results/release3-2026-11-25/; on 2026-11-25 the cap was set on `training:`, which
# release.training overrides, both runs stopped early at epoch 14, and the call ended before their tests):
#   STUDY_CONFIG="config/presets/release_gpu.yaml benchmarks/gpu/release_loud_mix.yaml" \
#   STUDY_SIDE='bash benchmarks/gpu/release_ablations_loud_mix.sh' \
#     bash benchmarks/gpu/run_study.sh 420 results/features/gmd_synth.h5 results/features/gmd_synth_mix.h5
set -u
run="python3 benchmarks/gpu/release_ablation.py"
cfg=(--configfile config/config.yaml config/presets/gpu.yaml config/presets/release_gpu.yaml
     benchmarks/gpu/release_loud_mix.yaml --wait 900)
$run loud_mix "${cfg[@]}" --set "release.training={max_epochs: 10}" &
$run loud_mix_seed1 "${cfg[@]}" --set "release.training={max_epochs: 10}" training.seed=1 &
wait
