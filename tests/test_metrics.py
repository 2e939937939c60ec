"""Onset metrics: hand-counted TP/FP/FN, the 50 ms boundary, micro/macro F1."""

import mir_eval
import numpy as np
import pytest

from drumscribe import CLASSES
from drumscribe.errors import InputError
from drumscribe.metrics import (
    fast_match_count, add_counts, class_counts, counts_from_scores, match_counts, scores, sum_counts,
    zero_counts,
)


def test_window_boundary_is_inclusive_at_50_ms():
    # 50 ms apart (as written) is a hit on both sides; 51 ms is a miss
    assert match_counts([1.0], [1.05]) == (1, 0, 0)
    assert match_counts([1.0], [0.95]) == (1, 0, 0)
    assert match_counts([1.0], [1.051]) == (0, 1, 1)
    assert match_counts([1.0], [0.949]) == (0, 1, 1)
    # the same decision as mir_eval's onset F-measure
    assert mir_eval.onset.f_measure(np.array([1.0]), np.array([1.05]))[0] == 1.0
    assert mir_eval.onset.f_measure(np.array([1.0]), np.array([1.051]))[0] == 0.0
    # a custom window
    assert match_counts([1.0], [1.02], window=0.025) == (1, 0, 0)
    assert match_counts([1.0], [1.03], window=0.025) == (0, 1, 1)


def test_double_detection_counts_one_hit_and_one_false_positive():
    assert match_counts([1.0], [0.99, 1.01]) == (1, 1, 0)
    assert match_counts([1.0, 2.0], [0.99, 1.01, 1.02, 2.0]) == (2, 2, 0)


def test_matching_is_maximal_not_nearest_first():
    # nearest-first would give 1.06 <- 1.04 and leave 1.00 unmatched; the maximum matching has 2
    assert match_counts([1.00, 1.06], [1.04, 1.10]) == (2, 0, 0)


def test_empty_inputs():
    assert match_counts([], []) == (0, 0, 0)
    assert match_counts([1.0, 2.0], []) == (0, 0, 2)
    assert match_counts([], [1.0]) == (0, 1, 0)


def test_hand_counted_two_tracks_micro_macro():
    # track 1                                       hand count (tp, fp, fn)
    ref1 = {"BD": [0.5, 1.0, 1.5, 2.0],              # 3 hit (1.5 missed; 2.04 within 50 ms)
            "SD": [1.0, 2.0],                        # 1.0 hit twice -> 1 tp, 1 fp; 2.0 missed
            "HH": [0.25, 0.5, 0.75, 1.0],            # all hit
            "CY": []}                                # nothing, nothing predicted -> empty
    est1 = {"BD": [0.51, 0.98, 2.04],
            "SD": [0.99, 1.03],
            "HH": [0.25, 0.5, 0.75, 1.0],
            "TT": [3.0]}                             # no tom in the reference -> 1 fp
    # track 2
    ref2 = {"BD": [0.1], "SD": [0.3], "TT": [], "HH": [], "CY": []}
    est2 = {"BD": [0.2], "SD": [0.3], "TT": [], "HH": [], "CY": []}  # BD 100 ms off: 1 fp + 1 fn
    c1 = class_counts(ref1, est1)
    c2 = class_counts(ref2, est2)
    assert c1 == {"BD": (3, 0, 1), "SD": (1, 1, 1), "TT": (0, 1, 0), "HH": (4, 0, 0), "CY": (0, 0, 0)}
    assert c2 == {"BD": (0, 1, 1), "SD": (1, 0, 0), "TT": (0, 0, 0), "HH": (0, 0, 0), "CY": (0, 0, 0)}
    total = add_counts(c1, c2)
    assert total == sum_counts([c1, c2])
    assert total == {"BD": (3, 1, 2), "SD": (2, 1, 1), "TT": (0, 1, 0), "HH": (4, 0, 0), "CY": (0, 0, 0)}
    s = scores(total)
    # micro: tp 9, fp 3, fn 3 -> F1 = 18 / 24
    assert (s["tp"], s["fp"], s["fn"]) == (9, 3, 3)
    assert s["micro_f1"] == pytest.approx(18 / 24)
    assert s["micro_precision"] == pytest.approx(9 / 12)
    assert s["micro_recall"] == pytest.approx(9 / 12)
    f1 = {"BD": 6 / 9, "SD": 4 / 6, "TT": 0.0, "HH": 1.0}
    for c, v in f1.items():
        assert s[f"f1_{c}"] == pytest.approx(v)
    # CY has no reference and no estimate: no F1, left out of the macro mean
    assert s["f1_CY"] is None and s["precision_CY"] is None
    assert s["macro_f1"] == pytest.approx(np.mean(list(f1.values())))
    # madmom's and mir_eval's conventions for the empty class
    assert scores(total, empty_f1=1.0)["macro_f1"] == pytest.approx((sum(f1.values()) + 1) / 5)
    assert scores(total, empty_f1=0.0)["macro_f1"] == pytest.approx(sum(f1.values()) / 5)
    # per-class F1 equals mir_eval's F-measure where both are defined
    assert s["f1_HH"] == mir_eval.onset.f_measure(np.array(ref1["HH"]), np.array(est1["HH"]))[0]
    assert counts_from_scores(s) == total
    assert s["tp_BD"] == 3 and s["fp_SD"] == 1 and s["fn_BD"] == 2


def test_all_empty_scores():
    s = scores(zero_counts())
    assert s["micro_f1"] is None and s["macro_f1"] is None


def test_fast_matcher_equals_mir_eval_on_random_grid_times():
    # times on a 10 ms grid make many pairs exactly 50 ms apart (float boundary cases)
    rng = np.random.default_rng(0)
    for trial in range(300):
        n, m = rng.integers(0, 30, size=2)
        ref = np.sort(rng.integers(0, 300, n) / 100.0)
        est = np.sort(rng.integers(0, 300, m) / 100.0)
        window = [0.05, 0.02, 0.03, 0.1][trial % 4]
        tp = match_counts(ref, est, window)[0]
        assert fast_match_count(ref, est, window) == tp, (ref, est, window)
        if n and m:
            assert tp == len(mir_eval.util.match_events(ref, est, window))


@pytest.mark.parametrize("bad, name", [
    (([2.0, 1.0], [1.0]), "ref_times"),
    (([1.0], [1.0, 0.5]), "est_times"),
    (([-1.0], [1.0]), "ref_times"),
    (([[1.0]], [1.0]), "ref_times"),
    (([1.0], [np.nan]), "est_times"),
])
def test_bad_times_raise_value_error_naming_the_argument(bad, name):
    with pytest.raises(ValueError, match=name):
        match_counts(*bad)
    with pytest.raises(InputError):
        match_counts(*bad)


def test_bad_window_and_counts():
    with pytest.raises(ValueError, match="window"):
        match_counts([1.0], [1.0], window=0)
    with pytest.raises(ValueError, match="counts"):
        scores({"BD": (1, 0, 0)})
    with pytest.raises(ValueError, match=r"counts\[BD\]"):
        scores({c: (1, -1, 0) for c in CLASSES})
    with pytest.raises(ValueError, match="est_onsets"):
        class_counts({}, {"XX": [1.0]})
    with pytest.raises(ValueError, match="empty_f1"):
        scores(zero_counts(), empty_f1=0.5)
