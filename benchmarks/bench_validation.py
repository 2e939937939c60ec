"""Time of one epoch's validation pass: a trial's model over its validation tracks, the
activations of every track (the inference part of ``trial.CacheValidator``; the threshold
tuning after it is CPU work that does not depend on the model).

Two ways of running the same chunks, per architecture (random weights, random
spectrograms: the time does not depend on either):

- ``per track``: each track's chunks in batches of their own (what validation did before
  2026-12-07: a one-minute track is one pass of about 20 chunks);
- ``shared``: the chunks of all tracks in shared batches (``inference.batch_activations``
  now, :meth:`drumscribe.inference.ChunkedInference.stitched_many`).

The maximum absolute difference between the two is printed too (float rounding only).

    PYTHONPATH=src python benchmarks/bench_validation.py --device cuda            # 170 tracks of 60 s
    PYTHONPATH=src python benchmarks/bench_validation.py --tracks 20 --seconds 30  # CPU, quick
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from drumscribe import DATAPOINT_FRAMES, FPS, inference, models

#: The configurations whose validation the 2026-12-02 architecture study found slowest
#: (docs/results/gpu-study-2026-12-02/trials.csv), and the bench's middle CRNN.
CONFIGS = {
    "rnn_gru_288x4": ("rnn", {"cell": "gru", "num_layers": 4, "hidden_size": 288}),
    "rnn_lstm_144x3": ("rnn", {"cell": "lstm", "num_layers": 3, "hidden_size": 144}),
    "crnn_gru_288x3": ("crnn", {"cell": "gru", "num_layers": 3, "hidden_size": 288}),
    "crnn_gru_144x3": ("crnn", {"cell": "gru", "num_layers": 3, "hidden_size": 144}),
    "conv_transformer_288x8": ("conv_transformer", {"d_model": 288, "num_layers": 8, "num_heads": 4}),
    "vit_576x10": ("vit", {"patch_size": 7, "num_heads": 2, "num_layers": 10, "d_model": 576}),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tracks", type=int, default=170, help="validation tracks (the GPU study's: 170)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each track (the GPU preset crops to 60 s)")
    ap.add_argument("--config", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--repeat", type=int, default=2, help="timed runs of each way (the best is printed)")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    frames = int(args.seconds * FPS)
    specs = [rng.standard_normal((frames, 84)).astype(np.float32) for _ in range(args.tracks)]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"# {name}, torch {torch.__version__}, {args.tracks} tracks x {args.seconds:g} s, chunk "
          f"{DATAPOINT_FRAMES} frames")
    print(f"{'config':<24} {'per track s':>12} {'shared s':>10} {'speed-up':>9} {'max |diff|':>11}")
    for key in args.config:
        arch, params = CONFIGS[key]
        torch.manual_seed(0)
        net = models.build(arch, 84, **params).to(device).eval()
        engine = inference.ChunkedInference(net, 84, chunk_frames=DATAPOINT_FRAMES, context_frames=50, device=device)
        engine.stitched_many(specs[:2])  # warm-up (cuDNN plans, allocator)
        best = {}
        for way in ("per track", "shared"):
            times = []
            for _ in range(args.repeat):
                sync(device)
                t0 = time.perf_counter()
                out = ([engine.stitched_activations(s) for s in specs] if way == "per track"
                       else engine.stitched_many(specs))
                sync(device)
                times.append(time.perf_counter() - t0)
            best[way] = (min(times), out)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(best["per track"][1], best["shared"][1]))
        a, b = best["per track"][0], best["shared"][0]
        print(f"{key:<24} {a:>12.2f} {b:>10.2f} {a / b:>8.2f}x {diff:>11.1e}", flush=True)


if __name__ == "__main__":
    main()
