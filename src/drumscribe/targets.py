"""Frame targets, target widening, 4 s datapoints, class weights and the torch Dataset.

* :func:`frame_targets` turns onsets (seconds) into a (frames, 5) float32 matrix:
  the onset frame ``floor(t * fps + 0.5)`` gets 1.0 and its two neighbours get
  ``widen`` (target widening, Vogl et al. 2017 / ADTOF; 0.5 by default) unless they
  already hold a larger value.
* :func:`datapoint_index` cuts every track into non-overlapping 400-frame (4 s)
  datapoints; the last one of a track is zero-padded (spectrogram zeros = silence,
  targets zeros), as in the thesis.
* :func:`class_weights` gives infrequency weights from the training targets
  (formula in its docstring and ``docs/features.md``).
* :data:`IGNORED_TARGET` (-1) marks a class a datapoint carries no labels for (the loss
  leaves it out: ``training.MaskedBCEWithLogits``).
* :class:`DatapointDataset` serves ``(x (400, bins), y (400, 5))`` from HDF5 caches;
  it opens the files lazily in each process, so it is safe with DataLoader workers.
  Its :meth:`~DatapointDataset.preload` holds a whole split as tensors on a device
  (:class:`PreloadedDatapoints`), so training draws a batch with one gather.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from . import CLASSES, DATAPOINT_FRAMES, FPS, WIDEN
from . import cache
from .errors import InputError

#: A target entry of a class whose labels a datapoint does not carry (e.g. the classes
#: ``mixing.pseudo_ignore`` takes out of a teacher's labels): the loss leaves it out
#: (``training.MaskedBCEWithLogits``), class weights do not count it.
IGNORED_TARGET = -1.0

try:  # torch is a core dependency; keep the numpy parts importable without it
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object


def onset_frames(times: np.ndarray, fps: int = FPS) -> np.ndarray:
    """Frame index of each onset time (s): ``floor(t * fps + 0.5)`` (round half up), int64."""
    return np.floor(np.asarray(times, dtype=np.float64) * fps + 0.5).astype(np.int64)


def fill_targets(out: np.ndarray, frames_per_class: Sequence[np.ndarray], start: int, widen: float) -> np.ndarray:
    """Write widened targets into ``out`` (frames, 5) in place and return it.

    ``frames_per_class[j]`` holds the onset frames of class ``j`` (:func:`onset_frames`);
    ``out`` covers frames ``[start, start + len(out))``: each onset frame inside gets 1.0 and
    its in-range neighbours ``widen`` unless they hold more. :func:`frame_targets` on a
    zero matrix; datapoints (here and in :mod:`drumscribe.mixing`) on their slice.
    """
    n = out.shape[0]
    for j, fr in enumerate(frames_per_class):
        if len(fr) == 0:
            continue
        fr = np.asarray(fr, dtype=np.int64) - start
        if widen > 0:
            for d in (-1, 1):
                nb = fr + d
                nb = nb[(nb >= 0) & (nb < n)]
                out[nb, j] = np.maximum(out[nb, j], widen)
        c = fr[(fr >= 0) & (fr < n)]
        out[c, j] = 1.0
    return out


def frame_targets(onsets: Mapping[str, np.ndarray], n_frames: int, fps: int = FPS,
                  widen: float = WIDEN) -> np.ndarray:
    """Frame targets (n_frames, 5) float32 from onsets in seconds, columns in ``CLASSES`` order.

    The frame of an onset at ``t`` s is ``floor(t * fps + 0.5)``; it gets 1.0. Frames
    ``f - 1`` and ``f + 1`` get ``widen`` unless they hold more (another onset).
    Onsets outside the frames are dropped (their in-range neighbours still widen).

    Examples
    --------
    >>> y = frame_targets({"BD": np.array([0.02])}, 5, widen=0.5)
    >>> y[:, 0].tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if not 0.0 <= widen <= 1.0:
        raise ValueError(f"widen must be in [0, 1], got {widen}")
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    unknown = set(onsets) - set(CLASSES)
    if unknown:
        raise ValueError(f"onsets: unknown class(es) {sorted(unknown)} (classes: {CLASSES})")
    out = np.zeros((int(n_frames), len(CLASSES)), dtype=np.float32)
    frames = [onset_frames(onsets.get(c, ()), fps) for c in CLASSES]
    return fill_targets(out, frames, 0, float(widen))


def class_weights(h5_paths: Sequence[str | os.PathLike], split: str = "train", widen: float = WIDEN,
                  fps: int = FPS) -> np.ndarray:
    """Infrequency weights (5,) float32 from the ``split`` targets of the caches.

    ``p_c = (Σ target values of class c) / (Σ frames)`` over all tracks of the split
    (widened neighbours count with their value ``widen``); ``w_c = (1 / p_c) /
    mean_k(1 / p_k)``: inverse frequency, normalised to mean 1, so the loss keeps its
    scale and the rarest class weighs most. This is sklearn's "balanced" weighting
    ``N / (C * positives_c)`` rescaled to mean 1. A class with no onsets counts as one
    positive frame (finite, largest weight).

    Raises InputError if the split has no frames.
    """
    pos = np.zeros(len(CLASSES), np.float64)
    total = 0
    for p in h5_paths:
        for e in cache.entries(p, split, onsets=True):
            pos += frame_targets(e.onsets, e.n_frames, fps, widen).sum(axis=0, dtype=np.float64)
            total += e.n_frames
    if total == 0:
        raise InputError(f"{', '.join(map(str, h5_paths))}: no {split}-split frames to compute class weights")
    return infrequency_weights(pos, total)


def infrequency_weights(positives: np.ndarray, total: int) -> np.ndarray:
    """``w_c = (1 / p_c) / mean_k(1 / p_k)`` with ``p_c = positives_c / total`` (a class with
    no positive counts as one positive frame): :func:`class_weights`' formula on counts."""
    inv = total / np.maximum(np.asarray(positives, np.float64), 1.0)
    return (inv / inv.mean()).astype(np.float32)


def datapoint_index(h5_paths: Sequence[str | os.PathLike], split: str,
                    frames: int = DATAPOINT_FRAMES) -> list[tuple[int, str, int]]:
    """Non-overlapping datapoints of every ``split`` track: ``(file_index, track_key, start_frame)``.

    A track of ``n`` frames gives ``ceil(n / frames)`` datapoints starting at
    ``0, frames, 2*frames, …``; the last is zero-padded when ``n`` is not a multiple.
    Order: files in the given order, tracks sorted by key.
    """
    if frames <= 0:
        raise ValueError(f"frames must be positive, got {frames}")
    index = []
    for fi, p in enumerate(h5_paths):
        for e in cache.entries(p, split):
            index.extend((fi, e.key, s) for s in range(0, e.n_frames, frames))
    return index


class DatapointDataset(_TorchDataset):
    """4 s datapoints of one split of several HDF5 caches, for a torch DataLoader.

    Item ``i`` is ``(x, y)``: ``x`` float32 (frames, bins) = (spectrogram, zero-padded
    at a track's end, minus ``mean``) / ``std``; ``y`` float32 (frames, 5) widened
    frame targets (zero in the padding). ``mean``/``std`` default to
    :func:`drumscribe.cache.norm_stats` of ``h5_paths`` (their train splits);
    pass the training data's statistics when serving validation/test data of
    other caches.

    HDF5 files are opened lazily, once per process (the handle is keyed by pid and
    dropped on pickling), so no h5py handle made in the parent survives a fork:
    safe with ``num_workers > 1``. Onsets of all tracks are read once in
    ``__init__`` (small) and shared.
    """

    def __init__(self, h5_paths: Sequence[str | os.PathLike], split: str, frames: int = DATAPOINT_FRAMES,
                 widen: float = WIDEN, mean: np.ndarray | None = None, std: np.ndarray | None = None,
                 fps: int = FPS):
        self.h5_paths = [Path(p) for p in h5_paths]
        if not self.h5_paths:
            raise InputError("DatapointDataset: no feature caches given")
        self.split, self.frames, self.widen, self.fps = split, int(frames), float(widen), int(fps)
        self.index = datapoint_index(self.h5_paths, split, self.frames)
        self._onsets: dict[tuple[int, str], list[np.ndarray]] = {}
        bins = set()
        for fi, p in enumerate(self.h5_paths):
            with cache.reading(p) as h5:
                for e in cache.entries(h5):
                    bins.add(e.shape[1])
                for e in cache.entries(h5, split, onsets=True):
                    self._onsets[(fi, e.key)] = [onset_frames(e.onsets[c], self.fps) for c in CLASSES]
        if len(bins) > 1:
            raise InputError(f"{', '.join(map(str, self.h5_paths))}: caches differ in bins {sorted(bins)}")
        if mean is None or std is None:
            mean, std = cache.norm_stats(self.h5_paths)
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.n_bins = bins.pop() if bins else len(self.mean)
        if self.mean.shape != (self.n_bins,) or self.std.shape != (self.n_bins,):
            raise InputError(f"{self.h5_paths[0]}: normalisation has shape {self.mean.shape}, "
                             f"caches have {self.n_bins} bins")
        self._files: dict[int, object] | None = None
        self._specs: dict = {}
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.index)

    def _file(self, fi: int):
        if self._files is None or self._pid != os.getpid():
            # a forked copy never reuses the parent's handles
            self._files, self._specs, self._pid = {}, {}, os.getpid()
        if fi not in self._files:
            self._files[fi] = cache.open_cache(self.h5_paths[fi])
        return self._files[fi]

    def _spec(self, fi: int, key: str):
        """The h5py dataset of a track's spectrogram (looked up once per process)."""
        f = self._file(fi)
        ds = self._specs.get((fi, key))
        if ds is None:
            ds = self._specs[(fi, key)] = cache.spec_dataset(f, key)
        return ds

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        fi, key, start = self.index[i]
        spec = self._spec(fi, key)[start:start + self.frames]
        x = np.zeros((self.frames, self.n_bins), np.float32)
        x[: len(spec)] = spec
        x -= self.mean
        x /= self.std
        y = fill_targets(np.zeros((self.frames, len(CLASSES)), np.float32), self._onsets[(fi, key)], start, self.widen)
        y[len(spec):] = 0.0  # no targets in the padding
        return x, y

    def nbytes(self) -> int:
        """Bytes the datapoints take once preloaded (float16 spectrograms + float32 targets)."""
        return len(self.index) * self.frames * (2 * self.n_bins + 4 * len(CLASSES))

    def preload(self, device=None, progress: bool = False) -> "PreloadedDatapoints":
        """All datapoints of this split in memory (on ``device``): :class:`PreloadedDatapoints`.

        Serves exactly the items of ``self[i]`` (the spectrogram is kept as the cache's
        float16 values and normalised per batch in float32, as ``__getitem__`` does), but a
        batch is one indexing operation on ``device`` instead of a DataLoader reading
        HDF5 chunks datapoint by datapoint. :meth:`nbytes` tells the memory it takes.
        """
        import torch
        from tqdm.auto import tqdm

        n, T = len(self.index), self.frames
        x = np.zeros((n, T, self.n_bins), np.float16)
        y = np.zeros((n, T, len(CLASSES)), np.float32)
        by_track: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for i, (fi, key, start) in enumerate(self.index):
            by_track.setdefault((fi, key), []).append((i, start))
        for (fi, key), items in tqdm(by_track.items(), desc=f"preload {self.split}", unit="track",
                                     disable=None if progress else True, leave=False):
            spec = self._spec(fi, key)[()]
            for i, start in items:
                part = spec[start:start + T]
                x[i, : len(part)] = part
                fill_targets(y[i], self._onsets[(fi, key)], start, self.widen)
                y[i, len(part):] = 0.0
        self.close()
        return PreloadedDatapoints(torch.from_numpy(x), torch.from_numpy(y), self.mean, self.std, device)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_files"], state["_specs"], state["_pid"] = None, {}, None
        return state

    def close(self) -> None:
        """Close the HDF5 files this process opened."""
        if self._files and self._pid == os.getpid():
            for f in self._files.values():
                try:
                    f.close()
                except Exception:  # pragma: no cover - already closed
                    pass
        self._files, self._specs = None, {}

    def __del__(self):
        try:
            self.close()
        except Exception:  # pragma: no cover
            pass


class PreloadedDatapoints(_TorchDataset):
    """Datapoints held as tensors (on a device): ``x`` float16 raw spectrograms
    (N, frames, bins), zero-padded; ``y`` float32 widened targets (N, frames, 5).

    ``self[i]`` and :meth:`batch` give float32 ``((x - mean) / std, y)``, equal to
    :class:`DatapointDataset`'s items. Made by :meth:`DatapointDataset.preload`;
    ``drumscribe.training`` draws batches with :meth:`batch` (one gather on the device).
    """

    def __init__(self, x, y, mean, std, device=None):
        import torch

        device = torch.device(device or "cpu")
        self.x = x.to(device)
        self.y = y.to(device)
        self.mean = torch.as_tensor(np.asarray(mean, np.float32), device=device)
        self.std = torch.as_tensor(np.asarray(std, np.float32), device=device)
        self.n_bins = int(self.x.shape[-1])
        self.device = device

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def batch(self, indices):
        """``(x, y)`` float32 of the datapoints ``indices`` (a LongTensor), on the device."""
        indices = indices.to(self.device)
        x = (self.x[indices].float() - self.mean) / self.std
        return x, self.y[indices]

    def __getitem__(self, i: int):
        import torch

        x, y = self.batch(torch.as_tensor([int(i)]))
        return x[0], y[0]


def track_arrays(h5_path: str | os.PathLike, split: str, mean: np.ndarray | None = None,
                 std: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray], str]]:
    """Yield ``(spec float32 (frames, bins), onsets, track_id)`` for every track of ``split``.

    Whole tracks, for evaluation. The spectrogram is raw unless ``mean``/``std`` are
    given, then ``(spec - mean) / std``. Tracks in sorted id order.
    """
    with cache.reading(h5_path) as h5:
        for e in cache.entries(h5, split, onsets=True):
            spec = cache.read_spec(h5, e.key)
            if mean is not None and std is not None:
                spec = (spec - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
            yield spec, e.onsets, e.track_id
