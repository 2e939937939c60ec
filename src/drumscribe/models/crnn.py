"""Convolutional recurrent network (thesis section 3.3): two conv blocks (32, 64
kernels, max-pool over frequency), then a bidirectional GRU/LSTM stack, then a
frame-wise linear output layer.

Search space (thesis): ``cell`` ∈ {gru, lstm}, ``num_layers`` ∈ {2..5},
``hidden_size`` ∈ {72, 144, 288} (units per direction).
"""

from __future__ import annotations

import torch
from torch import nn

from drumscribe.models.common import N_CLASSES, ConvStack, ParamSpec, time_halo
from drumscribe.models.rnn import RNN_CELLS, BiRNN


class CRNN(nn.Module):
    """CRNN: ``(B, T, n_bins)`` → ``(B, T, 5)``.

    Parameters
    ----------
    n_bins : frequency bins of the input (at least 9).
    cell : ``"gru"`` or ``"lstm"``.
    num_layers : stacked bidirectional layers.
    hidden_size : units per direction.
    num_blocks : conv blocks before the recurrent layers (thesis: fixed at 2).
    dropout : dropout after each conv block, between recurrent layers and before the output.
    """

    SPECS = {
        "cell": ParamSpec(str, choices=tuple(RNN_CELLS)),
        "num_layers": ParamSpec(int, low=1, high=12),
        "hidden_size": ParamSpec(int, low=1, high=4096),
        "num_blocks": ParamSpec(int, low=1, high=3),
        "dropout": ParamSpec(float, low=0.0, high=0.9),
    }
    CONSTRAINTS = ()

    def __init__(
        self,
        n_bins: int,
        cell: str = "gru",
        num_layers: int = 3,
        hidden_size: int = 144,
        num_blocks: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.conv = ConvStack(n_bins, num_blocks, dropout=dropout, arch="crnn")
        self.rnn = BiRNN(self.conv.out_features, cell, num_layers, hidden_size, dropout)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden_size, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.frontend(x))

    def frontend(self, x: torch.Tensor) -> torch.Tensor:
        """The conv blocks: ``(B, T, n_bins)`` → ``(B, T, features)``, local in time."""
        return self.conv(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The recurrent layers and the output layer: ``(B, T, features)`` → logits ``(B, T, 5)``."""
        return self.out(self.drop(self.rnn(features)))

    def frame_local_split(self) -> tuple[nn.Module | None, int, nn.Module | None]:
        """``(front, halo, back)`` for inference (``drumscribe.inference``): the conv blocks
        run once per frame with ``halo`` frames of context at each side, the recurrent
        head on windows. ``(None, 0, self)`` when the conv blocks are not local in time."""
        halo = time_halo(self.conv.blocks) if type(self.conv) is ConvStack else None
        if halo is None:
            return None, 0, self
        return self.conv, halo, RecurrentHead(self).eval()


class RecurrentHead(nn.Module):
    """The layers of a :class:`CRNN` after its conv blocks, as a module of their own
    (the same parameters, not copied): ``(B, T, features)`` → logits."""

    def __init__(self, crnn: CRNN):
        super().__init__()
        self.rnn, self.drop, self.out = crnn.rnn, crnn.drop, crnn.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.rnn(x)))
