"""Benchmark: spectrogram and HDF5 feature-cache throughput, per core.

Synthetic audio (noise bursts on a noise floor, like a drum track) of a few
minutes is written as 16-bit wav files to a temp folder; we time

1. ``spectrogram`` alone (audio already in memory),
2. ``build_cache`` end to end: load_audio (decode) + spectrogram + float16 gzip
   HDF5 write + norm statistics + source sha1,

and print audio-seconds per wall-second. BLAS/OpenMP are pinned to one thread, so
the numbers are per core.

    .venv/bin/python benchmarks/bench_features.py [--minutes 3] [--tracks 4] [--kind logfilt]
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from drumscribe.datasets import Track  # noqa: E402
from drumscribe.features import FeatureConfig, build_cache, spectrogram  # noqa: E402
from drumscribe.labels import empty_onsets  # noqa: E402

SR = 44100


def synth(seconds, seed):
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    y = 0.01 * rng.standard_normal(n).astype(np.float32)
    for t in np.arange(0.1, seconds - 0.1, 0.125):  # 16th notes at 120 bpm
        i = int(t * SR)
        y[i:i + 2000] += (0.5 * rng.uniform(-1, 1, 2000) * np.exp(-np.arange(2000) / 300)).astype(np.float32)
    return y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0, help="length of each synthetic track")
    ap.add_argument("--tracks", type=int, default=4)
    ap.add_argument("--kind", default="logfilt", choices=["logfilt", "mel"])
    args = ap.parse_args()
    cfg = FeatureConfig(kind=args.kind)
    seconds = args.minutes * 60
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"one thread; feature {cfg.kind} ({cfg.hash()})")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        tracks = []
        for k in range(args.tracks):
            p = d / f"t{k}.wav"
            sf.write(p, synth(seconds, k), SR, subtype="PCM_16")
            tracks.append(Track(f"t{k}", "train" if k else "validation", f"g{k}", (p,), empty_onsets))
        y = synth(seconds, 99)
        spectrogram(y[:SR], cfg)  # warm-up (filterbank)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            spec = spectrogram(y, cfg)
            times.append(time.perf_counter() - t0)
        dt = min(times)
        print(f"spectrogram only (best of 3):         {seconds:7.0f} s audio in {dt:6.2f} s wall = "
              f"{seconds / dt:7.1f}x realtime per core  ({spec.shape[0]} frames x {spec.shape[1]} bins)")
        t0 = time.perf_counter()
        out = build_cache("bench", None, d / "bench.h5", cfg, tracks=tracks, progress=False)
        dt = time.perf_counter() - t0
        total = seconds * args.tracks
        mb = out.stat().st_size / 1e6
        print(f"load + spectrogram + HDF5:    {total:7.0f} s audio in {dt:6.2f} s wall = "
              f"{total / dt:7.1f}x realtime per core")
        print(f"HDF5 size: {mb:.2f} MB for {total / 3600:.3f} h = {mb / (total / 3600):.1f} MB per audio hour "
              f"(float16, gzip 4 + shuffle, chunks of 400 frames)")


if __name__ == "__main__":
    main()
