"""The model over a spectrogram: overlapping chunks, stitched (the one inference path).

Every activation drumscribe computes comes from here: validation every epoch
(:mod:`drumscribe.trial`, :mod:`drumscribe.crossval`), test evaluation
(:func:`drumscribe.evaluation.evaluate`, whose scores fill the model card) and
``drumscribe transcribe`` (:class:`drumscribe.transcribe.Transcriber`, which adds the
audio and the spectrogram in front of it). Two words: the **chunk** is the model's
window, the frames one forward pass sees (default the training datapoints' length,
:func:`default_chunk`, 4 s); the onset tolerance of the scores is called ``window``
(``metrics``, ``evaluation``) and is no concern of this module.

1. **Frame-local front end**: a model whose first layers see only a few frames (the
   conv blocks of a CRNN; the whole CNN) says so with ``model.frame_local_split()``
   (``(front, halo, back)``, :mod:`drumscribe.models.crnn`, :mod:`drumscribe.models.cnn`);
   on the CPU the front runs once over the song, in pieces of :data:`FRONT_FRAMES`
   frames plus ``halo`` frames at each side, so each frame equals the whole-signal
   result (zero padding only at the two ends). On a GPU the model runs whole on chunks.
   The release CRNN, 2 threads, dev VM: 3-minute song 1.8 s before (conv blocks on
   every 4 s chunk, 33 % of it context), 1.1 s after.
2. **Chunks**: what follows (the recurrent head of a CRNN; an RNN or transformer whole)
   runs over overlapping chunks of ``chunk_frames``; each chunk's centre (minus
   ``context_frames`` at each side, default 0.5 s) is kept ("keep-centre" stitching), so
   every kept frame sees at least the context on both sides (or the track's edge).
   Chunks have one length, so they are batched.

:func:`activations` is one track, :func:`batch_activations` many (one engine, so the
traces and the split are made once); :class:`ChunkedInference` is the engine itself.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import CLASSES, DATAPOINT_FRAMES, FPS
from .atomic import atomic_path
from .errors import ConfigError, ModelError

#: Default chunks per forward pass on the CPU and on a GPU.
CPU_BATCH = 16
CUDA_BATCH = 128
#: Default chunks per forward pass on the CPU when only the recurrent layers run on
#: chunks (a CRNN, its conv blocks run once per frame): a chunk then holds little
#: memory, and the recurrence is faster on many chunks at once (release CRNN, 2
#: threads, 3-minute song: GRU 0.60 s at 16, 0.50 s at 32, 0.45-0.51 s at 64 and
#: 128; 64 raised the peak RSS of a 10-minute song from 621 to 761 MB).
CPU_BATCH_RECURRENT = 32
#: Default chunk (seconds) when the checkpoint does not give its training
#: datapoints' length (``datapoint_frames``).
TRAINING_CHUNK_S = 4.0
#: Default context dropped at each side of a chunk (seconds).
CONTEXT_S = 0.5
#: Frames per forward pass of a frame-local front end (plus its halo at each side).
FRONT_FRAMES = 1000

__all__ = ["activations", "batch_activations", "chunk_plan", "ChunkedInference", "default_chunk", "CONTEXT_S"]


def default_chunk(meta: Mapping | None = None, fps: float = FPS) -> float:
    """Default chunk in seconds: the length the model was trained on,
    ``meta["datapoint_frames"] / fps``, else :data:`TRAINING_CHUNK_S` (4 s).

    Also for the recurrent models, which take any length: the release CRNN (GRU 2x144)
    on longer chunks scored lower on the MDB dev remixes (micro F1 0.5625 at 4 s,
    0.5579 at 6 s, 0.5514 at 8 s, 0.5492 at 12 s, 0.5437 at 16 s; 2026-11-25).
    """
    frames = (meta or {}).get("datapoint_frames")
    try:
        if frames is not None and int(frames) > 0:
            return int(frames) / float(fps)
    except (TypeError, ValueError):
        pass
    return TRAINING_CHUNK_S


def chunk_plan(n_frames: int, chunk_frames: int, context_frames: int) -> list[tuple[int, int, int, int]]:
    """The chunks keep-centre stitching runs over ``n_frames`` frames, as ``(start, end,
    keep_from, keep_to)`` frame indices: chunk ``[start, end)`` goes through the model and
    its frames ``[keep_from, keep_to)`` are kept. The kept ranges tile the track; every
    chunk is ``chunk_frames`` long but for a track shorter than that (one chunk, the whole
    track); the last chunk is shifted left to end at the last frame. The same chunks as
    :meth:`ChunkedInference.stitch` cuts from a stream (a test checks both give one result).

    Examples
    --------
    >>> chunk_plan(250, 100, 20)
    [(0, 100, 0, 60), (40, 140, 60, 120), (100, 200, 120, 180), (150, 250, 180, 250)]
    """
    W, C = int(chunk_frames), int(context_frames)
    S = W - 2 * C
    plan, a = [], 0
    while max(0, a - C) + W + 1 <= n_frames:
        s = max(0, a - C)
        plan.append((s, s + W, a, a + S))
        a += S
    while a < n_frames:
        s = 0 if n_frames <= W else min(max(0, a - C), n_frames - W)
        e = min(s + W, n_frames)
        k1 = min(a + S, n_frames) if e < n_frames else n_frames
        plan.append((s, e, a, k1))
        a = k1
    return plan


def frame_local_split(model) -> tuple[object | None, int, object | None]:
    """``(front, halo, back)`` of ``model`` (its ``frame_local_split()``; a model without
    one runs whole on chunks: ``(None, 0, model)``)."""
    split = getattr(model, "frame_local_split", None)
    return split() if callable(split) else (None, 0, model)


class ChunkedInference:
    """A model run over overlapping chunks of normalised spectrograms, stitched.

    Parameters
    ----------
    model : a drumscribe model, ``(B, T, bins)`` → logits ``(B, T, 5)``; used as is (not
        copied) and put in eval mode on ``device``.
    n_bins : the input bins.
    mean, std : per-bin normalisation applied to each spectrogram; None: the spectrograms
        given are already normalised.
    chunk_frames, context_frames : the chunk and the context dropped at each side of it.
    device : torch device (default: where the model's parameters are).
    batch_size : chunks per forward pass; default :data:`CPU_BATCH` on the CPU,
        :data:`CPU_BATCH_RECURRENT` on the CPU when only recurrent layers run on chunks,
        :data:`CUDA_BATCH` on a GPU.
    trace : on the CPU, run batches through frozen TorchScript traces (a model file's
        weights; never for weights that change, as in validation every epoch);
        ``trace_dir`` keeps them on disk (:func:`trace_cache_dir`).
    """

    def __init__(self, model, n_bins: int, mean=None, std=None, chunk_frames: int = DATAPOINT_FRAMES,
                 context_frames: int = 50, device=None, batch_size: int | None = None,
                 trace: bool = False, trace_dir: Path | None = None, name: str = "<model in memory>"):
        import torch

        self._torch = torch
        self.model_path = Path(name)
        if device is None:
            device = next(model.parameters()).device
        self.device = torch.device(device)
        self.n_bins = int(n_bins)
        if mean is None or std is None:
            self.norm_mean = self.norm_std = None
        else:
            self.norm_mean = np.asarray(mean, np.float32)
            self.norm_std = np.where(np.asarray(std, np.float32) > 1e-8, np.asarray(std, np.float32),
                                     1.0).astype(np.float32)
        chunk_frames, context_frames = int(chunk_frames), int(context_frames)
        if chunk_frames <= 0 or context_frames < 0 or chunk_frames - 2 * context_frames <= 0:
            raise ConfigError(f"chunk {chunk_frames} frames / context {context_frames} frames: "
                              f"the chunk must be longer than 2 x context")
        self.chunk_frames, self.context_frames = chunk_frames, context_frames
        # on a GPU the model runs whole on chunks (the split is measured on the CPU only)
        self._front, self._halo, self._back = (frame_local_split(model) if self.device.type == "cpu"
                                               else (None, 0, model))
        if batch_size is None:
            if self.device.type == "cuda":
                batch_size = CUDA_BATCH
            else:
                batch_size = CPU_BATCH_RECURRENT if self._front is not None and self._back is not None else CPU_BATCH
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"--batch-size: {batch_size!r} is not a positive integer")
        self.batch_size = int(batch_size)
        self.model = model.to(self.device).eval()
        self._traced: dict[int, object] = {}
        self._front_fast = None
        self._traced_back: dict[int, object] = {}
        self._may_trace = bool(trace)
        self._trace_dir = trace_dir

    def stitched_activations(self, spec: np.ndarray) -> np.ndarray:
        """Onset probabilities (frames, 5) float32 of one whole spectrogram (frames, bins):
        normalisation (if any), front end, keep-centre chunks."""
        return self.stitch([np.asarray(spec, np.float32)])

    def stitched_many(self, specs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """:meth:`stitched_activations` of each spectrogram, the chunks of all of them run
        in shared batches: validation every epoch (170 one-minute tracks, about 20 chunks
        each) is then 27 forward passes of 128 chunks instead of 170 of about 20, which is
        what bounds a recurrent model on a shared GPU (docs/benchmarks.md). A track's input
        is let go once its last chunk has run, so memory holds about one batch and the
        tracks it spans."""
        W, C = self.chunk_frames, self.context_frames
        module, cache = (self.model, self._traced) if self._front is None else (self._back, self._traced_back)
        results: list[np.ndarray] = []
        inputs: dict[int, np.ndarray] = {}
        left: dict[int, int] = {}
        pending: dict[int, list[tuple[int, int, int, int]]] = {}  # chunk length -> (track, start, keep)

        def run(length: int) -> None:
            items = pending.pop(length)
            probs = self._run(module, cache, [inputs[i][s:s + length] for i, s, _, _ in items])
            for p, (i, s, k0, k1) in zip(probs, items):
                results[i][k0:k1] = p[k0 - s:k1 - s]
                left[i] -= 1
                if not left[i]:
                    del inputs[i]

        for i, spec in enumerate(specs):
            if self._front is not None and self._back is None:  # the whole model frame-local: no chunks
                results.append(self.stitch([np.asarray(spec, np.float32)]))
                continue
            x = next(self._normalised([np.asarray(spec, np.float32)], None))
            if self._front is not None:
                feats = list(self._front_chunks([x]))
                x = np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)
            results.append(np.zeros((len(x), len(CLASSES)), np.float32))
            plan = chunk_plan(len(x), W, C)
            if plan:
                inputs[i], left[i] = x, len(plan)
            for s, e, k0, k1 in plan:
                pending.setdefault(e - s, []).append((i, s, k0, k1))
                if len(pending[e - s]) >= self.batch_size:
                    run(e - s)
        for length in list(pending):
            run(length)
        return results

    def _forward(self, chunks: list[np.ndarray]) -> np.ndarray:
        """Probabilities (B, T, 5) of the whole model on a batch of equal-length
        normalised spectrogram chunks."""
        return self._run(self.model, self._traced, chunks)

    def _run(self, module, cache: dict, chunks: list[np.ndarray]) -> np.ndarray:
        """sigmoid(module(stacked chunks)) as (B, T, 5) float32 numpy."""
        torch = self._torch
        x = torch.from_numpy(np.stack(chunks)).to(self.device)
        with torch.inference_mode():
            return torch.sigmoid(self._model_for(x, module, cache)(x)).float().cpu().numpy()

    def _model_for(self, x, module=None, cache: dict | None = None):
        """The module to run ``x`` through (default the whole model).

        On the CPU, batches run through a TorchScript trace of the module frozen for
        inference (batch norm folded into the convolutions, oneDNN layouts): the same
        function, about 1.6x faster on 2 threads for the release CRNN
        (docs/benchmarks.md). One trace per chunk length (a song has one), reused for
        every batch size (the traced graph reads the batch size from its input; a test
        checks traced = eager for every architecture). Single chunks run as is.
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
            cache[key] = frozen_trace(torch, module, x, self._trace_file(kind, x))
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
                fast = frozen_trace(torch, self._front, x, self._trace_file("front", x))
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
        """Check and normalise spectrogram chunks (kept as float16 in ``keep_spec``); with no
        ``mean``/``std`` given the chunks are used as they are (already normalised)."""
        for chunk in spec_chunks:
            if chunk.ndim != 2 or chunk.shape[1] != self.n_bins:
                raise ModelError(f"{self.model_path}: spectrogram has shape {chunk.shape}, "
                                 f"the model expects {self.n_bins} bins")
            if keep_spec is not None:
                keep_spec.append(chunk.astype(np.float16))
            if self.norm_mean is None:
                yield np.asarray(chunk, np.float32)
            else:
                yield ((chunk - self.norm_mean) / self.norm_std).astype(np.float32, copy=False)

    def stitch(self, spec_chunks: Iterable[np.ndarray], keep_spec: list | None = None) -> np.ndarray:
        """Activations (frames, 5) of a spectrogram given as a stream of consecutive pieces
        (any lengths; kept as float16 in ``keep_spec``): the front end (if any) once per
        frame, then keep-centre stitching of the model's chunks."""
        x = self._normalised(spec_chunks, keep_spec)
        if self._front is None:
            return self._stitch_chunks(x, self.model, self._traced)
        feats = self._front_chunks(x)
        if self._back is None:  # the whole model is frame-local: its output is the logits
            out = [1.0 / (1.0 + np.exp(-f)) for f in feats]
            return np.concatenate(out).astype(np.float32) if out else np.zeros((0, len(CLASSES)), np.float32)
        return self._stitch_chunks(feats, self._back, self._traced_back)

    def _stitch_chunks(self, chunks: Iterable[np.ndarray], module, cache: dict) -> np.ndarray:
        """Keep-centre stitching of ``module``'s chunks (``chunk_frames`` long) over a stream of
        (frames, D) pieces. (86 lines: one streaming loop whose buffer bookkeeping is shared by
        the full chunks and the last, shorter ones; split, the invariants would span two places.)"""
        W, C = self.chunk_frames, self.context_frames
        S = W - 2 * C
        buf: np.ndarray | None = None
        buf0 = 0           # global frame index of buf[0]
        a = 0              # start of the next kept range
        out: list[np.ndarray] = []
        pending: list[tuple[np.ndarray, int, int]] = []  # (chunk, keep_from, keep_to) relative

        def flush():
            if pending:
                probs = self._run(module, cache, [w for w, _, _ in pending])
                for p, (_, k0, k1) in zip(probs, pending):
                    out.append(p[k0:k1])
                pending.clear()

        for chunk in chunks:
            buf = chunk if buf is None or not len(buf) else np.concatenate([buf, chunk])
            # a chunk [s, s+W) keeping [a, a+S) is complete when s+W frames exist
            # (one more hop is required so the final chunk is decided with T known)
            while True:
                s = max(0, a - C)
                if buf0 + len(buf) < s + W + 1:
                    break
                # a view: buf is never written, and np.stack copies when the batch runs
                pending.append((buf[s - buf0:s - buf0 + W], a - s, a - s + S))
                if len(pending) >= self.batch_size:
                    flush()
                a += S
                # the last chunk may be shifted left to end at the last frame:
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


def activations(model, spectrogram: np.ndarray, *, n_bins: int | None = None, mean=None, std=None,
                chunk_frames: int = DATAPOINT_FRAMES, context_frames: int = 50, device=None,
                batch_size: int | None = None) -> np.ndarray:
    """Onset probabilities (frames, 5) float32 of ``model`` on one spectrogram (frames, bins).

    The one inference path (module docstring): the frame-local front end once per frame on
    the CPU, then overlapping chunks of ``chunk_frames`` with ``context_frames`` dropped at
    each side, stitched. ``mean``/``std`` normalise ``spectrogram`` first (None: it is
    already normalised). The model is left in eval mode on ``device``.

    Examples
    --------
    >>> from drumscribe import models
    >>> net = models.build("cnn", 84, num_blocks=1, num_fc=1, hidden_size=8, context=3)
    >>> activations(net, np.zeros((250, 84), np.float32), chunk_frames=100, context_frames=20).shape
    (250, 5)
    """
    return batch_activations(model, [spectrogram], n_bins=n_bins, mean=mean, std=std, chunk_frames=chunk_frames,
                             context_frames=context_frames, device=device, batch_size=batch_size)[0]


def batch_activations(model, spectrograms: Sequence[np.ndarray], *, n_bins: int | None = None, mean=None,
                      std=None, chunk_frames: int = DATAPOINT_FRAMES, context_frames: int = 50, device=None,
                      batch_size: int | None = None) -> list[np.ndarray]:
    """:func:`activations` of many tracks with one engine (the split made once), their
    chunks batched together (:meth:`ChunkedInference.stitched_many`); each track's result
    is the one :func:`activations` gives it alone (to float rounding)."""
    specs = [np.asarray(s, np.float32) for s in spectrograms]
    if not specs:
        return []
    bins = int(n_bins if n_bins is not None else specs[0].shape[1])
    engine = ChunkedInference(model, bins, mean, std, chunk_frames, context_frames, device, batch_size)
    return engine.stitched_many(specs)


def trace_cache_dir(model_path: Path) -> Path | None:
    """The folder for the traces of one model file: ``$DRUMSCRIBE_CACHE_DIR`` (else
    ``$XDG_CACHE_HOME/drumscribe``, else ``~/.cache/drumscribe``) ``/traces/<key>``, the key
    the sha256 of the model file, the torch and drumscribe versions and the models' source
    (a retrained model, another torch or an edited architecture never meets an old trace).
    None if it cannot be made."""
    import torch

    from . import __version__

    try:
        root = os.environ.get("DRUMSCRIBE_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "drumscribe")
        h = hashlib.sha256(Path(model_path).read_bytes())
        h.update(f"|torch {torch.__version__}|drumscribe {__version__}".encode())
        here = Path(__file__).parent
        for src in [Path(__file__), here / "transcribe.py", *sorted((here / "models").glob("*.py"))]:  # the code traced
            h.update(src.read_bytes())
        folder = Path(root) / "traces" / h.hexdigest()[:24]
        folder.mkdir(parents=True, exist_ok=True)
        return folder if os.access(folder, os.W_OK) else None
    except (OSError, RuntimeError, ValueError):
        return None


def frozen_trace(torch, module, x, cache_file: Path | None = None):
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
        with warnings.catch_warnings():  # TracerWarnings on shape checks: one chunk length is traced
            warnings.simplefilter("ignore")
            with torch.inference_mode():
                traced = torch.jit.trace(module, x, check_trace=False)
                if cache_file is not None:
                    try:
                        with atomic_path(cache_file) as tmp:
                            torch.jit.save(traced, str(tmp))
                    except Exception:  # noqa: BLE001 - a cache that cannot be written is no cache
                        pass
                return torch.jit.optimize_for_inference(traced)
    except Exception:  # noqa: BLE001 - an untraceable model still runs eagerly
        return module
