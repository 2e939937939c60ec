"""Fold models' per-class thresholds tuned on the real validation songs alone, against the
whole validation set, scored on the robustness suite (issue 11; docs/robustness.md,
"Thresholds from the real validation songs alone").

``train_fold`` tunes each class's threshold on all validation items together: the fold's two
validation songs in five suite conditions (10 items) and about 43 synthetic validation tracks,
whose onsets outnumber the real ones for toms and cymbals. This script, for each fold model:
computes the activations of its validation items on the transcription path
(``crossval.FoldValidation``), counts TP/FP/FN per class and threshold on the real items and
on the synthetic items apart, and derives

- ``all``: both summed, i.e. what ``train_fold`` stored (checked: it must equal the
  checkpoint's thresholds, else the set-up differs from training and the script stops);
- ``real``: the real items alone, for each class that has at least ``--min-real-onsets``
  reference onsets there (two songs may hold no toms or no hi-hat at all), else ``all``.

The rule is fixed before any test song is scored. It then writes the fold models with the
``real`` thresholds (``OUT/models/<fold>.pt``) and scores them on the robustness suite, each
song by the fold model that never heard it (``OUT/robustness_long.csv``, ``robustness.csv``,
``robustness.png``), and ``OUT/thresholds.json``. Compare with the models' own suite run
(``benchmarks/gpu/collect_crossval.py``)::

    .venv/bin/python benchmarks/threshold_source.py --models docs/results/release6-2026-12-02/models \\
        --out docs/results/threshold-source-2026-12-02 \\
        --preset config/presets/gpu.yaml --preset config/presets/release_gpu.yaml --preset config/presets/crossval_gpu.yaml

The synthetic validation tracks are the preset's rendered validation kits (rule ``render_kit``,
``results/audio/gmd_synth*/<kit>/``); the pool is ``results/pool``.
"""
import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True, help="folder with fold0.pt ... (the fold models)")
    ap.add_argument("--folds", nargs="*", default=["fold0", "fold1", "fold2"])
    ap.add_argument("--min-real-onsets", type=int, default=50,
                    help="a class's real validation onsets needed to tune it on the real items alone")
    ap.add_argument("--preset", action="append", default=[])
    ap.add_argument("--pool", default="results/pool")
    ap.add_argument("--mdb", default=str(REPO.parent / "shared" / "data" / "mdb_drums_dev" / "MDB Drums"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.min_real_onsets < 1:
        print(f"--min-real-onsets: {args.min_real_onsets} is not >= 1")
        return 2

    import numpy as np
    import torch

    from drumscribe import CLASSES, crossval, models, peaks as peaks_mod
    from drumscribe.atomic import atomic_path, write_json
    from drumscribe.config import load_config
    from drumscribe.evaluation import set_threads
    from drumscribe.robustness import robustness
    from drumscribe.transcribe import Transcriber

    set_threads(args.threads)
    config = load_config(args.preset, base=REPO / "config" / "config.yaml")
    setup = crossval.FoldValidation(config, args.pool, args.mdb, REPO / "results" / "audio", args.threads)
    grid = np.asarray(setup.grid, np.float64)
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)

    def best(counts) -> dict:  # peaks.tune_thresholds' rule on given counts: max F1, ties to the lowest
        th = {}
        for c in CLASSES:
            tp, fp, fn = counts[c].T.astype(np.float64)
            denom = 2 * tp + fp + fn
            th[c] = float(grid[int(np.argmax(np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 1.0)))])
        return th

    report = {"models": args.models, "min_real_onsets": args.min_real_onsets, "preset": args.preset, "folds": {}}
    song_models = {}
    for name in args.folds:
        path = Path(args.models) / f"{name}.pt"
        model, meta = models.load_checkpoint(path, map_location="cpu")
        model.eval()
        items, n_real = setup.items(name)
        t = Transcriber.from_model(model, meta, device="cpu")
        acts = [t.stitched_activations(spec) for _, spec, _ in items]
        refs = [r for _, _, r in items]
        fps = int(setup.cfg.fps)
        real = peaks_mod.threshold_counts(acts[:n_real], refs[:n_real], setup.peak_params, fps, setup.window, grid)
        synth = peaks_mod.threshold_counts(acts[n_real:], refs[n_real:], setup.peak_params, fps, setup.window, grid)
        th_all = best({c: real[c] + synth[c] for c in CLASSES})
        if th_all != dict(meta["thresholds"]):
            print(f"{path}: thresholds tuned here {th_all} differ from the stored {dict(meta['thresholds'])}; "
                  "the validation set is not the one it was trained with")
            return 1
        n_onsets = {c: int(real[c][0, 0] + real[c][0, 2]) for c in CLASSES}  # tp + fn: the reference onsets
        th_real_only = best(real)
        th_real = {c: th_real_only[c] if n_onsets[c] >= args.min_real_onsets else th_all[c] for c in CLASSES}
        report["folds"][name] = {"all": th_all, "real_only": th_real_only, "real": th_real,
                                 "real_onsets": n_onsets, "n_real_items": n_real, "n_items": len(items)}
        print(f"{name}: all {th_all} -> real {th_real} (real onsets {n_onsets})", flush=True)
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        ckpt["thresholds"] = th_real
        ckpt["thresholds_from"] = f"real validation songs (classes with >= {args.min_real_onsets} onsets)"
        with atomic_path(out / "models" / f"{name}.pt") as tmp:
            torch.save(ckpt, tmp)
        for song in setup.fold(name).test:
            song_models[song] = str(out / "models" / f"{name}.pt")
    write_json(out / "thresholds.json", report)
    robustness(song_models, args.mdb, out / "robustness_long.csv", out / "robustness.csv", out / "robustness.png",
               threads=args.threads, title="Robustness suite: thresholds from the real validation songs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
