"""Why the architecture study's 5-layer CRNNs never learned (issue 14): train the study's
CRNN at 2, 4 and 5 recurrent layers side by side, and the 5-layer one with each candidate
fix, on one feature cache, under the study's protocol (batch 64, Adam at 1e-3, epochs of
2,048 datapoints, patience 10, bf16 autocast on CUDA; docs/results/gpu-study-2026-12-02/).

    python benchmarks/gpu/deep_crnn.py --cache results/features/gmd_synth.h5 --out DIR \
        [--seconds 150] [--device cuda] [--datapoints 2048] [--only NAME ...]

Each variant is its own process (``trial.train_trial``, the rule train_trial's function) with
``--seconds`` of training and validation; DIR/<variant>/ gets its history.csv and
metrics.json, and DIR/summary.csv one line per variant: epochs, best validation micro F1,
first and last train loss. A variant "never learned" when its validation micro F1 stayed 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

#: name -> (arch, params, training overrides)
CRNN = {"cell": "gru", "hidden_size": 72, "num_blocks": 2, "dropout": 0.1}
VARIANTS = {
    "crnn_gru_2": ("crnn", {**CRNN, "num_layers": 2}, {}),
    "crnn_gru_4": ("crnn", {**CRNN, "num_layers": 4}, {}),
    "crnn_gru_5": ("crnn", {**CRNN, "num_layers": 5}, {}),
    "crnn_lstm_5": ("crnn", {**CRNN, "cell": "lstm", "num_layers": 5}, {}),
    "crnn_gru_5_clip1": ("crnn", {**CRNN, "num_layers": 5}, {"grad_clip_norm": 1.0}),
    "crnn_gru_5_lr1e-4": ("crnn", {**CRNN, "num_layers": 5}, {"learning_rate": 1e-4}),
    "crnn_gru_5_nodrop": ("crnn", {**CRNN, "num_layers": 5, "dropout": 0.0}, {}),
    "crnn_gru_3": ("crnn", {**CRNN, "num_layers": 3}, {}),
    "crnn_gru_2_lr1e-4": ("crnn", {**CRNN, "num_layers": 2}, {"learning_rate": 1e-4}),
    "crnn_gru_5_lr3e-4": ("crnn", {**CRNN, "num_layers": 5}, {"learning_rate": 3e-4}),
    "crnn_lstm_5_lr1e-4": ("crnn", {**CRNN, "cell": "lstm", "num_layers": 5}, {"learning_rate": 1e-4}),
    "crnn_gru_5_144_lr1e-4": ("crnn", {**CRNN, "hidden_size": 144, "num_layers": 5}, {"learning_rate": 1e-4}),
    "rnn_gru_5": ("rnn", {"cell": "gru", "hidden_size": 72, "num_layers": 5, "dropout": 0.1}, {}),
}

REPO = Path(__file__).resolve().parents[2]
#: the architecture study's config: the default with the GPU and study presets overlaid
STUDY_PRESETS = ("config/presets/gpu.yaml", "config/presets/gpu_study.yaml")


def run_one(name: str, cache: str, out: Path, seconds: float, device: str, datapoints: int) -> None:
    from drumscribe import config as ds_config, trial

    arch, params, extra = VARIANTS[name]
    base = ds_config.load_config([REPO / p for p in STUDY_PRESETS], base=REPO / "config" / "config.yaml")
    training = {**base["training"], "max_seconds": seconds, "device": device,
                "max_train_datapoints": datapoints, **extra}
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    trial.train_trial(arch, params, [cache], d / "model.pt", d / "history.csv", d / "metrics.json", training,
                      base["targets"], base["peaks"], base["evaluation"], threads=2, progress=False, trial=name)


def summary(out: Path, names) -> list[dict]:
    """DIR/summary.csv, one line per variant, from its history.csv and metrics.json."""
    import pandas as pd

    rows = []
    for name in names:
        h = out / name / "history.csv"
        if not h.is_file():
            rows.append({"variant": name, "epochs": 0})
            continue
        df = pd.read_csv(h)
        m = out / name / "metrics.json"
        metrics = json.loads(m.read_text()) if m.is_file() else {}
        learning = df.index[df.val_micro_f1 > 0]
        rows.append({"variant": name, "epochs": len(df), "best_val_micro_f1": round(float(df.val_micro_f1.max()), 4),
                     "first_epoch_above_0": int(df.epoch[learning[0]]) if len(learning) else None,
                     "train_loss_first": round(float(df.train_loss.iloc[0]), 4),
                     "train_loss_last": round(float(df.train_loss.iloc[-1]), 4),
                     "val_loss_last": round(float(df.val_loss.iloc[-1]), 4),
                     "stopped_early": metrics.get("stopped_early"), "best_epoch": metrics.get("best_epoch"),
                     "datapoints_per_s": metrics.get("datapoints_per_s"),
                     "learned": bool(df.val_micro_f1.max() > 0)})
    pd.DataFrame(rows).to_csv(out / "summary.csv", index=False)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--datapoints", type=int, default=2048, help="per epoch (the study's 2,048)")
    ap.add_argument("--only", nargs="*", choices=sorted(VARIANTS))
    ap.add_argument("--summary-only", action="store_true", help="only (re)write DIR/summary.csv from DIR's runs")
    ap.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)  # one child process
    args = ap.parse_args(argv)
    if args.summary_only:
        names = args.only or [n for n in VARIANTS if (args.out / n / "history.csv").is_file()]
        for row in summary(args.out, names):
            print(json.dumps(row))
        return 0
    if args.variant:
        run_one(args.variant, args.cache, args.out, args.seconds, args.device, args.datapoints)
        return 0
    names = args.only or list(VARIANTS)
    args.out.mkdir(parents=True, exist_ok=True)
    procs = []
    for name in names:
        with open(args.out / f"{name}.log", "w") as log:  # the child holds its own copy of the handle
            procs.append(subprocess.Popen([sys.executable, __file__, "--cache", args.cache, "--out", str(args.out),
                                           "--seconds", str(args.seconds), "--device", args.device,
                                           "--datapoints", str(args.datapoints), "--variant", name],
                                          stdout=log, stderr=subprocess.STDOUT))
    codes = [p.wait() for p in procs]
    for name, code in zip(names, codes):
        if code:
            print(f"{name}: exit {code} (see {args.out / (name + '.log')})", file=sys.stderr)
    for row in summary(args.out, names):
        print(json.dumps(row))
    return int(any(codes))


if __name__ == "__main__":
    sys.exit(main())
