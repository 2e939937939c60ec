"""Benchmark: spectrogram and HDF5 feature-cache throughput, per core.

Synthetic audio (noise bursts on a noise floor, like a drum track) of a few
minutes is written as 16-bit wav files to a temp folder; we time

1. ``spectrogram`` alone (audio already in memory),
2. ``build_cache`` end to end: load_audio (decode) + spectrogram + float16 gzip
   HDF5 write + norm statistics + source sha1,

and print audio-seconds per wall-second. BLAS/OpenMP are pinned to one thread, so
the numbers are per core.

``--threads 1 2 4`` times step 2 once per worker count (``build_cache(threads=N)``:
a process pool computes the spectrograms, the main process writes the HDF5), prints
the speed-up over the first count and checks every cache equals the first. It also
prints the CPU seconds of the main (writing) process and of the workers: on a busy
machine wall times do not show scaling, but ``serial wall / main CPU`` bounds the
speed-up any number of cores can give (Amdahl), and the workers' total CPU over the
serial CPU is the pool's overhead.

    .venv/bin/python benchmarks/bench_features.py [--minutes 3] [--tracks 4] [--kind logfilt] [--threads 1 2]
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from drumscribe.datasets import Track  # noqa: E402
from drumscribe.cache import build_cache  # noqa: E402
from drumscribe.features import FeatureConfig, spectrogram  # noqa: E402
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


def same_cache(a, b):
    """True if two caches hold the same groups, arrays and attributes."""
    import h5py

    def content(path):
        out = {}
        with h5py.File(path, "r") as h5:
            h5.visititems(lambda name, obj: out.__setitem__(
                name, (obj[()] if isinstance(obj, h5py.Dataset) else None, dict(obj.attrs))))
            out["/"] = (None, dict(h5.attrs))
        return out

    ca, cb = content(a), content(b)
    if ca.keys() != cb.keys():
        return False
    for k in ca:
        (va, aa), (vb, ab) = ca[k], cb[k]
        if (va is None) != (vb is None) or (va is not None and not np.array_equal(va, vb)):
            return False
        if aa.keys() != ab.keys() or any(not np.array_equal(aa[x], ab[x]) for x in aa):
            return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0, help="length of each synthetic track")
    ap.add_argument("--tracks", type=int, default=4)
    ap.add_argument("--kind", default="logfilt", choices=["logfilt", "mel"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1],
                    help="build_cache worker counts to time (the first is the reference)")
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
        total = seconds * args.tracks
        walls, outs = [], []
        for threads in args.threads:
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            p0, t0 = time.process_time(), time.perf_counter()
            out = build_cache(tracks, d / f"bench_{threads}.h5", cfg, name="bench", progress=False,
                              threads=threads)
            dt, main_cpu = time.perf_counter() - t0, time.process_time() - p0
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            workers_cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
            walls.append(dt)
            outs.append(out)
            label = "per core" if threads == 1 else f"with {threads} processes"
            print(f"load + spectrogram + HDF5 (threads={threads}): {total:7.0f} s audio in {dt:6.2f} s wall = "
                  f"{total / dt:7.1f}x realtime {label}"
                  + (f"; speed-up {walls[0] / dt:.2f}x over threads={args.threads[0]}" if len(walls) > 1 else ""))
            print(f"    CPU: main process {main_cpu:6.2f} s, workers {workers_cpu:6.2f} s"
                  + (f"; speed-up bound (serial wall / main CPU) {walls[0] / main_cpu:.1f}x" if threads > 1 else ""))
        for out in outs[1:]:
            if not same_cache(outs[0], out):
                raise SystemExit(f"{out}: differs from {outs[0]}")
        if len(outs) > 1:
            print(f"caches of threads={args.threads} have identical content")
        mb = outs[0].stat().st_size / 1e6
        print(f"HDF5 size: {mb:.2f} MB for {total / 3600:.3f} h = {mb / (total / 3600):.1f} MB per audio hour "
              f"(float16, gzip 4 + shuffle, chunks of 400 frames)")


if __name__ == "__main__":
    main()
