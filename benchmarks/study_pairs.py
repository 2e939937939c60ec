"""Two rows of a study, compared on every test column: paired test over the same tracks.

The study's tables mark "best" among the zero-shot cells of a column only; this answers a
question the table does not: is training set A better than B on each test set, where A's
cell may be in-distribution (e.g. real songs in song folds)? Read from the graph's own
``results/dataset_tracks.csv`` (or ``architecture_tracks.csv``: every seed's and track's counts),
no models needed.

    .venv/bin/python benchmarks/study_pairs.py results/dataset_tracks.csv \\
        "gmd_synth_pool+mdb_remix" gmd_synth_pool [--out pairs.csv] [--resamples 10000]

Per test column: micro F1 of A and B (each with its seed runs pooled per track, as the
table's cells), the paired difference A − B with its 95 % bootstrap interval over tracks, and
the two-sided permutation p-value (:func:`drumscribe.stats.paired_test`). Rows are named by
``train_dataset`` (``--key arch`` for the architecture study's tracks).
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from drumscribe import CLASSES  # noqa: E402
from drumscribe.stats import paired_test, pooled_f1, pool_seeds  # noqa: E402


def _counts(rows: list[dict]) -> dict[str, np.ndarray]:
    """{track_id: (tp, fp, fn) summed over classes and seed runs} of one row and test column."""
    by_seed: dict[str, dict[str, np.ndarray]] = {}
    for r in rows:
        c = np.array([sum(int(r[f"{k}_{c}"]) for c in CLASSES) for k in ("tp", "fp", "fn")])
        by_seed.setdefault(r["seed"], {})[r["track_id"]] = c
    tracks = sorted(set.intersection(*(set(s) for s in by_seed.values())))
    if any(len(s) != len(tracks) for s in by_seed.values()):
        raise SystemExit("study_pairs.py: the seed runs of one row were tested on different tracks")
    pooled = pool_seeds([np.array([s[t] for t in tracks]) for s in by_seed.values()])
    return dict(zip(tracks, pooled))


def compare(tracks_csv: Path, a: str, b: str, key: str = "train_dataset", n_resamples: int = 10000) -> list[dict]:
    with open(tracks_csv) as fh:
        rows = list(csv.DictReader(fh))
    names = {r[key] for r in rows}
    for name in (a, b):
        if name not in names:
            raise SystemExit(f"study_pairs.py: {tracks_csv}: no row {name!r} (rows: {', '.join(sorted(names))})")
    out = []
    for test in dict.fromkeys(r["test_dataset"] for r in rows):
        ca = _counts([r for r in rows if r[key] == a and r["test_dataset"] == test])
        cb = _counts([r for r in rows if r[key] == b and r["test_dataset"] == test])
        common = sorted(set(ca) & set(cb))
        if not common:
            continue
        xa, xb = np.array([ca[t] for t in common]), np.array([cb[t] for t in common])
        res = paired_test(xa, xb, n_resamples=n_resamples)
        out.append({"test_dataset": test, "n_tracks": len(common), "f1_a": round(pooled_f1(xa), 4),
                    "f1_b": round(pooled_f1(xb), 4), "difference": round(res.difference, 4),
                    "low": round(res.low, 4), "high": round(res.high, 4), "p_value": round(res.p_value, 4)})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tracks_csv", type=Path)
    ap.add_argument("a", help="row A (a train_dataset, or an arch with --key arch)")
    ap.add_argument("b", help="row B")
    ap.add_argument("--key", default="train_dataset", choices=["train_dataset", "arch"])
    ap.add_argument("--resamples", type=int, default=10000)
    ap.add_argument("--out", type=Path, help="write the comparison as CSV too")
    args = ap.parse_args(argv)
    out = compare(args.tracks_csv, args.a, args.b, args.key, args.resamples)
    w = csv.DictWriter(sys.stdout, fieldnames=list(out[0]) if out else ["test_dataset"])
    w.writeheader()
    w.writerows(out)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(out[0]) if out else ["test_dataset"])
            w.writeheader()
            w.writerows(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
