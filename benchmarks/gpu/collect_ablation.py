"""Table of the released model and its ablations, from the files the graph and release_ablation.py wrote.

    python3 benchmarks/gpu/collect_ablation.py RESULTS_DIR [RESULTS_DIR ...] -o docs/results/<run>/ablation.csv

Each RESULTS_DIR is an unpacked ``results/`` folder of a GPU call; the table has one row for
``release/`` (the graph's released model) and one per ``ablation/<name>/``: what changed
(architecture, training datasets, augmentation, seed), validation micro F1, epochs, training
seconds, and the test micro F1 per test set with the per-class F1 on the MDB remixes. An
ablation folder's ``note.txt`` (e.g. what its feature caches really held) goes into ``changes``.
Also prints it as Markdown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

CLASSES = ("BD", "SD", "TT", "HH", "CY")
AUGMENT = ("augment_gain_db", "augment_tilt_db", "augment_eq_db", "augment_pitch_bins")


def _row(name: str, train_dir: Path, eval_dir: Path, training: dict, release: dict, changes: str = "") -> dict:
    m = json.loads((train_dir / "metrics.json").read_text())
    aug = {k: training.get(k, 0) for k in AUGMENT}
    row = {"run": name, "changes": changes, "arch": release["architecture"], "params": json.dumps(release.get("params") or {}, sort_keys=True),
           "train_datasets": "+".join(release["datasets"]),
           "augmentation": ", ".join(f"{k.removeprefix('augment_')}={v}" for k, v in aug.items() if v) or "off",
           "seed": training.get("seed", 0), "val_micro_f1": round(m["micro_f1"], 3), "epochs": m.get("epochs"),
           "best_epoch": m.get("best_epoch"), "train_datapoints": m.get("n_train_datapoints"), "train_seconds": round(m.get("train_seconds") or m.get("seconds") or 0, 1)}
    for f in sorted(eval_dir.glob("*/metrics.json")):
        e = json.loads(f.read_text())
        row[f"{f.parent.name}_micro_f1"] = round(e["micro_f1"], 3)
        if f.parent.name == "mdb_drums":
            row.update({f"mdb_drums_{c}": round(e[f"f1_{c}"], 3) for c in CLASSES if e.get(f"f1_{c}") is not None})
    return row


def collect(results_dirs, release_training: dict | None = None, release_cfg: dict | None = None,
            release_files: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows of the release and of every ablation; ``changes`` names an ablation's config files beyond
    ``release_files`` (the release's) and its ``--set`` keys."""
    rows = []
    for res in map(Path, results_dirs):
        rel = res / "release"
        if (rel / "train" / "metrics.json").exists() and release_cfg is not None:
            rows.append(_row("release", rel / "train", rel / "eval", release_training or {}, release_cfg))
        for d in sorted((res / "ablation").glob("*")):
            cfg = json.loads((d / "config.json").read_text())
            note = (d / "note.txt").read_text().strip() if (d / "note.txt").exists() else ""
            kits = cfg.get("train_kits")
            extra = ([f"[{note}]"] if note else []) + ([f"{len(kits)} train kits"] if kits else []) + [Path(f).name for f in cfg["configfile"] if Path(f).name not in {Path(r).name for r in release_files}]
            rows.append(_row(d.name, d / "train", d / "eval", cfg["training"], cfg["release"],
                             " ".join(extra + list(cfg.get("set") or []))))
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+")
    ap.add_argument("--release-config", nargs="*", default=["config/config.yaml", "config/presets/gpu.yaml",
                                                            "config/presets/release_gpu.yaml"],
                    help="config files the graph's release ran with (later ones overlay earlier ones)")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    from drumscribe.config import load_config

    cfg = load_config(args.release_config)
    training = {**cfg["training"], **(cfg["release"].get("training") or {})}
    table = collect(args.results, training, cfg["release"], tuple(args.release_config))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.drop(columns=["params"]).to_markdown(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
