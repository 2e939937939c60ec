#!/usr/bin/env bash
# The released model's ablations (docs/benchmarks.md, "Released model"), four at a time beside the
# graph on the GPU machine: each is benchmarks/gpu/release_ablation.py on the release_gpu preset
# with one change. Used as run_study.sh's STUDY_SIDE, with the graph on the same config files:
#   STUDY_CONFIG=config/presets/release_gpu.yaml STUDY_SIDE='bash benchmarks/gpu/release_ablations.sh' \
#     bash benchmarks/gpu/run_study.sh 480 results/features/gmd_synth.h5 results/features/gmd_synth_mix.h5
# (On 2026-11-25 it ran without STUDY_CONFIG, so the graph built gpu.yaml's caches and these four
# trained on the study's data: docs/results/release3-2026-11-25/ keeps them as study_data_*;
# release_ablation.py now stops when the caches' training kits are not the config's.)
set -u
run="python3 benchmarks/gpu/release_ablation.py"
cfg=(--configfile config/config.yaml config/presets/gpu.yaml config/presets/release_gpu.yaml --wait 900)
no_aug=(training.augment_gain_db=0 training.augment_tilt_db=0 training.augment_eq_db=0 training.augment_pitch_bins=0)
$run aug_seed1 "${cfg[@]}" --set training.seed=1 &
$run no_aug_seed1 "${cfg[@]}" --set training.seed=1 "${no_aug[@]}" &
$run aug_mix_only "${cfg[@]}" --set 'release.datasets=[gmd_synth_mix]' &
$run aug_conv_transformer "${cfg[@]}" --set release.architecture=conv_transformer \
  'release.params={d_model: 288, num_heads: 8, num_layers: 4}' &
wait
