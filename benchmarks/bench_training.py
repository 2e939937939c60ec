"""Training throughput per architecture: forward + backward + Adam step on random
400x84 datapoints (batch 32 by default), with a middle-of-space configuration.

Prints a table (arch, batch, options, datapoints/s, ms per batch, parameters, peak GPU
memory, and the speed-up over the same architecture at batch 64 without options where
that row was measured in the same run).

    .venv/bin/python benchmarks/bench_training.py                      # CPU, float32
    .venv/bin/python benchmarks/bench_training.py --device cuda        # GPU, bf16 autocast
    .venv/bin/python benchmarks/bench_training.py --device cuda --no-bf16 --arch crnn vit
    # a batch sweep (one row per arch x batch; batch 64 gives the speed-up column)
    .venv/bin/python benchmarks/bench_training.py --device cuda --batch 64 256 1024
    # levers that keep the model's math the same; --baseline adds the batch-64 row without them
    .venv/bin/python benchmarks/bench_training.py --device cuda --batch 1024 --fused-adam \\
        --cudnn-benchmark --channels-last --compile --compile-mode max-autotune-no-cudagraphs --baseline

Options (each a lever on speed, none changes the model or the loss):

- ``--batch N [N ...]``: several batch sizes, one row each. A larger batch changes the
  optimisation (fewer, larger steps; the learning rate would be scaled), so it is a lever
  on throughput only; results stay "unchanged" only once a trial at that batch is shown to
  reach the same validation F1.
- ``--channels-last``: the model's 4-D parameters (Conv2d kernels) and every Conv2d input in
  ``torch.channels_last`` (NHWC) memory format (a forward pre-hook converts the input).
  Applies to the architectures with 2-D convolutions (cnn, crnn, conv_transformer: the conv
  blocks; vit: the patch embedding); rnn has none and is run without it (said in the row).
- ``--fused-adam``: ``torch.optim.Adam(fused=True)`` (one kernel for all parameters).
- ``--compile`` / ``--compile-mode MODE``: ``torch.compile(model, mode=MODE)``, e.g.
  ``max-autotune-no-cudagraphs`` or ``reduce-overhead`` (CUDA graphs); the warm-up includes
  compiling. ``--compile-mode`` implies ``--compile``.
- ``--cudnn-benchmark``: ``torch.backends.cudnn.benchmark = True``.
- ``--cuda-graph``: the whole step (forward, backward, Adam with ``capturable=True``) captured
  once in a CUDA graph and replayed: one launch instead of one per kernel, which matters where
  launches bound a step (the recurrent models' thousands of small per-time-step kernels, most
  of all with a dozen trials sharing the GPU). The same math; static input tensors. It is the
  step ``training.cuda_graphs`` runs (``drumscribe.training_graph.CapturedStep``, bf16, not
  combined with ``--compile``).

``--params '{"hidden_size": 288}'`` overrides the middle configuration (e.g. the study's
slowest recurrent trials).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import gc
import platform
import time

import torch

from drumscribe import models, training, training_graph
from drumscribe.models import rnn as rnn_module

#: A configuration from the middle of each default search space.
MIDDLE = {
    "rnn": {"cell": "gru", "num_layers": 4, "hidden_size": 144},
    "cnn": {"num_blocks": 2, "num_fc": 2, "hidden_size": 288},
    "crnn": {"cell": "gru", "num_layers": 3, "hidden_size": 144},
    "conv_transformer": {"d_model": 144, "num_layers": 4, "num_heads": 4},
    "vit": {"patch_size": 14, "num_heads": 4, "num_layers": 6, "d_model": 288},
}

#: Batch size of the reference row for the speed-up column (the issue's figures are at 64).
REFERENCE_BATCH = 64


@dataclasses.dataclass(frozen=True)
class Options:
    """The speed levers of one row (none changes the model's math)."""

    compile: bool = False
    compile_mode: str | None = None
    cudnn_benchmark: bool = False
    channels_last: bool = False
    fused_adam: bool = False
    rnn_autocast: bool = False
    cuda_graph: bool = False
    profile: int = 0

    def label(self, arch: str | None = None, model: torch.nn.Module | None = None) -> str:
        parts = []
        if self.compile:
            parts.append(f"compile({self.compile_mode})" if self.compile_mode else "compile")
        if self.fused_adam:
            parts.append("fused-adam")
        if self.cudnn_benchmark:
            parts.append("cudnn-bench")
        if self.channels_last:
            has_conv = model is None or has_conv2d(model)
            parts.append("channels-last" if has_conv else "channels-last:n/a(no conv2d)")
        if self.rnn_autocast:
            parts.append("rnn-bf16")
        if self.cuda_graph:
            parts.append("cuda-graph")
        return "+".join(parts) or "-"

    @property
    def none(self) -> bool:
        return self == Options()


def has_conv2d(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.Conv2d) for m in model.modules())


def _to_channels_last(_module, args):
    x = args[0]
    if x.dim() == 4:
        return (x.contiguous(memory_format=torch.channels_last),) + tuple(args[1:])
    return None


def apply_channels_last(model: torch.nn.Module) -> bool:
    """Conv2d kernels and Conv2d inputs in channels_last; False (nothing done) without Conv2d."""
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        return False
    model.to(memory_format=torch.channels_last)  # only 4-D parameters change layout
    for m in convs:
        m.register_forward_pre_hook(_to_channels_last)
    return True


def bench(arch, params, device, bf16, batch, frames, bins, warmup, steps, compile_=False, opts=None):
    opts = opts or Options(compile=compile_)
    torch.manual_seed(0)
    rnn_module.FLOAT32_RNN = not opts.rnn_autocast
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = opts.cudnn_benchmark
    model = models.build(arch, bins, **params).to(device).train()
    if opts.channels_last:
        apply_channels_last(model)
    label = opts.label(arch, model)
    n_params = sum(p.numel() for p in model.parameters())
    if opts.cuda_graph:
        # training.cuda_graphs' own capturable Adam (a tensor learning rate)
        opt = training_graph.capturable_adam(model.parameters(), 1e-3, device)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if opts.fused_adam else {}))
    if opts.compile:
        model = torch.compile(model, **({"mode": opts.compile_mode} if opts.compile_mode else {}))
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

    if opts.cuda_graph:
        # the step training.cuda_graphs runs (drumscribe.training_graph.CapturedStep): eager warm-up
        # steps, then captured once and replayed, one launch instead of every kernel's
        captured = training_graph.CapturedStep(functools.partial(training.train_step, model, loss_fn, opt,
                                                                 graph_safe=True))

        def step():
            captured(x, y)

        for _ in range(training_graph.WARMUP_STEPS + 1):
            step()
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
    if opts.profile:
        profile_steps(step, device, opts.profile)
    del model, opt, x, y
    if opts.compile:
        torch._dynamo.reset()  # a fresh model per row: no recompile limit, no stale graphs
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return batch * steps / dt, 1000 * dt / steps, n_params, mem, label


def profile_steps(step, device, top: int, steps: int = 3) -> None:
    """Where a step's time goes: ``torch.profiler`` over ``steps`` steps, the ``top`` operators
    by their self time on the device (the GPU kernels under them), printed."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=top, max_name_column_width=60), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--arch", nargs="*", default=list(MIDDLE), choices=list(MIDDLE))
    ap.add_argument("--batch", type=int, nargs="+", default=[32],
                    help="batch size(s); several give one row per arch x batch (default 32)")
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--bins", type=int, default=84)
    ap.add_argument("--steps", type=int, default=None, help="timed batches (default 3 on CPU, 50 on GPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed batches (default 1 on CPU, 10 on GPU)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads on CPU")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false", help="float32 on the GPU too")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="torch.backends.cudnn.benchmark = True")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (warm-up includes compiling)")
    ap.add_argument("--compile-mode", default=None,
                    help="torch.compile mode, e.g. max-autotune-no-cudagraphs, reduce-overhead (CUDA graphs), "
                         "max-autotune; implies --compile")
    ap.add_argument("--channels-last", action="store_true",
                    help="Conv2d kernels and inputs in channels_last (models with 2-D convolutions; "
                         "rnn has none and runs without)")
    ap.add_argument("--fused-adam", action="store_true", help="torch.optim.Adam(fused=True)")
    ap.add_argument("--profile", type=int, default=0, metavar="TOP",
                    help="after each row, profile 3 steps and print the TOP operators by device time")
    ap.add_argument("--cuda-graph", action="store_true",
                    help="capture the whole training step in a CUDA graph and replay it (GPU only)")
    ap.add_argument("--params", default=None,
                    help='JSON object overriding the middle configuration, e.g. \'{"hidden_size": 288}\'')
    ap.add_argument("--baseline", action="store_true",
                    help=f"also measure each arch at batch {REFERENCE_BATCH} without options first, "
                         "so every row gets a speed-up")
    ap.add_argument("--rnn-autocast", action="store_true",
                    help="let autocast run GRU/LSTM layers in bf16 too (default: they run in float32)")
    ap.add_argument("--trial-epochs", type=int, default=0,
                    help="also run training.fit for this many epochs per architecture on "
                         "random in-memory data (--trial-datapoints train, a quarter as many validation) "
                         "and report seconds per epoch (at the first --batch)")
    ap.add_argument("--trial-datapoints", type=int, default=1024)
    args = ap.parse_args(argv)
    if min(args.batch) < 1:
        ap.error("--batch: every batch size must be at least 1")
    device = torch.device(args.device)
    opts = Options(compile=args.compile or args.compile_mode is not None, compile_mode=args.compile_mode,
                   cudnn_benchmark=args.cudnn_benchmark, channels_last=args.channels_last,
                   fused_adam=args.fused_adam, rnn_autocast=args.rnn_autocast, cuda_graph=args.cuda_graph,
                   profile=args.profile)
    if args.cuda_graph and (device.type != "cuda" or not args.bf16 or args.compile or args.compile_mode):
        ap.error("--cuda-graph: needs --device cuda, bf16 (training's step) and no --compile")
    if args.params:
        override = json.loads(args.params)
        for arch in args.arch:
            MIDDLE[arch] = {**MIDDLE[arch], **{k: v for k, v in override.items()}}
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
    prec = "bf16 autocast" if gpu and args.bf16 else "float32"
    batches = " ".join(str(b) for b in args.batch)
    print(f"# training throughput: batch {batches} x {args.frames} frames x {args.bins} bins, "
          f"{prec}, options {opts.label()}, {device} ({name}), torch {torch.__version__}, "
          f"{steps} timed batches after {warmup} warm-up")
    print(f"{'arch':<18}{'batch':>6}  {'options':<52}{'params':>10}{'datapoints/s':>14}{'ms/batch':>10}"
          f"{'peak MiB':>10}{'speed-up':>10}  config")
    for arch in args.arch:
        cfg = ", ".join(f"{k}={v}" for k, v in MIDDLE[arch].items())
        rows = [(b, opts) for b in args.batch]
        if opts.none and REFERENCE_BATCH in args.batch:  # the reference row first, so every row gets a speed-up
            rows.sort(key=lambda r: r[0] != REFERENCE_BATCH)
        elif args.baseline:
            rows.insert(0, (REFERENCE_BATCH, Options()))
        reference = None
        for batch, o in rows:
            dps, ms, n, mem, label = bench(arch, MIDDLE[arch], device, args.bf16, batch, args.frames, args.bins,
                                           warmup, steps, opts=o)
            if batch == REFERENCE_BATCH and o.none:
                reference = dps
            speed = f"{dps / reference:>9.2f}x" if reference else f"{'':>10}"
            print(f"{arch:<18}{batch:>6}  {label:<52}{n:>10,}{dps:>14.1f}{ms:>10.1f}{mem:>10.0f}{speed}  {cfg}",
                  flush=True)
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

    rnn_module.FLOAT32_RNN = not args.rnn_autocast
    train, val = data(args.trial_datapoints, 0), data(max(1, args.trial_datapoints // 4), 1)
    cfg = {"max_epochs": args.trial_epochs, "batch_size": args.batch[0], "num_workers": 0,
           "device": str(device), "seed": 0}
    print(f"# fit: {len(train)} train + {len(val)} validation datapoints in memory, "
          f"{args.trial_epochs} epochs, batch {args.batch[0]}")
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
