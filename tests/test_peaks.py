"""Peak picking (librosa's semantics) and per-class threshold tuning."""

import librosa
import numpy as np
import pytest

from drumscribe import CLASSES
from drumscribe.errors import ConfigError
from drumscribe.metrics import class_counts, scores, sum_counts
from drumscribe.peaks import (
    DEFAULT_PEAK_PARAMS, best_thresholds, peak_pick, pick_onsets, pick_onsets_with_confidence, picker_mean, threshold_counts,
    tune_thresholds,
)

VOGL = dict(DEFAULT_PEAK_PARAMS)


def bump(n, centre, height, width=1.5):
    t = np.arange(n)
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def test_finds_known_peaks_in_a_known_activation():
    n = 300
    x = np.zeros(n)
    x += bump(n, 30, 0.9)            # clear peak
    x += bump(n, 80, 0.5)            # clear peak
    x += bump(n, 150, 0.12)          # too low for delta 0.1 above its moving mean
    x[200], x[202] = 0.7, 0.8        # two peaks 2 frames apart: wait=2 drops the second
    x[250] = 0.6                     # isolated one-frame spike
    act = np.zeros((n, 5), dtype=np.float32)
    act[:, 1] = x
    on, conf = pick_onsets_with_confidence(act, {"BD": 0.1, "SD": 0.1, "TT": 0.1, "HH": 0.1, "CY": 0.1}, VOGL)
    assert on["SD"].tolist() == [0.3, 0.8, 2.0, 2.5]
    assert conf["SD"].tolist() == pytest.approx([0.9, 0.5, 0.7, 0.6], abs=1e-6)
    for c in ("BD", "TT", "HH", "CY"):
        assert on[c].size == 0 and conf[c].size == 0
    # a higher threshold drops the 0.5 bump; fps scales the times
    assert pick_onsets(act, 0.5, VOGL, fps=50)["SD"].tolist() == [0.6, 4.0, 5.0]
    # with no wait both close peaks survive
    assert 2.02 in pick_onsets(act, 0.1, {**VOGL, "wait": 0})["SD"].tolist()


def test_picker_mean_is_the_mean_a_peak_must_clear():
    """picker_mean: the moving mean of the picker's condition 2, by hand on a short signal, and
    the one the picker uses: a local maximum is picked exactly when it clears mean + delta."""
    x = np.array([0.0, 1.0, 0.0, 0.0, 0.5, 0.0], dtype=np.float32)
    # pre_avg 2, post_avg 1: mean over [n - 2, n + 1), clipped at the edges
    want = [0.0, 0.5, 1 / 3, 1 / 3, 1 / 6, 0.5 / 3]
    assert picker_mean(x, 2, 1) == pytest.approx(want, abs=1e-6)
    rng = np.random.default_rng(0)
    y = rng.random(400).astype(np.float32)
    p = VOGL
    mean = picker_mean(y, p["pre_avg"], p["post_avg"])
    for delta in (0.05, 0.2, 0.4):
        picked = set(peak_pick(y, p["pre_max"], p["post_max"], p["pre_avg"], p["post_avg"], delta, 0).tolist())
        local_max = {n for n in range(400) if y[n] == y[max(0, n - p["pre_max"]):n + p["post_max"]].max()}
        assert picked == {n for n in local_max if y[n] >= mean[n] + np.float32(delta)}
    with pytest.raises(ConfigError, match="post_avg"):
        picker_mean(y, 2, 0)


def _librosa(x, p, delta):
    return librosa.util.peak_pick(x, pre_max=p[0], post_max=p[1], pre_avg=p[2], post_avg=p[3],
                                  delta=delta, wait=p[4])


def test_numpy_picker_equals_librosa_on_random_and_realistic_signals():
    rng = np.random.default_rng(1)
    cases = 0
    for trial in range(400):
        n = int(rng.choice([1, 2, 3, 5, 17, 64, 400, 1000]))
        kind = trial % 5
        if kind == 0:    # white noise
            x = rng.random(n)
        elif kind == 1:  # realistic activation: sparse bumps on a low floor
            x = rng.random(n) * 0.05
            for c in rng.integers(0, n, max(1, n // 30)):
                x = np.maximum(x, bump(n, c, rng.uniform(0.05, 1.0), rng.uniform(0.5, 3)))
        elif kind == 2:  # quantised (bf16-like): plateaus and exact ties
            x = np.round(rng.random(n) * 8) / 8
        elif kind == 3:  # flat signals: every frame ties with the max and the mean
            x = np.full(n, rng.choice([0.0, 0.1, 0.3]))
        else:            # half precision input (cast to float32 by both)
            x = rng.random(n)
        dtype = [np.float32, np.float64][trial % 2] if kind != 4 else np.float16
        x = np.asarray(x).astype(dtype)
        p = (int(rng.integers(0, 5)), int(rng.integers(1, 5)), int(rng.integers(0, 12)),
             int(rng.integers(1, 5)), int(rng.integers(0, 5)))
        if trial % 7 == 0:
            p = tuple(DEFAULT_PEAK_PARAMS[k] for k in ("pre_max", "post_max", "pre_avg", "post_avg", "wait"))
        delta = float(rng.choice([0.0, 0.05, 0.1, 0.3, rng.random()]))
        want = _librosa(x, p, delta)
        got = peak_pick(x, *p[:4], delta, p[4])
        assert got.tolist() == want.tolist(), (trial, n, kind, dtype, p, delta)
        assert got.tolist() == peak_pick(x, *p[:4], delta, p[4], backend="librosa").tolist()
        cases += 1
    assert cases == 400


def test_empty_signal_and_bad_params():
    assert peak_pick(np.zeros(0), 2, 2, 10, 2, 0.1, 2).tolist() == []
    with pytest.raises(ConfigError, match="post_max"):
        peak_pick(np.zeros(10), 2, 0, 10, 2, 0.1, 2)
    with pytest.raises(ConfigError, match="delta"):
        peak_pick(np.zeros(10), 2, 2, 10, 2, -0.1, 2)
    with pytest.raises(ValueError, match="x"):
        peak_pick(np.zeros((3, 3)), 2, 2, 10, 2, 0.1, 2)
    act = np.zeros((10, 5), dtype=np.float32)
    with pytest.raises(ConfigError, match="wait"):
        pick_onsets(act, 0.1, {k: v for k, v in VOGL.items() if k != "wait"})
    with pytest.raises(ConfigError, match="unknown"):
        pick_onsets(act, 0.1, {**VOGL, "pre_maxx": 1})
    with pytest.raises(ConfigError, match="thresholds"):
        pick_onsets(act, {"BD": 0.1}, VOGL)
    with pytest.raises(ValueError, match="logits"):
        pick_onsets(act - 3.0, 0.1, VOGL)
    with pytest.raises(ValueError, match="activations"):
        pick_onsets(np.zeros((10, 4), dtype=np.float32), 0.1, VOGL)
    # the whole config section (with threshold_grid) is accepted
    pick_onsets(act, [0.1] * 5, {**VOGL, "threshold_grid": [0.1, 0.2]})


def _spikes(n, frames_heights):
    x = np.zeros(n, dtype=np.float32)
    for f, h in frames_heights:
        x[f] = h
    return x


def test_tune_thresholds_matches_a_hand_computation():
    # Isolated one-frame spikes of height h: the moving mean over 12 frames is h/12, so a
    # spike is picked iff h * 11/12 >= delta.
    # BD spikes: true 0.9, 0.6, 0.25; false 0.4, 0.15 (over two tracks). By hand:
    #   delta 0.1 -> all 5 picked: tp 3 fp 2 fn 0 -> F1 6/8  = 0.75
    #   delta 0.3 -> 0.9 0.6 0.4:  tp 2 fp 1 fn 1 -> F1 4/6  = 0.667
    #   delta 0.5 -> 0.9 0.6:      tp 2 fp 0 fn 1 -> F1 4/5  = 0.8   <- best
    #   delta 0.7 -> 0.9:          tp 1 fp 0 fn 2 -> F1 2/4  = 0.5
    n = 400
    a1 = np.zeros((n, 5), dtype=np.float32)
    a2 = np.zeros((n, 5), dtype=np.float32)
    a1[:, 0] = _spikes(n, [(50, 0.9), (120, 0.4), (200, 0.25)])
    a2[:, 0] = _spikes(n, [(60, 0.6), (300, 0.15)])
    r1 = {"BD": np.array([0.5, 2.0])}
    r2 = {"BD": np.array([0.6])}
    # SD: no reference at all, a 0.5 spike: predicted at 0.1 and 0.3, not at 0.5 -> 0.5
    a1[:, 1] = _spikes(n, [(100, 0.5)])
    # HH: a true 0.2 spike and a false 0.8 spike: delta 0.1: tp 1 fp 1 -> F1 2/3;
    # delta 0.3, 0.5, 0.7: only the false one: tp 0 fp 1 fn 1 -> 0; best 0.1
    a2[:, 3] = _spikes(n, [(100, 0.2), (200, 0.8)])
    r2["HH"] = np.array([1.0])
    grid = [0.7, 0.1, 0.5, 0.3]  # order does not matter
    counts = threshold_counts([a1, a2], [r1, r2], VOGL, grid=grid)
    assert counts["BD"].tolist() == [[3, 2, 0], [2, 1, 1], [2, 0, 1], [1, 0, 2]]
    th = tune_thresholds([a1, a2], [r1, r2], VOGL, grid=grid)
    assert th["BD"] == 0.5
    assert th["SD"] == 0.5
    assert th["HH"] == 0.1
    # TT and CY: nothing anywhere -> every threshold ties at "nothing to find, nothing found": lowest
    assert th["TT"] == 0.1 and th["CY"] == 0.1
    # the choice from counts alone (benchmarks/retune_folds.py sums counts of two item sets first)
    assert best_thresholds(counts, grid) == th
    doubled = {c: 2 * v for c, v in counts.items()}  # the same items twice: the same choice
    assert best_thresholds(doubled, grid) == th
    extra = {**counts, "BD": counts["BD"] + np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0], [9, 0, 0]])}
    assert best_thresholds(extra, grid)["BD"] == 0.7  # 9 more hits found only at 0.7: F1 20/22 there


def test_tuned_counts_equal_pick_then_mir_eval():
    # the tuner's fast path equals picking each threshold and scoring with mir_eval matching
    rng = np.random.default_rng(3)
    acts, refs = [], []
    for _ in range(3):
        n = 600
        a = (rng.random((n, 5)) * 0.05).astype(np.float32)
        ref = {}
        for i, c in enumerate(CLASSES):
            frames = np.sort(rng.choice(np.arange(5, n - 5), 12, replace=False))
            for f in frames:
                a[f + rng.integers(-3, 4), i] = rng.uniform(0.1, 1.0)
            ref[c] = frames / 100.0
        acts.append(a)
        refs.append(ref)
    grid = [0.1, 0.2, 0.4, 0.6]
    counts = threshold_counts(acts, refs, VOGL, grid=grid)
    for g, delta in enumerate(grid):
        total = sum_counts(class_counts(r, pick_onsets(a, delta, VOGL)) for a, r in zip(acts, refs))
        for c in CLASSES:
            assert tuple(counts[c][g]) == total[c]
    th = tune_thresholds(acts, refs, VOGL, grid=grid)
    for c in CLASSES:
        per = [scores(sum_counts(class_counts(r, pick_onsets(a, d, VOGL)) for a, r in zip(acts, refs)))[f"f1_{c}"]
               for d in grid]
        assert th[c] == grid[int(np.argmax(per))]


def test_tune_rejects_mismatched_lists():
    a = np.zeros((10, 5), dtype=np.float32)
    with pytest.raises(ValueError, match="references_list"):
        tune_thresholds([a, a], [{}], VOGL)
    with pytest.raises(ValueError, match="activations_list"):
        tune_thresholds([], [], VOGL)
