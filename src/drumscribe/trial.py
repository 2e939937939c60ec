"""One trial on feature caches (rules ``train_trial``, ``train_seed``, ``release_train``).

:func:`train_trial` takes the train and validation splits of HDF5 feature caches,
fits the model (:func:`drumscribe.training.fit`) with a :class:`CacheValidator` asked
every epoch, and writes the kept epoch's ``model.pt`` and ``metrics.json``.
:class:`CacheValidator` runs the model over whole validation tracks through
:mod:`drumscribe.inference` (the path ``drumscribe transcribe`` runs), tunes per-class
thresholds on them and scores them: thresholds are tuned on the activations users get.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import DATAPOINT_FRAMES, cache
from . import inference, peaks as peaks_mod, targets as targets_mod
from . import training as train_mod
from .atomic import write_json
from .config import peak_params_of
from .errors import ConfigError, InputError
from .evaluation import score_activations, set_threads
from .training import ValidationResult


class CacheValidator:
    """The per-epoch validation of a trial on cached tracks (a :class:`training.Validator`).

    ``tracks`` are ``[(track_id, raw spectrogram, reference onsets)]`` (e.g.
    ``targets.track_arrays(h5, "validation")``). :meth:`validate` computes their
    activations (:func:`drumscribe.inference.batch_activations`, normalised with
    ``mean``/``std``, chunks of ``chunk_frames``), tunes per-class thresholds on them over
    ``threshold_grid`` (``peaks.tune_thresholds``) and scores them: each epoch is scored
    with thresholds of its own, since with one fixed threshold an early, under-confident
    model scores 0 and model selection would be blind. ("fast" matching gives mir_eval's
    counts: tests/test_metrics.py.)
    """

    def __init__(self, tracks: Sequence[tuple[str, np.ndarray, Mapping]], mean, std, peak_params: Mapping,
                 fps: int, window: float, threshold_grid, default_threshold: float = peaks_mod.DEFAULT_THRESHOLD,
                 chunk_frames: int = DATAPOINT_FRAMES):
        if not tracks:
            raise InputError("no validation tracks")
        self.tracks, self.mean, self.std = list(tracks), mean, std
        self.peak_params, self.fps, self.window = dict(peak_params), int(fps), float(window)
        self.threshold_grid, self.default_threshold = threshold_grid, float(default_threshold)
        self.chunk_frames = int(chunk_frames)
        self.context_frames = int(round(inference.CONTEXT_S * self.fps))

    def activations(self, model) -> list[np.ndarray]:
        """The activations of every validation track (the one inference path)."""
        return inference.batch_activations(model, [spec for _, spec, _ in self.tracks], mean=self.mean,
                                           std=self.std, chunk_frames=self.chunk_frames,
                                           context_frames=self.context_frames)

    def validate(self, model) -> ValidationResult:
        return self.score(self.activations(model))

    def score(self, acts: Sequence[np.ndarray]) -> ValidationResult:
        """Thresholds tuned on the activations of the tracks, the scores with them and with
        the default threshold."""
        items = [(tid, act, ref) for (tid, _, ref), act in zip(self.tracks, acts)]
        thresholds = peaks_mod.tune_thresholds(acts, [r for _, _, r in items], self.peak_params, self.fps,
                                               self.window, self.threshold_grid)
        scores, _ = score_activations(items, thresholds, self.peak_params, self.fps, self.window, method="fast")
        fixed, _ = score_activations(items, self.default_threshold, self.peak_params, self.fps, self.window,
                                     method="fast")
        return ValidationResult(score=scores["micro_f1"] or 0.0, thresholds=thresholds, scores=scores,
                                extra={"macro_f1": scores["macro_f1"],
                                       "micro_f1_default_threshold": fixed["micro_f1"] or 0.0})


def feature_config_of(h5_paths: Sequence[str | os.PathLike]):
    """The one feature config shared by ``h5_paths`` (``InputError`` when they differ)."""
    cfgs = [(Path(p), cache.cache_config(p)) for p in h5_paths]
    first_path, first = cfgs[0]
    for path, cfg in cfgs[1:]:
        if cfg.hash() != first.hash():
            raise InputError(f"{path}: feature config {cfg.hash()} differs from {first_path}'s {first.hash()}")
    return first


def train_trial(arch: str, params: Mapping[str, Any], train_h5s: Sequence[str | os.PathLike],
              out_model: str | os.PathLike, out_history: str | os.PathLike, out_metrics: str | os.PathLike,
              training: Mapping, targets: Mapping, peaks: Mapping, evaluation: Mapping,
              threads: int | None = None, progress: bool = True, seed: int = 0,
              trial: str | None = None) -> dict:
    """Train one trial on the caches ``train_h5s`` and tune its thresholds on validation.

    1. Normalisation statistics, class weights and datapoints come from the **train**
       split(s) of ``train_h5s`` only (``cache.norm_stats``, ``targets.class_weights``,
       ``targets.DatapointDataset``); validation datapoints use the same statistics.
    2. ``training.fit`` fits the model in ``out_model``'s folder (history,
       resumable ``checkpoint.pt``); after each epoch a :class:`CacheValidator`
       peak-picks the whole validation tracks with per-class thresholds tuned on them,
       and the epoch with the best validation micro F1 is kept.
    3. Per-class thresholds are tuned on the **validation** split only
       (``peaks.tune_thresholds`` over ``peaks.threshold_grid``); the kept epoch's
       go into ``model.pt`` with the normalisation, feature config and peak parameters.
    4. ``out_metrics`` gets the validation scores with the tuned thresholds, the
       thresholds, parameters, epochs and seconds (what ``select_best`` ranks).

    ``seed`` > 0 makes this a seed run (:func:`train_seed`): trained with
    ``training.seed + seed``; ``seed`` and ``trial`` (default: the folder's name) are
    recorded in ``model.pt`` and ``out_metrics``.
    """
    t_start = time.perf_counter()
    out_dir = Path(out_model).parent
    seed = int(seed)
    if seed:
        training = {**training, "seed": int(training.get("seed") or 0) + seed}
    if Path(out_history).parent != out_dir or Path(out_metrics).parent != out_dir:
        raise ConfigError(f"{out_dir}: model, history and metrics must share one trial folder")
    set_threads(threads)
    train_h5s = [Path(p) for p in train_h5s]
    for p in train_h5s:
        cache.verify_cache(p)  # a corrupt cache: one line, set aside for the rerun to rebuild
    cfg = feature_config_of(train_h5s)
    fps = int(cfg.fps)
    frames, widen = int(targets["datapoint_frames"]), float(targets["widen"])
    peak_params = peak_params_of(peaks)
    window = float(evaluation["window"])
    mean, std = cache.norm_stats(train_h5s)
    train_data = targets_mod.DatapointDataset(train_h5s, "train", frames, widen, mean, std, fps)
    val_data = targets_mod.DatapointDataset(train_h5s, "validation", frames, widen, mean, std, fps)
    pos_weight = targets_mod.class_weights(train_h5s, "train", widen, fps)
    val_tracks = [(tid, spec, onsets) for p in train_h5s
                  for spec, onsets, tid in targets_mod.track_arrays(p, "validation")]
    if not val_tracks:
        raise InputError(f"{', '.join(map(str, train_h5s))}: no validation tracks")
    default_threshold = peaks_mod.default_threshold(peaks)
    validator = CacheValidator(val_tracks, mean, std, peak_params, fps, window, peaks["threshold_grid"],
                               default_threshold, chunk_frames=frames)
    datasets_ = [cache.dataset_name(p) for p in train_h5s]  # verified above
    meta = {
        "feature_config": cfg.to_dict(), "norm_mean": mean, "norm_std": std, "peak_params": peak_params,
        "datasets": datasets_, "trial": trial or out_dir.name, "seed": seed, "datapoint_frames": frames,
        "widen": widen,
        # the level the caches' audio was brought to, so that transcription levels its input the
        # same way (None for caches without it: the input at its own level, as in training)
        "input_level_db": cache.input_level_db(train_h5s),
    }
    t_train = time.perf_counter()
    summary = train_mod.fit(arch, dict(params), train_data, val_data, out_dir, training,
                             progress=progress, pos_weight=pos_weight, validator=validator, meta=meta, threads=threads)
    train_data.close()
    val_data.close()

    # the kept epoch's validation scores and thresholds (tuned on the validation split only)
    best: ValidationResult = summary["validation"]
    scores, thresholds = dict(best.scores), dict(best.thresholds)
    result = {
        "trial": trial or out_dir.name, "seed": seed, "dataset": "+".join(datasets_), "arch": arch,
        "params": summary["params"],
        **{k: v for k, v in scores.items()},
        "thresholds": thresholds,
        "val_micro_f1_default_threshold": best.extra["micro_f1_default_threshold"],
        "default_threshold": default_threshold,
        "epochs": summary["epochs"], "best_epoch": summary["best_epoch"],
        "best_val_loss": summary["best_val_loss"], "stopped_early": summary["stopped_early"],
        "seconds": summary["seconds"], "datapoints_per_s": summary["datapoints_per_s"],
        "device": summary["device"], "n_train_datapoints": len(train_data),
        "n_val_tracks": len(val_tracks), "class_weights": [float(w) for w in np.asarray(pos_weight)],
        # where the trial's time went (s): data loading before training, training with its
        # per-epoch validation (threshold tuning and scoring included)
        "setup_seconds": round(t_train - t_start, 3), "train_seconds": round(time.perf_counter() - t_train, 3),
    }
    if result["micro_f1"] is None:  # no onset and no prediction at all in validation
        result["micro_f1"] = 0.0
    write_json(out_metrics, result)
    return result


def train_seed(best_json: str | os.PathLike, seed: int, train_h5s: Sequence[str | os.PathLike],
             out_model: str | os.PathLike, out_history: str | os.PathLike, out_metrics: str | os.PathLike,
             training: Mapping, targets: Mapping, peaks: Mapping, evaluation: Mapping,
             threads: int | None = None, progress: bool = True) -> dict:
    """Retrain the winner of a search (its ``best.json``) with another seed (rule train_seed).

    The same architecture, hyperparameters and data as the winning trial, trained with
    ``training.seed + seed`` (seed 0 is the trial itself, so ``seed`` >= 1); see
    :func:`train_trial`. The tables pool the seed runs (``evaluation.seeds``).
    """
    path = Path(best_json)
    try:
        best = json.loads(path.read_text())
        arch, params, trial = best["metrics"]["arch"], best["metrics"]["params"], best["trial"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a search result ({type(exc).__name__}: {exc})") from None
    if int(seed) < 1:
        raise ConfigError(f"seed: {seed} is not a seed run (seed 0 is the search trial itself)")
    return train_trial(arch, params, train_h5s, out_model, out_history, out_metrics, training, targets, peaks,
                     evaluation, threads=threads, progress=progress, seed=int(seed), trial=str(trial))
