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
3. **Frame-local front end**: a model whose first layers see only a few frames
   (the conv blocks of a CRNN; the whole CNN) runs those layers once over the song,
   in pieces of :data:`FRONT_FRAMES` frames plus their receptive field ("halo",
   :func:`_time_halo`) at each side, so each frame is computed once and equals the
   whole-signal result (zero padding only at the file's two ends). CPU only; on a
   GPU the model runs whole on windows. The release CRNN, 2 threads, dev VM: 3-minute
   song 1.8 s before (conv blocks on every 4 s window, 33 % of it context), 1.1 s after.
4. **Model windows**: what follows (the recurrent layers of a CRNN; an RNN or
   transformer whole) runs over overlapping windows of ``window`` seconds; each
   window's centre (the window minus ``context`` seconds, default 0.5 s, at each side)
   is kept ("keep-centre" stitching), so every kept frame sees at least ``context``
   seconds of audio on both sides (or the file's edge). Windows have one length, so
   they are batched. The default window is the length the model was trained on
   (the checkpoint's ``datapoint_frames``, 4 s; :func:`default_window`): the RNN
   layers take any length, but the release CRNN on longer windows loses accuracy
   (micro F1 on the MDB dev remixes 0.563 at 4 s, 0.551 at 8 s, 0.549 at 12 s), and
   with the front end run once per frame a longer window saves little time.
   Only the activations (frames × 5 float32, 7 MB for an hour) grow with the song.

Peak picking (:func:`drumscribe.peaks.pick_onsets`) runs on the stitched
activations with the checkpoint's per-class thresholds and peak parameters. An
onset's confidence is the activation (a probability) at its frame.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import CLASSES, FPS, SAMPLE_RATE
from .errors import ConfigError, InputError, ModelError

#: File name of the released model inside the package (``drumscribe/assets/``).
DEFAULT_MODEL_NAME = "drumscribe-default.pt"
#: Files longer than this (seconds) are streamed from disk block by block.
STREAM_ABOVE_S = 300.0
#: Audio block read per step when streaming (seconds).
BLOCK_SECONDS = 30.0
#: Spectrogram frames computed per chunk (30 s at 100 frames/s).
SPEC_CHUNK_FRAMES = 3000
#: Default windows per forward pass on the CPU and on a GPU.
CPU_BATCH = 16
CUDA_BATCH = 128
#: Default windows per forward pass on the CPU when only the recurrent layers run on
#: windows (a CRNN, its conv blocks run once per frame): a window then holds little
#: memory, and the recurrence is faster on many windows at once (release CRNN, 2
#: threads, 3-minute song: GRU 0.60 s at 16, 0.50 s at 32, 0.45-0.51 s at 64 and
#: 128; 64 raised the peak RSS of a 10-minute song from 621 to 761 MB).
CPU_BATCH_RECURRENT = 32
#: Default model window (seconds) when the checkpoint does not give its training
#: datapoints' length (``datapoint_frames``).
TRAINING_WINDOW_S = 4.0
#: Default context dropped at each side of a window (seconds).
CONTEXT_S = 0.5
#: Frames per forward pass of a frame-local front end (plus its halo at each side).
FRONT_FRAMES = 1000
#: A signal whose peak is below this (dBFS) is reported as silent.
SILENCE_DB = -80.0
#: Extensions the CLI accepts as audio.
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")

__all__ = ["Transcriber", "Result", "default_model_path", "default_window", "AUDIO_EXTENSIONS"]


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


def default_window(meta: dict | None = None, fps: float = FPS) -> float:
    """Default model window in seconds: the length the model was trained on,
    ``meta["datapoint_frames"] / fps``, else :data:`TRAINING_WINDOW_S` (4 s).

    Also for the recurrent models, which take any length: the release CRNN (GRU 2x144)
    on longer windows scored lower on the MDB dev remixes (micro F1 0.5625 at 4 s,
    0.5579 at 6 s, 0.5514 at 8 s, 0.5492 at 12 s, 0.5437 at 16 s; 2026-11-25).
    """
    frames = (meta or {}).get("datapoint_frames")
    try:
        if frames is not None and int(frames) > 0:
            return int(frames) / float(fps)
    except (TypeError, ValueError):
        pass
    return TRAINING_WINDOW_S


def _time_halo(module) -> int | None:
    """Frames at each side that one output frame of ``module`` depends on, for a
    stack of layers that are local in time (convolutions with "same" zero padding
    and stride 1 along time, max-pooling over frequency only, point-wise layers);
    None if ``module`` holds any other layer (its output may depend on the whole
    sequence). Dimension 2 of a Conv2d's (B, C, T, F) input is time; a Conv1d's
    input is (B, C, T)."""
    from torch import nn

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


def _split_model(model) -> tuple[object | None, int, object | None]:
    """``(front, halo, back)``: the model as a frame-local front end (run once per
    frame, chunked with ``halo`` frames of context) and the rest (run on windows).

    - CRNN: the conv blocks, then the recurrent layers and output layer;
    - CNN: the whole model is frame-local, ``back`` is None (no windows);
    - other architectures, or a layer this function does not know: ``(None, 0, model)``.
    """
    from torch import nn

    from .models.cnn import CNN
    from .models.common import ConvStack
    from .models.crnn import CRNN

    if type(model) is CRNN and type(model.conv) is ConvStack:
        halo = _time_halo(model.conv.blocks)
        if halo is not None:
            return model.conv, halo, _RecurrentHead(model)
    if type(model) is CNN and type(model.conv) is ConvStack and isinstance(model.fc, nn.Sequential):
        h1, h2 = _time_halo(model.conv.blocks), _time_halo(model.fc)
        if h1 is not None and h2 is not None:
            return model, h1 + h2, None
    return None, 0, model


def _RecurrentHead(crnn):
    """The layers of a CRNN after its conv blocks, as a module: ``(B, T, features)`` → logits."""
    from torch import nn

    class RecurrentHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.drop, self.out = crnn.rnn, crnn.drop, crnn.out

        def forward(self, x):
            return self.out(self.drop(self.rnn(x)))

    return RecurrentHead().eval()


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
    """soundfile's info for ``path``, or None when libsndfile cannot open it."""
    import soundfile as sf

    from .audio import quiet_decoder

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
    import soxr

    from . import audio

    trunc = getattr(audio, "_riff_truncation", None)
    cause = trunc(path) if trunc is not None else None
    if cause:
        raise InputError(f"{path}: {cause}")
    total = 0
    try:
        with audio.quiet_decoder(path):
            f = sf.SoundFile(os.fsencode(path))
        with f:
            native, channels, declared = f.samplerate, f.channels, f.frames
            block = max(1, int(block_s * native))
            rs = soxr.ResampleStream(native, sr, 1, dtype="float32", quality="HQ") if native != sr else None
            while True:
                with audio.quiet_decoder(path):
                    data = f.read(block, dtype="float32", always_2d=True)
                last = len(data) < block
                total += len(data)
                if not np.all(np.isfinite(data)):
                    raise InputError(f"{path}: audio holds NaN or infinite samples")
                mono = data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0]
                del data
                if rs is not None:
                    mono = rs.resample_chunk(mono, last=last)
                if len(mono):
                    yield np.ascontiguousarray(mono, dtype=np.float32)
                if last:
                    break
    except InputError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
        msg = audio.sndfile_message(exc)
        raise InputError(f"{path}: corrupt audio ({msg})") from None
    if total == 0:
        raise InputError(f"{path}: no audio samples (zero-length or truncated)")
    if declared > 0 and total < declared * 0.99 and path.suffix.lower() in (".mp3", ".ogg", ".oga"):
        raise InputError(f"{path}: truncated audio (header declares {declared} frames, decoded {total})")


def _blocks_of(y: np.ndarray, n: int) -> Iterator[np.ndarray]:
    """Views of ``y`` in blocks of ``n`` samples (no copies)."""
    for i in range(0, len(y), n):
        yield y[i:i + n]


# --------------------------------------------------------------------------- the transcriber
class Transcriber:
    """Transcribe songs with a drumscribe checkpoint.

    Parameters
    ----------
    model_path : checkpoint file (``models.save_checkpoint``); default the released
        model :func:`default_model_path`.
    device : ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    threads : CPU threads for torch (``torch.set_num_threads``); None keeps torch's default.
    window, context : model window and the context dropped at each side of it
        when stitching, in seconds; default window :func:`default_window` (the
        training datapoints' length, 4 s), default context 0.5 s. For a CRNN the window is that of its recurrent layers
        (its conv blocks run once over the song); a CNN needs no windows at all.
    batch_size : windows per forward pass; default :data:`CPU_BATCH` on the CPU
        (each window of a convolutional front end holds tens of MB of activations,
        so a large batch would cost memory, not time), :data:`CPU_BATCH_RECURRENT`
        on the CPU when only recurrent layers run on windows (CRNN), and
        :data:`CUDA_BATCH` on a GPU.

    Raises
    ------
    ModelError : the model file is absent, corrupt, of another format version, or
        its weights do not fit its architecture or feature configuration.
    ConfigError : a bad device, thread count or window.

    Examples
    --------
    >>> t = Transcriber("model.pt", threads=2)            # doctest: +SKIP
    >>> r = t.transcribe("song.wav")                       # doctest: +SKIP
    >>> r.counts()                                         # doctest: +SKIP
    {'BD': 112, 'SD': 96, 'TT': 4, 'HH': 230, 'CY': 9}
    """

    def __init__(self, model_path: str | os.PathLike | None = None, device: str = "cpu",
                 threads: int | None = None, window: float | None = None, context: float | None = None,
                 batch_size: int | None = None):
        import torch

        from . import features, models

        self.device = _check_device(device)
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
        self._setup(model, meta, path, window, context, batch_size)
        self._trace_dir = _trace_cache_dir(path)  # traces of this model file are kept on disk

    @classmethod
    def from_model(cls, model, meta: dict, device: str = "cpu", window: float | None = None,
                   context: float | None = None, batch_size: int | None = None,
                   name: str = "<model in memory>") -> "Transcriber":
        """A Transcriber around a model in memory (``meta`` as in a checkpoint): what
        validation during training runs, so that thresholds are tuned on the activations
        ``drumscribe transcribe`` computes. The model is used as is (not copied): on a
        GPU it runs whole on windows, on the CPU split as for a checkpoint."""
        import torch

        self = cls.__new__(cls)
        self.device = torch.device(device) if not isinstance(device, str) else _check_device(device)
        self._setup(model, dict(meta), Path(name), window, context, batch_size)
        # the weights change between calls (validation every epoch): never freeze a trace of them
        self._may_trace = False
        return self

    def _setup(self, model, meta: dict, path: Path, window, context, batch_size) -> None:
        import torch

        from . import features

        self.model_path = path
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
        self.norm_mean = np.zeros(n_bins, np.float32) if mean is None else np.asarray(mean, np.float32)
        self.norm_std = np.ones(n_bins, np.float32) if std is None else np.asarray(std, np.float32)
        if self.norm_mean.shape != (n_bins,) or self.norm_std.shape != (n_bins,):
            raise ModelError(f"{path}: norm_mean/norm_std do not have {n_bins} values")
        self.norm_std = np.where(self.norm_std > 1e-8, self.norm_std, 1.0).astype(np.float32)
        level = meta.get("input_level_db")
        #: gated RMS level (dBFS) the input is brought to before its spectrogram, as in
        #: the model's training (``audio.normalize_level``); None for models trained
        #: before it existed (their input is used at its own level)
        self.input_level_db = None if level is None else float(level)
        thr = meta.get("thresholds") or {}
        self.thresholds = {c: float(thr.get(c, 0.5)) for c in CLASSES}
        from .peaks import DEFAULT_PEAK_PARAMS

        self.peak_params = {**DEFAULT_PEAK_PARAMS, **dict(meta.get("peak_params") or {})}
        self.arch = meta.get("arch")
        self.n_bins = n_bins
        if window is None:
            window = default_window(meta, self.fps)
        if context is None:
            context = CONTEXT_S
        if window <= 0 or context < 0 or window - 2 * context <= 0:
            raise ConfigError(f"window {window} s / context {context} s: the window must be longer than 2 x context")
        self.window_frames = int(round(window * self.fps))
        self.context_frames = int(round(context * self.fps))
        # on a GPU the model runs whole on windows, as before (the split is measured on the CPU only)
        self._front, self._halo, self._back = _split_model(model) if self.device.type == "cpu" else (None, 0, model)
        if batch_size is None:
            if self.device.type == "cuda":
                batch_size = CUDA_BATCH
            else:
                batch_size = CPU_BATCH_RECURRENT if self._front is not None and self._back is not None else CPU_BATCH
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"--batch-size: {batch_size!r} is not a positive integer")
        self.batch_size = int(batch_size)
        self.window = float(window)
        self.context = float(context)
        self.model = model.to(self.device).eval()
        self._traced: dict[int, object] = {}
        self._torch = torch
        self._front_fast = None
        self._traced_back: dict[int, object] = {}
        self._may_trace = True
        self._trace_dir: Path | None = None  # set for a model file (from_model: none)

    # ------------------------------------------------------------------ spectrogram
    def _context_samples(self) -> int:
        """Samples of audio added at each side of a spectrogram chunk: a whole number
        of hops, longer than a frame, so every kept frame sees the same samples as
        in the whole-signal spectrogram."""
        return int(math.ceil(self.frame_size / self.hop) + 1) * self.hop

    def spectrogram_chunks(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Spectrogram of a signal given as consecutive mono blocks, chunk by chunk.

        The concatenated chunks equal ``features.spectrogram(concatenated blocks, cfg)``.
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

    # ------------------------------------------------------------------ model
    def _forward(self, windows: list[np.ndarray]) -> np.ndarray:
        """Probabilities (B, T, 5) of the whole model on a batch of equal-length
        normalised spectrogram windows."""
        return self._run(self.model, self._traced, windows)

    def _run(self, module, cache: dict, windows: list[np.ndarray]) -> np.ndarray:
        """sigmoid(module(stacked windows)) as (B, T, 5) float32 numpy."""
        torch = self._torch
        x = torch.from_numpy(np.stack(windows)).to(self.device)
        with torch.inference_mode():
            return torch.sigmoid(self._model_for(x, module, cache)(x)).float().cpu().numpy()

    def _model_for(self, x, module=None, cache: dict | None = None):
        """The module to run ``x`` through (default the whole model).

        On the CPU, batches run through a TorchScript trace of the module frozen for
        inference (batch norm folded into the convolutions, oneDNN layouts): the same
        function, about 1.6x faster on 2 threads for the release CRNN
        (docs/benchmarks.md). One trace per window length (a song has one), reused for
        every batch size (the traced graph reads the batch size from its input; a test
        checks traced = eager for every architecture). Single windows run as is.
        """
        torch = self._torch
        module = self.model if module is None else module
        cache = self._traced if cache is None else cache
        key = int(x.shape[1])
        if (self.device.type != "cpu" or not self._may_trace or x.shape[0] < 2
                or (key not in cache and len(cache) >= 4)):
            return module
        if key not in cache:
            kind = "model" if module is self.model else "back"
            cache[key] = _frozen_trace(torch, module, x, self._trace_file(kind, x))
        return cache[key]

    def _trace_file(self, kind: str, x) -> Path | None:
        """Where the trace of ``kind`` for inputs shaped like ``x`` (its length) is kept."""
        if self._trace_dir is None:
            return None
        return self._trace_dir / f"{kind}-{int(x.shape[1])}x{int(x.shape[2])}.pt"

    def _front_module(self):
        """The front end to run: on the CPU a frozen trace, made once; it takes any
        length (checked on a second length when it is made), else the eager module."""
        if self._front_fast is None:
            torch = self._torch
            self._front_fast = self._front
            if self.device.type == "cpu" and self._may_trace:
                x = torch.zeros(1, FRONT_FRAMES + 2 * self._halo, self.n_bins)
                fast = _frozen_trace(torch, self._front, x, self._trace_file("front", x))
                check = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 57, self.n_bins),
                                                                                 dtype=np.float32))
                with torch.inference_mode():
                    same = fast is not self._front and torch.allclose(fast(check), self._front(check), atol=1e-4)
                if same:
                    self._front_fast = fast
        return self._front_fast

    def _front_chunks(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """The front end over a stream of normalised spectrogram chunks, in pieces of
        :data:`FRONT_FRAMES` frames plus ``halo`` frames of context at each side: the
        concatenated output equals the front end run on the whole spectrogram.
        Yields (frames, features) float32 arrays."""
        torch = self._torch
        h, L = self._halo, FRONT_FRAMES
        buf = np.zeros((0, self.n_bins), np.float32)
        buf0 = 0      # global frame index of buf[0]
        a = 0         # next frame to emit

        def run(seg: np.ndarray, full: bool = True) -> np.ndarray:
            # the trace is made for the first full piece: a clip shorter than one piece
            # runs eagerly and costs no tracing (cold start of a short file)
            front = self._front_module() if full or self._front_fast is not None else self._front
            x = torch.from_numpy(np.ascontiguousarray(seg))[None].to(self.device)
            with torch.inference_mode():
                return front(x)[0].float().cpu().numpy()

        for chunk in chunks:
            buf = np.concatenate([buf, chunk]) if len(buf) else chunk
            while buf0 + len(buf) >= a + L + h:
                s = max(0, a - h)
                y = run(buf[s - buf0:a + L + h - buf0])
                yield y[a - s:a - s + L]
                a += L
                drop = max(0, a - h) - buf0
                buf, buf0 = buf[drop:], buf0 + drop
        if buf0 + len(buf) > a:
            s = max(0, a - h)
            y = run(buf[s - buf0:], full=False)
            yield y[a - s:]

    def _normalised(self, spec_chunks: Iterable[np.ndarray], keep_spec: list | None) -> Iterator[np.ndarray]:
        """Check and normalise spectrogram chunks (kept as float16 in ``keep_spec``)."""
        for chunk in spec_chunks:
            if chunk.ndim != 2 or chunk.shape[1] != self.n_bins:
                raise ModelError(f"{self.model_path}: spectrogram has shape {chunk.shape}, "
                                 f"the model expects {self.n_bins} bins")
            if keep_spec is not None:
                keep_spec.append(chunk.astype(np.float16))
            yield ((chunk - self.norm_mean) / self.norm_std).astype(np.float32, copy=False)

    def _stitch(self, spec_chunks: Iterable[np.ndarray], keep_spec: list | None = None) -> np.ndarray:
        """Activations (frames, 5) of a stream of spectrogram chunks: the front end
        (if any) once per frame, then keep-centre stitching of model windows."""
        x = self._normalised(spec_chunks, keep_spec)
        if self._front is None:
            return self._windows(x, self.model, self._traced)
        feats = self._front_chunks(x)
        if self._back is None:  # the whole model is frame-local: its output is the logits
            out = [1.0 / (1.0 + np.exp(-f)) for f in feats]
            return np.concatenate(out).astype(np.float32) if out else np.zeros((0, len(CLASSES)), np.float32)
        return self._windows(feats, self._back, self._traced_back)

    def _windows(self, chunks: Iterable[np.ndarray], module, cache: dict) -> np.ndarray:
        """Keep-centre stitching of ``module``'s windows over a stream of (frames, D) chunks."""
        W, C = self.window_frames, self.context_frames
        S = W - 2 * C
        buf: np.ndarray | None = None
        buf0 = 0           # global frame index of buf[0]
        a = 0              # start of the next kept range
        out: list[np.ndarray] = []
        pending: list[tuple[np.ndarray, int, int]] = []  # (window, keep_from, keep_to) relative

        def flush():
            if pending:
                probs = self._run(module, cache, [w for w, _, _ in pending])
                for p, (_, k0, k1) in zip(probs, pending):
                    out.append(p[k0:k1])
                pending.clear()

        for chunk in chunks:
            buf = chunk if buf is None or not len(buf) else np.concatenate([buf, chunk])
            # a window [s, s+W) keeping [a, a+S) is complete when s+W frames exist
            # (one more hop is required so the final window is decided with T known)
            while True:
                s = max(0, a - C)
                if buf0 + len(buf) < s + W + 1:
                    break
                # a view: buf is never written, and np.stack copies when the batch runs
                pending.append((buf[s - buf0:s - buf0 + W], a - s, a - s + S))
                if len(pending) >= self.batch_size:
                    flush()
                a += S
                # the last window may be shifted left to end at the last frame:
                # it never starts before a - S - C (shown by the loop condition)
                drop = max(0, a - S - C) - buf0
                buf, buf0 = buf[drop:], buf0 + drop
        T = buf0 + (0 if buf is None else len(buf))
        while a < T:
            if T <= W:
                s, e = 0, T
            else:
                s = min(max(0, a - C), T - W)
                e = s + W
            k1 = min(a + S, T) if e < T else T
            win = buf[s - buf0:e - buf0]
            if len(win) != W and pending:
                flush()
            pending.append((win, a - s, k1 - s))
            if len(win) != W or len(pending) >= self.batch_size:
                flush()
            a = k1
        flush()
        if not out:
            return np.zeros((0, len(CLASSES)), np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

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
            return self._stitch(self.spectrogram_chunks(blocks))

    def level_normalised(self, y: np.ndarray) -> np.ndarray:
        """``y`` brought to the model's input level (``input_level_db``), or as is."""
        if self.input_level_db is None:
            return y
        from .audio import normalize_level

        return normalize_level(y, self.input_level_db)

    def stitched_activations(self, spec: np.ndarray) -> np.ndarray:
        """Activations (frames, 5) of a whole raw spectrogram (frames, bins), computed as
        :meth:`transcribe` computes them (normalisation, front end, keep-centre windows)."""
        with _OneBlasThread():
            return self._stitch([np.asarray(spec, np.float32)])

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
        from .audio import load_audio

        t0 = time.perf_counter()
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: file not found")
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not an audio file")
        info = _audio_info(path)
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
                blocks = _stream_audio(path)
            else:
                # two passes over the file: its level first, then the scaled blocks
                from .audio import LevelMeter, level_gain

                meter = LevelMeter()
                for b in _stream_audio(path):
                    meter.add(b)
                gain = np.float32(level_gain(meter.level_db(), self.input_level_db))
                blocks = (b * gain for b in _stream_audio(path))
        else:
            y = self.level_normalised(load_audio(path, SAMPLE_RATE))
            blocks = _blocks_of(y, int(BLOCK_SECONDS * SAMPLE_RATE))
        spec_keep: list | None = [] if keep_spectrogram else None
        with _OneBlasThread():
            acts = self._stitch(self.spectrogram_chunks(tracked(blocks)), spec_keep)
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
def _check_device(device: str):
    """Validate ``device``; ConfigError if unknown or if CUDA is asked for without a GPU."""
    import torch

    dev = str(device).strip().lower()
    if dev == "cpu":
        return torch.device("cpu")
    if dev == "cuda" or dev.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: no CUDA GPU is available to torch "
                              f"(torch {torch.__version__}); use --device cpu")
        try:
            d = torch.device(dev)
        except RuntimeError:
            raise ConfigError(f"--device {device}: not a valid device") from None
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s)")
        return d
    raise ConfigError(f"--device {device}: unknown device (use cpu or cuda)")


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


def _trace_cache_dir(model_path: Path) -> Path | None:
    """The folder for the traces of one model file: ``$DRUMSCRIBE_CACHE_DIR`` (else
    ``$XDG_CACHE_HOME/drumscribe``, else ``~/.cache/drumscribe``) ``/traces/<key>``, the key
    the sha256 of the model file, the torch and drumscribe versions and the models' source
    (a retrained model, another torch or an edited architecture never meets an old trace).
    None if it cannot be made."""
    import hashlib

    import torch

    from . import __version__

    try:
        root = os.environ.get("DRUMSCRIBE_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "drumscribe")
        h = hashlib.sha256(Path(model_path).read_bytes())
        h.update(f"|torch {torch.__version__}|drumscribe {__version__}".encode())
        for src in [Path(__file__), *sorted((Path(__file__).parent / "models").glob("*.py"))]:  # the code traced
            h.update(src.read_bytes())
        folder = Path(root) / "traces" / h.hexdigest()[:24]
        folder.mkdir(parents=True, exist_ok=True)
        return folder if os.access(folder, os.W_OK) else None
    except (OSError, RuntimeError, ValueError):
        return None


def _frozen_trace(torch, module, x, cache_file: Path | None = None):
    """A TorchScript trace of ``module`` on ``x``, frozen for inference; ``module``
    itself if it cannot be traced.

    Traced without ``check_trace`` (which reruns the module three times: 3-17 s for the
    release CRNN's recurrent head on 2 busy cores; the callers and a test compare the
    trace with the eager module instead). With ``cache_file`` the trace is saved there
    (TorchScript, ``torch.jit.save``) and the next process loads it (``torch.jit.load``,
    no pickle) instead of tracing again; a file that does not load is traced anew.
    """
    if cache_file is not None and cache_file.is_file():
        try:
            with torch.inference_mode():
                return torch.jit.optimize_for_inference(torch.jit.load(str(cache_file), map_location="cpu"))
        except Exception:  # noqa: BLE001 - a stale or broken cache file: trace again
            cache_file.unlink(missing_ok=True)
    try:
        with warnings.catch_warnings():  # TracerWarnings on shape checks: one window length is traced
            warnings.simplefilter("ignore")
            with torch.inference_mode():
                traced = torch.jit.trace(module, x, check_trace=False)
                if cache_file is not None:
                    from .atomic import atomic_path

                    try:
                        with atomic_path(cache_file) as tmp:
                            torch.jit.save(traced, str(tmp))
                    except Exception:  # noqa: BLE001 - a cache that cannot be written is no cache
                        pass
                return torch.jit.optimize_for_inference(traced)
    except Exception:  # noqa: BLE001 - an untraceable model still runs eagerly
        return module
