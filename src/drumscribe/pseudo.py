"""Labels for unlabelled real music from a teacher model (self-training, issue 11).

The only real drums with labels here are the MDB dev songs' stems, and they are the test
songs too, so a fold trains on four of them. Real *mixed and mastered* music with drums is
in Debian without labels: the Frets on Fire songs' ``song.ogg`` (the pool's ``band`` rows,
source ``fretsonfire_band``). A teacher transcribes each of them as ``drumscribe
transcribe`` would, on the clean band; the student then trains on the same audio under
more accompaniment and the record chain (:class:`drumscribe.mixing.MixDataset` with
``p_pseudo``), so it learns to find in degraded music what the teacher found in clean music
("noisy student", Xie et al. 2020).

Fold ``k``'s teacher must not have heard fold ``k``'s test or validation songs (a teacher
that trained on a test song would hand its knowledge of that song to the student through
the labels): ``crossval.train_fold`` checks the teacher's fold, recorded in the labels
file, as it checks a start (``crossval.check_init_songs``).

File (``results/crossval/{fold}/pseudo_labels.json``, written atomically)::

    {"teacher": path, "teacher_fold": {...} | null, "thresholds": {class: t},
     "labels": {pool file: {class: [onset seconds]}}, "seconds": ..., "n_onsets": {class: n}}
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import CLASSES
from .errors import InputError

#: the pool kind a teacher labels
KIND = "band"


def pseudo_labels(teacher: str | os.PathLike, pool_dir: str | os.PathLike, out_json: str | os.PathLike,
                  device: str = "cpu", threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Transcribe every ``band`` row of the pool at ``pool_dir`` with ``teacher`` (a
    checkpoint, on the path ``drumscribe transcribe`` runs) and write the onsets to
    ``out_json``. Returns what was written. ``InputError`` for a pool without such rows."""
    from tqdm import tqdm

    from . import pool as pool_mod
    from .atomic import write_json
    from .transcribe import Transcriber

    t0 = time.perf_counter()
    table = pool_mod.read_pool(pool_dir)
    rows = table[table["kind"] == KIND]
    if rows.empty:
        raise InputError(f"{Path(pool_dir) / 'pool.csv'}: no unlabelled music (kind {KIND}: pool source "
                         "fretsonfire_band) for the teacher to label")
    t = Transcriber(teacher, device=device, threads=threads)
    labels: dict[str, dict[str, list[float]]] = {}
    for r in tqdm(list(rows.itertuples(index=False)), desc="pseudo labels", disable=None if progress else True):
        result = t.transcribe(Path(pool_dir) / r.file, keep_activations=False)
        labels[str(r.file)] = {c: [round(float(x), 4) for x in result.onsets[c]] for c in CLASSES}
    out = {
        "teacher": str(teacher), "teacher_fold": t.meta.get("fold"),
        "thresholds": {c: float(v) for c, v in t.thresholds.items()},
        "labels": labels, "n_onsets": {c: int(sum(len(v[c]) for v in labels.values())) for c in CLASSES},
        "seconds": round(time.perf_counter() - t0, 3),
    }
    write_json(out_json, out)
    return out


def read_pseudo_labels(path: str | os.PathLike) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """``({pool file: {class: onset seconds}}, {"teacher": path, "fold": the teacher's fold})``
    of a labels file; ``InputError`` for a file that is not such labels. The caller checks the
    teacher's fold against its own (``crossval.check_init_songs``)."""
    import json

    try:
        doc = json.loads(Path(path).read_text())
        labels = doc["labels"]
        out = {str(f): {c: np.asarray(v.get(c, ()), np.float64) for c in CLASSES} for f, v in labels.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a pseudo-labels file ({type(exc).__name__}: {exc})") from None
    return out, {"teacher": str(doc.get("teacher", path)), "fold": doc.get("teacher_fold")}


def band_tracks(pool: Any, labels: Mapping[str, Mapping[str, np.ndarray]], load,
                keep: Callable[[str], bool] = lambda family: True, fps: int = 100) -> list:
    """The pool's ``band`` rows whose family ``keep`` accepts (a fold's training families:
    ``crossval.family_split``) as pseudo-labelled :class:`~drumscribe.mixing.DrumTrack` s;
    ``InputError`` for a row the labels lack."""
    from . import mixing

    out = []
    for r in pool[pool["kind"] == KIND].itertuples(index=False):
        if not keep(str(r.family)):
            continue
        if str(r.file) not in labels:
            raise InputError(f"pseudo labels: no labels for pool file {r.file} (rebuild them: rule pseudo_labels)")
        out.append(mixing.drum_track(load(r.file), labels[str(r.file)], f"band/{r.song}", real=True,
                                     has_accompaniment=True, fps=fps, pseudo=True))
    return out
