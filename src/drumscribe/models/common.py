"""Building blocks shared by the five architectures (thesis chapter 3).

- :class:`ConvBlock`: two 3x3 convolutions with batch norm and ReLU, then max
  pooling over frequency only (time resolution is kept), as in Vogl et al. (2017)
  and Southall et al. (2017), the blocks the thesis' CNN, CRNN and convolutional
  transformer start with.
- :class:`ConvStack`: ``num_blocks`` of those blocks with 32, 64, 96 kernels,
  mapping ``(B, T, F)`` to ``(B, T, C * F')``.
- :func:`sinusoidal_encoding`: Vaswani et al. (2017) positional encoding for any
  sequence length.
- :class:`TransformerBlock`: a pre-layer-normalisation block (Xiong et al. 2020):
  ``x + MHSA(LN(x))`` then ``x + FF(LN(x))`` with a GELU feed-forward.
- :class:`ParamSpec` and :func:`check_params`: the allowed values of every
  hyperparameter, so a config is rejected before any work (``ConfigError``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from drumscribe.errors import ConfigError

#: Kernels of the 1st, 2nd and 3rd conv block (thesis section 3.2.1).
CONV_CHANNELS: tuple[int, ...] = (32, 64, 96)
#: Max-pooling factor over frequency after each conv block (Vogl et al. 2017).
FREQ_POOL: int = 3
#: Number of output classes (BD, SD, TT, HH, CY).
N_CLASSES: int = 5


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ParamSpec:
    """The allowed values of one hyperparameter.

    ``kind`` is ``int``, ``float`` or ``str``; ``choices`` (if given) lists every
    allowed value; ``low``/``high`` bound numbers (inclusive).
    """

    kind: type
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None

    def check(self, arch: str, name: str, value: Any) -> Any:
        """Return ``value`` converted to ``kind``; raise ``ConfigError`` if not allowed."""
        where = f"spaces.{arch}.{name}"
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
                raise ConfigError(f"{where}: {value!r} is not an integer")
            value = int(value)
        elif self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{where}: {value!r} is not a finite number")
            value = float(value)
        elif self.kind is str:
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {value!r} is not a string")
            value = value.lower()
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise ConfigError(f"{where}: {value!r} is not one of {allowed}")
        if self.low is not None and value < self.low:
            raise ConfigError(f"{where}: {value!r} is below the minimum {self.low}")
        if self.high is not None and value > self.high:
            raise ConfigError(f"{where}: {value!r} is above the maximum {self.high}")
        return value


def check_params(
    arch: str,
    specs: dict[str, ParamSpec],
    params: dict[str, Any],
    constraints: Sequence[Callable[[dict[str, Any]], str | None]] = (),
) -> dict[str, Any]:
    """Validate and normalise ``params`` of ``arch`` against ``specs``.

    Unknown names, values outside the allowed set and broken joint constraints
    (each a function returning an error text or ``None``) raise ``ConfigError``.
    Returns the converted parameters (only those given).
    """
    unknown = sorted(set(params) - set(specs))
    if unknown:
        known = ", ".join(sorted(specs))
        raise ConfigError(f"spaces.{arch}: unknown parameter {unknown[0]!r} (known: {known})")
    out = {name: specs[name].check(arch, name, value) for name, value in params.items()}
    for constraint in constraints:
        problem = constraint(out)
        if problem:
            raise ConfigError(f"spaces.{arch}: {problem}")
    return out


# --------------------------------------------------------------------------- conv
class ConvBlock(nn.Module):
    """Two 3x3 conv layers (batch norm, ReLU), max-pool over frequency, dropout.

    Input and output ``(B, C, T, F)``; ``T`` is unchanged, ``F`` becomes ``F // pool``.
    """

    def __init__(self, in_channels: int, channels: int, pool: int = FREQ_POOL, dropout: float = 0.1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d((1, pool)),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvStack(nn.Module):
    """``num_blocks`` :class:`ConvBlock` s with 32, 64, 96 kernels.

    Maps ``(B, T, F)`` spectrograms to ``(B, T, out_features)`` frame features,
    ``out_features = channels[-1] * (F // 3**num_blocks)``.
    """

    def __init__(self, n_bins: int, num_blocks: int, dropout: float = 0.1, arch: str = "model"):
        super().__init__()
        if not 1 <= num_blocks <= len(CONV_CHANNELS):
            raise ConfigError(f"spaces.{arch}.num_blocks: {num_blocks} is not in 1..{len(CONV_CHANNELS)}")
        bins = n_bins
        blocks = []
        in_ch = 1
        for i in range(num_blocks):
            bins //= FREQ_POOL
            if bins < 1:
                raise ConfigError(
                    f"n_bins: {n_bins} frequency bins are too few for {num_blocks} conv blocks "
                    f"(each pools frequency by {FREQ_POOL})"
                )
            blocks.append(ConvBlock(in_ch, CONV_CHANNELS[i], dropout=dropout))
            in_ch = CONV_CHANNELS[i]
        self.blocks = nn.Sequential(*blocks)
        self.channels = in_ch
        self.out_bins = bins
        self.out_features = in_ch * bins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        y = self.blocks(x.unsqueeze(1))  # (B, C, T, F')
        return y.permute(0, 2, 1, 3).reshape(b, t, self.out_features)


# --------------------------------------------------------------------------- transformer
def time_halo(module: nn.Module) -> int | None:
    """Frames at each side that one output frame of ``module`` depends on, for a
    stack of layers that are local in time (convolutions with "same" zero padding
    and stride 1 along time, max-pooling over frequency only, point-wise layers);
    None if ``module`` holds any other layer (its output may depend on the whole
    sequence). Dimension 2 of a Conv2d's (B, C, T, F) input is time; a Conv1d's
    input is (B, C, T)."""
    halo = 0
    pointwise = (nn.Sequential, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.Dropout, nn.Identity, nn.GELU)
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            k, d, st, pad = m.kernel_size[0], m.dilation[0], m.stride[0], m.padding
            pad = pad[0] if isinstance(pad, tuple) else None
            reach = (k - 1) // 2 * d
            if st != 1 or k % 2 == 0 or pad != reach or m.padding_mode != "zeros":
                return None
            halo += reach
        elif isinstance(m, nn.MaxPool2d):
            ks = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size,) * 2
            stride = m.stride if isinstance(m.stride, tuple) else (m.stride,) * 2
            if ks[0] != 1 or stride[0] != 1:
                return None
        elif not isinstance(m, pointwise) and type(m).__module__.split(".")[0] == "torch":
            return None
    return halo


def sinusoidal_encoding(length: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Sinusoidal positional encoding (Vaswani et al. 2017), shape ``(length, dim)``.

    ``PE[t, 2i] = sin(t / 10000^(2i/dim))``, ``PE[t, 2i+1] = cos(...)``; works for
    odd ``dim`` and any ``length`` (positions in frames).
    """
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div[: dim // 2])
    return pe.to(dtype)


class SinusoidalPE(nn.Module):
    """Adds :func:`sinusoidal_encoding` to ``(B, T, D)`` for any ``T`` (cached, grown on demand)."""

    def __init__(self, dim: int, max_len: int = 2048):
        super().__init__()
        self.dim = dim
        self.register_buffer("pe", sinusoidal_encoding(max_len, dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[1]
        if t > self.pe.shape[0]:
            self.pe = sinusoidal_encoding(max(t, 2 * self.pe.shape[0]), self.dim, device=x.device)
        return x + self.pe[:t].to(x.dtype)


class TransformerBlock(nn.Module):
    """Pre-LN transformer encoder block: ``x += MHSA(LN(x)); x += FF(LN(x))``.

    Multi-head self-attention over the whole sequence (non-causal) through
    ``F.scaled_dot_product_attention``; feed-forward ``Linear(d, ff_mult*d) → GELU →
    Linear(ff_mult*d, d)``; dropout on both residual branches.
    """

    def __init__(self, d_model: int, num_heads: int, ff_mult: int = 4, dropout: float = 0.1):
        super().__init__()
        if d_model % num_heads:
            raise ConfigError(f"num_heads: {num_heads} heads do not divide the width {d_model}")
        self.num_heads = num_heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, ff_mult * d_model),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(ff_mult * d_model, d_model),
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.num_heads
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.ff(self.norm2(x)))


class TransformerEncoder(nn.Module):
    """``num_layers`` :class:`TransformerBlock` s and a final layer norm (pre-LN needs it)."""

    def __init__(self, d_model: int, num_layers: int, num_heads: int, dropout: float = 0.1):
        super().__init__()
        self.layers = nn.ModuleList(TransformerBlock(d_model, num_heads, dropout=dropout) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


def heads_divide(width_key: str) -> Callable[[dict[str, Any]], str | None]:
    """Constraint: ``num_heads`` divides the model width ``params[width_key]``."""

    def check(p: dict[str, Any]) -> str | None:
        if "num_heads" in p and width_key in p and p[width_key] % p["num_heads"]:
            return f"num_heads {p['num_heads']} does not divide {width_key} {p[width_key]}"
        return None

    return check
