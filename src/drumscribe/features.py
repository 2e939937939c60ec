"""Spectrograms: the feature chain, one step per function.

The default feature is madmom's log-filtered spectrogram as ADTOF uses it, written
out as an explicit chain of numpy steps (madmom 0.16/0.17 semantics, see
``docs/features.md`` for the exact filterbank):

1. :func:`frame_signal` — madmom ``FramedSignal`` framing: frame ``i`` is centred on
   sample ``floor(i * hop)`` (``hop = sample_rate / fps`` = 441), zero-padded at the
   edges; ``ceil(len(y) / hop)`` frames.
2. :func:`stft_magnitude` — Hann window (``np.hanning``), ``|rfft|`` of ``frame_size``
   points; madmom drops the Nyquist bin, so ``frame_size // 2`` bins.
3. :func:`log_filterbank` — madmom ``LogarithmicFilterbank(num_bands=12, fmin, fmax,
   fref=440, norm_filters=True, unique_filters=True)``: overlapping triangles between
   log-spaced centres, area 1, duplicate FFT bins merged.
4. ``log10(1 + x)`` — madmom ``LogarithmicSpectrogram(mul=1, add=1)``.

Amplitude scale: audio is float in [-1, 1]. madmom, given a 16-bit file path as
ADTOF gives it, divides its Hann window by 32767 and caches that window in the
STFT processor, so ADTOF's features equal these to 3e-5 relative (32768/32767).

For 44.1 kHz, 2048-sample frames, 12 bands/octave and 20 Hz–20 kHz this gives 84
bins, ADTOF's input. ``kind="mel"`` swaps step 3–4 for librosa's mel filterbank
(``n_mels`` bands, Slaney norm) and ``log1p`` on the same frames.

The HDF5 cache of these spectrograms (layout, writing, reading, normalisation
statistics) is :mod:`drumscribe.cache`; this module is the signal chain only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import scipy.fft

from . import FPS, SAMPLE_RATE
from .errors import ConfigError

#: Reference frequency of the logarithmic filterbank (A4, Hz).
A4: float = 440.0
KINDS = ("logfilt", "mel")


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of a spectrogram; recorded in every HDF5 cache and checkpoint.

    Attributes (units)
    ------------------
    kind : ``"logfilt"`` (madmom/ADTOF log-filtered spectrogram) or ``"mel"``.
    sample_rate : Hz of the audio the spectrogram is computed from.
    frame_size : samples per STFT frame (window length = FFT size).
    fps : frames per second; hop = sample_rate / fps samples.
    bands_per_octave : logfilt bands per octave (centred on A4 = 440 Hz).
    fmin, fmax : Hz, frequency range of the filterbank.
    n_mels : number of mel bands (mel only).
    """

    kind: str = "logfilt"
    sample_rate: int = SAMPLE_RATE
    frame_size: int = 2048
    fps: int = FPS
    bands_per_octave: int = 12
    fmin: float = 20.0
    fmax: float = 20000.0
    n_mels: int = 128

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"features.kind: must be one of {KINDS}, not {self.kind!r}")
        for key in ("sample_rate", "frame_size", "fps", "bands_per_octave", "n_mels"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ConfigError(f"features.{key}: must be a positive integer, not {value!r}")
        if not (0 < float(self.fmin) < float(self.fmax)):
            raise ConfigError(f"features.fmin/fmax: need 0 < fmin < fmax, got {self.fmin}, {self.fmax}")
        if float(self.fmax) > self.sample_rate / 2:
            raise ConfigError(f"features.fmax: {self.fmax} Hz is above Nyquist ({self.sample_rate / 2} Hz)")
        if self.sample_rate % self.fps:
            raise ConfigError(f"features.fps: sample_rate {self.sample_rate} is not a multiple of fps {self.fps}")

    @property
    def hop(self) -> int:
        """Hop size in samples (sample_rate / fps)."""
        return self.sample_rate // self.fps

    @classmethod
    def from_dict(cls, d: Mapping[str, object] | None) -> "FeatureConfig":
        """Build from a mapping such as ``config["features"]``; unknown keys are a ConfigError."""
        d = dict(d or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"features: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        kw = {}
        for f in dataclasses.fields(cls):
            if f.name in d:
                v = d[f.name]
                if f.name in ("fmin", "fmax"):
                    try:
                        v = float(v)
                    except (TypeError, ValueError):
                        raise ConfigError(f"features.{f.name}: must be a number, not {v!r}") from None
                kw[f.name] = v
        return cls(**kw)

    def to_dict(self) -> dict:
        """Plain dict (JSON-able) of every field, floats as floats."""
        d = dataclasses.asdict(self)
        d["fmin"], d["fmax"] = float(self.fmin), float(self.fmax)
        for k in ("sample_rate", "frame_size", "fps", "bands_per_octave", "n_mels"):
            d[k] = int(d[k])
        return d

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): what the HDF5 cache stores and :meth:`hash` digests."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def hash(self) -> str:
        """Short (12 hex) sha1 of the canonical JSON: two configs with equal features share it."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:12]


# ----------------------------------------------------------------- the feature chain
def n_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Number of frames of a signal of ``n_samples`` (madmom FramedSignal: ``ceil(n / hop)``)."""
    return int(np.ceil(n_samples / cfg.hop))


def frame_signal(y: np.ndarray, frame_size: int, hop: int) -> np.ndarray:
    """Cut ``y`` into centred, zero-padded frames (madmom ``FramedSignal``, origin 'center').

    Frame ``i`` covers samples ``[i*hop - frame_size//2, i*hop - frame_size//2 + frame_size)``;
    there are ``ceil(len(y) / hop)`` frames. Returns a read-only strided view
    (frames, frame_size).
    """
    y = np.asarray(y, dtype=np.float32)
    n = int(np.ceil(len(y) / hop))
    left = frame_size // 2
    total = (n - 1) * hop + frame_size
    right = max(0, total - left - len(y))
    padded = np.pad(y, (left, right))
    return np.lib.stride_tricks.sliding_window_view(padded, frame_size)[::hop][:n]


def fft_frequencies(frame_size: int, sample_rate: int) -> np.ndarray:
    """Centre frequencies (Hz) of the ``frame_size // 2`` STFT bins madmom keeps (no Nyquist)."""
    return np.arange(frame_size // 2) * (sample_rate / frame_size)


def stft_magnitude(frames: np.ndarray, include_nyquist: bool = False, block: int = 128) -> np.ndarray:
    """``|rfft(frame * hann)|`` per frame, float32 (frames, frame_size//2 [+1]).

    madmom's window is ``np.hanning(frame_size)``; for float input in [-1, 1] no
    further scaling applies (for 16-bit input madmom divides the window by 32767,
    which lands on the same scale to 3e-5 relative).
    """
    frame_size = frames.shape[1]
    window = np.hanning(frame_size).astype(np.float32)
    nbins = frame_size // 2 + (1 if include_nyquist else 0)
    out = np.empty((len(frames), nbins), dtype=np.float32)
    for s in range(0, len(frames), block):
        # scipy's FFT keeps float32 frames in single precision (numpy's works in double):
        # twice as fast, within 3e-7 of the magnitude's scale
        spec = scipy.fft.rfft(frames[s:s + block] * window, axis=1)
        out[s:s + block] = np.abs(spec[:, :nbins])
    return out


def log_frequencies(bands_per_octave: int, fmin: float, fmax: float, fref: float = A4) -> np.ndarray:
    """Log-spaced frequencies ``fref * 2**(k / bands_per_octave)`` within [fmin, fmax] (madmom)."""
    left = np.floor(np.log2(float(fmin) / fref) * bands_per_octave)
    right = np.ceil(np.log2(float(fmax) / fref) * bands_per_octave)
    freqs = fref * 2.0 ** (np.arange(left, right) / float(bands_per_octave))
    freqs = freqs[np.searchsorted(freqs, fmin):]
    return freqs[:np.searchsorted(freqs, fmax, "right")]


def frequencies_to_bins(frequencies: np.ndarray, bin_frequencies: np.ndarray, unique: bool = True) -> np.ndarray:
    """Index of the nearest FFT bin of each frequency; ``unique`` drops duplicates (madmom)."""
    frequencies = np.asarray(frequencies)
    indices = bin_frequencies.searchsorted(frequencies)
    indices = np.clip(indices, 1, len(bin_frequencies) - 1)
    left = bin_frequencies[indices - 1]
    right = bin_frequencies[indices]
    indices -= frequencies - left < right - frequencies
    return np.unique(indices) if unique else indices


def log_filterbank(cfg: FeatureConfig, return_centres: bool = False):
    """madmom ``LogarithmicFilterbank`` matrix (fft_bins, bands), float32.

    Centres: FFT bins nearest to ``440 * 2**(k/bands_per_octave)`` Hz within
    [fmin, fmax], duplicates merged. Band ``j`` is a triangle from bin ``b[j]``
    (weight 0) rising to ``b[j+1]`` (weight 1) and falling to ``b[j+2]`` (exclusive),
    normalised to sum 1; a triangle narrower than 2 bins becomes the single bin
    ``b[j]``. Where triangles of two bands overlap in a bin each keeps its own weight.
    With ``return_centres`` also returns the centre frequencies (Hz) of the bands.
    """
    bin_freqs = fft_frequencies(cfg.frame_size, cfg.sample_rate)
    freqs = log_frequencies(cfg.bands_per_octave, cfg.fmin, cfg.fmax, A4)
    bins = frequencies_to_bins(freqs, bin_freqs, unique=True)
    if len(bins) < 3:
        raise ConfigError(f"features: {cfg.fmin}-{cfg.fmax} Hz gives fewer than 3 filterbank bins")
    n_bands = len(bins) - 2
    fb = np.zeros((len(bin_freqs), n_bands), dtype=np.float64)
    centres = np.zeros(n_bands)
    for j in range(n_bands):
        start, center, stop = (int(b) for b in bins[j:j + 3])
        if stop - start < 2:
            center, stop = start, start + 1
        rel_c, rel_s = center - start, stop - start
        data = np.zeros(rel_s)
        data[:rel_c] = np.linspace(0, 1, rel_c, endpoint=False)
        data[rel_c:] = np.linspace(1, 0, rel_s - rel_c, endpoint=False)
        data /= data.sum()
        stop_c = min(stop, len(bin_freqs))
        fb[start:stop_c, j] = np.maximum(fb[start:stop_c, j], data[: stop_c - start])
        centres[j] = bin_freqs[center]
    fb = fb.astype(np.float32)
    return (fb, centres) if return_centres else fb


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """librosa mel filterbank (frame_size//2 + 1, n_mels), Slaney-normalised, float32."""
    import librosa

    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.frame_size, n_mels=cfg.n_mels,
                               fmin=float(cfg.fmin), fmax=float(cfg.fmax)).T.astype(np.float32)


_FB_CACHE: dict[str, np.ndarray] = {}


def filterbank(cfg: FeatureConfig) -> np.ndarray:
    """The (fft_bins, bands) matrix of ``cfg`` (cached per config)."""
    key = cfg.hash()
    if key not in _FB_CACHE:
        _FB_CACHE[key] = log_filterbank(cfg) if cfg.kind == "logfilt" else mel_filterbank(cfg)
    return _FB_CACHE[key]


def band_frequencies(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency (Hz) of every spectrogram bin of ``cfg`` (for plot axes).

    logfilt: the FFT bin at each triangle's apex; mel: librosa's mel band centres.
    """
    if cfg.kind == "logfilt":
        return log_filterbank(cfg, return_centres=True)[1]
    import librosa

    return librosa.mel_frequencies(cfg.n_mels + 2, fmin=float(cfg.fmin), fmax=float(cfg.fmax))[1:-1]


def n_bins(cfg: FeatureConfig) -> int:
    """Number of frequency bins of a spectrogram of ``cfg`` (84 for the default)."""
    return int(filterbank(cfg).shape[1])


def spectrogram(y: np.ndarray, cfg: FeatureConfig | None = None) -> np.ndarray:
    """Spectrogram of mono audio ``y`` (at ``cfg.sample_rate``): (frames, bins) float32.

    ``frames = ceil(len(y) / hop)`` (madmom FramedSignal); frame ``i`` is centred on
    ``i / fps`` seconds. ``logfilt``: log10(1 + |STFT| @ log filterbank); ``mel``:
    log1p(|STFT| @ mel filterbank).

    Examples
    --------
    >>> cfg = FeatureConfig()
    >>> spectrogram(np.zeros(44100, np.float32), cfg).shape
    (100, 84)
    """
    cfg = cfg or FeatureConfig()
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"spectrogram: audio must be mono 1-D, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("spectrogram: audio has no samples")
    fb = filterbank(cfg)
    frames = frame_signal(y, cfg.frame_size, cfg.hop)
    mag = stft_magnitude(frames, include_nyquist=(cfg.kind == "mel"))
    filt = mag @ fb
    if cfg.kind == "logfilt":
        out = np.log10(1.0 + filt)
    else:
        out = np.log1p(filt)
    return out.astype(np.float32, copy=False)


def context_samples(cfg: FeatureConfig) -> int:
    """Samples of audio a clip needs at each side of its frames so that every frame sees
    what it would see in the whole signal: half a frame, rounded up to whole hops."""
    return int(math.ceil((cfg.frame_size // 2) / cfg.hop)) * cfg.hop


class TorchSpectrogram:
    """:func:`spectrogram` of a batch of audio clips on a torch device (a GPU in training).

    ``self(clips)`` takes (B, L) float32 audio whose frames of interest start
    :func:`context_samples` samples into the clip (``L = frames * hop + 2 * context``)
    and returns (B, frames, bins) float32: frame ``i`` is centred on sample
    ``context + i * hop``, exactly the frame :func:`spectrogram` computes at that sample
    of the whole signal (same Hann window, FFT, filterbank and log; zero padding where
    the clip was padded). Equal to the numpy chain within float32 rounding
    (``tests/test_features.py``); it lets the training machine's GPU take the
    spectrogram of audio that was mixed and degraded on its CPUs.
    """

    def __init__(self, cfg: FeatureConfig | None = None, device=None):
        import torch

        self.cfg = cfg or FeatureConfig()
        self.device = torch.device(device or "cpu")
        self.context = context_samples(self.cfg)
        self.offset = self.context - self.cfg.frame_size // 2
        fb = filterbank(self.cfg)
        self.nbins_fft = fb.shape[0]
        self.fb = torch.as_tensor(fb, device=self.device)
        self.window = torch.as_tensor(np.hanning(self.cfg.frame_size).astype(np.float32), device=self.device)

    def clip_samples(self, frames: int) -> int:
        """Length of the clip that gives ``frames`` frames."""
        return frames * self.cfg.hop + 2 * self.context

    def __call__(self, clips):
        import torch

        x = torch.as_tensor(clips, dtype=torch.float32, device=self.device)
        if x.ndim != 2:
            raise ValueError(f"TorchSpectrogram: clips must be (batch, samples), got {tuple(x.shape)}")
        hop, n = self.cfg.hop, self.cfg.frame_size
        frames = (x.shape[1] - 2 * self.context) // hop
        if frames < 1:
            raise ValueError(f"TorchSpectrogram: clips of {x.shape[1]} samples hold no frame")
        seg = x[:, self.offset:self.offset + (frames - 1) * hop + n].unfold(1, n, hop)
        mag = torch.fft.rfft(seg * self.window, dim=-1).abs()[..., :self.nbins_fft]
        filt = mag @ self.fb
        return torch.log10(1.0 + filt) if self.cfg.kind == "logfilt" else torch.log1p(filt)
