"""Training throughput per architecture: forward + backward + Adam step on random
400x84 datapoints, batch 32, with a middle-of-space configuration.

Prints a table (datapoints/s, ms per batch, parameters, peak GPU memory).

    .venv/bin/python benchmarks/bench_training.py                      # CPU, float32
    .venv/bin/python benchmarks/bench_training.py --device cuda        # GPU, bf16 autocast
    .venv/bin/python benchmarks/bench_training.py --device cuda --no-bf16 --arch crnn vit
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from drumscribe import models
from drumscribe.models import rnn as rnn_module

#: A configuration from the middle of each default search space.
MIDDLE = {
    "rnn": {"cell": "gru", "num_layers": 4, "hidden_size": 144},
    "cnn": {"num_blocks": 2, "num_fc": 2, "hidden_size": 288},
    "crnn": {"cell": "gru", "num_layers": 3, "hidden_size": 144},
    "conv_transformer": {"d_model": 144, "num_layers": 4, "num_heads": 4},
    "vit": {"patch_size": 14, "num_heads": 4, "num_layers": 6, "d_model": 288},
}


def bench(arch, params, device, bf16, batch, frames, bins, warmup, steps, compile_=False):
    torch.manual_seed(0)
    model = models.build(arch, bins, **params).to(device).train()
    if compile_:
        model = torch.compile(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.full((5,), 3.0, device=device))
    x = torch.randn(batch, frames, bins, device=device)
    y = (torch.rand(batch, frames, 5, device=device) < 0.05).float()
    use_bf16 = bf16 and device.type == "cuda"

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else float("nan")
    n_params = sum(p.numel() for p in model.parameters())
    return batch * steps / dt, 1000 * dt / steps, n_params, mem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--arch", nargs="*", default=list(MIDDLE), choices=list(MIDDLE))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--bins", type=int, default=84)
    ap.add_argument("--steps", type=int, default=None, help="timed batches (default 3 on CPU, 50 on GPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed batches (default 1 on CPU, 10 on GPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads on CPU")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false", help="float32 on the GPU too")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (warm-up includes compiling)")
    ap.add_argument("--rnn-autocast", action="store_true",
                    help="let autocast run GRU/LSTM layers in bf16 too (default: they run in float32)")
    ap.add_argument("--trial-epochs", type=int, default=0,
                    help="also run training.fit for this many epochs per architecture on "
                         "random in-memory data (--trial-datapoints train, a quarter as many validation) "
                         "and report seconds per epoch")
    ap.add_argument("--trial-datapoints", type=int, default=1024)
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if args.rnn_autocast:
        rnn_module.FLOAT32_RNN = False
    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = device.type == "cuda"
    steps = args.steps or (50 if gpu else 3)
    warmup = args.warmup if args.warmup is not None else (10 if gpu else 1)
    if gpu:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = args.cudnn_benchmark
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    prec = ("bf16 autocast" if gpu and args.bf16 else "float32") + (", torch.compile" if args.compile else "") \
        + (", cudnn.benchmark" if args.cudnn_benchmark else "")
    print(f"# training throughput: batch {args.batch} x {args.frames} frames x {args.bins} bins, "
          f"{prec}, {device} ({name}), torch {torch.__version__}, {steps} timed batches after {warmup} warm-up")
    print(f"{'arch':<18}{'params':>10}{'datapoints/s':>14}{'ms/batch':>10}{'peak MiB':>10}  config")
    for arch in args.arch:
        dps, ms, n, mem = bench(arch, MIDDLE[arch], device, args.bf16, args.batch, args.frames, args.bins,
                                warmup, steps, args.compile)
        cfg = ", ".join(f"{k}={v}" for k, v in MIDDLE[arch].items())
        print(f"{arch:<18}{n:>10,}{dps:>14.1f}{ms:>10.1f}{mem:>10.0f}  {cfg}", flush=True)
    if args.trial_epochs:
        trial_bench(args, device)


def trial_bench(args, device):
    """Whole epochs through ``training.fit`` (data loading from memory, validation loss,
    checkpoint writing included; no validator)."""
    import tempfile

    from torch.utils.data import TensorDataset

    from drumscribe import training

    def data(n, seed):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, args.frames, args.bins, generator=g)
        y = (torch.rand(n, args.frames, 5, generator=g) < 0.05).float()
        return TensorDataset(x, y)

    train, val = data(args.trial_datapoints, 0), data(max(1, args.trial_datapoints // 4), 1)
    cfg = {"max_epochs": args.trial_epochs, "batch_size": args.batch, "num_workers": 0,
           "device": str(device), "seed": 0}
    print(f"# fit: {len(train)} train + {len(val)} validation datapoints in memory, "
          f"{args.trial_epochs} epochs")
    print(f"{'arch':<18}{'s/epoch':>10}{'train dp/s':>12}{'last val loss':>15}")
    for arch in args.arch:
        with tempfile.TemporaryDirectory() as tmp:
            training.fit(arch, MIDDLE[arch], train, val, tmp, cfg, progress=False,
                                 pos_weight=[3.0] * 5)
            hist = training.read_history(f"{tmp}/history.csv")
        s = sum(r["seconds"] for r in hist[1:]) / max(1, len(hist) - 1) if len(hist) > 1 else hist[0]["seconds"]
        dps = sum(r["datapoints_per_s"] for r in hist[1:]) / max(1, len(hist) - 1) if len(hist) > 1 \
            else hist[0]["datapoints_per_s"]
        print(f"{arch:<18}{s:>10.2f}{dps:>12.1f}{hist[-1]['val_loss']:>15.4f}", flush=True)


if __name__ == "__main__":
    main()
