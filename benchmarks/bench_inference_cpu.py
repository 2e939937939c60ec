"""Model-only inference speed of candidate release models on the CPU.

For each architecture, over one 60 s spectrogram (6,000 frames x 84 bins), after a
warm-up, with ``--threads`` torch threads, two figures in "x real time":

- ``eager``: one forward pass of the eager model over the whole 60 s;
- ``transcribe``: the model part of `drumscribe transcribe` (``Transcriber._stitch``
  on a ready spectrogram: frozen TorchScript traces; a CRNN's conv blocks once per
  frame and its recurrent layers on 4 s windows with 0.5 s of context at each side,
  32 a batch; a CNN frame-local in pieces; other models whole on 4 s windows).
  The figure `drumscribe transcribe` can reach at best with that model (reading and
  the spectrogram come on top: about 0.19 s per 3 minutes of audio on the dev VM).

    .venv/bin/python benchmarks/bench_inference_cpu.py --threads 2
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from drumscribe import CLASSES, features, models

CANDIDATES = [
    ("crnn", dict(cell="gru", num_layers=2, hidden_size=72)),
    ("crnn", dict(cell="gru", num_layers=2, hidden_size=144)),
    ("crnn", dict(cell="gru", num_layers=3, hidden_size=144)),
    ("cnn", dict(num_blocks=2, num_fc=2, hidden_size=288)),
    ("conv_transformer", dict(d_model=144, num_layers=4, num_heads=8)),
    ("rnn", dict(cell="gru", num_layers=2, hidden_size=288)),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from drumscribe.transcribe import Transcriber

    torch.set_num_threads(args.threads)
    frames = int(args.seconds * 100)
    x = torch.randn(1, frames, 84)
    spec = x[0].numpy()
    cfg = features.FeatureConfig()
    print(f"# model-only forward, {frames} frames, {args.threads} threads, torch {torch.__version__}")
    print(f"# {'arch':17s} {'params':55s} {'eager':>9s} {'transcribe':>11s}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (arch, params) in enumerate(CANDIDATES):
            model = models.build(arch, 84, **params).eval()
            with torch.inference_mode():
                model(x[:, :1000])
                eager = min(_timed(lambda: model(x)) for _ in range(args.repeats))
            path = Path(tmp) / f"m{i}.pt"
            models.save_checkpoint(path, model, {"feature_config": cfg, "norm_mean": np.zeros(84),
                                                 "norm_std": np.ones(84), "thresholds": {c: 0.5 for c in CLASSES}})
            t = Transcriber(path, threads=args.threads)
            t._stitch([spec])  # warm-up: traces
            fast = min(_timed(lambda: t._stitch([spec])) for _ in range(args.repeats))
            print(f"{arch:19s} {str(params):55s} {args.seconds / eager:8.1f}x {args.seconds / fast:10.1f}x", flush=True)


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
