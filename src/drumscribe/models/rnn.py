"""Recurrent network (thesis section 3.1): stacked bidirectional GRU or LSTM, then a
frame-wise linear output layer.

Search space (thesis): ``cell`` ∈ {gru, lstm}, ``num_layers`` ∈ {2..6},
``hidden_size`` ∈ {72, 144, 288} (units per direction).
"""

from __future__ import annotations

import torch
from torch import nn

from drumscribe.models.common import N_CLASSES, ParamSpec

RNN_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
#: Run recurrent layers in float32 under CUDA autocast (True) or let autocast pick bf16 (False).
FLOAT32_RNN = True


class BiRNN(nn.Module):
    """Bidirectional GRU/LSTM stack: ``(B, T, in)`` → ``(B, T, 2*hidden_size)``."""

    def __init__(self, input_size: int, cell: str, num_layers: int, hidden_size: int, dropout: float):
        super().__init__()
        self.rnn = RNN_CELLS[cell](
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Recurrent layers run in float32 even under bf16 autocast (long recurrences
        # accumulate rounding error, and cuDNN's bf16 RNN support varies by version).
        if FLOAT32_RNN and x.is_cuda and torch.is_autocast_enabled("cuda"):
            with torch.autocast(device_type="cuda", enabled=False):
                y, _ = self.rnn(x.float())
        else:
            y, _ = self.rnn(x)
        return y


class RNN(nn.Module):
    """Bidirectional RNN: spectrogram ``(B, T, n_bins)`` → logits ``(B, T, 5)``.

    Parameters
    ----------
    n_bins : frequency bins of the input.
    cell : ``"gru"`` or ``"lstm"``.
    num_layers : stacked bidirectional layers.
    hidden_size : units per direction.
    dropout : dropout between recurrent layers and before the output layer.
    """

    SPECS = {
        "cell": ParamSpec(str, choices=tuple(RNN_CELLS)),
        "num_layers": ParamSpec(int, low=1, high=12),
        "hidden_size": ParamSpec(int, low=1, high=4096),
        "dropout": ParamSpec(float, low=0.0, high=0.9),
    }
    CONSTRAINTS = ()

    def __init__(self, n_bins: int, cell: str = "gru", num_layers: int = 3, hidden_size: int = 144, dropout: float = 0.1):
        super().__init__()
        self.rnn = BiRNN(n_bins, cell, num_layers, hidden_size, dropout)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden_size, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.rnn(x)))
