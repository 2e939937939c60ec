"""Benchmark of `drumscribe transcribe`: speed, cold start and peak memory.

Prints (and with ``--json`` writes) these numbers:

- ``speed``: whole-song transcription on ``--threads`` CPU threads (default 2), warm
  (model loaded, one warm-up song done), in audio-seconds per wall-second, for a
  ``--song-minutes`` song (default 3), split into reading+spectrogram and model.
- ``cold_start``: a fresh interpreter importing drumscribe and loading the model
  (``Transcriber(model)``), in seconds, measured inside the process and as the wall
  time of the whole process; and the wall time of ``drumscribe transcribe`` on a
  1-second clip (interpreter start, imports, model load, one tiny song, outputs).
- ``whole_process``: the wall time of ``drumscribe transcribe`` on the ``--song-minutes``
  song as a whole process (interpreter start, imports, model load, the song, outputs): the
  first run (which traces the model and keeps the traces in ``DRUMSCRIBE_CACHE_DIR``, here a
  fresh folder) and the best of the later ones (traces loaded), with the load average.
- ``peak_rss``: peak resident memory (``ru_maxrss``) of a fresh process transcribing
  a ``--rss-minutes`` song (default 10 and 60) read from a wav file, chunked.

The audio is synthesised (decaying noise bursts and pitched thumps on a 8th-note grid,
over a noise floor), written to a temporary folder block by block. The model is
``--model`` or, by default, an untrained CRNN of the release configuration
(``crnn cell=gru num_layers=2 hidden_size=144``; until 2026-11-25 this default was the
first release configuration, 3 layers): speed and memory do not depend on the weights.

On the CPU, `drumscribe transcribe` runs a CRNN's conv blocks once per frame and its
recurrent layers on 4 s windows, 32 a batch (``drumscribe.transcribe``); ``--window``,
``--context`` and ``--batch-size`` change the windows of the recurrent layers.

Example::

    .venv/bin/python benchmarks/bench_transcribe.py --threads 2 --rss-minutes 10 60
    .venv/bin/python benchmarks/bench_transcribe.py --device cuda --batch-size 256 --rss-minutes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 44100


def synth_song(path: Path, minutes: float, seed: int = 0, channels: int = 1) -> Path:
    """Write a synthetic drum-like song of ``minutes`` to ``path`` (16-bit wav), in blocks."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    n_total = int(minutes * 60 * SR)
    bar = int(2.0 * SR)  # one 4/4 bar at 120 BPM
    t = np.arange(bar) / SR
    pattern = np.zeros(bar, np.float32)
    for k in range(8):  # 8th notes
        i = int(k * 0.25 * SR)
        n = min(6000, bar - i)
        env = np.exp(-np.arange(n) / 900.0).astype(np.float32)
        pattern[i:i + n] += 0.25 * rng.standard_normal(n).astype(np.float32) * env  # hi-hat-like
        if k in (0, 3, 4):
            pattern[i:i + n] += 0.6 * np.sin(2 * np.pi * 60 * t[:n]).astype(np.float32) * env  # kick-like
        if k in (2, 6):
            pattern[i:i + n] += 0.4 * rng.standard_normal(n).astype(np.float32) * np.sqrt(env)  # snare-like
    with sf.SoundFile(str(path), "w", SR, channels, subtype="PCM_16") as f:
        done = 0
        while done < n_total:
            n = min(bar * 15, n_total - done)
            reps = np.tile(pattern, n // bar + 1)[:n]
            block = 0.5 * reps + 0.01 * rng.standard_normal(n).astype(np.float32)
            f.write(np.repeat(block[:, None], channels, axis=1) if channels > 1 else block)
            done += n
    return path


def release_like_model(path: Path) -> Path:
    """An untrained CRNN of the release configuration (GRU 2x144), saved as a drumscribe checkpoint."""
    import torch

    from drumscribe import CLASSES, features, models

    cfg = features.FeatureConfig()
    torch.manual_seed(0)
    m = models.build("crnn", features.n_bins(cfg), cell="gru", num_layers=2, hidden_size=144)
    nb = features.n_bins(cfg)
    models.save_checkpoint(path, m, {"feature_config": cfg, "norm_mean": np.zeros(nb), "norm_std": np.ones(nb),
                                     "thresholds": {c: 0.5 for c in CLASSES},
                                     "peak_params": {"pre_max": 2, "post_max": 2, "pre_avg": 10, "post_avg": 2,
                                                     "wait": 2}})
    return path


CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from drumscribe.transcribe import Transcriber
kw = {"chunk": float(sys.argv[6]), "context": float(sys.argv[7])} if float(sys.argv[6]) > 0 else {}
t = Transcriber(sys.argv[1], device=sys.argv[3], threads=int(sys.argv[4]), batch_size=int(sys.argv[5]) or None, **kw)
t1 = time.perf_counter()
r = t.transcribe(sys.argv[2], keep_activations=False) if sys.argv[2] != "-" else None
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "transcribe_s": t2 - t1, "duration": r.duration if r else 0,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(model: Path, song: str, device: str, threads: int, batch: int, window: float = 0.0,
          context: float = 0.0) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model), song, device, str(threads), str(batch),
                           str(window), str(context)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"child failed: {proc.stderr.strip().splitlines()[-1]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="checkpoint (default: untrained release-config CRNN)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=0, help="windows per batch (0: the default)")
    ap.add_argument("--window", type=float, default=0.0, help="model window, s (0: the default)")
    ap.add_argument("--context", type=float, default=0.0, help="context at each side, s (0: the default)")
    ap.add_argument("--song-minutes", type=float, default=3.0, help="song length of the speed measurement")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of the speed measurement (best is kept)")
    ap.add_argument("--rss-minutes", type=float, nargs="*", default=[10.0, 60.0])
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--workdir", type=Path, default=None, help="where the audio is written (default: a temp dir)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args(argv)

    import torch

    from drumscribe import __version__
    from drumscribe.audio import load_audio
    from drumscribe.transcribe import Transcriber

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_transcribe."))
    work.mkdir(parents=True, exist_ok=True)
    model = args.model or release_like_model(work / "crnn_release_untrained.pt")
    res: dict = {"drumscribe": __version__, "torch": torch.__version__, "machine": platform.machine(),
                 "cpu": platform.processor() or platform.uname().machine, "cpus": os.cpu_count(),
                 "device": args.device, "threads": args.threads,
                 "model": str(model), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if args.device.startswith("cuda") and torch.cuda.is_available():
        res["gpu"] = torch.cuda.get_device_name(0)
    res["batch_size"] = Transcriber(model, device=args.device).batch_size if not args.batch_size else args.batch_size
    print(json.dumps(res), flush=True)

    # ---- warm speed
    song = synth_song(work / f"song_{args.song_minutes:g}min.wav", args.song_minutes, seed=1)
    kw = {"chunk": args.window, "context": args.context} if args.window > 0 else {}
    t = Transcriber(model, device=args.device, threads=args.threads, batch_size=args.batch_size or None, **kw)
    res["chunk"], res["context"] = t.chunk_frames / t.fps, t.context_frames / t.fps
    warm = synth_song(work / "warmup.wav", 0.25, seed=2)
    t.transcribe(warm)
    best = None
    for _ in range(max(1, args.repeats)):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        r = t.transcribe(song, keep_activations=False)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    # split: reading + spectrogram alone
    t0 = time.perf_counter()
    y = load_audio(song)
    n = sum(len(c) for c in t.spectrogram_chunks(iter([y[i:i + 30 * SR] for i in range(0, len(y), 30 * SR)])))
    feat_s = time.perf_counter() - t0
    res["speed"] = {"song_s": r.duration, "wall_s": round(best, 3), "x_real_time": round(r.duration / best, 1),
                    "read_and_spectrogram_s": round(feat_s, 3), "frames": n,
                    "model_and_peaks_s": round(best - feat_s, 3)}
    print(f"speed: {r.duration:.0f} s song in {best:.2f} s on {args.threads} thread(s), {args.device}: "
          f"{r.duration / best:.1f}x real time (reading+spectrogram {feat_s:.2f} s)", flush=True)
    del t, y

    # ---- cold start
    if not args.skip_cold:
        clip = synth_song(work / "clip1s.wav", 1 / 60, seed=3)
        cold = [child(model, "-", args.device, args.threads, args.batch_size) for _ in range(3)]
        best_c = min(cold, key=lambda c: c["wall_s"])
        exe = Path(sys.executable).parent / "drumscribe"
        cmd = ([str(exe)] if exe.exists() else [sys.executable, "-m", "drumscribe.cli"])
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(cmd + ["transcribe", str(clip), "-o", str(work / "cli_out"), "--model", str(model),
                                  "--threads", str(args.threads), "--device", args.device, "-q"], check=True)
            walls.append(time.perf_counter() - t0)
        res["cold_start"] = {"imports_and_model_load_s": round(best_c["load_s"], 3),
                             "process_wall_s": round(best_c["wall_s"], 3),
                             "cli_transcribe_1s_clip_wall_s": round(min(walls), 3)}
        print(f"cold start: imports + model load {best_c['load_s']:.2f} s (process {best_c['wall_s']:.2f} s); "
              f"`drumscribe transcribe` of a 1 s clip {min(walls):.2f} s wall", flush=True)

    # ---- the whole process on the song: what a user waits for (interpreter, imports, model
    # load, traces, the song, outputs); the first run makes the traces and keeps them on disk
    if not args.skip_cold:
        import shutil

        cache = work / "trace_cache"
        shutil.rmtree(cache, ignore_errors=True)
        env = {**os.environ, "DRUMSCRIBE_CACHE_DIR": str(cache)}
        walls = []
        for _ in range(1 + max(1, args.repeats)):
            t0 = time.perf_counter()
            subprocess.run(cmd + ["transcribe", str(song), "-o", str(work / "cli_out"), "--model", str(model),
                                  "--threads", str(args.threads), "--device", args.device, "-q"], check=True, env=env)
            walls.append(time.perf_counter() - t0)
        res["whole_process"] = {"song_s": r.duration, "first_run_wall_s": round(walls[0], 3),
                                "wall_s": round(min(walls[1:]), 3),
                                "x_real_time": round(r.duration / min(walls[1:]), 1),
                                "load_average_1min": round(os.getloadavg()[0], 2)}
        print(f"whole process: `drumscribe transcribe` of the {r.duration:.0f} s song {min(walls[1:]):.2f} s wall "
              f"({r.duration / min(walls[1:]):.0f}x real time; first run, traces made: {walls[0]:.2f} s; "
              f"load average {os.getloadavg()[0]:.1f})", flush=True)

    # ---- peak memory
    res["peak_rss"] = []
    for minutes in args.rss_minutes:
        path = synth_song(work / f"long_{minutes:g}min.wav", minutes, seed=4)
        c = child(model, str(path), args.device, args.threads, args.batch_size, args.window, args.context)
        res["peak_rss"].append({"minutes": minutes, "maxrss_mb": round(c["maxrss_mb"], 1),
                                "transcribe_s": round(c["transcribe_s"], 1),
                                "x_real_time": round(c["duration"] / c["transcribe_s"], 1)})
        print(f"peak RSS, {minutes:g}-minute song: {c['maxrss_mb']:.0f} MB "
              f"(transcribed in {c['transcribe_s']:.1f} s, {c['duration'] / c['transcribe_s']:.1f}x real time)",
              flush=True)
        path.unlink()
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
