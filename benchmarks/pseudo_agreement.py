"""How far the fold teachers' labels of the pool's bands agree with each other (no reference).

The bands (pool source ``fretsonfire_band``) have no labels; each fold's teacher labels them
(rule ``pseudo_labels``). Two teachers that never heard the same real songs agreeing on an onset
is no proof that it is right (they share most of their training data and their biases), but
where they disagree at least one is wrong: the pairwise onset F1 (mir_eval matching, 50 ms)
bounds how clean the labels can be. Writes a CSV of the pairs (micro and per-class F1) and the
onset counts per teacher, band and class:

    .venv/bin/python benchmarks/pseudo_agreement.py --labels results/crossval/{fold0,fold1,fold2,release}/pseudo_labels.json \
        --out docs/results/pseudo-labels-2026-12-07
"""
import argparse
import itertools
import sys
from pathlib import Path

import pandas as pd

from drumscribe import CLASSES
from drumscribe.metrics import class_counts, scores, sum_counts
from drumscribe.pseudo import read_pseudo_labels


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", nargs="+", required=True, help="pseudo_labels.json files (results/crossval/<fold>/)")
    ap.add_argument("--out", required=True, help="folder for agreement.csv and counts.csv")
    ap.add_argument("--window", type=float, default=0.05)
    args = ap.parse_args(argv)
    teachers = {Path(p).parent.name: read_pseudo_labels(p)[0] for p in args.labels}
    counts = [{"teacher": t, "band": band, "class": c, "onsets": len(on[c])}
              for t, labels in teachers.items() for band, on in labels.items() for c in CLASSES]
    rows = []
    for a, b in itertools.combinations(teachers, 2):
        # teacher a as the reference, b as the estimate (F1 is symmetric)
        s = scores(sum_counts(class_counts(teachers[a][band], teachers[b].get(band, {}), args.window)
                              for band in teachers[a]))
        rows.append({"a": a, "b": b, "micro_f1": s["micro_f1"], **{f"f1_{c}": s[f"f1_{c}"] for c in CLASSES}})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).round(4).to_csv(out / "agreement.csv", index=False)
    pd.DataFrame(counts).to_csv(out / "counts.csv", index=False)
    print(pd.DataFrame(rows).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
