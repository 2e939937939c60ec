"""Peak picking: frame activations → onset times, and per-class threshold tuning.

The picker is Böck's (Böck, Krebs & Schedl, "Evaluating the Online Capabilities of
Onset Detection Methods", ISMIR 2012) as used for drums by Vogl et al. (ISMIR 2017)
and ADTOF (Zehren et al. 2021/2023), with the exact semantics of
``librosa.util.peak_pick`` (librosa 0.10/0.11). Frame ``n`` is a peak when

1. ``x[n] == max(x[n - pre_max : n + post_max])``  (half-open window, clipped at the edges),
2. ``x[n] >= mean(x[n - pre_avg : n + post_avg]) + delta``,
3. ``n - previous_peak > wait`` (greedy, left to right).

All parameters are in **frames** (100 frames/s by default). ``delta`` is the per-class
threshold. See ``docs/evaluation.md`` for the parameter choice.

:func:`peak_pick` is a vectorised numpy re-implementation that returns the same
indices as librosa's numba loop, bit for bit: the moving mean is accumulated in the
same order and precision (float32 for float32 input, float64 otherwise, ``delta``
rounded to float32 as librosa's ufunc signature does). The equality is checked by
``tests/test_peaks.py`` against the installed librosa. The numpy path is the default
because the threshold-independent part (local maxima, moving mean) can then be
computed once and reused for every threshold of :func:`tune_thresholds`;
``backend="librosa"`` calls librosa itself.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from . import CLASSES, FPS, ONSET_WINDOW
from .errors import ConfigError, InputError
from .metrics import fast_match_count, validate_window

#: Keys of the ``peaks:`` config section that :func:`pick_onsets` uses (all in frames).
PEAK_PARAM_KEYS: tuple[str, ...] = ("pre_max", "post_max", "pre_avg", "post_avg", "wait")

#: Vogl's / ADTOF's parameters (madmom ``pre_max=0.02 s, post_max=0.01 s, pre_avg=0.1 s,
#: post_avg=0.01 s, combine=0.02 s`` at 100 frames/s) in librosa's half-open windows.
DEFAULT_PEAK_PARAMS: dict[str, int] = {"pre_max": 2, "post_max": 2, "pre_avg": 10, "post_avg": 2, "wait": 2}

#: Default threshold grid searched on the validation split (config ``peaks.threshold_grid``).
DEFAULT_THRESHOLD_GRID: tuple[float, ...] = (
    0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)

#: The fixed threshold whose validation micro F1 a trial records beside the tuned ones
#: (config ``peaks.default_threshold``); also the placeholder of a model whose thresholds
#: are not tuned yet (a model in training, ``Transcriber.from_model``).
DEFAULT_THRESHOLD: float = 0.5

# config keys of the ``peaks:`` section that are not picker parameters
_OTHER_PEAK_KEYS = ("threshold_grid", "default_threshold")


def default_threshold(peaks_section: Mapping | None) -> float:
    """``default_threshold`` of a ``peaks:`` config section, :data:`DEFAULT_THRESHOLD` where absent."""
    value = (peaks_section or {}).get("default_threshold", DEFAULT_THRESHOLD)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"peaks.default_threshold: {value!r} is not a threshold in [0, 1]")
    return float(value)


class PeakInputError(InputError, ValueError):
    """An array argument of the peak picker is invalid (also a ``ValueError``, as in mir_eval)."""


# --------------------------------------------------------------------------- picker core

def _as_signal(x) -> np.ndarray:
    """Cast ``x`` to the dtype librosa's ufunc loop would use (float32, float64 or int64)."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise PeakInputError(f"x: expected a 1-D array, got shape {x.shape}")
    if x.dtype == np.float64:
        return x
    if x.dtype in (np.float16, np.float32):
        return x.astype(np.float32, copy=False)
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        return x.astype(np.int64)
    raise PeakInputError(f"x: unsupported dtype {x.dtype} (expected real numbers)")


def _check_window_params(pre_max, post_max, pre_avg, post_avg, wait) -> tuple[int, int, int, int, int]:
    vals = {"pre_max": pre_max, "post_max": post_max, "pre_avg": pre_avg, "post_avg": post_avg, "wait": wait}
    out = {}
    for key, val in vals.items():
        if isinstance(val, (bool, np.bool_)) or not isinstance(val, (int, np.integer, float, np.floating)):
            raise ConfigError(f"peaks.{key}: expected a whole number of frames, got {val!r}")
        if not np.isfinite(val):
            raise ConfigError(f"peaks.{key}: expected a whole number of frames, got {val!r}")
        ival = int(np.ceil(val))  # librosa: valid_int(..., cast=np.ceil)
        minimum = 1 if key in ("post_max", "post_avg") else 0
        if ival < minimum:
            raise ConfigError(f"peaks.{key}: must be >= {minimum} frames, got {val!r}")
        out[key] = ival
    return out["pre_max"], out["post_max"], out["pre_avg"], out["post_avg"], out["wait"]



class _Prepared:
    """The threshold-independent part of the picker for one signal.

    ``is_max[n]`` is condition 1; ``mean[n]`` the moving mean of condition 2, in the
    accumulator dtype librosa uses.
    """

    __slots__ = ("x", "is_max", "mean", "acc")

    def __init__(self, x: np.ndarray, pre_max: int, post_max: int, pre_avg: int, post_avg: int):
        x = _as_signal(x)
        if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
            raise PeakInputError("x: contains NaN or infinite values")
        self.x = x
        n = x.shape[0]
        if n == 0:
            self.is_max = np.zeros(0, dtype=bool)
            self.acc = np.float32 if x.dtype == np.float32 else np.float64
            self.mean = np.zeros(0, dtype=self.acc)
            return
        # condition 1: local maximum over [n - pre_max, n + post_max)
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(np.int64).min
        xp = np.concatenate([np.full(pre_max, low, x.dtype), x, np.full(post_max - 1, low, x.dtype)])
        m = xp[:n].copy()
        for k in range(1, pre_max + post_max):
            np.maximum(m, xp[k:k + n], out=m)
        self.is_max = x == m
        # condition 2: mean over [n - pre_avg, n + post_avg), clipped, summed left to right
        # in the accumulator dtype (zero padding leaves a sequential float sum unchanged)
        acc = np.float32 if x.dtype == np.float32 else np.float64
        xa = x.astype(acc)
        xp = np.concatenate([np.zeros(pre_avg, acc), xa, np.zeros(post_avg - 1, acc)])
        s = np.zeros(n, dtype=acc)
        for k in range(pre_avg + post_avg):
            s += xp[k:k + n]
        idx = np.arange(n)
        count = np.minimum(idx + post_avg, n) - np.maximum(0, idx - pre_avg)
        self.mean = (s.astype(np.float64) / count).astype(acc)
        self.acc = acc

    def pick(self, delta: float, wait: int) -> np.ndarray:
        """Indices of the peaks for threshold ``delta`` (conditions 2 and 3)."""
        d = self.acc(np.float32(delta))  # librosa's ufunc takes delta as float32
        cand = np.flatnonzero(self.is_max & (self.x >= self.mean + d))
        if wait == 0 or cand.size < 2:
            return cand.astype(np.int64)
        # greedy: a candidate survives if it is more than `wait` frames after the last kept one;
        # candidates more than `wait` after their predecessor always survive
        gaps_ok = np.empty(cand.size, dtype=bool)
        gaps_ok[0] = True
        gaps_ok[1:] = np.diff(cand) > wait
        if gaps_ok.all():
            return cand.astype(np.int64)
        keep = []
        last = -wait - 1
        for c in cand.tolist():
            if c - last > wait:
                keep.append(c)
                last = c
        return np.asarray(keep, dtype=np.int64)


def picker_mean(x, pre_avg: int, post_avg: int) -> np.ndarray:
    """The moving mean the picker compares ``x`` with (condition 2: a peak needs
    ``x[n] >= mean[n] + threshold``), over ``[n - pre_avg, n + post_avg)`` as
    :func:`peak_pick` computes it; for analyses of why a peak was not picked."""
    _, _, pre_avg, post_avg, _ = _check_window_params(0, 1, pre_avg, post_avg, 0)
    return _Prepared(x, 1, 1, pre_avg, post_avg).mean


def peak_pick(x, pre_max: int, post_max: int, pre_avg: int, post_avg: int, delta: float, wait: int,
              *, backend: str = "numpy") -> np.ndarray:
    """Indices of the peaks of a 1-D signal, with ``librosa.util.peak_pick``'s semantics.

    Parameters
    ----------
    x : np.ndarray, shape (frames,)
        Activation function (e.g. a class's onset probability per frame).
    pre_max, post_max : int, frames
        Local-maximum window ``[n - pre_max, n + post_max)``; ``post_max >= 1``.
    pre_avg, post_avg : int, frames
        Moving-mean window ``[n - pre_avg, n + post_avg)``; ``post_avg >= 1``.
    delta : float >= 0
        Threshold above the moving mean.
    wait : int, frames
        A peak must come more than ``wait`` frames after the previous one.
    backend : "numpy" or "librosa"
        ``"numpy"`` (default) is this module's vectorised implementation; ``"librosa"``
        calls ``librosa.util.peak_pick``. Both return identical indices.

    Returns
    -------
    np.ndarray of int64, sorted peak indices.

    Examples
    --------
    >>> x = np.array([0, 0, 1.0, 0, 0, 0, 0.5, 0, 0, 0], dtype=np.float32)
    >>> peak_pick(x, pre_max=2, post_max=2, pre_avg=2, post_avg=2, delta=0.1, wait=2).tolist()
    [2, 6]
    """
    pre_max, post_max, pre_avg, post_avg, wait = _check_window_params(pre_max, post_max, pre_avg, post_avg, wait)
    delta = _check_delta_named(delta, "delta")
    if backend == "librosa":
        import librosa

        xs = _as_signal(x)
        if xs.size == 0:
            return np.zeros(0, dtype=np.int64)
        return librosa.util.peak_pick(xs, pre_max=pre_max, post_max=post_max, pre_avg=pre_avg,
                                      post_avg=post_avg, delta=delta, wait=wait).astype(np.int64)
    if backend != "numpy":
        raise ConfigError(f"backend: expected 'numpy' or 'librosa', got {backend!r}")
    return _Prepared(x, pre_max, post_max, pre_avg, post_avg).pick(delta, wait)


# --------------------------------------------------------------------------- onsets

def validate_params(params: Mapping) -> dict[str, int]:
    """Check a ``peaks:`` config section and return its picker parameters as ints.

    ``threshold_grid`` and ``default_threshold`` may be present (ignored here); any other unknown key, a
    missing key or a bad value raises :class:`ConfigError`.
    """
    if not isinstance(params, Mapping):
        raise ConfigError(f"peaks: expected a mapping of {', '.join(PEAK_PARAM_KEYS)}, got {type(params).__name__}")
    unknown = sorted(set(params) - set(PEAK_PARAM_KEYS) - set(_OTHER_PEAK_KEYS))
    if unknown:
        raise ConfigError(f"peaks: unknown key(s) {', '.join(map(str, unknown))} (expected {', '.join(PEAK_PARAM_KEYS)})")
    missing = [k for k in PEAK_PARAM_KEYS if k not in params]
    if missing:
        raise ConfigError(f"peaks: missing key(s) {', '.join(missing)}")
    vals = _check_window_params(*(params[k] for k in PEAK_PARAM_KEYS))
    return dict(zip(PEAK_PARAM_KEYS, vals))


def validate_thresholds(thresholds) -> dict[str, float]:
    """Per-class thresholds as ``{class: float}`` from a dict, a sequence of 5 or one number."""
    if isinstance(thresholds, Mapping):
        missing = [c for c in CLASSES if c not in thresholds]
        if missing:
            raise ConfigError(f"thresholds: missing class(es) {', '.join(missing)}")
        unknown = sorted(set(thresholds) - set(CLASSES))
        if unknown:
            raise ConfigError(f"thresholds: unknown class(es) {', '.join(map(str, unknown))}")
        out = {c: thresholds[c] for c in CLASSES}
    elif np.ndim(thresholds) == 0:
        out = {c: thresholds for c in CLASSES}
    else:
        arr = list(np.asarray(thresholds).ravel())
        if len(arr) != len(CLASSES):
            raise ConfigError(f"thresholds: expected {len(CLASSES)} values ({'/'.join(CLASSES)}), got {len(arr)}")
        out = dict(zip(CLASSES, arr))
    return {c: _check_delta_named(v, f"thresholds.{c}") for c, v in out.items()}


def _check_delta_named(v, name: str) -> float:
    try:
        d = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {v!r}") from None
    if not np.isfinite(d) or d < 0:
        raise ConfigError(f"{name}: must be a finite number >= 0, got {v!r}")
    return d


def _check_activations(activations, name: str = "activations") -> np.ndarray:
    a = np.asarray(activations)
    if a.ndim != 2 or a.shape[1] != len(CLASSES):
        raise PeakInputError(f"{name}: expected shape (frames, {len(CLASSES)}), got {a.shape}")
    if a.dtype.kind != "f":
        raise PeakInputError(f"{name}: expected floating-point probabilities, got dtype {a.dtype}")
    if a.size and not np.all(np.isfinite(a)):
        raise PeakInputError(f"{name}: contains NaN or infinite values")
    if a.size and (a.min() < 0 or a.max() > 1):
        raise PeakInputError(f"{name}: values outside [0, 1] (pass sigmoid probabilities, not logits)")
    return a


def _check_fps(fps) -> float:
    try:
        f = float(fps)
    except (TypeError, ValueError):
        raise ConfigError(f"fps: expected a number, got {fps!r}") from None
    if not np.isfinite(f) or f <= 0:
        raise ConfigError(f"fps: must be > 0, got {fps!r}")
    return f


def pick_onsets_with_confidence(activations, thresholds, params: Mapping, fps: float = FPS
                                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Peak-pick every class of an activation matrix; also return each peak's activation.

    Parameters
    ----------
    activations : np.ndarray, shape (frames, 5)
        Onset probabilities in [0, 1], columns in :data:`drumscribe.CLASSES` order.
    thresholds : dict, sequence of 5, or float
        Per-class ``delta`` of the picker.
    params : mapping
        ``pre_max, post_max, pre_avg, post_avg, wait`` in frames (config ``peaks:``).
    fps : float
        Frames per second; frame ``n`` is at ``n / fps`` seconds.

    Returns
    -------
    (onsets, confidences): ``{class: float64 seconds}`` and ``{class: float32 activation
    value at each onset}`` (e.g. for MIDI velocities).
    """
    a = _check_activations(activations)
    p = validate_params(params)
    th = validate_thresholds(thresholds)
    fps = _check_fps(fps)
    onsets, conf = {}, {}
    for i, c in enumerate(CLASSES):
        col = np.ascontiguousarray(a[:, i])
        idx = _Prepared(col, p["pre_max"], p["post_max"], p["pre_avg"], p["post_avg"]).pick(th[c], p["wait"])
        onsets[c] = idx.astype(np.float64) / fps
        conf[c] = col[idx].astype(np.float32)
    return onsets, conf


def pick_onsets(activations, thresholds, params: Mapping, fps: float = FPS) -> dict[str, np.ndarray]:
    """Onsets ``{class: float64 seconds}`` from an activation matrix (see
    :func:`pick_onsets_with_confidence`).

    Examples
    --------
    >>> act = np.zeros((100, 5), dtype=np.float32); act[50, 0] = 0.9; act[20, 3] = 0.3
    >>> on = pick_onsets(act, 0.2, DEFAULT_PEAK_PARAMS)
    >>> on["BD"].tolist(), on["HH"].tolist(), on["SD"].tolist()
    ([0.5], [0.2], [])
    """
    return pick_onsets_with_confidence(activations, thresholds, params, fps)[0]


# --------------------------------------------------------------------------- tuning

def threshold_counts(activations_list: Sequence, references_list: Sequence, params: Mapping,
                     fps: float = FPS, window: float = ONSET_WINDOW,
                     grid: Sequence[float] | None = None) -> dict[str, np.ndarray]:
    """Global TP/FP/FN per class and threshold, summed over all tracks.

    Returns ``{class: int64 array (len(grid), 3)}`` with columns ``tp, fp, fn``. Matching
    is mir_eval's maximum matching with a ``window`` (seconds) tolerance.
    """
    p = validate_params(params)
    fps = _check_fps(fps)
    window = validate_window(window)
    grid = _check_grid(grid)
    if len(activations_list) != len(references_list):
        raise PeakInputError(f"references_list: {len(references_list)} references for "
                             f"{len(activations_list)} activation matrices")
    if len(activations_list) == 0:
        raise PeakInputError("activations_list: no tracks to tune on")
    from .metrics import validate_onsets

    out = {c: np.zeros((len(grid), 3), dtype=np.int64) for c in CLASSES}
    for t, (act, ref) in enumerate(zip(activations_list, references_list)):
        a = _check_activations(act, f"activations_list[{t}]")
        ref = validate_onsets(ref, f"references_list[{t}]")
        for i, c in enumerate(CLASSES):
            ref_c = ref[c]
            prep = _Prepared(np.ascontiguousarray(a[:, i]), p["pre_max"], p["post_max"], p["pre_avg"], p["post_avg"])
            for g, delta in enumerate(grid):
                est = prep.pick(delta, p["wait"]).astype(np.float64) / fps
                tp = fast_match_count(ref_c, est, window)
                out[c][g] += (tp, est.size - tp, ref_c.size - tp)
    return out


def _check_grid(grid) -> list[float]:
    if grid is None:
        grid = DEFAULT_THRESHOLD_GRID
    vals = [_check_delta_named(v, "peaks.threshold_grid") for v in np.asarray(grid, dtype=object).ravel()]
    if not vals:
        raise ConfigError("peaks.threshold_grid: empty")
    return sorted(set(vals))


def tune_thresholds(activations_list: Sequence, references_list: Sequence, params: Mapping,
                    fps: float = FPS, window: float = ONSET_WINDOW,
                    grid: Sequence[float] | None = None) -> dict[str, float]:
    """Per-class thresholds that maximise each class's F1 over a set of tracks.

    Use the **validation** split only. For every class and every ``grid`` value, the
    track's activations are peak-picked and matched to the references (``window``
    seconds); TP/FP/FN are summed over all tracks (global counts, as micro F1) and the
    class's F1 = 2TP / (2TP + FP + FN) is maximised. Ties go to the lowest threshold.
    A class with no reference onset at all scores 1.0 where nothing is predicted and 0
    otherwise, so it gets the lowest threshold that predicts nothing (or the highest
    grid value).

    Parameters
    ----------
    activations_list : sequence of (frames, 5) probability arrays
    references_list : sequence of onsets dicts ``{class: seconds}``, same order
    params : peak-picking parameters in frames (config ``peaks:``)
    fps : frames per second of the activations
    window : onset tolerance in seconds (default :data:`drumscribe.ONSET_WINDOW`, 0.05)
    grid : thresholds to try (default :data:`DEFAULT_THRESHOLD_GRID`)

    Returns
    -------
    ``{class: threshold}``
    """
    grid = _check_grid(grid)
    return best_thresholds(threshold_counts(activations_list, references_list, params, fps, window, grid), grid)


def best_thresholds(counts: Mapping[str, np.ndarray], grid: Sequence[float]) -> dict[str, float]:
    """``tune_thresholds``' choice from counts already summed: for each class the ``grid``
    value whose F1 = 2TP / (2TP + FP + FN) is highest (ties to the lowest; a class with no
    reference onset and no prediction scores 1.0). ``counts``: ``{class: (len(grid), 3)
    tp, fp, fn}`` as :func:`threshold_counts` returns."""
    grid = _check_grid(grid)
    best = {}
    for c in CLASSES:
        tp, fp, fn = np.asarray(counts[c]).T.astype(np.float64)
        denom = 2 * tp + fp + fn
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 1.0)
        best[c] = float(grid[int(np.argmax(f1))])
    return best
