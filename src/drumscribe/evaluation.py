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

import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import CLASSES, DATAPOINT_FRAMES, FPS, ONSET_WINDOW, resolve_device
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


# --------------------------------------------------------------------------- a model on feature caches
# (rules evaluate, evaluate_seed, release_evaluate; the activations of drumscribe.inference,
# the path `drumscribe transcribe` runs)


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` for a job's ``threads:`` (None: torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def cache_dataset_name(h5_path: str | os.PathLike) -> str:
    """The dataset name a feature cache was built for (its ``dataset`` attribute; a corrupt
    cache: one line, set aside for the rerun to rebuild)."""
    from .cache import dataset_name, verify_cache

    verify_cache(h5_path)
    return dataset_name(h5_path)


def split_activations(model, h5_paths: Sequence[str | os.PathLike], split: str, mean, std,
                      chunk_frames: int = DATAPOINT_FRAMES, device=None, fps: float = FPS) -> list[tuple[str, np.ndarray, dict]]:
    """``[(track_id, activations, reference onsets)]`` of every ``split`` track of the caches:
    whole tracks through :func:`drumscribe.inference.batch_activations` (normalised with
    ``mean``/``std``; chunks of ``chunk_frames``, the default context)."""
    from . import inference, targets

    tracks = [(tid, spec, onsets) for path in h5_paths for spec, onsets, tid in targets.track_arrays(path, split)]
    acts = inference.batch_activations(model, [spec for _, spec, _ in tracks], mean=mean, std=std,
                                       chunk_frames=chunk_frames, context_frames=int(round(inference.CONTEXT_S * fps)),
                                       device=device)
    return [(tid, act, onsets) for (tid, _, onsets), act in zip(tracks, acts)]


def score_activations(items, thresholds, peak_params: Mapping, fps: int, window: float,
                      method: str = "mir_eval") -> tuple[dict, list[dict]]:
    """Peak-pick ``[(track_id, activations, reference)]`` and score them with global counts
    (:func:`evaluate_activations`): ``(scores, per_track)``."""
    return evaluate_activations([a for _, a, _ in items], [r for _, _, r in items], thresholds, peak_params, fps,
                                window, track_ids=[t for t, _, _ in items], method=method)


def read_best(best_json: str | os.PathLike) -> dict:
    """A search's ``best.json`` (rule select_best) as a dict; one ``InputError`` line naming the
    file when it cannot be read."""
    path = Path(best_json)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable ({exc})") from None


def best_model(best_json: str | os.PathLike) -> Path:
    """The ``model.pt`` of the trial a ``best.json`` (rule select_best) names."""
    path = Path(best_json)
    best = read_best(path)
    model = Path(best["trial_dir"]) / "model.pt"
    if not model.is_file():
        raise InputError(f"{path}: the best trial's model {model} does not exist")
    return model


def evaluate(model: str | os.PathLike, h5_paths: str | os.PathLike | Sequence[str | os.PathLike],
             splits: Sequence[str] | Mapping[str, Sequence[str]],
             out_metrics: str | os.PathLike, out_predictions: str | os.PathLike,
             window: float = ONSET_WINDOW, test_dataset: str | None = None, threads: int | None = None,
             device: str | None = "auto") -> dict:
    """Test a checkpoint on the test split(s) of one or more feature caches with its validation-tuned thresholds.

    ``model`` is a ``model.pt`` or the ``best.json`` of a search. ``h5_paths`` is one
    cache or several (a combination ``a+b`` is tested on the pooled tracks of its
    members); ``splits`` is a list of splits for every cache, or ``{dataset: splits}``.
    The activations are those of :mod:`drumscribe.inference` (chunks of the checkpoint's
    training length, stitched), what ``drumscribe transcribe`` computes. Writes the
    scores (micro, macro and per-class F1 from counts summed over every track; the
    onset tolerance ``window`` in seconds) with what was tested to ``out_metrics``, and one JSON of onsets per track
    into the ``out_predictions`` folder (both atomically). Each cache must have the
    checkpoint's feature config.
    """
    from . import cache, models, peaks
    from . import features as feat
    from .atomic import atomic_dir
    from .config import members
    from .inference import default_chunk as inference_chunk

    set_threads(threads)
    if isinstance(h5_paths, (str, os.PathLike)):
        h5_paths = [h5_paths]
    h5_paths = [Path(p) for p in h5_paths]
    names = [cache_dataset_name(p) for p in h5_paths]
    test_dataset = test_dataset or "+".join(names)
    model = Path(model)
    if model.suffix == ".json":
        model = best_model(model)
    net, meta = models.load_checkpoint(model, map_location="cpu")
    cfg = feat.FeatureConfig.from_dict(meta["feature_config"])
    dev = resolve_device(device, "training.device")
    net.to(dev)
    mean, std = meta["norm_mean"], meta["norm_std"]
    thresholds, peak_params = models.checkpoint_thresholds(model, meta), meta["peak_params"]
    chunk = int(round(inference_chunk(meta, cfg.fps) * cfg.fps))
    items = []
    used_splits = {}
    for path, name in zip(h5_paths, names):
        cache.check_cache(path, cfg)
        wanted = list(splits.get(name, ["test"]) if isinstance(splits, Mapping) else splits)
        used_splits[name] = wanted
        for split in wanted:
            items += split_activations(net, [path], split, mean, std, chunk, dev, cfg.fps)
    if not items:
        raise InputError(f"{', '.join(map(str, h5_paths))}: no tracks in the split(s) tested ({used_splits})")
    train_datasets = list(meta.get("datasets") or [])
    result = {
        "test_dataset": test_dataset,
        "splits": sorted({s for v in used_splits.values() for s in v}, key=["train", "validation", "test"].index),
        "splits_per_dataset": used_splits,
        "train_dataset": "+".join(train_datasets),
        "arch": meta["arch"],
        "trial": meta.get("trial"),
        "seed": int(meta.get("seed") or 0),
        "params": meta["params"],
        "zero_shot": not set(members(test_dataset)) <= set(train_datasets),
        "n_tracks": len(items),
        "window": window,
        "thresholds": thresholds,
        "model": str(model),
    }
    scores, per_track = score_activations(items, thresholds, peak_params, cfg.fps, window)
    result.update(scores)
    result["per_track"] = per_track
    with atomic_dir(out_predictions) as tmp:
        for tid, act, _ in items:
            onsets, conf = peaks.pick_onsets_with_confidence(act, thresholds, peak_params, cfg.fps)
            predictions_to_json(Path(tmp) / f"{tid.replace('/', '__')}.json", onsets, conf, track_id=tid)
    write_json(out_metrics, result)
    return result
