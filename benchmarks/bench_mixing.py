"""Benchmark: where the CPU time of a datapoint mixed on the fly goes (``mixing.MixDataset``).

Training on audio mixed on the fly (the release recipe, the dataset study's kinds) is
CPU-bound on the GPU machine: its DataLoader workers build each 4 s datapoint from drums,
pool accompaniment and the record chain. This times ``MixDataset.__getitem__`` on one
thread for the mixing config of the given presets (default: config/config.yaml's), with the
whole chain, without it, and with each step alone at its configured probability (the
difference to "no chain" is that step's cost per datapoint, its probability included).
Warm-up items first (the chain's libraries import lazily), then ``--items`` timed ones.

    .venv/bin/python benchmarks/bench_mixing.py --drums results/audio/gmd_synth/hydrogen_colombo \\
        [--preset config/presets/release_gpu.yaml] [--pool results/pool] [--items 300]

``--drums``: rendered kit folders (rule ``render_kit``; their ``validation`` tracks are used).
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = ("p_reverb", "p_eq", "p_saturate", "p_compress", "p_band_limit", "p_codec")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drums", nargs="+", required=True, help="rendered kit folders")
    ap.add_argument("--preset", action="append", default=[])
    ap.add_argument("--pool", default=str(REPO / "results" / "pool"))
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=60)
    args = ap.parse_args(argv)
    if args.items < 1 or args.warmup < 0:
        print(f"--items {args.items} / --warmup {args.warmup}: need items >= 1, warmup >= 0")
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np
    import torch

    from drumscribe import crossval, features, mixing, pool as pool_mod
    from drumscribe.config import load_config

    torch.set_num_threads(1)
    config = load_config(args.preset, base=REPO / "config" / "config.yaml")
    fc = features.FeatureConfig.from_dict(config["features"])
    drums = mixing.rendered_tracks([Path(d) for d in args.drums], "validation", threads=1)
    pool = pool_mod.read_pool(args.pool)
    load = lambda f: mixing.load_clip(Path(args.pool) / f)  # noqa: E731
    acc = crossval.pool_accompaniment(pool[pool["source"] != "mdb"], (), "train", load)
    base = {**config["mixing"], "p_real_drums": 0.0, "p_pseudo": 0.0}
    off = {**base, **{k: 0.0 for k in (*STEPS, "p_distort_accompaniment")}}
    irs = pool_mod.load_irs(args.pool, exclude=base["held_out_irs"])
    zero = np.zeros(1, np.float32)
    cases = [("no chain", off), ("whole chain", base)] + [(f"{s} = {base[s]:g} alone", {**off, s: base[s]})
                                                        for s in STEPS]
    print(f"# {platform.node()} {platform.machine()}, 1 thread, {len(drums)} drum tracks, "
          f"{len(acc)} accompaniment clips, {args.items} items after {args.warmup}; "
          f"presets {args.preset or ['(none)']}")
    print("| mixing | datapoints/s (1 core) | ms a datapoint | over no chain |")
    print("|---|---|---|---|")
    ms_off = None
    for name, cfg in cases:
        ds = mixing.MixDataset(drums, (), acc, irs, cfg, seed=0, feature_config=fc, frames=400, widen=0.5,
                               mean=zero, std=zero + 1, n_items=args.warmup + args.items)
        for i in range(args.warmup):
            ds[i]
        t = time.perf_counter()
        for i in range(args.warmup, args.warmup + args.items):
            ds[i]
        ms = 1000 * (time.perf_counter() - t) / args.items
        ms_off = ms if name == "no chain" else ms_off
        extra = "" if ms_off is None or name == "no chain" else f"+{ms - ms_off:.2f} ms"
        print(f"| {name} | {1000 / ms:.0f} | {ms:.2f} | {extra} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
