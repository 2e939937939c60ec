"""Spectrograms and the HDF5 feature cache.

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

The HDF5 cache (one file per dataset and feature config) is laid out as in
``docs/architecture.md``: ``/tracks/<id>/spec`` float16 (frames, bins) chunked
(400, bins) gzip-compressed, ``/tracks/<id>/onsets/<CLASS>`` float64 seconds, and
``/norm/{mean,std,count}`` from the train split only. ``build_cache(threads=N)``
computes the tracks (load, mix, spectrogram, compressed chunks) in N 'spawn' worker
processes and writes them, in order, from the calling process: the same content as
a serial build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import logging
import os
import pickle
import shutil
import sys
import types
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import CLASSES, FPS, SAMPLE_RATE, __version__
from .atomic import atomic_path
from .errors import ConfigError, InputError, OutputError
from .logs import Progress

log = logging.getLogger(__name__)

#: Reference frequency of the logarithmic filterbank (A4, Hz).
A4: float = 440.0
#: Frames per chunk of every cached spectrogram (4 s datapoints).
CHUNK_FRAMES: int = 400
#: gzip (deflate) level of the cached spectrograms (with the HDF5 shuffle filter before it).
GZIP_LEVEL: int = 4
#: Free space a cache build keeps: it stops with an ``OutputError`` before a track's write
#: could fill the disk (h5py 3.16 / HDF5 2.0 crash with a segmentation fault when a write
#: or the closing flush meets a full disk, so the disk must never get full under it).
H5_FREE_MARGIN_BYTES: int = 16 << 20
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
    import scipy.fft

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


# ------------------------------------------------------------------------ HDF5 cache
def _track_key(track_id: str) -> str:
    """HDF5 group name of a track id ('/' would nest groups, so it becomes '__')."""
    return str(track_id).replace("/", "__")


def _sha1_file(path: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


def _track_spec(track, cfg: FeatureConfig) -> tuple[np.ndarray, float]:
    """(spectrogram, duration in s) of one Track: precomputed features, or its audio files mixed with gains."""
    from .audio import load_audio, mix

    if track.features is not None:
        where = track.annotation or (track.audio[0] if track.audio else track.track_id)
        try:
            spec = np.asarray(track.features(), dtype=np.float32)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{where}: cannot read precomputed features ({type(exc).__name__}: {exc})") from None
        if spec.ndim == 3 and spec.shape[-1] == 1:
            spec = spec[..., 0]
        if spec.ndim != 2 or spec.shape[1] != n_bins(cfg):
            raise InputError(f"{where}: precomputed features have shape {spec.shape}, "
                             f"expected (frames, {n_bins(cfg)}) for feature config {cfg.hash()}")
        return spec, len(spec) / cfg.fps
    if not track.audio:
        raise InputError(f"track {track.track_id}: no audio files and no features")
    signals = [load_audio(p, cfg.sample_rate) for p in track.audio]
    y = signals[0] if len(signals) == 1 and not track.gains else mix(signals, track.gains)
    return spectrogram(y, cfg), len(y) / cfg.sample_rate


#: Environment variables that cap BLAS/OpenMP threads; set to 1 in feature workers.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _no_onsets():
    """Stand-in ``load_onsets`` of a track sent to a worker whose onsets the main process loads."""
    raise RuntimeError("onsets of this track are loaded by the main process")


def _spec_chunks(spec16: np.ndarray, rows: int) -> list[bytes]:
    """The stored chunks of a float16 (frames, bins) spectrogram, as HDF5's filters write them.

    Chunk ``k`` holds frames ``[k*rows, (k+1)*rows)`` (the last one zero-padded to
    ``rows``), passed through the shuffle filter (byte ``j`` of every element, for
    each ``j``) and the deflate filter (zlib ``compress2`` at :data:`GZIP_LEVEL`), so
    ``write_direct_chunk`` stores what ``create_dataset(data=..., compression="gzip",
    shuffle=True)`` would. Computed in the workers, this takes compression off the
    main (writing) process.
    """
    spec16 = np.ascontiguousarray(spec16, dtype=np.float16)
    out = []
    for start in range(0, len(spec16), rows):
        block = spec16[start:start + rows]
        if len(block) < rows:
            block = np.concatenate([block, np.zeros((rows - len(block), spec16.shape[1]), np.float16)])
        shuffled = block.view(np.uint8).reshape(-1, block.itemsize).T.tobytes()
        out.append(zlib.compress(shuffled, GZIP_LEVEL))
    return out


def _track_result(track, cfg: FeatureConfig, with_onsets: bool = True) -> dict:
    """Everything :func:`build_cache` writes for one track, computed without the HDF5 file.

    Returns ``shape`` (frames, bins) of the float16 spectrogram, ``chunks`` (its
    compressed HDF5 chunks of ``rows`` frames, :func:`_spec_chunks`; ``spec16`` itself
    instead when it has no frames), ``duration`` (s), ``onsets`` (per class, seconds;
    None if ``with_onsets`` is False), ``sha1`` of the first source file ("" if none)
    and, for train tracks, ``s1``/``s2`` (float64 per-bin sum and sum of squares of the
    float16 values) for the normalisation statistics. Runs in the main process (serial
    build) or in a worker process (``threads > 1``), with identical results.
    """
    spec, duration = _track_spec(track, cfg)
    onsets = track.load_onsets() if with_onsets else None
    spec16 = spec.astype(np.float16)
    del spec
    first = Path(track.audio[0]) if track.audio else (Path(track.annotation) if track.annotation else None)
    rows = min(CHUNK_FRAMES, len(spec16))
    out = {"shape": spec16.shape, "rows": rows, "duration": float(duration), "onsets": onsets,
           "sha1": _sha1_file(first) if first is not None and first.is_file() else ""}
    if rows:
        out["chunks"] = _spec_chunks(spec16, rows)
    else:
        out["spec16"] = spec16
    if track.split == "train":
        x = spec16.astype(np.float64)
        out["s1"] = x.sum(axis=0)
        out["s2"] = np.square(x).sum(axis=0)
    return out


def _worker_init() -> None:
    """Initializer of a feature worker process: one BLAS/OpenMP/torch thread each."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    if "torch" in sys.modules:  # not imported by the feature chain; only if a dataset's callable did
        sys.modules["torch"].set_num_threads(1)


def _worker_job(track, cfg: FeatureConfig, with_onsets: bool) -> dict:
    """Worker entry point (module level, so it pickles under 'spawn')."""
    return _track_result(track, cfg, with_onsets)


def _pool_jobs(tracks: Sequence) -> tuple[list | None, bool, bool]:
    """(jobs, onsets_in_workers, needs_main) for a process pool, or (None, ..) to build serially.

    A job is the track itself when it pickles whole, else the track with ``load_onsets``
    (e.g. a closure) left to the main process and ``meta`` dropped; if even that does
    not pickle (a ``features`` callable that is a lambda or closure) the dataset is
    built serially. ``needs_main`` is True when a pickled job names an object of the
    ``__main__`` module, which the workers then must import (the multiprocessing default).
    """
    jobs = [dataclasses.replace(t, meta={}) for t in tracks]
    with_onsets = True
    try:
        blobs = [pickle.dumps(j) for j in jobs]
    except Exception:
        jobs = [dataclasses.replace(j, load_onsets=_no_onsets) for j in jobs]
        with_onsets = False
        try:
            blobs = [pickle.dumps(j) for j in jobs]
        except Exception:
            return None, False, False
    needs_main = any(b"__main__" in b for b in blobs)
    return jobs, with_onsets, needs_main


@contextlib.contextmanager
def _worker_start(hide_main: bool):
    """Context for starting 'spawn' workers: thread caps in their environment; no ``__main__`` re-run.

    The thread variables are set in ``os.environ`` while workers start (a spawned child
    inherits them before numpy loads BLAS) and restored afterwards. Unless a job needs it,
    ``__main__`` is masked so children do not re-execute the calling script (a Snakemake
    ``script:`` has no ``if __name__ == "__main__"`` guard).
    """
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    main = sys.modules.get("__main__")
    os.environ.update({v: "1" for v in _THREAD_VARS})
    if hide_main and main is not None:
        sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if hide_main and main is not None:
            sys.modules["__main__"] = main
        for v, value in saved.items():
            if value is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = value


def _results_in_order(tracks: Sequence, cfg: FeatureConfig, threads: int) -> Iterator[dict]:
    """Yield :func:`_track_result` of every track, in order, computed by up to ``threads`` processes.

    Serial when ``threads <= 1``, for a single track, or when the tracks do not pickle.
    Workers use the 'spawn' start method and one BLAS thread each; at most
    ``2 * threads`` tracks are in flight, so memory holds a bounded number of
    spectrograms. A worker's exception is re-raised here with its type and message
    (a :class:`DrumscribeError` without the remote traceback, as the serial build
    raises it); pending work is cancelled.
    """
    workers = min(int(threads), len(tracks))
    jobs, with_onsets, needs_main = _pool_jobs(tracks) if workers > 1 else (None, True, False)
    if jobs is None:
        for track in tracks:
            yield _track_result(track, cfg)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from .errors import DrumscribeError

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)
    pending: deque = deque()
    todo = iter(jobs)
    try:
        def fill():
            for job in todo:
                with _worker_start(hide_main=not needs_main):
                    pending.append(pool.submit(_worker_job, job, cfg, with_onsets))
                if len(pending) >= 2 * workers:
                    break

        fill()
        for track in tracks:
            future = pending.popleft()
            try:
                result = future.result()
            except DrumscribeError as exc:
                exc.__cause__, exc.__context__, exc.__suppress_context__ = None, None, True
                raise exc.with_traceback(None)
            except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
                exc.add_note(f"feature worker died; tracks in flight from {track.track_id!r} "
                             f"({', '.join(map(str, track.audio)) or track.annotation})")
                raise
            fill()
            if not with_onsets:
                result["onsets"] = track.load_onsets()
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def build_cache(dataset: str, root: str | os.PathLike | None, out_h5: str | os.PathLike,
                cfg: FeatureConfig | None = None, max_tracks: int | None = None,
                progress: bool = True, tracks: Sequence | None = None, threads: int = 1) -> Path:
    """Compute the spectrogram of every track of ``dataset`` and write the HDF5 cache.

    Parameters
    ----------
    dataset : registry name (``drumscribe.datasets.get``); written to the root attrs.
    root : folder of the raw dataset, passed to ``DatasetSpec.tracks(root)``.
    out_h5 : the cache file; written to a temp sibling and renamed on success, so an
        interrupted or failed build leaves no ``.h5`` (and an old one untouched).
    cfg : feature config (default :class:`FeatureConfig`).
    max_tracks : keep the first N tracks (in the dataset's order) — for quick runs.
    progress : tqdm progress bar (shown on a TTY only).
    tracks : explicit list of :class:`drumscribe.datasets.Track` (skips the registry).
    threads : processes computing spectrograms (load + mix + spectrogram + float16 +
        source sha1, and onsets where ``load_onsets`` pickles). ``1`` builds serially.
        With more, tracks go to a 'spawn' process pool (one BLAS thread per worker,
        at most ``2 * threads`` tracks in flight) and the main process alone writes the
        HDF5, in track order: the file has the same content as the serial build's.
        Tracks that do not pickle (a lambda ``features`` callable) are built serially.

    Raises
    ------
    InputError naming the file of a track that fails to load; ConfigError for an
    unknown dataset; InputError if two tracks share an id or there are no tracks.
    """
    from tqdm import tqdm

    cfg = cfg or FeatureConfig()
    out_h5 = Path(out_h5)
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ConfigError(f"build_cache: threads must be a positive integer, not {threads!r}")
    if tracks is None:
        from . import datasets

        tracks = datasets.get(dataset).tracks(Path(root))
    tracks = list(tracks)
    if max_tracks is not None:
        tracks = tracks[: int(max_tracks)]
    if not tracks:
        raise InputError(f"{root or dataset}: dataset {dataset!r} has no tracks")
    keys = [_track_key(t.track_id) for t in tracks]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise InputError(f"{root or dataset}: duplicate track id(s) {', '.join(dup)}")
    import h5py

    nb = n_bins(cfg)
    s1 = np.zeros(nb, np.float64)
    s2 = np.zeros(nb, np.float64)
    count = 0
    with atomic_path(out_h5) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs.update({
                "dataset": dataset, "sample_rate": cfg.sample_rate, "fps": cfg.fps, "hop": cfg.hop,
                "n_bins": nb, "feature_config": cfg.to_json(), "config_hash": cfg.hash(),
                "classes": json.dumps(list(CLASSES)), "drumscribe_version": __version__,
            })
            group = h5.create_group("tracks")
            bar = tqdm(total=len(tracks), desc=f"features {dataset}", unit="track",
                       disable=None if progress else True)
            results = _results_in_order(tracks, cfg, int(threads))
            logged = Progress(log, f"features {dataset}", len(tracks), "tracks")
            try:
                for track, key, res in zip(tracks, keys, results):
                    onsets, n = res["onsets"], res["shape"][0]
                    free = shutil.disk_usage(out_h5.parent).free
                    if free < max(H5_FREE_MARGIN_BYTES, 4 * n * nb * 2):
                        raise OutputError(f"{out_h5}: no space left on device (stopped at {free >> 20} MiB free, "
                                          f"before track {track.track_id}; free some space and rerun)")
                    g = group.create_group(key)
                    if "chunks" in res:  # compressed by _track_result: stored as they are
                        ds = g.create_dataset("spec", shape=res["shape"], dtype=np.float16, chunks=(res["rows"], nb),
                                              compression="gzip", compression_opts=GZIP_LEVEL, shuffle=True)
                        for k, chunk in enumerate(res["chunks"]):
                            ds.id.write_direct_chunk((k * res["rows"], 0), chunk)
                    else:
                        g.create_dataset("spec", data=res["spec16"], chunks=(res["rows"], nb),
                                         compression="gzip", compression_opts=GZIP_LEVEL, shuffle=True)
                    og = g.create_group("onsets")
                    for c in CLASSES:
                        og.create_dataset(c, data=np.asarray(onsets.get(c, ()), dtype=np.float64))
                    src = [str(p) for p in track.audio]
                    g.attrs.update({
                        "track_id": str(track.track_id), "split": track.split, "group": str(track.group),
                        "duration": res["duration"],
                        "n_frames": n, "source": json.dumps(src),
                        "source_sha1": res["sha1"],
                    })
                    if track.split == "train":
                        s1 += res["s1"]
                        s2 += res["s2"]
                        count += n
                    bar.update(1)
                    logged.update(1)
            finally:
                results.close()  # cancels and joins a pool at once on an error
                bar.close()
            mean = s1 / max(count, 1)
            std = np.sqrt(np.maximum(s2 / max(count, 1) - mean ** 2, 0.0))
            if count == 0:
                std = np.ones(nb)
            norm = h5.create_group("norm")
            norm.create_dataset("mean", data=mean.astype(np.float64))
            norm.create_dataset("std", data=std.astype(np.float64))
            norm.create_dataset("count", data=np.int64(count))
    return out_h5


def _set_aside(path: Path, exc: BaseException) -> InputError:
    """The error for a corrupt cache, after moving it to ``<name>.corrupt``: the graph
    then sees its output missing and the rerun rebuilds it (instead of failing forever)."""
    cause = " ".join(str(exc).split())[:160] or type(exc).__name__
    aside = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, aside)
        todo = f"moved to {aside.name}; rerun to rebuild it"
    except OSError:
        todo = "remove it and rerun to rebuild it"
    return InputError(f"{path}: corrupt or truncated HDF5 feature cache ({cause}); {todo}")


def _open(h5_or_path):
    """(h5py.File, should_close) for a path or an open file.

    A file that h5py cannot open for another reason than access rights (truncated, not
    HDF5) is set aside as ``<name>.corrupt`` with a one-line ``InputError``.
    """
    import h5py

    if isinstance(h5_or_path, (str, os.PathLike)):
        path = Path(h5_or_path)
        if not path.is_file():
            raise InputError(f"{path}: feature cache not found")
        if not os.access(path, os.R_OK):
            raise InputError(f"{path}: feature cache not readable (permission denied)")
        try:
            return h5py.File(path, "r"), True
        except OSError as exc:
            raise _set_aside(path, exc) from None
    return h5_or_path, False


def verify_cache(h5_path: str | os.PathLike, full: bool = False) -> None:
    """Check that a cache opens and that every group, attribute and dataset header reads
    (``full``: every dataset's data too, e.g. right after writing it). A corrupt cache is
    set aside (``<name>.corrupt``, so the rerun rebuilds it) with a one-line ``InputError``.
    """
    path = Path(h5_path)
    h5, _ = _open(path)
    try:
        def visit(name, obj):
            dict(obj.attrs)
            if hasattr(obj, "shape"):
                if full:
                    obj[()]
                else:
                    obj.shape, obj.dtype
        with h5:
            dict(h5.attrs)
            if "tracks" not in h5 or "norm" not in h5:
                raise KeyError("no tracks/norm group")
            h5.visititems(visit)
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise _set_aside(path, exc) from None


def read_track(h5_or_path, track_id: str) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """Read one track: (spec float32 (frames, bins), onsets per class, attrs dict)."""
    h5, close = _open(h5_or_path)
    try:
        key = _track_key(track_id)
        if key not in h5.get("tracks", {}):
            raise InputError(f"{h5.filename}: no track {track_id!r}")
        g = h5["tracks"][key]
        spec = g["spec"][()].astype(np.float32)
        onsets = {c: g["onsets"][c][()].astype(np.float64) for c in CLASSES}
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in g.attrs.items()}
        return spec, onsets, attrs
    finally:
        if close:
            h5.close()


def list_tracks(h5_or_path, split: str | None = None) -> list[str]:
    """Track ids of a cache (sorted), optionally only those of ``split``."""
    h5, close = _open(h5_or_path)
    try:
        out = []
        for key, g in h5["tracks"].items():
            if split is None or g.attrs["split"] == split:
                out.append(str(g.attrs.get("track_id", key)))
        return sorted(out)
    finally:
        if close:
            h5.close()


def cache_config(h5_or_path) -> FeatureConfig:
    """The :class:`FeatureConfig` a cache was built with."""
    h5, close = _open(h5_or_path)
    try:
        return FeatureConfig.from_dict(json.loads(h5.attrs["feature_config"]))
    finally:
        if close:
            h5.close()


def check_cache(h5_path: str | os.PathLike, cfg: FeatureConfig) -> None:
    """Raise InputError if ``h5_path`` is missing, unreadable or built with another feature config."""
    h5, close = _open(h5_path)
    try:
        have = h5.attrs.get("config_hash")
        if have is None or "tracks" not in h5 or "norm" not in h5:
            raise InputError(f"{h5_path}: not a drumscribe feature cache (no config_hash/tracks/norm)")
        if have != cfg.hash():
            raise InputError(f"{h5_path}: built with feature config {have} "
                             f"({h5.attrs.get('feature_config')}), expected {cfg.hash()} ({cfg.to_json()}); "
                             f"rebuild the cache")
    finally:
        if close:
            h5.close()


def norm_stats(h5_paths: Iterable[str | os.PathLike], eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin (mean, std) float32 over the train splits of several caches, count-weighted.

    A cache without train tracks has ``count`` 0 and adds nothing.
    Combines each cache's ``/norm`` group exactly: ``mean = Σ n_i m_i / N``,
    ``var = Σ n_i (s_i² + m_i²) / N - mean²``; ``std`` is floored at ``eps``.
    Raises InputError if the caches have no train frames or differ in bins.
    """
    paths = list(h5_paths)
    tot, s1, s2, nb = 0, None, None, None
    for p in paths:
        h5, close = _open(p)
        try:
            m, s, n = h5["norm/mean"][()], h5["norm/std"][()], int(h5["norm/count"][()])
        finally:
            if close:
                h5.close()
        if nb is None:
            nb = len(m)
            s1, s2 = np.zeros(nb), np.zeros(nb)
        elif len(m) != nb:
            raise InputError(f"{p}: {len(m)} bins, but the other caches have {nb}")
        s1 += n * m
        s2 += n * (s ** 2 + m ** 2)
        tot += n
    if not tot:
        raise InputError(f"{', '.join(map(str, paths)) or '(no caches)'}: no train-split frames for normalisation")
    mean = s1 / tot
    std = np.sqrt(np.maximum(s2 / tot - mean ** 2, 0.0))
    return mean.astype(np.float32), np.maximum(std, eps).astype(np.float32)


def iter_tracks(h5_or_path, split: str | None = None) -> Iterator[tuple[str, np.ndarray, dict, dict]]:
    """Yield (track_id, spec float32, onsets, attrs) of every track (of ``split``)."""
    h5, close = _open(h5_or_path)
    try:
        for tid in list_tracks(h5, split):
            spec, onsets, attrs = read_track(h5, tid)
            yield tid, spec, onsets, attrs
    finally:
        if close:
            h5.close()
