"""Convolutional network (thesis section 3.2): 1–3 conv blocks (32/64/96 kernels,
batch norm, ReLU, max-pool over frequency only), then 1–4 fully connected ReLU
layers applied to every frame together with its neighbouring frames, then the
output layer.

The frame context is ``context`` frames centred on the frame (default 9, i.e. ±4
frames = ±40 ms at 100 frames/s, on top of the ±2 frames per conv block that
the 3x3 kernels see). The first fully connected layer over that window is
implemented as a 1-D convolution over time with kernel ``context`` (the same
function as flattening the window and a dense layer, without copying it).

Search space (thesis): ``num_blocks`` ∈ {1, 2, 3}, ``num_fc`` ∈ {1..4},
``hidden_size`` ∈ {72, 144, 288, 576}.
"""

from __future__ import annotations

import torch
from torch import nn

from drumscribe.models.common import N_CLASSES, ConvStack, ParamSpec, time_halo


def _odd_context(p: dict) -> str | None:
    if "context" in p and p["context"] % 2 == 0:
        return f"context {p['context']} must be odd (centred on the frame)"
    return None


class CNN(nn.Module):
    """CNN with per-frame fully connected layers: ``(B, T, n_bins)`` → ``(B, T, 5)``.

    Parameters
    ----------
    n_bins : frequency bins of the input (at least ``3**num_blocks``).
    num_blocks : conv blocks (kernels 32, 64, 96).
    num_fc : fully connected hidden layers before the output layer.
    hidden_size : units of each fully connected layer.
    context : frames (odd) each frame's first fully connected layer sees.
    dropout : dropout after each conv block and fully connected layer.
    """

    SPECS = {
        "num_blocks": ParamSpec(int, low=1, high=3),
        "num_fc": ParamSpec(int, low=1, high=8),
        "hidden_size": ParamSpec(int, low=1, high=8192),
        "context": ParamSpec(int, low=1, high=101),
        "dropout": ParamSpec(float, low=0.0, high=0.9),
    }
    CONSTRAINTS = (_odd_context,)

    def __init__(
        self,
        n_bins: int,
        num_blocks: int = 2,
        num_fc: int = 2,
        hidden_size: int = 288,
        context: int = 9,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.conv = ConvStack(n_bins, num_blocks, dropout=dropout, arch="cnn")
        layers: list[nn.Module] = [
            nn.Conv1d(self.conv.out_features, hidden_size, context, padding=context // 2),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        ]
        for _ in range(num_fc - 1):
            layers += [nn.Conv1d(hidden_size, hidden_size, 1), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        layers.append(nn.Conv1d(hidden_size, N_CLASSES, 1))
        self.fc = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x).transpose(1, 2)  # (B, C*F', T)
        return self.fc(h).transpose(1, 2)

    def frame_local_split(self) -> tuple[nn.Module | None, int, nn.Module | None]:
        """``(front, halo, back)`` for inference (``drumscribe.inference``): the whole CNN is
        local in time (``back`` None: it runs once per frame, no windows), with the halo of
        its conv blocks and its frame-wise layers; ``(None, 0, self)`` otherwise."""
        if type(self.conv) is ConvStack and isinstance(self.fc, nn.Sequential):
            h1, h2 = time_halo(self.conv.blocks), time_halo(self.fc)
            if h1 is not None and h2 is not None:
                return self, h1 + h2, None
        return None, 0, self
