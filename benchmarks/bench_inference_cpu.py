"""Model-only inference speed of candidate release models on the CPU.

Forward pass of each architecture over one 60 s spectrogram (6,000 frames x 84 bins),
after a warm-up, with ``--threads`` torch threads. Prints "x real time" per model:
the figure `drumscribe transcribe` can reach at best with that model.

    .venv/bin/python benchmarks/bench_inference_cpu.py --threads 2
"""

import argparse
import time

import torch

from drumscribe import models

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
    torch.set_num_threads(args.threads)
    frames = int(args.seconds * 100)
    x = torch.randn(1, frames, 84)
    print(f"# model-only forward, {frames} frames, {args.threads} threads, torch {torch.__version__}")
    for arch, params in CANDIDATES:
        model = models.build(arch, 84, **params).eval()
        with torch.inference_mode():
            model(x[:, :1000])
            best = min(_timed(model, x) for _ in range(args.repeats))
        print(f"{arch:17s} {str(params):55s} {args.seconds / best:7.1f}x real time")


def _timed(model, x) -> float:
    t = time.perf_counter()
    model(x)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
