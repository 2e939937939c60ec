"""Convolutional recurrent network (thesis section 3.3): two conv blocks (32, 64
kernels, max-pool over frequency), then a bidirectional GRU/LSTM stack, then a
frame-wise linear output layer.

Search space (thesis): ``cell`` ∈ {gru, lstm}, ``num_layers`` ∈ {2..5},
``hidden_size`` ∈ {72, 144, 288} (units per direction).
"""

from __future__ import annotations

import torch
from torch import nn

from drumscribe.models.common import N_CLASSES, ConvStack, ParamSpec
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
        return self.out(self.drop(self.rnn(self.conv(x))))
