"""Vision transformer (thesis section 3.5), with time frames preserved.

The spectrogram ``(T, F)`` is cut into non-overlapping patches ``patch_frames``
frames wide (default 1) and ``patch_size`` frequency bins high (the thesis'
patch height P ∈ {7, 14, 21}: 12, 6 or 4 patches per frame for 84 bins; ``F`` is
zero-padded up to a multiple of ``patch_size``). A single linear projection (a
``Conv2d`` with stride = kernel, no activation) embeds each patch into
``ceil(d_model / n_patches)`` channels, a learnable positional embedding per
patch position along frequency is added, and the patches of one frame span are
flattened into one token of width ``d_model`` (a linear map fixes the width when
``n_patches`` does not divide ``d_model``; never for 84 bins and the thesis'
values). Tokens then get the sinusoidal positional encoding over time, go through
``num_layers`` pre-LN blocks (as the convolutional transformer) and a linear head
maps each token back to ``patch_frames`` frames x 5 logits. ``T`` need not be a
multiple of ``patch_frames`` (padded, then cropped).

Search space (thesis table 3.1): ``patch_size`` ∈ {7, 14, 21}, ``num_heads`` ∈
{2, 4, 6, 8}, ``num_layers`` ∈ {2, 4, 6, 8, 10}, ``d_model`` ∈ {72, 144, 288, 576}.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from drumscribe.errors import ConfigError
from drumscribe.models.common import N_CLASSES, ParamSpec, SinusoidalPE, TransformerEncoder, heads_divide


class ViT(nn.Module):
    """Vision transformer for frame-wise output: ``(B, T, n_bins)`` → ``(B, T, 5)``.

    Parameters
    ----------
    n_bins : frequency bins of the input.
    patch_size : patch height in frequency bins.
    num_heads : attention heads (divides ``d_model``).
    num_layers : pre-LN transformer blocks.
    d_model : token (embedding) width.
    patch_frames : patch width in frames; each token covers this many frames.
    dropout : dropout on the embedding, attention and feed-forward.
    """

    SPECS = {
        "patch_size": ParamSpec(int, low=1, high=1024),
        "num_heads": ParamSpec(int, low=1, high=64),
        "num_layers": ParamSpec(int, low=1, high=24),
        "d_model": ParamSpec(int, low=2, high=4096),
        "patch_frames": ParamSpec(int, low=1, high=64),
        "dropout": ParamSpec(float, low=0.0, high=0.9),
    }
    CONSTRAINTS = (heads_divide("d_model"),)

    def __init__(
        self,
        n_bins: int,
        patch_size: int = 14,
        num_heads: int = 4,
        num_layers: int = 4,
        d_model: int = 144,
        patch_frames: int = 1,
        dropout: float = 0.1,
    ):
        super().__init__()
        if patch_size > n_bins:
            raise ConfigError(f"spaces.vit.patch_size: {patch_size} is larger than the {n_bins} frequency bins")
        self.patch_size = patch_size
        self.patch_frames = patch_frames
        self.n_patches = math.ceil(n_bins / patch_size)
        self.pad_bins = self.n_patches * patch_size - n_bins
        patch_dim = math.ceil(d_model / self.n_patches)
        self.patch_embed = nn.Conv2d(1, patch_dim, (patch_frames, patch_size), stride=(patch_frames, patch_size))
        self.patch_pos = nn.Parameter(torch.zeros(1, 1, self.n_patches, patch_dim))
        nn.init.trunc_normal_(self.patch_pos, std=0.02)
        flat = patch_dim * self.n_patches
        self.to_width = nn.Identity() if flat == d_model else nn.Linear(flat, d_model)
        self.pos = SinusoidalPE(d_model)
        self.drop = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(d_model, num_layers, num_heads, dropout=dropout)
        self.out = nn.Linear(d_model, patch_frames * N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        pad_t = (-t) % self.patch_frames
        if pad_t or self.pad_bins:
            x = F.pad(x, (0, self.pad_bins, 0, pad_t))
        p = self.patch_embed(x.unsqueeze(1))  # (B, patch_dim, tokens, n_patches)
        p = p.permute(0, 2, 3, 1) + self.patch_pos  # (B, tokens, n_patches, patch_dim)
        h = self.to_width(p.flatten(2))  # (B, tokens, d_model)
        h = self.encoder(self.drop(self.pos(h)))
        y = self.out(h).view(b, -1, self.patch_frames, N_CLASSES).flatten(1, 2)
        return y[:, :t]
