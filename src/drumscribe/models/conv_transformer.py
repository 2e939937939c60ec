"""Convolutional transformer (thesis section 3.4): two conv blocks (32, 64 kernels,
max-pool over frequency), a linear projection of every frame to the model width
``d_model``, sinusoidal positional encoding, ``num_layers`` pre-LN attention
blocks with ``num_heads`` heads and a GELU feed-forward (4x width), a final layer
norm and a frame-wise linear output layer.

Search space (thesis): ``d_model`` ∈ {72, 144, 288}, ``num_layers`` ∈ {2, 4, 6, 8},
``num_heads`` ∈ {2, 4, 6, 8} (must divide ``d_model``).
"""

from __future__ import annotations

import torch
from torch import nn

from drumscribe.models.common import N_CLASSES, ConvStack, ParamSpec, SinusoidalPE, TransformerEncoder, heads_divide


class ConvTransformer(nn.Module):
    """Convolutional transformer: ``(B, T, n_bins)`` → ``(B, T, 5)``; attention over all ``T`` frames.

    Parameters
    ----------
    n_bins : frequency bins of the input (at least 9).
    d_model : model (embedding) width.
    num_layers : pre-LN transformer blocks.
    num_heads : attention heads (divides ``d_model``).
    num_blocks : conv blocks before the projection (thesis: fixed at 2).
    dropout : dropout after conv blocks, the embedding, attention and feed-forward.
    """

    SPECS = {
        "d_model": ParamSpec(int, low=2, high=4096),
        "num_layers": ParamSpec(int, low=1, high=24),
        "num_heads": ParamSpec(int, low=1, high=64),
        "num_blocks": ParamSpec(int, low=1, high=3),
        "dropout": ParamSpec(float, low=0.0, high=0.9),
    }
    CONSTRAINTS = (heads_divide("d_model"),)

    def __init__(
        self,
        n_bins: int,
        d_model: int = 144,
        num_layers: int = 4,
        num_heads: int = 4,
        num_blocks: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.conv = ConvStack(n_bins, num_blocks, dropout=dropout, arch="conv_transformer")
        self.embed = nn.Linear(self.conv.out_features, d_model)
        self.pos = SinusoidalPE(d_model)
        self.drop = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(d_model, num_layers, num_heads, dropout=dropout)
        self.out = nn.Linear(d_model, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.pos(self.embed(self.conv(x))))
        return self.out(self.encoder(h))
