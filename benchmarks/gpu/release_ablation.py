"""One ablation of the released model: the `release` target's training and tests with changed keys.

Trains ``config.release``'s architecture and parameters on the release datasets' feature
caches (``results/features/<dataset>.h5``, made by the graph) with the same library calls
as the rules ``release_train`` and ``release_evaluate`` (``trial.train_trial``,
``evaluation.evaluate``), but with ``--set KEY=VALUE`` changes, into
``results/ablation/<NAME>/`` (train/ and eval/<test dataset>/), and prints one row of test
micro F1 per test dataset. Resumable: a killed run continues from its last epoch's
checkpoint; finished evaluations are kept.

Run beside the graph's `release` on the GPU machine, so the released model and its
ablation train at the same time on the same features (docs/benchmarks.md, "Released model")::

    PYTHONPATH=src python3 benchmarks/gpu/release_ablation.py no_aug \\
        --configfile config/config.yaml config/presets/gpu.yaml config/presets/release_gpu.yaml \\
        --set training.augment_gain_db=0 training.augment_tilt_db=0 training.augment_eq_db=0 \\
              training.augment_pitch_bins=0 --wait 900
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

from drumscribe import config as ds_config, evaluation, trial


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("name", help="ablation name (folder results/ablation/NAME)")
    ap.add_argument("--configfile", nargs="+", required=True, help="config files, later ones overlay earlier ones")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="changes, e.g. training.augment_gain_db=0 (VALUE read as YAML)")
    ap.add_argument("--out", default="results/ablation", help="output root")
    ap.add_argument("--wait", type=float, default=0, help="seconds to wait for the feature caches to appear")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--allow-other-data", action="store_true",
                    help="train even if the caches' training kits differ from the config's render.kits")
    args = ap.parse_args(argv)

    config = ds_config.load_config(args.configfile)
    for item in args.set:
        key, _, value = item.partition("=")
        node = config
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    rel = config["release"]
    training = {**config["training"], **(rel.get("training") or {})}
    train_h5s = [Path(f"results/features/{d}.h5") for d in rel["datasets"]]
    tests = ds_config.release_test_datasets(config)
    needed = train_h5s + [Path(f"results/features/{m}.h5") for t in tests for m in ds_config.members(t)]
    deadline = time.time() + args.wait
    while not all(p.exists() for p in needed):
        if time.time() > deadline:
            sys.exit(f"release_ablation: feature caches missing: {[str(p) for p in needed if not p.exists()]}")
        time.sleep(5)

    from drumscribe import cache

    # what the caches really hold (the graph may have built them from other config files):
    # the kits of the train split, from the synthetic track ids ``<kit>__<performance>``
    train_kits = sorted({tid.split("__")[0] for h5 in train_h5s for tid in cache.list_tracks(h5, "train") if "__" in tid})
    render = config.get("render") or {}
    if train_kits and isinstance(render.get("kits"), list):
        split = render.get("kit_split") or {}
        held_out = set(split.get("validation") or []) | set(split.get("test") or [])
        expected = sorted(set(render["kits"]) - held_out)
        if train_kits != expected and not args.allow_other_data:
            sys.exit(f"release_ablation: the caches' training kits {train_kits} are not the config's {expected} "
                     "(were they built from other config files? --allow-other-data to train anyway)")
    out = Path(args.out) / args.name
    (out / "config.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"set": args.set, "configfile": args.configfile,
                                                 "training": training, "release": rel, "train_kits": train_kits},
                                                indent=1, default=str))
    train = out / "train"
    if not (train / "model.pt").exists():
        trial.train_trial(arch=rel["architecture"], params=rel.get("params") or {}, train_h5s=train_h5s,
                          out_model=train / "model.pt", out_history=train / "history.csv",
                          out_metrics=train / "metrics.json", training=training, targets=config["targets"],
                          peaks=config["peaks"], evaluation=config["evaluation"], threads=args.threads,
                          progress=False)
    row = {"name": args.name}
    for test in tests:
        metrics = out / "eval" / test / "metrics.json"
        if not metrics.exists():
            evaluation.evaluate(model=train / "model.pt",
                                h5_paths=[f"results/features/{m}.h5" for m in ds_config.members(test)],
                                splits=ds_config.test_splits(config, test), test_dataset=test,
                                out_metrics=metrics, out_predictions=out / "eval" / test / "predictions",
                                window=config["evaluation"]["window"], threads=args.threads)
        row[test] = round(json.loads(metrics.read_text())["micro_f1"], 3)
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
