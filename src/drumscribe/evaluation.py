"""Evaluation glue: activations → onsets → scores, saved predictions.

The protocol (see ``docs/evaluation.md``): per-class thresholds tuned on the
validation split (:func:`drumscribe.peaks.tune_thresholds`), peak picking with
librosa's semantics (:func:`drumscribe.peaks.pick_onsets`), onsets matched to the
reference within ``window`` seconds (mir_eval), TP/FP/FN summed over all tracks,
then micro / macro / per-class F1 (:func:`drumscribe.metrics.scores`).

Test-split predictions are kept as one JSON file per track
(``{"track_id", "onsets": {class: [s]}, "confidence": {class: [p]}}``), so every
table can be recomputed from them and the references alone
(:func:`scores_from_predictions`), without the model. Reference and prediction files
are read by :mod:`drumscribe.references` (one reader per format).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import CLASSES, FPS, ONSET_WINDOW
from .atomic import write_json
from .errors import InputError
from .labels import onsets_to_json
from .metrics import class_counts, fast_match_count, scores, sum_counts, validate_onsets, validate_window
from .peaks import PeakInputError, pick_onsets
from .references import read_predictions, read_reference

# --------------------------------------------------------------------------- predictions

def predictions_to_json(path: str | os.PathLike, onsets: Mapping, confidences: Mapping | None = None,
                        track_id: str | None = None) -> None:
    """Write one track's predicted onsets (and peak activations) as JSON, atomically.

    Format: ``{"track_id": ..., "onsets": {class: [seconds]}, "confidence": {class: [p]}}``
    (times rounded to µs, confidences to 1e-4). ``track_id`` defaults to the file stem.
    """
    path = Path(path)
    onsets = validate_onsets(onsets, "onsets")
    obj = {"track_id": track_id if track_id is not None else path.stem, "onsets": onsets_to_json(onsets)}
    if confidences is not None:
        conf = {}
        for c in CLASSES:
            vals = np.asarray(confidences.get(c, ()), dtype=np.float64).ravel()
            if vals.size != onsets[c].size:
                raise PeakInputError(f"confidences[{c}]: {vals.size} values for {onsets[c].size} onsets")
            conf[c] = [round(float(v), 4) for v in vals]
        obj["confidence"] = conf
    write_json(path, obj)


# --------------------------------------------------------------------------- scoring

def evaluate_onsets(references: Sequence[Mapping], estimates: Sequence[Mapping], window: float = ONSET_WINDOW,
                    track_ids: Sequence[str] | None = None, method: str = "mir_eval",
                    empty_f1: float | None = None) -> tuple[dict, list[dict]]:
    """Score estimated onsets against references, track by track and pooled.

    Returns ``(scores, per_track)``: ``scores`` from TP/FP/FN summed over all tracks
    (:func:`drumscribe.metrics.scores`), ``per_track`` one scores dict per track (with
    ``track_id``), in input order. ``method="fast"`` uses the O(n) matcher that gives
    mir_eval's counts (tested equal) for speed, e.g. per-epoch validation.
    """
    if len(references) != len(estimates):
        raise PeakInputError(f"estimates: {len(estimates)} tracks for {len(references)} references")
    if not references:
        raise PeakInputError("references: no tracks to evaluate")
    if track_ids is None:
        track_ids = [str(i) for i in range(len(references))]
    if len(track_ids) != len(references):
        raise PeakInputError(f"track_ids: {len(track_ids)} ids for {len(references)} tracks")
    window = validate_window(window)
    per_counts = []
    for t, (ref, est) in enumerate(zip(references, estimates)):
        if method == "mir_eval":
            per_counts.append(class_counts(ref, est, window))
        elif method == "fast":
            r = validate_onsets(ref, f"references[{t}]")
            e = validate_onsets(est, f"estimates[{t}]")
            cc = {}
            for c in CLASSES:
                tp = fast_match_count(r[c], e[c], window)
                cc[c] = (tp, int(e[c].size - tp), int(r[c].size - tp))
            per_counts.append(cc)
        else:
            raise PeakInputError(f"method: expected 'mir_eval' or 'fast', got {method!r}")
    per_track = [{"track_id": tid, **scores(cc, empty_f1)} for tid, cc in zip(track_ids, per_counts)]
    return scores(sum_counts(per_counts), empty_f1), per_track


def evaluate_activations(activations_list: Sequence, references_list: Sequence[Mapping], thresholds,
                         params: Mapping, fps: float = FPS, window: float = ONSET_WINDOW,
                         track_ids: Sequence[str] | None = None, method: str = "mir_eval",
                         empty_f1: float | None = None) -> tuple[dict, list[dict]]:
    """Peak-pick activations with ``thresholds`` and score them (:func:`evaluate_onsets`).

    Parameters
    ----------
    activations_list : sequence of (frames, 5) onset probabilities
    references_list : sequence of reference onsets dicts, same order
    thresholds : per-class thresholds (tuned on validation)
    params : peak-picking parameters in frames (config ``peaks:``)
    fps : frames per second of the activations
    window : onset tolerance in seconds

    Returns
    -------
    (scores, per_track)
    """
    if len(activations_list) != len(references_list):
        raise PeakInputError(f"references_list: {len(references_list)} references for "
                             f"{len(activations_list)} activation matrices")
    estimates = [pick_onsets(a, thresholds, params, fps) for a in activations_list]
    return evaluate_onsets(references_list, estimates, window, track_ids, method, empty_f1)


def scores_from_predictions(pred_dir: str | os.PathLike, references: Mapping[str, object],
                            window: float = ONSET_WINDOW, method: str = "mir_eval",
                            empty_f1: float | None = None) -> dict:
    """Recompute scores from a folder of prediction JSONs and the references.

    ``references`` maps each track id to its onsets dict or to a reference file
    (read with :func:`read_reference`). Every predicted track needs a reference and
    every reference a prediction (``InputError`` otherwise). Returns the pooled scores
    with ``n_tracks`` and ``per_track`` added.
    """
    preds = read_predictions(pred_dir)
    missing = sorted(set(references) - set(preds))
    extra = sorted(set(preds) - set(references))
    if missing:
        raise InputError(f"{pred_dir}: no prediction for track(s) {', '.join(missing[:5])}"
                         f"{' …' if len(missing) > 5 else ''}")
    if extra:
        raise InputError(f"{pred_dir}: prediction(s) without a reference: {', '.join(extra[:5])}"
                         f"{' …' if len(extra) > 5 else ''}")
    ids = sorted(preds)
    refs = []
    for tid in ids:
        ref = references[tid]
        refs.append(read_reference(ref) if isinstance(ref, (str, os.PathLike)) else ref)
    pooled, per_track = evaluate_onsets(refs, [preds[t] for t in ids], window, ids, method, empty_f1)
    return {**pooled, "n_tracks": len(ids), "per_track": per_track}
