"""Onset metrics: TP/FP/FN per class with mir_eval matching, micro/macro F1.

The protocol (fixed across drumscribe, as in ADTOF and the thesis):

- An estimated onset is a hit when it lies within ``window`` seconds (default 0.05,
  inclusive) of a reference onset of the same class; each reference and each estimate
  is matched at most once, and the matching is maximal (``mir_eval.util.match_events``,
  the matching of ``mir_eval.onset.f_measure``). Extra detections of one reference
  onset are false positives.
- Counts are summed over tracks first ("global" counts), then turned into scores:
  per-class F1 = 2TP / (2TP + FP + FN); **micro F1** from TP/FP/FN summed over all
  classes; **macro F1** = mean of the per-class F1.
- A class with no reference and no estimated onset (0/0) has no F1: it is reported as
  ``None`` and left out of the macro mean (``empty_f1=None``, default). madmom's
  convention scores it 1.0 and mir_eval's 0.0; pass ``empty_f1=1.0`` or ``0.0`` to
  :func:`scores` to follow either. A class with estimates but no reference scores 0.

Functions are small and pure, and validate their inputs (``ValueError`` naming the
argument; the error is also a :class:`drumscribe.errors.InputError`).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from . import CLASSES, ONSET_WINDOW
from .errors import InputError

Counts = dict  # {class: (tp, fp, fn)}


class MetricInputError(InputError, ValueError):
    """An argument of a metric function is invalid (a ``ValueError``, as in mir_eval)."""


# --------------------------------------------------------------------------- validation

def validate_events(times, name: str = "times") -> np.ndarray:
    """Return ``times`` as a float64 1-D array of finite, non-negative, sorted seconds.

    Raises
    ------
    ValueError (:class:`MetricInputError`) naming ``name``.
    """
    try:
        arr = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError):
        raise MetricInputError(f"{name}: expected an array of onset times in seconds") from None
    if arr.ndim != 1:
        raise MetricInputError(f"{name}: expected a 1-D array of onset times, got shape {arr.shape}")
    if arr.size:
        if not np.all(np.isfinite(arr)):
            raise MetricInputError(f"{name}: contains NaN or infinite times")
        if arr.min() < 0:
            raise MetricInputError(f"{name}: contains negative times")
        if np.any(np.diff(arr) < 0):
            raise MetricInputError(f"{name}: times are not sorted in increasing order")
    return arr


def validate_window(window) -> float:
    """Return the matching tolerance ``window`` (seconds) as a float > 0."""
    try:
        w = float(window)
    except (TypeError, ValueError):
        raise MetricInputError(f"window: expected seconds as a number, got {window!r}") from None
    if not np.isfinite(w) or w <= 0:
        raise MetricInputError(f"window: must be a finite number of seconds > 0, got {window!r}")
    return w


def validate_onsets(onsets, name: str) -> dict[str, np.ndarray]:
    if not isinstance(onsets, Mapping):
        raise MetricInputError(f"{name}: expected a dict {{class: onset times}}, got {type(onsets).__name__}")
    unknown = sorted(set(onsets) - set(CLASSES))
    if unknown:
        raise MetricInputError(f"{name}: unknown class(es) {', '.join(map(str, unknown))} "
                               f"(expected {'/'.join(CLASSES)})")
    return {c: validate_events(onsets.get(c, ()), f"{name}[{c}]") for c in CLASSES}


def _validate_counts(counts, name: str = "counts") -> dict[str, tuple[int, int, int]]:
    if not isinstance(counts, Mapping):
        raise MetricInputError(f"{name}: expected a dict {{class: (tp, fp, fn)}}, got {type(counts).__name__}")
    missing = [c for c in CLASSES if c not in counts]
    unknown = sorted(set(counts) - set(CLASSES))
    if missing or unknown:
        raise MetricInputError(f"{name}: expected exactly the classes {'/'.join(CLASSES)} "
                               f"(missing {missing or 'none'}, unknown {unknown or 'none'})")
    out = {}
    for c in CLASSES:
        v = counts[c]
        try:
            vals = [int(x) for x in v]
            ok = len(vals) == 3 and all(int(x) == x for x in v) and min(vals) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise MetricInputError(f"{name}[{c}]: expected three counts (tp, fp, fn) >= 0, got {v!r}")
        out[c] = tuple(vals)
    return out


# --------------------------------------------------------------------------- counting

def match_counts(ref_times, est_times, window: float = ONSET_WINDOW) -> tuple[int, int, int]:
    """TP, FP, FN of one class on one track.

    Maximum matching of ``mir_eval.util.match_events`` (the matching behind
    ``mir_eval.onset.f_measure``): ``|ref - est| <= window`` seconds, each event used once.

    Examples
    --------
    >>> match_counts([1.0, 2.0, 3.0], [1.02, 1.03, 2.2])
    (1, 2, 2)
    """
    ref = validate_events(ref_times, "ref_times")
    est = validate_events(est_times, "est_times")
    window = validate_window(window)
    if ref.size == 0 or est.size == 0:
        tp = 0
    else:
        import mir_eval

        tp = len(mir_eval.util.match_events(ref, est, window))
    return tp, int(est.size - tp), int(ref.size - tp)


def fast_match_count(ref: np.ndarray, est: np.ndarray, window: float) -> int:
    """Size of the maximum window matching of sorted ``ref`` and ``est`` in O(n + m).

    Same hit test as mir_eval (``est - window <= ref <= est + window`` in float64), so
    the same count as :func:`match_counts`; greedy matching is optimal here because
    each reference's hits form a run of sorted estimates whose ends never move back.
    Inputs must already be validated (sorted float64).
    """
    if ref.size == 0 or est.size == 0:
        return 0
    lo = (est - window).tolist()
    hi = (est + window).tolist()
    m = len(lo)
    j = 0
    tp = 0
    for r in ref.tolist():
        while j < m and hi[j] < r:
            j += 1
        if j == m:
            break
        if lo[j] <= r:
            tp += 1
            j += 1
    return tp


def class_counts(ref_onsets: Mapping, est_onsets: Mapping, window: float = ONSET_WINDOW) -> dict[str, tuple[int, int, int]]:
    """``{class: (tp, fp, fn)}`` for one track's reference and estimated onsets.

    Both arguments are onsets dicts ``{class: sorted seconds}``; a missing class means
    no onsets.
    """
    ref = validate_onsets(ref_onsets, "ref_onsets")
    est = validate_onsets(est_onsets, "est_onsets")
    window = validate_window(window)
    return {c: match_counts(ref[c], est[c], window) for c in CLASSES}


def zero_counts() -> dict[str, tuple[int, int, int]]:
    """Counts with nothing in them (the neutral element of :func:`add_counts`)."""
    return {c: (0, 0, 0) for c in CLASSES}


def add_counts(a: Mapping, b: Mapping) -> dict[str, tuple[int, int, int]]:
    """Sum two count dicts class by class (to pool tracks)."""
    a = _validate_counts(a, "a")
    b = _validate_counts(b, "b")
    return {c: tuple(x + y for x, y in zip(a[c], b[c])) for c in CLASSES}


def sum_counts(counts: Iterable[Mapping]) -> dict[str, tuple[int, int, int]]:
    """Sum any number of count dicts (e.g. every track of a test split)."""
    total = zero_counts()
    for c in counts:
        total = add_counts(total, c)
    return total


# --------------------------------------------------------------------------- scores

def prf(tp: int, fp: int, fn: int, empty=None) -> tuple:
    """Precision, recall and F1 from counts.

    ``tp = fp = fn = 0`` gives ``(empty, empty, empty)``; otherwise a zero denominator
    gives 0.0 (mir_eval's convention: no estimates → precision 0; no references → recall 0).
    """
    if tp + fp + fn == 0:
        return empty, empty, empty
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * tp / (2 * tp + fp + fn)
    return float(p), float(r), float(f)


def scores(counts: Mapping, empty_f1: float | None = None) -> dict:
    """Scores from (global) counts.

    Parameters
    ----------
    counts : ``{class: (tp, fp, fn)}`` (e.g. from :func:`sum_counts`)
    empty_f1 : None, 0.0 or 1.0
        Score of a class with no reference and no estimate. ``None`` (default): reported
        as ``None`` and left out of the macro mean.

    Returns
    -------
    dict with ``micro_f1, micro_precision, micro_recall, macro_f1``, and per class
    ``f1_<C>, precision_<C>, recall_<C>, tp_<C>, fp_<C>, fn_<C>``, plus ``tp, fp, fn``
    totals. ``macro_f1`` is ``None`` when every class is empty.

    Examples
    --------
    >>> s = scores({"BD": (8, 2, 0), "SD": (5, 0, 5), "TT": (0, 0, 0), "HH": (0, 1, 0), "CY": (1, 0, 0)})
    >>> round(s["micro_f1"], 4), round(s["f1_BD"], 4), s["f1_TT"], round(s["macro_f1"], 4)
    (0.7778, 0.8889, None, 0.6389)
    """
    if empty_f1 is not None:
        empty_f1 = float(empty_f1)
        if empty_f1 not in (0.0, 1.0):
            raise MetricInputError(f"empty_f1: expected None, 0.0 or 1.0, got {empty_f1!r}")
    counts = _validate_counts(counts)
    out: dict = {}
    tot = [sum(counts[c][k] for c in CLASSES) for k in range(3)]
    p, r, f = prf(*tot)
    out.update(micro_f1=f, micro_precision=p, micro_recall=r)
    class_f1 = []
    per_class = {}
    for c in CLASSES:
        tp, fp, fn = counts[c]
        cp, cr, cf = prf(tp, fp, fn, empty=empty_f1)
        per_class.update({f"f1_{c}": cf, f"precision_{c}": cp, f"recall_{c}": cr,
                          f"tp_{c}": tp, f"fp_{c}": fp, f"fn_{c}": fn})
        if cf is not None:
            class_f1.append(cf)
    out["macro_f1"] = float(np.mean(class_f1)) if class_f1 else None
    out.update(per_class)
    out.update(tp=tot[0], fp=tot[1], fn=tot[2])
    return out


def counts_from_scores(s: Mapping) -> dict[str, tuple[int, int, int]]:
    """Recover ``{class: (tp, fp, fn)}`` from a :func:`scores` dict (to pool saved results)."""
    try:
        return _validate_counts({c: (s[f"tp_{c}"], s[f"fp_{c}"], s[f"fn_{c}"]) for c in CLASSES}, "scores")
    except KeyError as exc:
        raise MetricInputError(f"scores: missing key {exc.args[0]}") from None
