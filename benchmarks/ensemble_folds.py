"""Output ensembles of committed fold models on the robustness suite, thresholds tuned on validation.

Several runs of the release recipe exist per fold (release 6, the self-training run, the CNN on
the release recipe, the louder mix, release 4). Where their errors differ, averaging their
onset probabilities would beat each of them. For every subset of the members given, per fold,
this script averages the members' activations, tunes each class's threshold on the fold's
validation set as ``crossval.train_fold`` builds it (``crossval.FoldValidation``: the validation
songs in five suite conditions plus the synthetic validation tracks; no test song is touched),
and scores the fold's test songs in the chosen suite conditions with those thresholds (the
transcription path's activations, the configured peak picker, mir_eval at the configured
window). A member alone is tuned the same way, so it reproduces its own suite figures.

Writes ``OUT/ensembles.csv`` (one row per subset: its size, validation micro F1 per fold and
their mean, micro F1 per condition over the 9 songs and the mean over conditions) and keeps
the test songs' activations under ``OUT/cache/`` (re-runs read them). Example (dev VM, 2 cores, ~5 min)::

    .venv/bin/python benchmarks/ensemble_folds.py --out results/bench/ensembles \\
        --member r6=docs/results/release6-2026-12-02/models --member pseudo=docs/results/pseudo-2026-12-07/models \\
        --member cnn=docs/results/cnn-2026-12-02/models --member louder=docs/results/louder-mix-2026-12-03/models \\
        --member r4=docs/results/release4-2026-12-01/models \\
        --preset config/presets/gpu.yaml --preset config/presets/release_gpu.yaml --preset config/presets/crossval_gpu.yaml

An ensemble of N models costs N times the model's share of ``drumscribe transcribe``; this
measures whether that would buy anything (docs/robustness.md, "Output ensembles").
"""
import argparse
import csv
import itertools
import sys
from pathlib import Path

import numpy as np

from average_folds import add_fold_validation_args, fold_validation, micro_f1_at  # benchmarks/ is on sys.path

DEFAULT_CONDITIONS = ["drums", "mix_natural", "lp10k", "master", "reverb", "mp3_64"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--member", action="append", required=True, metavar="NAME=DIR",
                    help="a run's fold models (DIR/fold0.pt ...); repeat")
    ap.add_argument("--folds", nargs="*", default=["fold0", "fold1", "fold2"])
    ap.add_argument("--conditions", nargs="+", default=DEFAULT_CONDITIONS)
    add_fold_validation_args(ap)
    args = ap.parse_args(argv)
    members = {}
    for spec in args.member:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not Path(folder).is_dir():
            print(f"--member {spec}: not NAME=DIR with an existing folder")
            return 2
        members[name] = Path(folder)

    from drumscribe import crossval, peaks as peaks_mod
    from drumscribe.atomic import atomic_path
    from drumscribe.metrics import class_counts, scores, sum_counts
    from drumscribe.robustness import song_references, check_conditions, render_condition, song_stems
    from drumscribe.transcribe import Transcriber

    conditions = check_conditions(args.conditions, key="--conditions")
    setup = fold_validation(args)
    grid = sorted(float(g) for g in setup.grid)
    fps = int(setup.cfg.fps)
    out = Path(args.out)
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    refs_all = song_references(args.mdb)

    def cached(path: Path, make):
        if path.exists():
            return np.load(path)
        a = make()
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, a)
        return a

    val, val_refs, test, refs = {}, {}, {}, {}
    for fold in args.folds:
        items, n_real = setup.items(fold)
        val_refs[fold] = [r for _, _, r in items]
        transcribers = {}
        for m, folder in members.items():
            transcribers[m] = Transcriber(folder / f"{fold}.pt", threads=args.threads)
            validator = crossval.fold_validator(items, n_real, transcribers[m].meta, "cpu", setup.peak_params, fps,
                                                setup.window, setup.grid, setup.default_threshold)
            val[fold, m] = validator.activations(transcribers[m].model)  # seconds: not cached
            print(f"{fold} {m}: validation activations of {len(items)} items", flush=True)
        for song in setup.fold(fold).test:
            refs[song] = refs_all[song].load_onsets()
            stems = song_stems(args.mdb, song)
            for cond in conditions:
                y = None
                for m in members:
                    f = cache / f"{song}_{cond}_{m}.npy"
                    if not f.exists() and y is None:
                        y = render_condition(stems, cond)
                    test[song, cond, m] = cached(f, lambda: transcribers[m].activations(y))
            print(f"{fold} {song}: {len(conditions)} conditions", flush=True)

    rows = []
    names = list(members)
    for size in range(1, len(names) + 1):
        for combo in itertools.combinations(names, size):
            per_cond = {c: [] for c in conditions}
            val_f1 = {}
            for fold in args.folds:
                acts = [sum(val[fold, m][i] for m in combo) / len(combo) for i in range(len(val_refs[fold]))]
                counts = peaks_mod.threshold_counts(acts, val_refs[fold], setup.peak_params, fps, setup.window, grid)
                th = peaks_mod.best_thresholds(counts, grid)
                val_f1[fold] = micro_f1_at(counts, th, grid)
                for song in setup.fold(fold).test:
                    for cond in conditions:
                        a = sum(test[song, cond, m] for m in combo) / len(combo)
                        onsets = peaks_mod.pick_onsets(a, th, setup.peak_params, fps)
                        per_cond[cond].append(class_counts(refs[song], onsets, setup.window))
            row = {"members": "+".join(combo), "size": size}
            row.update({f"val_{f}": round(v, 4) for f, v in val_f1.items()})
            row["val_mean"] = round(float(np.mean(list(val_f1.values()))), 4)
            f1 = {c: scores(sum_counts(per_cond[c]))["micro_f1"] for c in conditions}
            row.update({c: round(v, 4) for c, v in f1.items()})
            row["mean"] = round(float(np.mean(list(f1.values()))), 4)
            rows.append(row)
    rows.sort(key=lambda r: -r["val_mean"])
    with atomic_path(out / "ensembles.csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    for r in rows:
        print(f"{r['members']:<28} val {r['val_mean']:.3f} | " + " ".join(f"{c} {r[c]:.3f}" for c in conditions)
              + f" | mean {r['mean']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
