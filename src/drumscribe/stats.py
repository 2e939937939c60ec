"""Uncertainty of the studies' numbers: bootstrap intervals and paired tests over test tracks.

A test result is a set of tracks, each with its onset counts ``(tp, fp, fn)`` summed
over the five classes. The headline score, micro F1 = 2 TP / (2 TP + FP + FN) with the
counts summed over every track, is not a mean of per-track values, so every interval
and test here resamples **tracks** and recomputes micro F1 from the summed counts of
the resampled tracks (the "corpus-level metric" bootstrap of Koehn 2004).

- :func:`bootstrap_ci`: 95 % confidence interval of micro F1 over test tracks
  (``scipy.stats.bootstrap``, tracks resampled with replacement, a track's tp, fp and
  fn kept together: ``paired=True``; BCa by default). Efron & Tibshirani,
  *An Introduction to the Bootstrap* (1993), ch. 13–14.
- :func:`paired_test`: "is A better than B on the same tracks": a paired permutation
  test over tracks (each track's results of A and B swapped or not, all 2^n ways when
  that is at most ``n_resamples``, else that many random ways;
  ``scipy.stats.permutation_test(permutation_type="samples")``; approximate
  randomisation, Noreen 1989, Riezler & Maxwell 2005) for the p-value, and a paired
  bootstrap of the difference for its interval.
- :func:`best_marks`: "best" only where the top is significantly better than the
  runner-up; otherwise a tie of every candidate not significantly worse than the top.
- Seeds: :func:`pool_seeds` sums each track's counts over the seed runs of one
  configuration (the pooled micro F1 is that of all runs' onsets together, and the
  interval is over tracks of the pooled counts); :func:`seed_spread` gives mean and
  standard deviation of the runs' own micro F1 (what seeds change, shown apart).

Counts are arrays of shape ``(n_tracks, 3)``: columns tp, fp, fn, one row per track,
rows of two results in the same track order for the paired functions. Functions are
pure (no I/O); bad arguments raise ``ValueError`` naming the argument; empty inputs
give NaN with a warning.

Koehn, P. (2004). Statistical significance tests for machine translation evaluation. EMNLP.
Noreen, E. W. (1989). Computer-Intensive Methods for Testing Hypotheses. Wiley.
Riezler, S. & Maxwell, J. T. (2005). On some pitfalls in automatic evaluation and
significance testing for MT. ACL workshop on evaluation measures.
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping, NamedTuple, Sequence

import numpy as np

#: Resamples below this give intervals too coarse to report.
MIN_RESAMPLES = 100


class Interval(NamedTuple):
    """A point estimate with its confidence interval (NaN where undefined)."""

    estimate: float
    low: float
    high: float


class PairedResult(NamedTuple):
    """Paired comparison of A and B: micro-F1 difference A − B, its interval, the p-value."""

    difference: float
    low: float
    high: float
    p_value: float


class Marks(NamedTuple):
    """Significance-aware "best" of a set of candidates (see :func:`best_marks`)."""

    best: tuple[str, ...]           # the top, or every candidate tied with it
    tie: bool                       # True when ``best`` is a tie (more than one, or not significant)
    p_values: dict[str, float]      # p-value of each candidate against the top (NaN for the top itself)


# --------------------------------------------------------------------------- validation

def validate_counts(counts, name: str = "counts") -> np.ndarray:
    """``counts`` as an int64 array ``(n_tracks, 3)`` (tp, fp, fn), checked.

    Raises ``ValueError`` naming ``name`` for another shape, non-integer, negative or
    non-finite values.
    """
    arr = np.asarray(counts)
    if arr.size == 0:
        return np.zeros((0, 3), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name}: expected an array (n_tracks, 3) of tp, fp, fn, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ValueError(f"{name}: counts must be finite non-negative integers")
    return arr.astype(np.int64)


def _validate_resamples(n_resamples) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)):
        raise ValueError(f"n_resamples: expected an integer, got {n_resamples!r}")
    if n_resamples < MIN_RESAMPLES:
        raise ValueError(f"n_resamples: {n_resamples} is less than {MIN_RESAMPLES}")
    return int(n_resamples)


def _validate_level(confidence_level) -> float:
    level = float(confidence_level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence_level: {confidence_level!r} is not in (0, 1)")
    return level


# --------------------------------------------------------------------------- scores

def micro_f1(tp, fp, fn, axis: int = -1):
    """Micro F1 = 2 TP / (2 TP + FP + FN) of counts summed along ``axis`` (NaN for 0/0).

    Examples
    --------
    >>> float(micro_f1([3, 1], [1, 0], [0, 1]))
    0.8
    """
    tp = np.sum(tp, axis=axis)
    denom = 2 * tp + np.sum(fp, axis=axis) + np.sum(fn, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2.0 * tp / np.where(denom > 0, denom, 1), np.nan)


def pooled_f1(counts) -> float:
    """Micro F1 of counts ``(n_tracks, 3)`` summed over the tracks (NaN when empty or 0/0)."""
    c = validate_counts(counts)
    return float(micro_f1(c[:, 0], c[:, 1], c[:, 2], axis=0))


def track_f1(counts) -> np.ndarray:
    """Each track's own micro F1 from its counts ``(n_tracks, 3)`` (NaN for a track with nothing)."""
    c = validate_counts(counts)
    return micro_f1(c[:, :1], c[:, 1:2], c[:, 2:], axis=1)


def pool_seeds(seed_counts: Sequence) -> np.ndarray:
    """Sum each track's counts over the seed runs of one configuration.

    ``seed_counts`` is a sequence of counts ``(n_tracks, 3)``, one per seed, rows in the
    same track order. Returns ``(n_tracks, 3)``.
    """
    runs = [validate_counts(c, f"seed_counts[{i}]") for i, c in enumerate(seed_counts)]
    if not runs:
        raise ValueError("seed_counts: no seed run")
    if len({r.shape for r in runs}) > 1:
        raise ValueError(f"seed_counts: runs have different numbers of tracks ({[len(r) for r in runs]})")
    return np.sum(runs, axis=0)


def seed_spread(seed_counts: Sequence) -> tuple[float, float]:
    """(mean, sample standard deviation) of the seed runs' micro F1; sd is NaN for one run."""
    values = np.array([pooled_f1(validate_counts(c, f"seed_counts[{i}]")) for i, c in enumerate(seed_counts)])
    if values.size == 0:
        raise ValueError("seed_counts: no seed run")
    sd = float(np.std(values, ddof=1)) if values.size > 1 else math.nan
    return float(np.mean(values)), sd


# --------------------------------------------------------------------------- intervals

def _f1_statistic(tp, fp, fn, axis=-1):
    return micro_f1(tp, fp, fn, axis=axis)


def bootstrap_ci(counts, n_resamples: int = 1000, confidence_level: float = 0.95, method: str = "BCa",
                 seed: int = 0) -> Interval:
    """Bootstrap confidence interval of micro F1 over tracks.

    Parameters
    ----------
    counts : array (n_tracks, 3)
        tp, fp, fn of each test track (summed over classes; over seeds too for pooled runs).
    n_resamples : int
        Bootstrap resamples (at least 100).
    confidence_level : float
        E.g. 0.95.
    method : ``"BCa"`` (default) or ``"percentile"`` / ``"basic"`` (``scipy.stats.bootstrap``).
        Where BCa is undefined (a degenerate resample distribution) the percentile
        interval is given.
    seed : int
        Seed of the resampling (same inputs, same interval).

    Returns
    -------
    Interval(estimate, low, high): ``estimate`` = micro F1 of all tracks' summed counts.
    No track: all NaN (with a warning). One track: its micro F1 and a NaN interval.

    Examples
    --------
    >>> ci = bootstrap_ci([[8, 2, 2]] * 20, n_resamples=200)
    >>> round(ci.estimate, 2), round(ci.low, 2), round(ci.high, 2)
    (0.8, 0.8, 0.8)
    """
    from scipy import stats as st

    n_resamples = _validate_resamples(n_resamples)
    level = _validate_level(confidence_level)
    c = validate_counts(counts)
    est = pooled_f1(c)
    if len(c) < 2:
        if len(c) == 0:
            warnings.warn("counts: no track, micro F1 undefined", stacklevel=2)
        return Interval(est, math.nan, math.nan)
    if not np.isfinite(est):
        return Interval(est, math.nan, math.nan)
    data = (c[:, 0], c[:, 1], c[:, 2])
    if np.all(track_f1(c)[np.any(c > 0, axis=1)] == est):  # every resample gives the estimate
        return Interval(est, est, est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DegenerateDataWarning: handled below
        res = st.bootstrap(data, _f1_statistic, n_resamples=n_resamples, vectorized=True, paired=True,
                           axis=-1, confidence_level=level, method=method, batch=200,
                           rng=np.random.default_rng(seed))
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (np.isfinite(low) and np.isfinite(high)):
            res = st.bootstrap(data, _f1_statistic, n_resamples=n_resamples, vectorized=True, paired=True,
                               axis=-1, confidence_level=level, method="percentile", batch=200,
                               rng=np.random.default_rng(seed))
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Interval(est, low, high)


# --------------------------------------------------------------------------- paired comparison

def _paired(counts_a, counts_b) -> tuple[np.ndarray, np.ndarray]:
    a = validate_counts(counts_a, "counts_a")
    b = validate_counts(counts_b, "counts_b")
    if a.shape != b.shape:
        raise ValueError(f"counts_b: {len(b)} tracks for the {len(a)} of counts_a (the same tracks, same order)")
    return a, b


def paired_test(counts_a, counts_b, n_resamples: int = 1000, confidence_level: float = 0.95,
                alternative: str = "two-sided", seed: int = 0) -> PairedResult:
    """Is A better than B on the same test tracks? Micro-F1 difference, interval and p-value.

    Parameters
    ----------
    counts_a, counts_b : arrays (n_tracks, 3)
        tp, fp, fn per track of A and of B, on the same tracks in the same order.
    n_resamples : int
        Permutations (all 2^n when 2^n <= n_resamples: an exact test) and bootstrap
        resamples of the interval (at least 100).
    alternative : ``"two-sided"`` (default), ``"greater"`` (A better) or ``"less"``.
    seed : int
        Seed of the random permutations and resamples.

    Returns
    -------
    PairedResult(difference, low, high, p_value): ``difference`` = micro F1 of A − micro
    F1 of B (each from its summed counts); ``low, high`` = paired bootstrap interval
    (percentile) of the difference, tracks resampled together for A and B; ``p_value``
    from the permutation test of swapping A's and B's results within tracks (null: for
    every track, which system produced which result is exchangeable). With fewer than
    two tracks the interval and p-value are NaN (no track: a warning).

    Examples
    --------
    >>> a = [[9, 1, 1]] * 12
    >>> b = [[5, 5, 5]] * 12
    >>> r = paired_test(a, b)
    >>> round(r.difference, 2), r.p_value < 0.01
    (0.4, True)
    """
    from scipy import stats as st

    n_resamples = _validate_resamples(n_resamples)
    level = _validate_level(confidence_level)
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative: expected 'two-sided', 'greater' or 'less', got {alternative!r}")
    a, b = _paired(counts_a, counts_b)
    diff = pooled_f1(a) - pooled_f1(b)
    n = len(a)
    if n < 2 or not np.isfinite(diff):
        if n == 0:
            warnings.warn("counts_a: no track, the difference is undefined", stacklevel=2)
        return PairedResult(diff, math.nan, math.nan, math.nan)
    table = np.concatenate([a, b])  # rows 0..n-1: A, n..2n-1: B

    def statistic(x, y, axis=-1):
        sx, sy = table[x].sum(axis=-2), table[y].sum(axis=-2)
        return micro_f1(sx[..., 0], sx[..., 1], sx[..., 2], axis=()) - micro_f1(sy[..., 0], sy[..., 1], sy[..., 2], axis=())

    perm = st.permutation_test((np.arange(n), np.arange(n) + n), statistic, permutation_type="samples",
                               vectorized=True, n_resamples=n_resamples, alternative=alternative, axis=-1,
                               batch=200, rng=np.random.default_rng(seed))

    def difference(tpa, fpa, fna, tpb, fpb, fnb, axis=-1):
        return micro_f1(tpa, fpa, fna, axis=axis) - micro_f1(tpb, fpb, fnb, axis=axis)

    if np.all(a == b):
        low = high = 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            boot = st.bootstrap((*a.T, *b.T), difference, n_resamples=n_resamples, vectorized=True, paired=True,
                                axis=-1, confidence_level=level, method="percentile", batch=200,
                                rng=np.random.default_rng(seed))
        low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
    return PairedResult(float(diff), low, high, float(perm.pvalue))


def best_marks(candidates: Mapping[str, object], alpha: float = 0.05, n_resamples: int = 1000,
               seed: int = 0) -> Marks:
    """Which candidates to mark "best", with significance.

    ``candidates`` maps a name to its counts ``(n_tracks, 3)``, all on the same tracks in
    the same order. The top is the highest micro F1 (first in order on equal values).
    When the top is significantly better than the runner-up (two-sided
    :func:`paired_test`, ``p < alpha``) it alone is best; otherwise the best is a tie of
    the top and every candidate whose difference to the top is not significant.
    Candidates whose micro F1 is undefined (NaN) are never best.

    Returns
    -------
    Marks(best, tie, p_values): ``p_values[name]`` is ``name`` against the top (NaN for
    the top). No candidate: ``Marks((), False, {})``.

    Examples
    --------
    >>> m = best_marks({"a": [[9, 1, 1]] * 12, "b": [[5, 5, 5]] * 12, "c": [[9, 1, 1]] * 12})
    >>> m.best, m.tie
    (('a', 'c'), True)
    """
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: {alpha!r} is not in (0, 1)")
    _validate_resamples(n_resamples)
    counts = {str(k): validate_counts(v, f"candidates[{k!r}]") for k, v in candidates.items()}
    if not counts:
        return Marks((), False, {})
    shapes = {v.shape for v in counts.values()}
    if len(shapes) > 1:
        raise ValueError(f"candidates: different numbers of tracks ({sorted(s[0] for s in shapes)}); "
                         f"a paired test needs the same tracks")
    values = {k: pooled_f1(v) for k, v in counts.items()}
    ranked = sorted((k for k in counts if np.isfinite(values[k])), key=lambda k: -values[k])
    p = {k: math.nan for k in counts}
    if not ranked:
        return Marks((), False, p)
    top = ranked[0]
    for k in ranked[1:]:
        p[k] = paired_test(counts[top], counts[k], n_resamples, alternative="two-sided", seed=seed).p_value
    if len(ranked) == 1 or p[ranked[1]] < alpha:
        return Marks((top,), False, p)
    tied = tuple(k for k in ranked if k == top or not p[k] < alpha)
    return Marks(tied, True, p)
