"""The training step captured in a CUDA graph (``training.cuda_graphs``; issue 14).

A recurrent model's step is thousands of small kernels (a GRU layer runs one per time step
and direction), each launched by the CPU; with a dozen trials sharing one GPU under CUDA MPS
the launches, not the arithmetic, bound the slowest trials (docs/benchmarks.md, "What
bounds the slowest trials"). A CUDA graph records the whole step once — forward, loss,
backward, gradient clipping, Adam — and replays it with one launch. The math is the same;
what it takes:

- Adam with ``capturable=True`` (its step count lives on the GPU) and the learning rate as
  a GPU tensor, so that ``ReduceLROnPlateau`` changes it in place (it fills a tensor
  learning rate) and the replayed step reads the new value;
- static input tensors: each full batch is copied into them; a batch of another shape (the
  last, shorter one of an epoch) runs eagerly, on the same parameters and gradients;
- a few eager steps before the capture, on a side stream (cuDNN and cuBLAS set themselves up,
  Adam makes its state): they are ordinary steps of the first batches, not extra ones;
- gradients zeroed in place, never set to None (the graph keeps their memory).

PyTorch's recipe ("whole network capture", torch.cuda.graphs); cuDNN's RNN with dropout can
be captured since PyTorch 1.9.
"""

from __future__ import annotations

from typing import Callable

import torch

#: Eager steps before the capture.
WARMUP_STEPS = 3


def capturable_adam(parameters, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam whose step can be captured: ``capturable=True`` and the learning rate a tensor
    on ``device`` (changed in place by the scheduler)."""
    return torch.optim.Adam(parameters, lr=torch.tensor(float(lr), device=device), capturable=True)


def lr_on_device(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """After ``optimizer.load_state_dict`` (a resume state is read onto the CPU): every group's
    learning rate as a tensor on ``device`` again, as :func:`capturable_adam` made it."""
    for group in optimizer.param_groups:
        group["lr"] = torch.tensor(float(group["lr"]), device=device)


class CapturedStep:
    """Call with a batch ``(x, y)`` on the GPU: one training step, its loss (a 0-d tensor
    on the GPU, valid until the next call). ``step(x, y) -> loss`` is the step itself, made
    graph-safe (``functools.partial(training.train_step, model, criterion, optimizer,
    graph_safe=True)``). The first :data:`WARMUP_STEPS` full batches run eagerly; the next is
    captured and every later batch of that shape replays the graph."""

    def __init__(self, step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        self.step = step
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_x = self.static_y = self.static_loss = None
        self.eager_steps = 0
        self.replays = 0
        self._side = torch.cuda.Stream()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.graph is not None and x.shape == self.static_x.shape and y.shape == self.static_y.shape:
            self.static_x.copy_(x)
            self.static_y.copy_(y)
            self.graph.replay()
            self.replays += 1
            return self.static_loss
        if self.graph is None and self.eager_steps >= WARMUP_STEPS:
            self.static_x, self.static_y = x.clone(), y.clone()
            graph = torch.cuda.CUDAGraph()
            torch.cuda.synchronize()
            with torch.cuda.graph(graph):  # records the step; nothing runs until replay
                self.static_loss = self.step(self.static_x, self.static_y)
            self.graph = graph
            graph.replay()
            self.replays += 1
            return self.static_loss
        self._side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._side):
            loss = self.step(x, y)
        torch.cuda.current_stream().wait_stream(self._side)
        self.eager_steps += 1
        return loss
