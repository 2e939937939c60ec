"""Audio → activations → onsets with a trained model, in bounded memory.

:class:`Transcriber` loads a drumscribe checkpoint (by default the released model
shipped in the package, ``drumscribe/assets/drumscribe-default.pt``) and turns a
song into per-class onset times with a confidence each.

How a long song stays in bounded memory
---------------------------------------
1. **Audio** is read in blocks (30 s) straight from the file with libsndfile
   (wav, flac, ogg, mp3), mixed to mono by the channel mean and resampled to
   44.1 kHz with a streaming soxr resampler (HQ, as :func:`drumscribe.audio.load_audio`).
   Short files (up to :data:`STREAM_ABOVE_S` seconds) and formats libsndfile cannot
   read go through :func:`drumscribe.audio.load_audio` instead.
2. **Spectrogram** frames are computed per chunk of :data:`SPEC_CHUNK_FRAMES`
   frames from the audio of the chunk plus :func:`_context_samples` samples on each
   side (a whole number of hops, more than a frame), so every frame equals the one
   :func:`drumscribe.features.spectrogram` gives on the whole signal: the frame
   centred at sample ``i * hop`` only sees samples within half a frame of it, and at
   the file's two ends the chunk starts/ends where the file does.
3. **The model** runs through :mod:`drumscribe.inference`, the one inference path
   that validation, test evaluation and the model card use too: a frame-local front
   end (a CRNN's conv blocks, ``CRNN.frame_local_split``) once per frame, then
   overlapping **chunks** (the model's window; ``chunk`` seconds, default the
   training datapoints' length, 4 s: :func:`default_chunk`) stitched keep-centre with
   ``context`` seconds dropped at each side. The release CRNN on longer chunks loses
   accuracy (micro F1 on the MDB dev remixes 0.563 at 4 s, 0.551 at 8 s, 0.549 at
   12 s), and with the front end run once per frame a longer chunk saves little time.
   Only the activations (frames × 5 float32, 7 MB for an hour) grow with the song.

Peak picking (:func:`drumscribe.peaks.pick_onsets`) runs on the stitched
activations with the checkpoint's per-class thresholds and peak parameters. An
onset's confidence is the activation (a probability) at its frame.
"""

from __future__ import annotations

import functools
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import AUDIO_EXTENSIONS, CLASSES, FPS, SAMPLE_RATE, resolve_device  # noqa: F401 (AUDIO_EXTENSIONS: re-exported)
from .errors import ConfigError, InputError, ModelError
from .inference import (CONTEXT_S, CPU_BATCH, CPU_BATCH_RECURRENT, CUDA_BATCH, ChunkedInference,  # noqa: F401
                        default_chunk, trace_cache_dir)

#: File name of the released model inside the package (``drumscribe/assets/``).
DEFAULT_MODEL_NAME = "drumscribe-default.pt"
#: Files longer than this (seconds) are streamed from disk block by block.
STREAM_ABOVE_S = 300.0
#: Audio block read per step when streaming (seconds).
BLOCK_SECONDS = 30.0
#: Spectrogram frames computed per chunk (30 s at 100 frames/s).
SPEC_CHUNK_FRAMES = 3000
#: A signal whose peak is below this (dBFS) is reported as silent.
SILENCE_DB = -80.0

__all__ = ["Transcriber", "Result", "default_model_path", "default_chunk", "AUDIO_EXTENSIONS"]


def default_model_path() -> Path:
    """Path of the released model shipped in the package (it may not exist yet)."""
    from importlib import resources

    return Path(str(resources.files("drumscribe") / "assets" / DEFAULT_MODEL_NAME))


@dataclass
class Result:
    """One transcribed song.

    Attributes
    ----------
    path : the audio file (None for an in-memory signal).
    onsets : ``{class: seconds}`` sorted float64 arrays, classes :data:`drumscribe.CLASSES`.
    confidences : ``{class: probabilities}``, the activation at each onset's frame (0..1).
    duration : seconds of audio (at 44.1 kHz).
    activations : (frames, 5) float32 probabilities at ``fps`` frames/s.
    spectrogram : (frames, bins) float16, only when asked for (plots).
    warnings : one-line notes for the user (e.g. silent input).
    seconds : wall-clock seconds the transcription took.
    """

    path: Path | None
    onsets: dict[str, np.ndarray]
    confidences: dict[str, np.ndarray]
    duration: float
    activations: np.ndarray | None = None
    spectrogram: np.ndarray | None = None
    fps: float = FPS
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Number of onsets per class."""
        return {c: int(len(self.onsets.get(c, ()))) for c in CLASSES}

    def to_json(self) -> dict:
        """Plain-JSON form: ``onsets`` ({class: [seconds]}) readable by
        :func:`drumscribe.labels.onsets_from_json`, ``events`` (time-sorted
        ``{time, class, confidence}``), plus duration, fps and counts."""
        return {
            "file": str(self.path) if self.path is not None else None,
            "duration": round(float(self.duration), 6),
            "fps": self.fps,
            "classes": list(CLASSES),
            "counts": self.counts(),
            "onsets": {c: [round(float(t), 6) for t in self.onsets[c]] for c in CLASSES},
            "confidences": {c: [round(float(p), 4) for p in self.confidences[c]] for c in CLASSES},
            "events": [{"time": round(t, 6), "class": c, "confidence": round(p, 4)} for t, c, p in self.events()],
            "warnings": list(self.warnings),
        }

    def events(self) -> list[tuple[float, str, float]]:
        """All onsets as ``(time, class, confidence)``, sorted by time then class order."""
        rows = [(float(t), c, float(p)) for c in CLASSES for t, p in zip(self.onsets[c], self.confidences[c])]
        order = {c: i for i, c in enumerate(CLASSES)}
        return sorted(rows, key=lambda r: (r[0], order[r[1]]))


class _OneBlasThread:
    """Context manager: numpy's OpenBLAS on one thread inside, as it was outside.

    The spectrogram's filter-bank product runs in numpy's OpenBLAS, whose worker
    threads keep spinning after each product; on a few cores they take the cores from
    torch's threads, and the model's convolutions run up to 4x slower (measured on the
    2-core dev VM: 24-110 ms instead of 24 ms per 10 s of song). The product is small,
    so one thread loses nothing. Needs ``threadpoolctl`` (a scikit-learn dependency);
    without it, or without an OpenBLAS, this does nothing.
    """

    def __enter__(self):
        self._limit = None
        try:
            from threadpoolctl import ThreadpoolController

            # a new scan each time (about 1 ms): libraries loaded since (scipy's own
            # OpenBLAS) are limited too
            pools = ThreadpoolController().select(internal_api="openblas")
            if any(p.num_threads > 1 for p in pools.lib_controllers):
                self._limit = pools.limit(limits=1)
        except Exception:  # noqa: BLE001 - only a speed-up: never fail a transcription for it
            self._limit = None
        return self

    def __exit__(self, *exc):
        if self._limit is not None:
            self._limit.restore_original_limits()
        return False


# --------------------------------------------------------------------------- audio streaming
def _audio_info(path: Path):
    """soundfile's info for ``path``, or None when libsndfile cannot open it or cannot be
    trusted to decode it to the end (``audio.SNDFILE_UNRELIABLE_EXTS``: read whole instead)."""
    import soundfile as sf

    from .audio import SNDFILE_UNRELIABLE_EXTS, quiet_decoder

    if path.suffix.lower() in SNDFILE_UNRELIABLE_EXTS:
        return None
    try:
        with quiet_decoder(path):
            return sf.info(os.fsencode(path))
    except Exception:  # noqa: BLE001 - load_audio gives the proper error later
        return None


def _stream_audio(path: Path, sr: int = SAMPLE_RATE, block_s: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Yield ``path`` as mono float32 blocks at ``sr`` Hz (channel mean, soxr HQ streaming).

    Raises InputError for a truncated file, non-finite samples or a read error.
    """
    import soundfile as sf

    from . import audio

    trunc = getattr(audio, "_riff_truncation", None)
    cause = trunc(path) if trunc is not None else None
    if cause:
        raise InputError(f"{path}: {cause}")
    total = 0

    def read(f, block):
        nonlocal total
        while True:
            with audio.quiet_decoder(path):
                data = f.read(block, dtype="float32", always_2d=True)
            last = len(data) < block
            total += len(data)
            if not np.all(np.isfinite(data)):
                raise InputError(f"{path}: audio holds NaN or infinite samples")
            yield data, last
            if last:
                break

    try:
        with audio.quiet_decoder(path):
            f = sf.SoundFile(os.fsencode(path))
        with f:
            declared = f.frames
            yield from _mono_blocks(read(f, max(1, int(block_s * f.samplerate))), f.samplerate, f.channels, sr)
    except InputError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
        msg = audio.sndfile_message(exc)
        raise InputError(f"{path}: corrupt audio ({msg})") from None
    if total == 0:
        raise InputError(f"{path}: no audio samples (zero-length or truncated)")
    if declared > 0 and total < declared * 0.99 and path.suffix.lower() in (".mp3", ".ogg", ".oga"):
        raise InputError(f"{path}: truncated audio (header declares {declared} frames, decoded {total})")


def _stream_ffmpeg(path: Path, info, sr: int = SAMPLE_RATE, block_s: float = BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Yield ``path`` decoded by ffmpeg (:func:`drumscribe.audio.ffmpeg_blocks`) as mono float32
    blocks at ``sr`` Hz, as :func:`_stream_audio` does for libsndfile's formats: channels
    averaged, soxr HQ streaming, so the blocks equal :func:`drumscribe.audio.load_audio`'s
    samples of the same file. ``info``: its :func:`drumscribe.audio.ffmpeg_info`."""
    from .audio import ffmpeg_blocks

    blocks = ffmpeg_blocks(path, info, max(1, int(block_s * info.samplerate)))
    yield from _mono_blocks(blocks, info.samplerate, info.channels, sr)


def _mono_blocks(blocks: Iterator[tuple[np.ndarray, bool]], native: int, channels: int,
                 sr: int) -> Iterator[np.ndarray]:
    """``(frames x channels, last)`` blocks at ``native`` Hz → mono float32 blocks at ``sr`` Hz
    (channel mean, soxr HQ streaming; ``load_audio``'s samples, block by block)."""
    import soxr

    rs = soxr.ResampleStream(native, sr, 1, dtype="float32", quality="HQ") if native != sr else None
    for data, last in blocks:
        mono = data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0]
        if rs is not None:
            mono = rs.resample_chunk(mono, last=last)
        if len(mono):
            yield np.ascontiguousarray(mono, dtype=np.float32)


def _blocks_of(y: np.ndarray, n: int) -> Iterator[np.ndarray]:
    """Views of ``y`` in blocks of ``n`` samples (no copies)."""
    for i in range(0, len(y), n):
        yield y[i:i + n]


# --------------------------------------------------------------------------- the transcriber
class Transcriber(ChunkedInference):
    """Transcribe songs with a drumscribe checkpoint: audio → spectrogram → the one
    inference path (:class:`drumscribe.inference.ChunkedInference`) → peak picking.

    Parameters
    ----------
    model_path : checkpoint file (``models.save_checkpoint``); default the released
        model :func:`default_model_path`.
    device : ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    threads : CPU threads for torch (``torch.set_num_threads``); None keeps torch's default.
    chunk, context : the model's window (the audio one forward pass sees; not the onset
        tolerance, which scores call ``window``) and the context dropped at each side of
        it when stitching, in seconds; default chunk :func:`default_chunk` (the
        training datapoints' length, 4 s), default context 0.5 s. For a CRNN the chunk is
        that of its recurrent layers (its conv blocks run once over the song); a CNN
        needs no chunks at all.
    batch_size : chunks per forward pass; default :data:`CPU_BATCH` on the CPU
        (each chunk of a convolutional front end holds tens of MB of activations,
        so a large batch would cost memory, not time), :data:`CPU_BATCH_RECURRENT`
        on the CPU when only recurrent layers run on chunks (CRNN), and
        :data:`CUDA_BATCH` on a GPU.

    Raises
    ------
    ModelError : the model file is absent, corrupt, of another format version, or
        its weights do not fit its architecture or feature configuration.
    ConfigError : a bad device, thread count or chunk.

    Examples
    --------
    >>> t = Transcriber("model.pt", threads=2)            # doctest: +SKIP
    >>> r = t.transcribe("song.wav")                       # doctest: +SKIP
    >>> r.counts()                                         # doctest: +SKIP
    {'BD': 112, 'SD': 96, 'TT': 4, 'HH': 230, 'CY': 9}
    """

    def __init__(self, model_path: str | os.PathLike | None = None, device: str = "cpu",
                 threads: int | None = None, chunk: float | None = None, context: float | None = None,
                 batch_size: int | None = None):
        import torch

        from . import models

        device = resolve_device(device, "--device")
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
                raise ConfigError(f"--threads: {threads!r} is not a positive integer")
            torch.set_num_threads(threads)
        path = Path(model_path) if model_path is not None else default_model_path()
        if model_path is None and not path.is_file():
            raise ModelError(f"{path}: the released model is not installed "
                             f"(build it with `snakemake release`, or pass --model PATH)")
        if not path.exists():
            raise ModelError(f"{path}: model file not found")
        if not path.is_file():
            raise ModelError(f"{path}: model path is not a file")
        try:
            model, meta = models.load_checkpoint(path, map_location="cpu")
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure means an unusable file
            raise ModelError(f"{path}: not a usable drumscribe model ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        models.checkpoint_thresholds(path, meta)  # none: a ModelError, never a silent 0.5
        # traces of this model file are made on the CPU and kept on disk
        self._setup(model, meta, path, device, chunk, context, batch_size, trace_dir=trace_cache_dir(path))

    @classmethod
    def from_model(cls, model, meta: dict, device: str = "cpu", chunk: float | None = None,
                   context: float | None = None, batch_size: int | None = None,
                   name: str = "<model in memory>") -> "Transcriber":
        """A Transcriber around a model in memory (``meta`` as in a checkpoint). The model
        is used as is (not copied): on a GPU it runs whole on chunks, on the CPU split as
        for a checkpoint, never traced (its weights may change between calls, as in
        validation every epoch)."""
        import torch

        self = cls.__new__(cls)
        device = torch.device(device) if not isinstance(device, str) else resolve_device(device, "--device")
        self._setup(model, dict(meta), Path(name), device, chunk, context, batch_size, trace_dir=None)
        self._may_trace = False
        return self

    def _setup(self, model, meta: dict, path: Path, device, chunk, context, batch_size, trace_dir) -> None:
        from . import features
        from .peaks import DEFAULT_PEAK_PARAMS, DEFAULT_THRESHOLD

        self.meta = meta
        self.feature_config = _feature_config(features, meta.get("feature_config"), path)
        self.fps = float(getattr(self.feature_config, "fps", FPS))
        self.hop = SAMPLE_RATE / self.fps
        if abs(self.hop - round(self.hop)) > 1e-9:
            raise ModelError(f"{path}: fps {self.fps} does not give a whole hop at {SAMPLE_RATE} Hz")
        self.hop = int(round(self.hop))
        self.frame_size = int(getattr(self.feature_config, "frame_size", 2048))
        n_bins = int(meta.get("n_bins"))
        have_bins = _n_bins(features, self.feature_config)
        if have_bins is not None and have_bins != n_bins:
            raise ModelError(f"{path}: model expects {n_bins} bins, its feature config gives {have_bins}")
        classes = tuple(meta.get("classes") or CLASSES)
        if classes != tuple(CLASSES):
            raise ModelError(f"{path}: model classes {list(classes)}, this drumscribe uses {list(CLASSES)}")
        mean, std = meta.get("norm_mean"), meta.get("norm_std")
        mean = np.zeros(n_bins, np.float32) if mean is None else np.asarray(mean, np.float32)
        std = np.ones(n_bins, np.float32) if std is None else np.asarray(std, np.float32)
        if mean.shape != (n_bins,) or std.shape != (n_bins,):
            raise ModelError(f"{path}: norm_mean/norm_std do not have {n_bins} values")
        level = meta.get("input_level_db")
        #: gated RMS level (dBFS) the input is brought to before its spectrogram, as in
        #: the model's training (``audio.normalize_level``); None for models trained
        #: before it existed (their input is used at its own level)
        self.input_level_db = None if level is None else float(level)
        thr = meta.get("thresholds") or {}
        self.thresholds = {c: float(thr.get(c, DEFAULT_THRESHOLD)) for c in CLASSES}  # from_model: not tuned yet
        self.peak_params = {**DEFAULT_PEAK_PARAMS, **dict(meta.get("peak_params") or {})}
        self.arch = meta.get("arch")
        chunk = default_chunk(meta, self.fps) if chunk is None else chunk
        context = CONTEXT_S if context is None else context
        if chunk <= 0 or context < 0 or chunk - 2 * context <= 0:
            raise ConfigError(f"--chunk-seconds {chunk} s / --context {context} s: the chunk (the model's "
                              f"window) must be longer than 2 x context")
        super().__init__(model, n_bins, mean, std, int(round(chunk * self.fps)), int(round(context * self.fps)),
                         device, batch_size, trace=True, trace_dir=trace_dir, name=str(path))
        self.chunk = float(chunk)
        self.context = float(context)

    # ------------------------------------------------------------------ spectrogram
    def _context_samples(self) -> int:
        """Samples of audio added at each side of a spectrogram chunk: a whole number
        of hops, longer than a frame, so every kept frame sees the same samples as
        in the whole-signal spectrogram."""
        return int(math.ceil(self.frame_size / self.hop) + 1) * self.hop

    def spectrogram_chunks(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Spectrogram of a signal given as consecutive mono blocks, chunk by chunk.

        The concatenated chunks equal ``features.spectrogram(concatenated blocks, cfg)`` (up to
        float32 rounding: the filterbank's BLAS product may sum in another order for another
        number of frames).
        Yields (frames, bins) float32 arrays of at most :data:`SPEC_CHUNK_FRAMES` frames
        (the last may be longer).
        """
        from .features import spectrogram

        hop, P, F = self.hop, self._context_samples(), SPEC_CHUNK_FRAMES
        buf = np.zeros(0, np.float32)
        buf0 = 0      # global sample index of buf[0]
        a = 0         # next frame to emit
        for block in blocks:
            buf = np.concatenate([buf, np.asarray(block, np.float32)])
            while buf0 + len(buf) >= (a + F) * hop + P:
                s = max(0, a * hop - P)
                seg = buf[s - buf0:(a + F) * hop + P - buf0]
                spec = spectrogram(seg, self.feature_config)
                j0 = (a * hop - s) // hop
                yield np.asarray(spec[j0:j0 + F], np.float32)
                a += F
                keep = max(0, a * hop - P) - buf0
                buf, buf0 = buf[keep:].copy(), buf0 + keep
        s = max(0, a * hop - P)
        seg = buf[s - buf0:]
        if len(seg) == 0:
            return
        spec = spectrogram(seg, self.feature_config)
        j0 = (a * hop - s) // hop
        if j0 < len(spec):
            yield np.asarray(spec[j0:], np.float32)

    def activations(self, y: np.ndarray, chunked: bool = True) -> np.ndarray:
        """Per-frame onset probabilities (frames, 5) float32 of a mono 44.1 kHz signal.

        ``chunked=False`` computes the whole spectrogram and runs the model on it in
        one pass (for tests and short clips); the default streams chunks and windows.
        """
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise ValueError(f"activations: expected a mono signal, got shape {y.shape}")
        y = self.level_normalised(y)
        if not chunked:
            from .features import spectrogram

            spec = (np.asarray(spectrogram(y, self.feature_config), np.float32) - self.norm_mean) / self.norm_std
            if len(spec) == 0:
                return np.zeros((0, len(CLASSES)), np.float32)
            return self._forward([spec.astype(np.float32)])[0]
        blocks = _blocks_of(y, int(BLOCK_SECONDS * SAMPLE_RATE))
        with _OneBlasThread():
            return self.stitch(self.spectrogram_chunks(blocks))

    def level_normalised(self, y: np.ndarray) -> np.ndarray:
        """``y`` brought to the model's input level (``input_level_db``), or as is."""
        if self.input_level_db is None:
            return y
        from .audio import normalize_level

        return normalize_level(y, self.input_level_db)

    def onsets(self, activations: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Peak-pick ``activations`` with the model's thresholds; return (onsets, confidences)."""
        from .peaks import pick_onsets_with_confidence

        if len(activations) == 0:
            return ({c: np.zeros(0) for c in CLASSES}, {c: np.zeros(0) for c in CLASSES})
        onsets, conf = pick_onsets_with_confidence(activations, self.thresholds, self.peak_params, self.fps)
        onsets = {c: np.asarray(onsets[c], np.float64) for c in CLASSES}
        conf = {c: np.asarray(conf[c], np.float64) for c in CLASSES}
        return onsets, conf

    # ------------------------------------------------------------------ songs
    def transcribe(self, path: str | os.PathLike, keep_spectrogram: bool = False,
                   keep_activations: bool = True) -> Result:
        """Transcribe one audio file (see the module docstring for the chunking).

        Silent audio gives an empty transcription with a warning in ``Result.warnings``.
        Raises InputError (naming the file) for a missing, unreadable or corrupt file.
        """
        from .audio import FALLBACK_EXTS, ffmpeg_info, load_audio

        t0 = time.perf_counter()
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: file not found")
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not an audio file")
        info = _audio_info(path)
        stream = _stream_audio
        probed = None
        if info is None and path.suffix.lower() in FALLBACK_EXTS:
            info = probed = ffmpeg_info(path)  # m4a, aac, opus: decoded by ffmpeg, streamed when long
            stream = functools.partial(_stream_ffmpeg, info=info)
        peak = [0.0]
        n_samples = [0]
        from .inputcheck import BandwidthMeter, clipped_samples, warnings_for

        bandwidth = BandwidthMeter()

        def tracked(blocks):
            for b in blocks:
                if len(b):
                    peak[0] = max(peak[0], float(np.max(np.abs(b))))
                n_samples[0] += len(b)
                bandwidth.add(b)
                yield b

        if info is not None and info.duration > STREAM_ABOVE_S:
            if self.input_level_db is None:
                blocks = stream(path)
            else:
                # two passes over the file: its level first, then the scaled blocks
                from .audio import LevelMeter, level_gain

                meter = LevelMeter()
                for b in stream(path):
                    meter.add(b)
                gain = np.float32(level_gain(meter.level_db(), self.input_level_db))
                blocks = (b * gain for b in stream(path))
        else:
            y = self.level_normalised(load_audio(path, SAMPLE_RATE, probed=probed))
            blocks = _blocks_of(y, int(BLOCK_SECONDS * SAMPLE_RATE))
        spec_keep: list | None = [] if keep_spectrogram else None
        with _OneBlasThread():
            acts = self.stitch(self.spectrogram_chunks(tracked(blocks)), spec_keep)
        duration = n_samples[0] / SAMPLE_RATE
        warnings = []
        if peak[0] <= 10.0 ** (SILENCE_DB / 20.0):
            warnings.append(f"{path}: silent audio (peak below {SILENCE_DB:.0f} dBFS), no onsets")
            onsets = {c: np.zeros(0) for c in CLASSES}
            conf = {c: np.zeros(0) for c in CLASSES}
        else:
            onsets, conf = self.onsets(acts)
            warnings += warnings_for(path, info.samplerate if info is not None else None,
                                     bandwidth.bandwidth_hz(), clipped_samples(path, info))
        spec = np.concatenate(spec_keep) if spec_keep else None
        return Result(path=path, onsets=onsets, confidences=conf, duration=duration,
                      activations=acts if keep_activations else None, spectrogram=spec,
                      fps=self.fps, warnings=warnings, seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- helpers
def _feature_config(features, fc, path: Path):
    """Rebuild the checkpoint's FeatureConfig (ModelError if missing or invalid)."""
    if fc is None:
        raise ModelError(f"{path}: checkpoint has no feature_config")
    if not isinstance(fc, dict):
        return fc
    cls = features.FeatureConfig
    try:
        if hasattr(cls, "from_dict"):
            return cls.from_dict(fc)
        return cls(**fc)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: feature config not understood ({type(exc).__name__}: {exc})") from None


def _n_bins(features, cfg) -> int | None:
    fn = getattr(features, "n_bins", None)
    if fn is None:
        return None
    try:
        return int(fn(cfg))
    except Exception:  # noqa: BLE001
        return None
