"""Bootstrap intervals, paired tests and best marks on constructed cases with known answers."""

import math

import numpy as np
import pytest

from drumscribe import stats


def _tracks(rng, n, tp, fp, fn):
    """n tracks of Poisson counts with the given means (true micro F1 = 2tp / (2tp + fp + fn))."""
    return np.stack([rng.poisson(tp, n), rng.poisson(fp, n), rng.poisson(fn, n)], axis=1)


def _noisy(rng, counts):
    """The same results but for a false alarm or miss more or fewer here and there (symmetric noise)."""
    noise = np.stack([np.zeros(len(counts), int), rng.integers(-1, 2, len(counts)), rng.integers(-1, 2, len(counts))],
                     axis=1)
    return np.clip(counts + noise, 0, None)


def test_micro_f1_pools_counts_not_track_scores():
    counts = [[1, 0, 0], [0, 9, 9]]  # per-track F1 1.0 and 0.0; pooled 2 / (2 + 18)
    assert stats.pooled_f1(counts) == pytest.approx(0.1)
    assert stats.track_f1(counts).tolist() == [1.0, 0.0]
    assert math.isnan(stats.pooled_f1([[0, 0, 0]]))


def test_a_clear_winner_on_every_track_is_significant():
    rng = np.random.default_rng(1)
    a = _tracks(rng, 30, 40, 4, 4)   # true F1 ~ 0.91
    b = _tracks(rng, 30, 40, 15, 15)  # true F1 ~ 0.73
    r = stats.paired_test(a, b, n_resamples=2000)
    assert r.difference == pytest.approx(stats.pooled_f1(a) - stats.pooled_f1(b))
    assert r.difference > 0.1
    assert r.p_value < 0.001
    assert 0 < r.low < r.difference < r.high
    assert stats.paired_test(a, b, alternative="greater").p_value < 0.001
    assert stats.paired_test(a, b, alternative="less").p_value > 0.99
    # B against A: the same difference, negative
    assert stats.paired_test(b, a).difference == pytest.approx(-r.difference)


def test_same_system_up_to_noise_or_swapped_halves_is_not_significant():
    rng = np.random.default_rng(2)
    x = _tracks(rng, 30, 30, 6, 6)
    y = _tracks(rng, 30, 30, 6, 6)
    # swapped halves: A = x on the first 15 tracks and y on the rest, B the other way round
    a = np.concatenate([x[:15], y[15:]])
    b = np.concatenate([y[:15], x[15:]])
    r = stats.paired_test(a, b)
    assert r.p_value > 0.2 and r.low < r.difference < r.high and r.low < 0 < r.high
    # identical but for noise: a false alarm or miss more or fewer here and there
    assert stats.paired_test(a, _noisy(rng, a)).p_value > 0.05
    # identical: no difference at all, p = 1
    same = stats.paired_test(a, a)
    assert same.difference == 0 and same.p_value == 1 and same.low == same.high == 0


def test_exact_permutation_p_value_of_three_tracks():
    # A wins every one of 3 tracks: its observed difference is the largest of the
    # 2^3 = 8 swaps, so the one-sided p is 1/8 and the two-sided 2/8
    a = [[5, 1, 1], [3, 0, 2], [4, 2, 0]]
    b = [[2, 3, 3], [1, 2, 4], [3, 3, 1]]
    assert stats.paired_test(a, b, alternative="greater").p_value == pytest.approx(1 / 8)
    assert stats.paired_test(a, b).p_value == pytest.approx(2 / 8)


def test_bootstrap_interval_covers_the_true_value_and_shrinks_with_tracks():
    true = 2 * 20 / (2 * 20 + 5 + 7)
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(60):
        ci = stats.bootstrap_ci(_tracks(rng, 40, 20, 5, 7), n_resamples=300, seed=int(rng.integers(1 << 30)))
        assert ci.low <= ci.estimate <= ci.high
        covered += ci.low <= true <= ci.high
    assert covered >= 51  # a 95 % interval: 57 of 60 expected; 51 or fewer has probability < 0.3 %
    small = stats.bootstrap_ci(_tracks(rng, 25, 20, 5, 7))
    large = stats.bootstrap_ci(_tracks(rng, 400, 20, 5, 7))
    assert large.low <= true <= large.high
    # width ~ 1 / sqrt(n): 16 times the tracks, about a quarter of the width
    assert (large.high - large.low) < 0.5 * (small.high - small.low)


def test_bootstrap_is_seeded_and_degenerate_cases_are_defined():
    counts = _tracks(np.random.default_rng(4), 20, 10, 3, 3)
    assert stats.bootstrap_ci(counts, seed=5) == stats.bootstrap_ci(counts, seed=5)
    assert stats.bootstrap_ci([[8, 2, 2]] * 10) == (0.8, 0.8, 0.8)  # every track the same: no spread
    one = stats.bootstrap_ci([[8, 2, 2]])
    assert one.estimate == 0.8 and math.isnan(one.low) and math.isnan(one.high)
    with pytest.warns(UserWarning, match="no track"):
        empty = stats.bootstrap_ci(np.zeros((0, 3)))
    assert all(math.isnan(v) for v in empty)
    with pytest.warns(UserWarning, match="no track"):
        assert math.isnan(stats.paired_test([], []).p_value)


def test_best_marks_one_best_when_significant_else_a_tie():
    rng = np.random.default_rng(6)
    strong = _tracks(rng, 30, 40, 4, 4)
    weak = _tracks(rng, 30, 40, 15, 15)
    close = _noisy(rng, strong)
    m = stats.best_marks({"weak": weak, "strong": strong})
    assert m.best == ("strong",) and not m.tie
    assert m.p_values["weak"] < 0.05 and math.isnan(m.p_values["strong"])
    m = stats.best_marks({"weak": weak, "close": close, "strong": strong})
    assert set(m.best) == {"strong", "close"} and m.best[0] == "strong" and m.tie
    assert "weak" not in m.best
    only = stats.best_marks({"only": weak})
    assert only.best == ("only",) and not only.tie
    assert stats.best_marks({}) == ((), False, {})
    nan = stats.best_marks({"nothing": [[0, 0, 0], [0, 0, 0]], "weak": weak[:2]})
    assert nan.best == ("weak",)


def test_seeds_pooled_per_track_and_their_spread():
    s0 = [[8, 2, 2], [4, 0, 0]]
    s1 = [[6, 4, 4], [4, 0, 0]]
    pooled = stats.pool_seeds([s0, s1])
    assert pooled.tolist() == [[14, 6, 6], [8, 0, 0]]
    mean, sd = stats.seed_spread([s0, s1])
    f0, f1 = stats.pooled_f1(s0), stats.pooled_f1(s1)
    assert mean == pytest.approx((f0 + f1) / 2) and sd == pytest.approx(abs(f0 - f1) / math.sqrt(2))
    assert math.isnan(stats.seed_spread([s0])[1])


@pytest.mark.parametrize("call, match", [
    (lambda: stats.bootstrap_ci([[1, 0, 0]] * 3, n_resamples=99), "n_resamples: 99 is less than 100"),
    (lambda: stats.paired_test([[1, 0, 0]] * 3, [[1, 0, 0]] * 3, n_resamples=10), "n_resamples"),
    (lambda: stats.best_marks({"a": [[1, 0, 0]]}, n_resamples=0), "n_resamples"),
    (lambda: stats.bootstrap_ci([[1, 0]]), r"counts: expected an array \(n_tracks, 3\)"),
    (lambda: stats.bootstrap_ci([[1, -1, 0]]), "non-negative integers"),
    (lambda: stats.bootstrap_ci([[1.5, 0, 0]]), "non-negative integers"),
    (lambda: stats.bootstrap_ci([[1, 0, 0]], confidence_level=95), "confidence_level"),
    (lambda: stats.paired_test([[1, 0, 0]] * 3, [[1, 0, 0]] * 2), "counts_b: 2 tracks for the 3"),
    (lambda: stats.paired_test([[1, 0, 0]] * 3, [[1, 0, 0]] * 3, alternative="bigger"), "alternative"),
    (lambda: stats.best_marks({"a": [[1, 0, 0]], "b": [[1, 0, 0]] * 2}), "same tracks"),
    (lambda: stats.best_marks({"a": [[1, 0, 0]]}, alpha=5), "alpha"),
    (lambda: stats.pool_seeds([]), "seed_counts"),
    (lambda: stats.pool_seeds([[[1, 0, 0]], [[1, 0, 0]] * 2]), "different numbers of tracks"),
])
def test_bad_inputs_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_study_pairs_compares_two_rows_on_the_same_tracks(tmp_path):
    """studies.pairs_frame through benchmarks/study_pairs.py on a constructed tracks CSV: A beats B
    on every track of one column (significant, seeds pooled), equals it on the other (p = 1); an
    unknown row is a one-line error."""
    import csv
    import subprocess
    import sys
    from pathlib import Path

    from drumscribe import CLASSES

    repo = Path(__file__).resolve().parents[1]
    path = tmp_path / "dataset_tracks.csv"
    head = ["train_dataset", "test_dataset", "seed", "track_id"] + [f"{k}_{c}" for c in CLASSES for k in ("tp", "fp", "fn")]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        for test in ("clean", "same"):
            for row, good in (("a", True), ("b", False)):
                for seed in (0, 1):
                    for t in range(10):
                        per_class = [9, 1, 1] if good or test == "same" else [5, 5, 5]
                        w.writerow([row, test, seed, f"t{t}"] + per_class + [0, 0, 0] * (len(CLASSES) - 1))
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "study_pairs.py"), str(path), "a", "b",
                           "--resamples", "2000", "--out", str(tmp_path / "pairs.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {r["test_dataset"]: r for r in csv.DictReader(open(tmp_path / "pairs.csv"))}
    assert float(rows["clean"]["micro_f1_a"]) == 0.9 and float(rows["clean"]["micro_f1_b"]) == 0.5
    assert float(rows["clean"]["difference"]) == 0.4 and float(rows["clean"]["p_value"]) < 0.01
    assert rows["clean"]["n_tracks"] == "10"
    assert float(rows["same"]["difference"]) == 0.0 and float(rows["same"]["p_value"]) == 1.0
    bad = subprocess.run([sys.executable, str(repo / "benchmarks" / "study_pairs.py"), str(path), "a", "c"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "no training set 'c'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
