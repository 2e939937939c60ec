"""Two rows of a study compared on every test column, from its tracks CSV (no models needed).

The graph writes every pair of the dataset study's rows to ``results/dataset_pairs.csv``
(:func:`drumscribe.studies.pairs_frame`); this is the same for two rows of a tracks CSV that
came from elsewhere (a results folder, another run), with more resamples if wanted:

    .venv/bin/python benchmarks/study_pairs.py results/dataset_tracks.csv \\
        "gmd_synth_pool+mdb_remix" gmd_synth_pool [--out pairs.csv] [--resamples 10000]

Per test column: micro F1 of A and B (seed runs pooled per track, as the table's cells), the
paired difference A − B with its 95 % bootstrap interval over tracks, and the two-sided
permutation p-value (:func:`drumscribe.stats.paired_test`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from drumscribe.errors import DrumscribeError  # noqa: E402
from drumscribe.studies import pairs_frame  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tracks_csv", type=Path, help="a study's tracks CSV (results/dataset_tracks.csv)")
    ap.add_argument("a", help="row A (a train_dataset)")
    ap.add_argument("b", help="row B")
    ap.add_argument("--resamples", type=int, default=10000)
    ap.add_argument("--out", type=Path, help="write the comparison as CSV too")
    args = ap.parse_args(argv)
    try:
        pairs = pairs_frame(args.tracks_csv, [args.a, args.b], n_resamples=args.resamples, rows=[args.a, args.b])
    except (DrumscribeError, OSError, KeyError, ValueError) as exc:
        print(f"study_pairs.py: {args.tracks_csv}: {exc}", file=sys.stderr)
        return 1
    print(pairs.round(4).to_csv(index=False), end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        pairs.round(4).to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
