"""Re-tune fold models' post-processing on their own validation sets, then score them on the
robustness suite (issue 11; docs/robustness.md, "Thresholds from the real validation songs
alone" and "Peak picking tuned on validation").

``train_fold`` fixes the peak picker's windows (config ``peaks:``) and tunes each class's
threshold on all validation items together: the fold's two validation songs in five suite
conditions (10 items) and about 43 synthetic validation tracks. For each fold model this script
computes the activations of those items on the transcription path (``crossval.FoldValidation``)
and re-tunes them by one rule, fixed before any test song is scored:

- ``--rule real-thresholds``: each class's threshold on the real items alone where they hold at
  least ``--min-real-onsets`` reference onsets of the class (two songs may hold no toms or no
  hi-hat at all), else on all items as before;
- ``--rule peak-params``: the picker's five windows from a grid around the configured ones
  (``pre_max`` and ``post_max`` 1-3, ``pre_avg`` 5/10/20, ``post_avg`` 1/2/5, ``wait`` 1/2/4 frames),
  each with its thresholds tuned on all items; the windows with the highest validation micro F1
  win (ties to the configured ones).

Before that it checks that the thresholds tuned on all items with the configured windows equal
the checkpoint's: otherwise the set-up differs from training and the script stops. It writes the
re-tuned fold models (``OUT/models/<fold>.pt``, not meant to be committed: the same weights) and
scores them on the suite, each song by the fold model that never heard it
(``OUT/robustness_long.csv``, ``robustness.csv``, ``robustness.png``), and writes ``OUT/retune.json``.
Compare with the models' own suite run (``benchmarks/gpu/collect_crossval.py``)::

    .venv/bin/python benchmarks/retune_folds.py --rule real-thresholds \\
        --models docs/results/release6-2026-12-02/models --out docs/results/threshold-source-2026-12-02 \\
        --preset config/presets/gpu.yaml --preset config/presets/release_gpu.yaml --preset config/presets/crossval_gpu.yaml

The synthetic validation tracks are the preset's rendered validation kits (rule ``render_kit``,
``results/audio/gmd_synth*/<kit>/``); the pool is ``results/pool``.
"""
import argparse
import itertools
import sys
from pathlib import Path

from average_folds import add_fold_validation_args, fold_validation, micro_f1_at  # benchmarks/ is on sys.path

RULES = ("real-thresholds", "peak-params")
#: The peak-picker windows ``--rule peak-params`` chooses from (frames).
PEAK_GRID = {"pre_max": (1, 2, 3), "post_max": (1, 2, 3), "pre_avg": (5, 10, 20), "post_avg": (1, 2, 5),
             "wait": (1, 2, 4)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rule", required=True, choices=RULES)
    ap.add_argument("--models", required=True, help="folder with fold0.pt ... (the fold models)")
    ap.add_argument("--folds", nargs="*", default=["fold0", "fold1", "fold2"])
    ap.add_argument("--min-real-onsets", type=int, default=50,
                    help="real-thresholds: a class's real validation onsets needed to tune it on them alone")
    add_fold_validation_args(ap)
    args = ap.parse_args(argv)
    if args.min_real_onsets < 1:
        print(f"--min-real-onsets: {args.min_real_onsets} is not >= 1")
        return 2

    import torch

    from drumscribe import CLASSES, models, peaks as peaks_mod
    from drumscribe.atomic import atomic_path, write_json
    from drumscribe.robustness import robustness

    setup = fold_validation(args)
    grid = sorted(float(g) for g in setup.grid)
    fps = int(setup.cfg.fps)
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)

    def counts(acts, refs, params):
        return peaks_mod.threshold_counts(acts, refs, params, fps, setup.window, grid)

    report = {"rule": args.rule, "models": args.models, "preset": args.preset, "folds": {}}
    if args.rule == "real-thresholds":
        report["min_real_onsets"] = args.min_real_onsets
    song_models = {}
    for name in args.folds:
        path = Path(args.models) / f"{name}.pt"
        model, meta = models.load_checkpoint(path, map_location="cpu")
        model.eval()
        validator, items, n_real = setup.validator(name, meta)
        acts = validator.activations(model)  # train_fold's validation activations (the transcription path)
        refs = [r for _, _, r in items]
        configured = dict(setup.peak_params)
        real = counts(acts[:n_real], refs[:n_real], configured)
        synth = counts(acts[n_real:], refs[n_real:], configured)
        both = {c: real[c] + synth[c] for c in CLASSES}
        th_all = peaks_mod.best_thresholds(both, grid)
        if th_all != dict(meta["thresholds"]):
            print(f"{path}: thresholds tuned here {th_all} differ from the stored {dict(meta['thresholds'])}; "
                  "the validation set is not the one it was trained with")
            return 1
        entry = {"n_real_items": n_real, "n_items": len(items), "configured": {
            "peak_params": configured, "thresholds": th_all, "val_micro_f1": micro_f1_at(both, th_all, grid)}}
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if args.rule == "real-thresholds":
            n_onsets = {c: int(real[c][0, 0] + real[c][0, 2]) for c in CLASSES}  # tp + fn: the reference onsets
            th_real_only = peaks_mod.best_thresholds(real, grid)
            th = {c: th_real_only[c] if n_onsets[c] >= args.min_real_onsets else th_all[c] for c in CLASSES}
            entry.update(real_only=th_real_only, chosen={"thresholds": th}, real_onsets=n_onsets)
            ckpt["thresholds"] = th
            ckpt["thresholds_from"] = f"real validation songs (classes with >= {args.min_real_onsets} onsets)"
            print(f"{name}: thresholds {th_all} -> {th} (real onsets {n_onsets})", flush=True)
        else:
            best = (entry["configured"]["val_micro_f1"], configured, th_all)
            for values in itertools.product(*PEAK_GRID.values()):
                params = dict(zip(PEAK_GRID, values))
                if params == configured:
                    continue
                c_all = counts(acts, refs, params)
                th = peaks_mod.best_thresholds(c_all, grid)
                f1 = micro_f1_at(c_all, th, grid)
                if f1 > best[0]:
                    best = (f1, params, th)
            f1, params, th = best
            entry["chosen"] = {"peak_params": params, "thresholds": th, "val_micro_f1": f1}
            ckpt["peak_params"] = params
            ckpt["thresholds"] = th
            print(f"{name}: peak params {configured} -> {params}, validation micro F1 "
                  f"{entry['configured']['val_micro_f1']:.4f} -> {f1:.4f}", flush=True)
        report["folds"][name] = entry
        with atomic_path(out / "models" / f"{name}.pt") as tmp:
            torch.save(ckpt, tmp)
        for song in setup.fold(name).test:
            song_models[song] = str(out / "models" / f"{name}.pt")
    write_json(out / "retune.json", report)
    robustness(song_models, args.mdb, out / "robustness_long.csv", out / "robustness.csv", out / "robustness.png",
               tracks=sorted(song_models), threads=args.threads,
               title=f"Robustness suite: fold models re-tuned on validation ({args.rule})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
