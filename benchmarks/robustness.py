"""The robustness suite (``drumscribe.robustness``) for any model file, outside the graph.

Writes ``DIR/robustness.csv`` (one row per condition: micro/macro/per-class F1, then
``worst`` and ``mean``), ``DIR/robustness_long.csv`` (song × condition × class counts,
with each song's natural accompaniment-to-drums ratio), ``DIR/robustness.png`` (the
heatmap) and ``DIR/robustness.json`` (command, machine, date, seconds), and prints the
wide table. The graph's target is ``results/robustness/{model}.csv`` (docs/robustness.md).

Example::

    .venv/bin/python benchmarks/robustness.py --model src/drumscribe/assets/drumscribe-default.pt \\
        --out results/bench/robustness_shipped
    .venv/bin/python benchmarks/robustness.py --model package --conditions drums mix_natural lp8k \\
        --tracks Punk Beatles --out /tmp/rob
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MDB = REPO.parent / "shared" / "data" / "mdb_drums_dev" / "MDB Drums"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model file, or 'package' for the model shipped in the package")
    ap.add_argument("--conditions", nargs="+", default=None, help="condition names (default: all)")
    ap.add_argument("--tracks", nargs="+", default=None, help="songs, e.g. Punk or MusicDelta_Punk (default: all)")
    ap.add_argument("--mdb-root", default=str(DEFAULT_MDB), help="MDB Drums folder with audio/multi-tracks")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--window", type=float, default=0.05, help="onset tolerance in seconds")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    from drumscribe.errors import DrumscribeError
    from drumscribe.robustness import robustness

    out = Path(args.out)
    t0 = time.perf_counter()
    try:
        wide = robustness(args.model, args.mdb_root, out / "robustness_long.csv", out / "robustness.csv",
                          out / "robustness.png", conditions=args.conditions, tracks=args.tracks,
                          threads=args.threads, window=args.window)
    except DrumscribeError as error:
        print(f"robustness: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - t0
    from drumscribe.atomic import write_json

    write_json(out / "robustness.json", {
        "command": " ".join([sys.executable, *sys.argv]), "model": args.model, "seconds": round(seconds, 1),
        "threads": args.threads, "nproc": os.cpu_count(), "cpu": cpu_model(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "platform": platform.platform(),
    })
    print(wide.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"robustness: {seconds:.0f} s; tables in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
