"""Collect what a GPU run of the study made (the tarball of benchmarks/gpu/run_study.sh,
unpacked) into a docs/results/ folder: the graph's tables and plots as they are, plus
tables made here from the graph's own files (trial metrics, histories, Snakemake benchmark
tables, the GPU utilisation samples). Nothing is typed by hand.

    python benchmarks/gpu/collect_study.py UNPACKED_DIR OUT_DIR [--gpu-util gpu_util.csv] [--n-trials 4]

Writes to OUT_DIR: architecture_table.csv, architecture_long.csv, architecture_study.png,
curves_<dataset>_<arch>.png (the best architecture per dataset), trials.csv (every finished
trial; ``in_table`` marks the first N of each search, those the table was made from),
throughput.csv (per architecture), stages.csv (wall time of each kind of job), gpu_util.csv,
and prints a summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
from pathlib import Path


def _read_tsv(path: Path) -> dict:
    with open(path) as fh:
        return next(csv.DictReader(fh, delimiter="\t"))


def _history(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def trials(root: Path, n_trials: int) -> list[dict]:
    rows = []
    for metrics in sorted(root.glob("results/trials/*/*/*/metrics.json")):
        d = json.loads(metrics.read_text())
        dataset, arch, trial = metrics.parts[-4:-1]
        bench = root / "benchmarks" / "train_trial" / dataset / arch / f"{trial}.tsv"
        hist = _history(metrics.parent / "history.csv")
        rows.append({
            "dataset": dataset, "arch": arch, "trial": trial,
            "in_table": int(trial[1:]) < n_trials,
            "params": json.dumps(d["params"], sort_keys=True),
            "val_micro_f1": round(d["micro_f1"], 4), "val_macro_f1": round(d["macro_f1"] or 0.0, 4),
            "epochs": d["epochs"], "best_epoch": d["best_epoch"], "stopped_early": d["stopped_early"],
            "train_datapoints_per_s": round(statistics.median(float(r["datapoints_per_s"]) for r in hist), 1),
            "seconds_per_epoch": round(statistics.median(float(r["seconds"]) for r in hist), 2),
            "setup_seconds": d.get("setup_seconds"), "train_seconds": d.get("train_seconds"),
            "final_seconds": d.get("final_seconds"),
            "job_wall_seconds": float(_read_tsv(bench)["s"]) if bench.is_file() else None,
        })
    return rows


def throughput(rows: list[dict]) -> list[dict]:
    out = []
    for arch in sorted({r["arch"] for r in rows}):
        rs = [r for r in rows if r["arch"] == arch]
        dps = [r["train_datapoints_per_s"] for r in rs]
        out.append({
            "arch": arch, "trials": len(rs),
            "train_datapoints_per_s_median": round(statistics.median(dps), 1),
            "train_datapoints_per_s_min": min(dps), "train_datapoints_per_s_max": max(dps),
            "seconds_per_epoch_median": round(statistics.median(r["seconds_per_epoch"] for r in rs), 2),
            "job_wall_seconds_median": round(statistics.median(r["job_wall_seconds"] for r in rs
                                                               if r["job_wall_seconds"] is not None), 1),
        })
    return out


def stages(root: Path) -> list[dict]:
    out = []
    for rule_dir in sorted(p for p in (root / "benchmarks").iterdir() if p.is_dir()):
        secs = [float(_read_tsv(t)["s"]) for t in rule_dir.rglob("*.tsv")]
        if secs:
            out.append({"rule": rule_dir.name, "jobs": len(secs), "sum_seconds": round(sum(secs), 1),
                        "median_seconds": round(statistics.median(secs), 1), "max_seconds": round(max(secs), 1)})
    return out


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--gpu-util", type=Path)
    ap.add_argument("--n-trials", type=int, default=4, help="trials per search the table was made from")
    args = ap.parse_args()
    root, out = args.root, args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in ("architecture_table.csv", "architecture_long.csv", "plots/architecture_study.png",
                 "plots/class_balance.png"):
        src = root / "results" / name
        if src.is_file():
            shutil.copy(src, out / Path(name).name)
    rows = trials(root, args.n_trials)
    _write_csv(out / "trials.csv", rows)
    per_arch, per_rule = throughput(rows), stages(root)
    _write_csv(out / "throughput.csv", per_arch)
    _write_csv(out / "stages.csv", per_rule)

    # the training curves of each dataset's best architecture (the graph's own plot function)
    import os

    from drumscribe import plotting

    with open(root / "results" / "architecture_long.csv") as fh:
        long = [r for r in csv.DictReader(fh) if r["best"] == "True" and r["test_dataset"] == r["dataset"]]
    cwd = os.getcwd()
    os.chdir(root)  # best.json names its trial folder relative to the run's root
    try:
        for dataset in sorted({r["dataset"] for r in long}):
            win = max((r for r in long if r["dataset"] == dataset), key=lambda r: float(r["micro_f1"]))
            plotting.training_curves(best_json=f"results/search/{dataset}/{win['arch']}/best.json",
                                   out_png=Path(cwd, out, f"curves_{dataset}_{win['arch']}.png").resolve(),
                                   title=f"{win['arch']} on {dataset}")
    finally:
        os.chdir(cwd)

    if args.gpu_util and args.gpu_util.is_file():
        shutil.copy(args.gpu_util, out / "gpu_util.csv")
        with open(args.gpu_util) as fh:
            util = [float(r["utilization_gpu_pct"]) for r in csv.DictReader(fh, skipinitialspace=True)]
        busy = [u for u in util if u > 0]
        print(f"GPU utilisation: mean {statistics.mean(util):.1f} % over {len(util)} samples "
              f"(2 s apart); mean {statistics.mean(busy):.1f} % over the {len(busy)} samples with work")
    for r in per_rule + per_arch:
        print(r)


if __name__ == "__main__":
    main()
