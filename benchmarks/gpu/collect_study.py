"""Collect what a GPU run of the study made (the tarball of benchmarks/gpu/run_study.sh,
unpacked) into a docs/results/ folder: the graph's tables and plots as they are, plus
tables made here from the graph's own files (trial metrics, histories, Snakemake benchmark
tables, the GPU utilisation samples). Nothing is typed by hand.

    python benchmarks/gpu/collect_study.py UNPACKED_DIR OUT_DIR [--gpu-util gpu_util.csv] [--n-trials 8] \
        [--snakemake-log snakemake.log] [--max-epochs 100] [--epoch-datapoints 2048]

Writes to OUT_DIR: architecture_table.csv, architecture_long.csv, architecture_tracks.csv,
architecture_study.png, curves_<dataset>_<arch>.png (the best architecture per dataset),
trials.csv (every finished search trial and seed run; ``in_table`` marks the first N trials
of each search, those the table was made from, and the seed runs; ``ended_by``: ``patience``
(early stopping), ``time`` (the trial's ``training.max_seconds``) or ``max_epochs``),
histories.csv (every run's history.csv, one row per epoch), throughput.csv (per architecture),
stages.csv (wall time of each kind of job), gpu_util.csv, synthetic_tests.csv (every synthetic
test row: search winners, seed runs and the dataset study's kind combinations, every seed),
and prints a summary: with ``--snakemake-log``, the GPU utilisation over the trial phase
(first trial or kind model started to last one finished, from snakemake's own log).
A run of the dataset study alone (target ``dataset_study_models``) has no architecture table;
its kind models are rows of trials.csv with the run ``<fold>/s<seed>``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import re
import statistics
from datetime import datetime
from pathlib import Path


def _read_tsv(path: Path) -> dict:
    with open(path) as fh:
        return next(csv.DictReader(fh, delimiter="\t"))


def _history(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _ended_by(d: dict, max_epochs: int) -> str:
    if d["stopped_early"]:
        return "patience"
    return "max_epochs" if d["epochs"] >= max_epochs else "time"


def runs(root: Path) -> list[tuple[str, Path]]:
    """``(rule, folder)`` of every finished search trial, seed run and model of the dataset
    study's mixed kinds (``results/combinations/<combination>/<arch>/<fold>/s<seed>/``)."""
    return ([("train_trial", m.parent) for m in sorted(root.glob("results/trials/*/*/*/metrics.json"))]
            + [("train_seed", m.parent) for m in sorted(root.glob("results/seeds/*/*/*/metrics.json"))]
            + [("train_combination", m.parent)
               for m in sorted(root.glob("results/combinations/*/*/*/s*/metrics.json"))])


def run_ids(rule: str, folder: Path) -> tuple[str, str, str]:
    """``(dataset or combination, arch, run)``; a kind model's run is ``<fold>/s<seed>``."""
    if rule == "train_combination":
        return folder.parts[-4], folder.parts[-3], f"{folder.parts[-2]}/{folder.parts[-1]}"
    return folder.parts[-3], folder.parts[-2], folder.parts[-1]


def trials(root: Path, n_trials: int, max_epochs: int = 100) -> list[dict]:
    rows = []
    for rule, folder in runs(root):
        metrics = folder / "metrics.json"
        d = json.loads(metrics.read_text())
        dataset, arch, run = run_ids(rule, folder)
        bench = root / "benchmarks" / rule / dataset / arch / f"{run}.tsv"
        hist = _history(metrics.parent / "history.csv")
        rows.append({
            "dataset": dataset, "arch": arch, "trial": d.get("trial", run), "seed": d.get("seed", 0),
            "in_table": rule != "train_trial" or int(run[1:]) < n_trials,
            "params": json.dumps(d["params"], sort_keys=True),
            "val_micro_f1": round(d["micro_f1"], 4), "val_macro_f1": round(d["macro_f1"] or 0.0, 4),
            "epochs": d["epochs"], "best_epoch": d["best_epoch"], "stopped_early": d["stopped_early"],
            "ended_by": _ended_by(d, max_epochs),
            "train_datapoints_per_s": round(statistics.median(float(r["datapoints_per_s"]) for r in hist), 1),
            "seconds_per_epoch": round(statistics.median(float(r["seconds"]) for r in hist), 2),
            "setup_seconds": d.get("setup_seconds"), "train_seconds": d.get("train_seconds"),
            "final_seconds": d.get("final_seconds"),
            "val_real_micro_f1": None if d.get("real_micro_f1") is None else round(d["real_micro_f1"], 4),
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


def trial_phase(log: Path) -> tuple[datetime, datetime]:
    """First train_trial start and last train_trial/train_seed finish in snakemake's log."""
    stamp, first, last = None, None, None
    for line in log.read_text().splitlines():
        if line.startswith("[") and line.endswith("]"):
            stamp = datetime.strptime(line.strip("[]"), "%a %b %d %H:%M:%S %Y")
        elif stamp and re.match(r"(local)?rule train_(trial|combination):", line) and first is None:
            first = stamp
        elif stamp and re.match(r"Finished jobid: \d+ \(Rule: train_(trial|seed|combination)\)", line):
            last = stamp
    if first is None or last is None:
        raise SystemExit(f"{log}: no train_trial or train_combination jobs in it")
    return first, last


def synthetic_tests(root: Path) -> list[dict]:
    """Every synthetic test row of the graph: a search winner's or seed run's
    (``results/eval/<train>/<arch>/<test>/[s<seed>/]metrics.json``) and a kind combination's
    (``results/eval_combinations/<combination>/<arch>/<test>/s<seed>/metrics.json``)."""
    rows = []
    files = ([(f, "eval") for f in sorted(root.glob("results/eval/*/*/*/metrics.json"))]
             + [(f, "eval") for f in sorted(root.glob("results/eval/*/*/*/s*/metrics.json"))]
             + [(f, "eval_combinations") for f in sorted(root.glob("results/eval_combinations/*/*/*/s*/metrics.json"))])
    for f, kind in files:
        d = json.loads(f.read_text())
        train = d.get("train_dataset")
        rows.append({"train": train, "arch": d.get("arch"), "test": d["test_dataset"], "seed": int(d.get("seed") or 0),
                     "in_distribution": d.get("in_distribution", not d.get("zero_shot", False)),
                     "n_tracks": d.get("n_tracks"), "micro_f1": round(d["micro_f1"], 4),
                     "macro_f1": round(d["macro_f1"] or 0.0, 4), "source": kind})
    return rows


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
    ap.add_argument("--n-trials", type=int, default=8, help="trials per search the table was made from")
    ap.add_argument("--max-epochs", type=int, default=100, help="the run's training.max_epochs")
    ap.add_argument("--snakemake-log", type=Path, help="snakemake's log of the run (trial phase)")
    ap.add_argument("--epoch-datapoints", type=int, default=2048, help="the run's training.max_train_datapoints")
    args = ap.parse_args()
    root, out = args.root, args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in ("architecture_table.csv", "architecture_long.csv", "architecture_tracks.csv",
                 "plots/architecture_study.png",
                 "plots/class_balance.png"):
        src = root / "results" / name
        if src.is_file():
            shutil.copy(src, out / Path(name).name)
    rows = trials(root, args.n_trials, args.max_epochs)
    _write_csv(out / "trials.csv", rows)
    # every run's learning curve, one row per epoch (what the epoch size and budget were set from)
    curves = [dict(zip(("dataset", "arch", "run"), run_ids(rule, f)), **h)
              for rule, f in runs(root) for h in _history(f / "history.csv")]
    _write_csv(out / "histories.csv", curves)
    per_arch, per_rule = throughput(rows), stages(root)
    _write_csv(out / "throughput.csv", per_arch)
    _write_csv(out / "stages.csv", per_rule)
    synth = synthetic_tests(root)
    if synth:
        _write_csv(out / "synthetic_tests.csv", synth)

    # the training curves of each dataset's best architecture (the graph's own plot function)
    import os

    from drumscribe import plotting

    long = []
    if (root / "results" / "architecture_long.csv").is_file():  # not in a run of the dataset study alone
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
            samples = list(csv.DictReader(fh, skipinitialspace=True))
        util = [float(r["utilization_gpu_pct"]) for r in samples]
        busy = [u for u in util if u > 0]
        print(f"GPU utilisation: mean {statistics.mean(util):.1f} % over {len(util)} samples; "
              f"mean {statistics.mean(busy):.1f} % over the {len(busy)} samples with work")
        if args.snakemake_log:
            first, last = trial_phase(args.snakemake_log)
            phase = [float(r["utilization_gpu_pct"]) for r in samples
                     if first <= datetime.strptime(r["time"][:19], "%Y/%m/%d %H:%M:%S") <= last]
            seconds = (last - first).total_seconds()
            trained = sum(int(r["epochs"]) for r in rows) * args.epoch_datapoints
            print(f"trial phase {first:%H:%M:%S}-{last:%H:%M:%S} ({seconds:.0f} s): "
                  f"GPU utilisation mean {statistics.mean(phase):.1f} %, median {statistics.median(phase):.0f} % "
                  f"over {len(phase)} samples; {trained:,} training datapoints in all runs, "
                  f"{trained / seconds:,.0f} a second side by side")
    ended = {}
    for r in rows:
        ended.setdefault(r["arch"], {}).setdefault(r["ended_by"], 0)
        ended[r["arch"]][r["ended_by"]] += 1
    print("runs ended by:", ended)
    for r in per_rule + per_arch:
        print(r)


if __name__ == "__main__":
    main()
