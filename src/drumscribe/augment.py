"""Augmentation of normalised log spectrograms: pitch shift, gain, spectral tilt, EQ.

The ``training.augment_*`` keys (:data:`KEYS`; all off by default) of
:func:`drumscribe.training.fit`, in this order (:func:`augment_spectrograms`): each
training datapoint's log spectrogram is shifted by a random whole number of bins (about
a semitone each with 12 bands per octave: kits differ in tuning; the vacated edge bins
repeat the edge), then its filtered magnitudes get a random gain, spectral tilt and
smooth random EQ curve under the log (silence stays silence). :func:`augmented` draws
them all from one generator (``fit`` seeds it per epoch, so a resumed trial draws the same).
"""

from __future__ import annotations

import math
from typing import Mapping

import torch

#: The ``training:`` keys of the augmentation (each > 0 turns its kind on).
KEYS = ("augment_gain_db", "augment_tilt_db", "augment_pitch_bins", "augment_eq_db")


def enabled(cfg: Mapping) -> bool:
    """Whether the ``training:`` section ``cfg`` asks for any augmentation."""
    return any(cfg[k] > 0 for k in KEYS)


def log_base(kind: str) -> float:
    """The base of the log of a feature ``kind`` (``logfilt``: ``log10(1 + m)``, ``mel``: ``log1p``)."""
    return 10.0 if kind == "logfilt" else math.e


def shift_bins(s: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Spectrograms ``s`` (B, T, F) moved along the frequency axis by ``shift[b]`` whole bins.

    ``out[b, t, f] = s[b, t, clamp(f - shift[b], 0, F - 1)]``: a positive shift moves the
    content up (to higher bins); the bins it vacates repeat the nearest edge bin of the
    shifted spectrogram (edge replicate). One gather on ``s``'s device, no loop.
    """
    B, T, F = s.shape
    shift = torch.as_tensor(shift).to(device=s.device, dtype=torch.long).view(B, 1)
    idx = (torch.arange(F, device=s.device).view(1, F) - shift).clamp_(0, F - 1)
    return s.gather(2, idx.view(B, 1, F).expand(B, T, F))


def random_eq_curves(n: int, n_bins: int, eq_db: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """``n`` smooth random EQ curves over ``n_bins`` bins, in dB, shape (n, n_bins), on the CPU.

    ``curve(f) = sum_{k=1..3} a_k cos(pi k f / (F - 1) + phi_k)`` with ``a_k`` uniform in
    [-1, 1] and ``phi_k`` uniform in [0, 2 pi), scaled so that its largest deviation
    ``max_f |curve(f)|`` is ``eq_db * u``, ``u`` uniform in [0, 1] per curve: no curve
    deviates by more than ``eq_db`` dB. Drawn from ``gen`` (a, then phi, then u).
    """
    a = torch.rand(n, 3, generator=gen) * 2 - 1
    phi = torch.rand(n, 3, generator=gen) * (2 * math.pi)
    u = torch.rand(n, generator=gen)
    f = torch.arange(n_bins, dtype=torch.float32) / max(n_bins - 1, 1)
    k = torch.arange(1, 4, dtype=torch.float32)
    curve = (a.view(n, 3, 1) * torch.cos(math.pi * k.view(1, 3, 1) * f.view(1, 1, -1) + phi.view(n, 3, 1))).sum(1)
    peak = curve.abs().amax(1, keepdim=True).clamp_min(1e-12)
    return curve / peak * (float(eq_db) * u).view(n, 1)


def augment_spectrograms(x: torch.Tensor, mean, std, gain_db: torch.Tensor, tilt_db: torch.Tensor,
                         log_base: float = 10.0, *, shift: torch.Tensor | None = None,
                         eq_db_curve: torch.Tensor | None = None) -> torch.Tensor:
    """Normalised log spectrograms ``x`` (B, T, F) as if the audio had another tuning, level and EQ.

    The whole augmentation chain, in this order, on ``s = x * std + mean`` (the
    ``log_base``-log of ``1 + m``, ``m`` the filtered magnitudes; ``logfilt``: base 10,
    ``mel``: base e):

    1. pitch shift (``shift``, optional, (B,) integers): the log spectrogram moved by
       ``shift[b]`` bins, vacated edge bins repeating the edge (:func:`shift_bins`);
    2. under the log, a gain of ``gain_db[b]`` dB, a spectral tilt rising linearly over the
       bins from ``-tilt_db[b]`` to ``+tilt_db[b]`` dB and the EQ curve ``eq_db_curve[b]``
       ((B, F) dB, optional; :func:`random_eq_curves`): the result is
       ``log(1 + m * 10 ** (dB / 20))``,

    normalised again with ``(out - mean) / std``. Silence (``m = 0``, the zero padding)
    stays silence.
    """
    B, _, F = x.shape
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device)
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    ln_base = math.log(log_base)
    s = x * std + mean
    if shift is not None:
        s = shift_bins(s, shift)
    mag = torch.expm1(s * ln_base).clamp_min(0.0)
    ramp = torch.linspace(-1.0, 1.0, F, device=x.device, dtype=x.dtype)
    db = gain_db.to(x).view(B, 1, 1) + tilt_db.to(x).view(B, 1, 1) * ramp.view(1, 1, F)
    if eq_db_curve is not None:
        db = db + eq_db_curve.to(x).view(B, 1, F)
    out = torch.log1p(mag * torch.pow(10.0, db / 20.0)) / ln_base
    return (out - mean) / std


def augmented(batches, cfg: Mapping, gen: torch.Generator, mean, std, log_base: float):
    """Training batches through :func:`augment_spectrograms` (``training.augment_*``).

    All draws come from ``gen`` (CPU), per batch in this order: gain, tilt, then the
    shifts (only if ``augment_pitch_bins`` > 0), then the EQ curves (only if
    ``augment_eq_db`` > 0); so gain and tilt alone draw as before those two existed.
    """
    g, t = cfg["augment_gain_db"], cfg["augment_tilt_db"]
    p, e = cfg["augment_pitch_bins"], cfg["augment_eq_db"]
    for x, y in batches:
        n = len(x)
        gain = (torch.rand(n, generator=gen) * 2 - 1) * g
        tilt = (torch.rand(n, generator=gen) * 2 - 1) * t
        shift = torch.randint(-p, p + 1, (n,), generator=gen) if p > 0 else None
        eq = random_eq_curves(n, x.shape[-1], e, gen) if e > 0 else None
        yield augment_spectrograms(x, mean, std, gain, tilt, log_base, shift=shift, eq_db_curve=eq), y
