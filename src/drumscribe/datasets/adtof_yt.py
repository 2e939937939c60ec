"""ADTOF-YT (Zehren et al., 2023): distributed as precomputed features, read as they are.

The dataset comes (by request, Zenodo record 10.5281/zenodo.10084510) not as audio but
as TensorFlow ``tf.data.Dataset.save`` exports. Each element is
``({"x": float32 (400 frames, 84 bins, 1)}, target float32 (400, 5))``: 4 s of ADTOF's
log-filtered spectrogram (madmom chain, 100 frames/s) and the frame targets of the
classes BD, SD, TT, HH, CY+RD (the same column order as :data:`drumscribe.CLASSES`).

Layout expected under ``root``: one or more export folders (each holds
``dataset_spec.pb`` and ``snapshot.metadata``), anywhere below ``root``. The split
is the first path component (below ``root``) named ``train``, ``validation``
(or ``valid``/``val``) or ``test``; exports without one are split by folder with
:func:`~drumscribe.datasets.splits.grouped_split` (seed 0).

Tracks: an export is cut into tracks of :data:`ELEMENTS_PER_TRACK` consecutive
elements (10 minutes); ``Track.features()`` returns their ``(frames, 84)`` features
and ``Track.load_onsets()`` the onsets read back from the targets
(:func:`target_to_onsets`: a frame whose target reaches 0.5 and rises above the
previous frame is an onset, at ``frame / 100`` s plus the element's offset). Both
need TensorFlow, an optional extra: ``pip install drumscribe[adtof]``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from .. import CLASSES, FPS
from ..errors import ConfigError, InputError
from .base import SPLITS, DatasetSpec, Track
from .download import require_layout
from .splits import grouped_split

NAME = "adtof_yt"
FRAMES_PER_ELEMENT = 400
N_BINS = 84
ELEMENTS_PER_TRACK = 150
SPEC_FILE = "dataset_spec.pb"
_SPLIT_NAMES = {"train": "train", "training": "train", "validation": "validation", "valid": "validation",
                "val": "validation", "test": "test"}


def _tf():
    """Import TensorFlow lazily, with the install hint when it is missing."""
    try:
        import tensorflow as tf  # noqa: F401
    except ImportError:
        raise ConfigError(f"{NAME}: reading ADTOF's tf.data exports needs TensorFlow: "
                          "pip install drumscribe[adtof]") from None
    return tf


def target_to_onsets(target: np.ndarray, fps: float = FPS, offset: float = 0.0,
                     threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Onset times (s) per class from a ``(frames, 5)`` frame-target matrix.

    A frame ``t`` is an onset of a class when ``target[t] >= threshold``,
    ``target[t] > target[t-1]`` (or ``t == 0``) and ``target[t] >= target[t+1]``: the
    rising peak of each run, so widened neighbours (e.g. 0.5 around a 1) give one
    onset. Time = ``offset + t / fps``.

    Examples
    --------
    >>> y = np.zeros((6, 5)); y[2, 0] = 1; y[1, 0] = y[3, 0] = 0.5; y[5, 3] = 1
    >>> on = target_to_onsets(y)
    >>> on["BD"].tolist(), on["HH"].tolist()
    ([0.02], [0.05])
    """
    y = np.asarray(target, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != len(CLASSES):
        raise InputError(f"target matrix: expected shape (frames, {len(CLASSES)}), got {y.shape}")
    prev = np.vstack([np.full((1, y.shape[1]), -np.inf), y[:-1]])
    nxt = np.vstack([y[1:], np.full((1, y.shape[1]), -np.inf)])
    peaks = (y >= threshold) & (y > prev) & (y >= nxt)
    return {c: offset + np.flatnonzero(peaks[:, i]).astype(np.float64) / fps for i, c in enumerate(CLASSES)}


def _split_of(export: Path, root: Path) -> str | None:
    for part in export.relative_to(root).parts:
        if part.lower() in _SPLIT_NAMES:
            return _SPLIT_NAMES[part.lower()]
    return None


def _elements(export: Path, start: int, count: int):
    tf = _tf()
    try:
        ds = tf.data.Dataset.load(str(export))
    except Exception as exc:
        raise InputError(f"{export}: not a readable tf.data export ({type(exc).__name__})") from None
    for x, y in ds.skip(start).take(count).as_numpy_iterator():
        x = x["x"] if isinstance(x, dict) else x
        yield np.asarray(x, dtype=np.float32).reshape(-1, N_BINS), np.asarray(y, dtype=np.float32)


def load_features(export: Path, start: int, count: int) -> np.ndarray:
    """``(frames, 84)`` float32 features of elements ``start .. start+count`` of an export."""
    parts = [x for x, _ in _elements(export, start, count)]
    return np.concatenate(parts) if parts else np.zeros((0, N_BINS), np.float32)


def load_onsets(export: Path, start: int, count: int) -> dict[str, np.ndarray]:
    """Onsets (s, from the track's start) of elements ``start .. start+count`` of an export."""
    ys = [y.reshape(-1, len(CLASSES)) for _, y in _elements(export, start, count)]
    return target_to_onsets(np.concatenate(ys) if ys else np.zeros((0, len(CLASSES))))


def exports(root: str | Path) -> list[Path]:
    """Every ``tf.data.Dataset.save`` folder under ``root`` (sorted)."""
    root = require_layout(root, NAME)
    found = sorted({p.parent for p in root.rglob(SPEC_FILE)})
    if not found:
        raise InputError(f"{root}: not an {NAME} folder (no tf.data export with {SPEC_FILE} below it)")
    return found


def tracks(root: str | Path, elements_per_track: int = ELEMENTS_PER_TRACK) -> list[Track]:
    """List ADTOF-YT tracks: each export cut into ``elements_per_track`` 4 s elements."""
    root = Path(root)
    found = exports(root)
    tf = _tf()
    splits = {e: _split_of(e, root) for e in found}
    unsplit = [e for e in found if splits[e] is None]
    splits.update(zip(unsplit, grouped_split([str(e) for e in unsplit], seed=0)))
    out: list[Track] = []
    for export in found:
        try:
            n = int(tf.data.Dataset.load(str(export)).cardinality().numpy())
        except Exception as exc:
            raise InputError(f"{export}: not a readable tf.data export ({type(exc).__name__})") from None
        if n < 0:  # unknown cardinality: count once
            n = sum(1 for _ in tf.data.Dataset.load(str(export)))
        name = "_".join(export.relative_to(root).parts) or export.name
        for start in range(0, n, elements_per_track):
            count = min(elements_per_track, n - start)
            assert splits[export] in SPLITS
            out.append(Track(
                track_id=f"{name}_{start // elements_per_track:05d}", split=splits[export], group=name,
                audio=(), load_onsets=partial(load_onsets, export, start, count),
                features=partial(load_features, export, start, count), annotation=export,
                meta={"export": str(export), "first_element": start, "elements": count}))
    return out


SPEC = DatasetSpec(
    name=NAME,
    description="ADTOF-YT: precomputed 84-bin features + 5-class targets (tf.data exports), read as they are",
    license="research use (by request from the authors)",
    tracks=tracks,
    label_map={c: c for c in CLASSES},
    downloads=(),  # by request only: Zenodo 10.5281/zenodo.10084510
    path_key=NAME,
    citation="M. Zehren, M. Alunno, P. Bientinesi. High-quality and reproducible automatic drum "
             "transcription from crowdsourced data. Signals 4(4), 2023.",
)
