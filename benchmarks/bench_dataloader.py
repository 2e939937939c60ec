"""Benchmark: DataLoader throughput of 4 s datapoints from an HDF5 feature cache.

Builds a cache of synthetic tracks (noise bursts with onsets in all classes) in
a temp folder, then times full passes of a ``torch.utils.data.DataLoader`` over
``DatapointDataset`` (batch 32, shuffled) with 0, 1 and 4 workers and prints
datapoints (400 frames x 84 bins + 400 x 5 targets) per second.

    .venv/bin/python benchmarks/bench_dataloader.py [--tracks 16] [--seconds 120] [--epochs 2] [--preload [--device cuda]]
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from drumscribe import CLASSES
from drumscribe.datasets import Track
from drumscribe.cache import build_cache
from drumscribe.features import FeatureConfig
from drumscribe.targets import DatapointDataset

SR = 44100


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 4])
    ap.add_argument("--preload", action="store_true", help="also time training.preload's batches")
    ap.add_argument("--device", default="cpu", help="where --preload holds the data (cpu, cuda)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        rng = np.random.default_rng(0)
        tracks = []
        for k in range(args.tracks):
            n = int(args.seconds * SR)
            y = 0.01 * rng.standard_normal(n).astype(np.float32)
            onsets = {}
            for c in CLASSES:
                ts = np.sort(rng.uniform(0, args.seconds - 0.1, int(args.seconds)))
                for t in ts:
                    i = int(t * SR)
                    y[i:i + 500] += 0.3 * rng.uniform(-1, 1, 500).astype(np.float32)
                onsets[c] = ts
            p = d / f"t{k}.wav"
            sf.write(p, y, SR, subtype="PCM_16")
            tracks.append(Track(f"t{k}", "train", f"g{k}", (p,), (lambda o=onsets: o)))
        t0 = time.perf_counter()
        h5 = build_cache(tracks, d / "bench.h5", FeatureConfig(), name="bench", progress=False)
        print(f"cache: {args.tracks} tracks x {args.seconds:.0f} s built in {time.perf_counter() - t0:.1f} s")
        ds = DatapointDataset([h5], "train")
        print(f"datapoints: {len(ds)} (400 frames each), batch {args.batch_size}, {args.epochs} epochs per setting")
        for w in args.workers:
            dl = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=w,
                                             persistent_workers=w > 0,
                                             generator=torch.Generator().manual_seed(0))
            it = iter(dl)
            next(it)  # start-up (worker fork) not counted
            for _ in it:
                pass
            n = 0
            t0 = time.perf_counter()
            for _ in range(args.epochs):
                for x, y in dl:
                    n += x.shape[0]
            dt = time.perf_counter() - t0
            print(f"workers={w}: {n} datapoints in {dt:.2f} s = {n / dt:8.0f} datapoints/s "
                  f"({n * 4 / dt / 3600:.2f} h of audio per second)")
            del dl, it
        if args.preload:
            # training.preload: the split as tensors, a batch is one gather (what train_trial does)
            from drumscribe.training import _batches, training_config

            t0 = time.perf_counter()
            pre = ds.preload(args.device)
            print(f"preload to {args.device}: {len(pre)} datapoints in {time.perf_counter() - t0:.2f} s "
                  f"({ds.nbytes() / 1e6:.0f} MB)")
            cfg = training_config({"batch_size": args.batch_size})
            sampler = torch.utils.data.RandomSampler(pre, generator=torch.Generator().manual_seed(0))
            n = 0
            t0 = time.perf_counter()
            for _ in range(args.epochs):
                for x, y in _batches(pre, cfg, torch.device(args.device), sampler):
                    n += x.shape[0]
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            print(f"preloaded: {n} datapoints in {dt:.2f} s = {n / dt:8.0f} datapoints/s")


if __name__ == "__main__":
    main()
