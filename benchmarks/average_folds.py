"""Average two fold models of one lineage (weight interpolation) and tune the average's thresholds
on the fold's real validation set.

Two runs that continue from the same start (e.g. release 5 and the heavier-chain run,
docs/robustness.md) sit in one basin of the loss, so the average of their weights is a model
too ("WiSE-FT", Wortsman et al. 2022: interpolating a fine-tuned model towards its start keeps
what the start was good at). For each fold this script checks that both checkpoints are the
same architecture, parameters, input normalisation and fold, averages their weights as
``(1 - w) * A + w * B``, and scores A, B and the average on the fold's validation set as
``crossval.train_fold`` builds it (the validation songs in the five suite conditions plus the
synthetic validation tracks, on the transcription path), tuning the average's per-class
thresholds there. It writes the average as a checkpoint (weights float16, like the committed
fold models) and a JSON of the three validation scores. No test song is touched.

    .venv/bin/python benchmarks/average_folds.py --a docs/results/release5-2026-12-02/models \\
        --b docs/results/heavier-chain-2026-12-02/models --weight 0.5 --out docs/results/average-2026-12-02 \\
        --preset config/presets/gpu.yaml --preset config/presets/release_gpu.yaml --preset config/presets/crossval_gpu.yaml

The synthetic validation tracks are the rendered validation kits of the preset
(``results/audio/gmd_synth*/<kit>/``, rule ``render_kit``); the pool is ``results/pool``.
"""
import argparse
import copy
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def add_fold_validation_args(ap: argparse.ArgumentParser) -> None:
    """The options of a script that rebuilds fold models' validation sets
    (``crossval.FoldValidation``): the presets the models were trained with, the pool, the
    MDB folder, threads and the output folder (also ``benchmarks/retune_folds.py``)."""
    ap.add_argument("--preset", action="append", default=[])
    ap.add_argument("--pool", default="results/pool")
    ap.add_argument("--mdb", default=str(REPO.parent / "shared" / "data" / "mdb_drums_dev" / "MDB Drums"))
    ap.add_argument("--audio", default=str(REPO / "results" / "audio"),
                    help="the rendered datasets (rule render_kit's results/audio)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", required=True)


def fold_validation(args):
    """``crossval.FoldValidation`` of the options of :func:`add_fold_validation_args`, with the
    threads set: the fold models' validation sets rebuilt from their presets."""
    from drumscribe import crossval
    from drumscribe.config import load_config
    from drumscribe.evaluation import set_threads

    set_threads(args.threads)
    config = load_config(args.preset, base=REPO / "config" / "config.yaml")
    return crossval.FoldValidation(config, args.pool, args.mdb, args.audio, args.threads)


def micro_f1_at(counts, thresholds, grid) -> float:
    """Micro F1 over the classes of ``peaks.threshold_counts`` at each class's chosen threshold
    (what a fold's validation scores with those thresholds)."""
    from drumscribe import CLASSES

    rows = {c: grid.index(thresholds[c]) for c in CLASSES}
    tp, fp, fn = (sum(int(counts[c][rows[c], k]) for c in CLASSES) for k in range(3))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="folder with fold0.pt ... release.pt (the start side)")
    ap.add_argument("--b", required=True, help="folder with the same files (the other run)")
    ap.add_argument("--weight", type=float, default=0.5, help="w in (1 - w) * A + w * B")
    ap.add_argument("--folds", nargs="*", default=["fold0", "fold1", "fold2", "release"])
    add_fold_validation_args(ap)
    args = ap.parse_args(argv)
    if not 0.0 <= args.weight <= 1.0:
        print(f"--weight: {args.weight} is not in [0, 1]")
        return 2

    import torch

    from drumscribe import crossval, models
    from drumscribe.atomic import atomic_path, write_json

    setup = fold_validation(args)
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    report = {"a": args.a, "b": args.b, "weight": args.weight, "preset": args.preset,
              "synthetic_validation_kits": setup.kits, "folds": {}}
    for name in args.folds:
        ma, meta_a = models.load_checkpoint(Path(args.a) / f"{name}.pt", map_location="cpu")
        mb, meta_b = models.load_checkpoint(Path(args.b) / f"{name}.pt", map_location="cpu")
        for key in ("arch", "params", "fold", "norm_mean", "norm_std", "feature_config", "peak_params"):
            if meta_a.get(key) != meta_b.get(key):
                print(f"{args.b}/{name}.pt: {key} differs from {args.a}/{name}.pt; not one lineage")
                return 1
        fold = setup.fold(name)
        if meta_a["fold"] != fold.to_dict():
            print(f"{args.a}/{name}.pt: trained on fold {meta_a['fold']}, not the preset's {fold.to_dict()}")
            return 1
        sa, sb = ma.state_dict(), mb.state_dict()
        avg = {k: ((1 - args.weight) * sa[k].float() + args.weight * sb[k].float()).to(sa[k].dtype)
               if sa[k].is_floating_point() else sa[k] for k in sa}
        mavg = copy.deepcopy(ma)
        mavg.load_state_dict(avg)
        validator, items, n_real = setup.validator(name, meta_a)
        scores = {}
        for label, m in (("a", ma), ("b", mb), ("average", mavg)):
            m.eval()
            r = validator.validate(m)
            scores[label] = {"micro_f1": r.score, "real_micro_f1": r.extra["real_micro_f1"],
                             "thresholds": r.thresholds}
            print(f"{name} {label}: validation micro F1 {r.score:.4f} (real {r.extra['real_micro_f1']:.4f})", flush=True)
        runs = {"a": f"{args.a}/{name}.pt", "b": f"{args.b}/{name}.pt", "weight": args.weight,
                "mixing_a": meta_a.get("mixing"), "mixing_b": meta_b.get("mixing")}
        meta = {**meta_a, "thresholds": scores["average"]["thresholds"],
                "val_micro_f1": scores["average"]["micro_f1"], "average_of": runs,
                "init_from": meta_a.get("init_from"), "weights_dtype": "float16"}
        meta["best_epoch"] = None  # no epoch of a training: an average of two
        half = {k: (v.half() if v.is_floating_point() else v) for k, v in mavg.state_dict().items()}
        ckpt = torch.load(Path(args.a) / f"{name}.pt", map_location="cpu", weights_only=True)
        ckpt.update({k: v for k, v in meta.items() if k != "state_dict"})
        ckpt["state_dict"] = half
        with atomic_path(out / "models" / f"{name}.pt") as tmp:
            torch.save(ckpt, tmp)
        report["folds"][name] = {"n_real_validation": n_real, "n_validation": len(items), **scores}
        write_json(out / "average.json", report)
        # the validation metrics of the average, in train_fold's keys (rule crossval_card reads them)
        write_json(out / f"{name}_metrics.json", {
            "fold": name, "songs": fold.to_dict(), "average_of": runs, "micro_f1": scores["average"]["micro_f1"],
            "real_micro_f1": scores["average"]["real_micro_f1"], "thresholds": scores["average"]["thresholds"],
            "validation_conditions": list(crossval.VALIDATION_CONDITIONS), "n_real_validation": n_real,
            "n_synthetic_validation": len(items) - n_real})
    return 0


if __name__ == "__main__":
    sys.exit(main())
