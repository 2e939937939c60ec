"""Compare robustness-suite runs: release 3, release 4's recipe over seeds, its ablation, the peer.

Reads the suite's long tables (song x condition x class counts; the graph's
results/robustness/{model}_long.csv or benchmarks/robustness.py's robustness_long.csv) and
writes one wide CSV (micro F1 and HH F1 per condition and run, the seeds' mean and spread)
plus a Markdown table for docs/robustness.md:

    .venv/bin/python benchmarks/gpu/collect_crossval.py --out docs/results/release4-2026-12-01/comparison \
        --run release3=results/robustness/release3_long.csv --run seed0=results/robustness/cv_long.csv \
        --run seed1=results/bench/seed1/long.csv --run nochain=results/bench/nochain/long.csv \
        --seeds seed0 seed1 --peer docs/results/peer_adtof_port.csv
"""
import argparse
import sys
from pathlib import Path

import pandas as pd

from drumscribe.robustness import wide_table


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True,
                    help="NAME=long.csv, or NAME=a.csv,b.csv,... (seed runs pooled: counts summed)")
    ap.add_argument("--seeds", nargs="*", default=[], help="runs that are seeds of one recipe")
    ap.add_argument("--peer", default=None, help="CSV of the peer's figures (condition, micro_f1, f1_HH)")
    ap.add_argument("--out", required=True, help="output prefix (writes PREFIX.csv and PREFIX.md)")
    ap.add_argument("--paired", nargs=2, action="append", default=[], metavar=("A", "B"),
                    help="paired permutation test of run A against run B over the songs, per condition")
    args = ap.parse_args(argv)
    tables, longs = {}, {}
    for spec in args.run:
        name, paths = spec.split("=", 1)
        # NAME=a.csv,b.csv,...: several runs of one recipe (seeds) pooled, their counts summed per
        # song, condition and class (as the studies pool seeds)
        parts = [pd.read_csv(p) for p in paths.split(",")]
        longs[name] = parts[0] if len(parts) == 1 else (
            pd.concat(parts).assign(model=name)
            .groupby(["model", "song", "natural_ratio_db", "condition", "class"], sort=False, as_index=False)
            [["tp", "fp", "fn"]].sum())
        tables[name] = wide_table(longs[name]).set_index("condition")
    conditions = list(next(iter(tables.values())).index)
    out = pd.DataFrame(index=conditions)
    for name, t in tables.items():
        out[f"{name}_micro_f1"] = t["micro_f1"]
        out[f"{name}_f1_HH"] = t["f1_HH"]
    if args.seeds:
        cols = [f"{s}_micro_f1" for s in args.seeds]
        out["seeds_mean"] = out[cols].mean(axis=1)
        out["seeds_spread"] = out[cols].max(axis=1) - out[cols].min(axis=1)
    if args.peer:
        peer = pd.read_csv(args.peer).set_index("condition")
        out["peer_micro_f1"] = peer["micro_f1"]
        out["peer_f1_HH"] = peer["f1_HH"]
    for a, b in args.paired:
        from drumscribe.stats import paired_test

        for cond in conditions:
            per = []
            for name in (a, b):
                d = longs[name][longs[name]["condition"] == cond]
                per.append(d.groupby("song")[["tp", "fp", "fn"]].sum().sort_index())
            if per[0].empty or list(per[0].index) != list(per[1].index):
                continue
            r = paired_test(per[0].to_numpy(), per[1].to_numpy(), n_resamples=10000)
            out.loc[cond, f"{a}_vs_{b}_diff"] = r.difference
            out.loc[cond, f"{a}_vs_{b}_p"] = r.p_value
    out.index.name = "condition"
    prefix = Path(args.out)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    out.round(4).to_csv(prefix.with_suffix(".csv"))
    def f(v, signed=False):
        return "–" if pd.isna(v) else (f"{v:+.3f}" if signed else f"{v:.3f}")

    head = ["condition"]
    for name in tables:
        head.append(name)
        if name == args.seeds[-1:][0] if args.seeds else False:
            head.append("seed spread")
        for a, b in args.paired:
            if b == name:
                head.append(f"{a} − {b} (p)")
    if args.peer:
        head.append("peer")
    md = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for cond, r in out.iterrows():
        cells = [cond if cond not in ("worst", "mean") else f"**{cond}**"]
        for name in tables:
            cells.append(f(r[f"{name}_micro_f1"]))
            if args.seeds and name == args.seeds[-1]:
                cells.append(f(r["seeds_spread"]))
            for a, b in args.paired:
                if b == name:
                    d, pv = r.get(f"{a}_vs_{b}_diff"), r.get(f"{a}_vs_{b}_p")
                    cells.append("" if pd.isna(d) else f"{f(d, True)} ({pv:.3f})")
        if args.peer:
            cells.append(f(r["peer_micro_f1"]))
        md.append("| " + " | ".join(cells) + " |")
    prefix.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
