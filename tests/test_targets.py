"""targets.py: widening, class weights, 4 s datapoints, the Dataset with DataLoader workers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import soundfile as sf
import torch

from drumscribe import CLASSES
from drumscribe.datasets import Track
from drumscribe.errors import InputError
from drumscribe.cache import build_cache, norm_stats, read_track
from drumscribe.features import FeatureConfig
from drumscribe.labels import empty_onsets
from drumscribe.targets import (
    DatapointDataset, class_weights, datapoint_index, frame_targets, onset_frames, track_arrays,
)

SR = 44100


def on(**kw):
    o = empty_onsets()
    o.update({k: np.asarray(v, float) for k, v in kw.items()})
    return o


# ------------------------------------------------------------ frame targets
def test_widening_exact_values():
    y = frame_targets(on(BD=[0.05]), 10, fps=100, widen=0.5)
    assert y.shape == (10, 5) and y.dtype == np.float32
    assert y[:, 0].tolist() == [0, 0, 0, 0, 0.5, 1, 0.5, 0, 0, 0]
    assert not y[:, 1:].any()


def test_adjacent_onsets_keep_their_ones():
    y = frame_targets(on(SD=[0.03, 0.04], HH=[0.02, 0.04]), 8, widen=0.5)
    assert y[:, 1].tolist() == [0, 0, 0.5, 1, 1, 0.5, 0, 0]
    assert y[:, 3].tolist() == [0, 0.5, 1, 0.5, 1, 0.5, 0, 0]


def test_widen_value_and_zero():
    assert frame_targets(on(TT=[0.02]), 5, widen=0.3)[:, 2].tolist() == pytest.approx([0, 0.3, 1, 0.3, 0])
    assert frame_targets(on(TT=[0.02]), 5, widen=0.0)[:, 2].tolist() == [0, 0, 1, 0, 0]
    with pytest.raises(ValueError):
        frame_targets(on(), 5, widen=1.5)


def test_rounding_and_edges():
    # 0.125 s * 100 = 12.5 → frame 13 (half up); 0.124 → 12
    assert onset_frames([0.125, 0.124, 0.0], 100).tolist() == [13, 12, 0]
    y = frame_targets(on(CY=[0.0, 0.094]), 10, widen=0.5)
    assert y[:, 4].tolist() == [1, 0.5, 0, 0, 0, 0, 0, 0, 0.5, 1]
    # an onset just past the end widens the last frame only; far outside: nothing
    y = frame_targets(on(BD=[0.10, 5.0]), 10, widen=0.5)
    assert y[:, 0].tolist() == [0] * 9 + [0.5]
    with pytest.raises(ValueError):
        frame_targets({"XX": np.array([0.1])}, 10)


# ------------------------------------------------------------- HDF5 fixture
def make_cache(tmp_path, name, tracks_spec):
    """Cache of tracks (id, split, onsets, seconds); audio = noise bursts at the onsets."""
    rng = np.random.default_rng(len(name))
    tracks = []
    for tid, split, onsets, seconds in tracks_spec:
        y = np.zeros(int(seconds * SR), np.float32) + 0.001 * rng.standard_normal(int(seconds * SR)).astype(np.float32)
        for ts in onsets.values():
            for t in ts:
                i = int(t * SR)
                y[i:i + 200] += 0.5 * rng.uniform(-1, 1, len(y[i:i + 200])).astype(np.float32)
        p = tmp_path / f"{name}_{tid}.wav"
        sf.write(p, y, SR, subtype="PCM_16")
        tracks.append(Track(tid, split, tid, (p,), (lambda o=on(**onsets): o)))
    return build_cache(tracks, tmp_path / f"{name}.h5", FeatureConfig(), name=name, progress=False)


SPEC_A = [
    ("a0", "train", {"BD": [0.5, 1.0, 3.99, 4.0, 9.0], "HH": [0.25, 4.5]}, 9.5),  # 950 frames → 3 datapoints
    ("a1", "train", {"SD": [0.1, 2.0], "CY": [3.0]}, 4.0),  # 400 frames → exactly 1
    ("a2", "validation", {"BD": [0.2]}, 2.0),
]


def test_datapoint_index_and_padding(tmp_path):
    h5 = make_cache(tmp_path, "a", SPEC_A)
    idx = datapoint_index([h5], "train", frames=400)
    assert idx == [(0, "a0", 0), (0, "a0", 400), (0, "a0", 800), (0, "a1", 0)]
    assert datapoint_index([h5], "validation") == [(0, "a2", 0)]
    assert len(datapoint_index([h5, h5], "train", frames=100)) == 2 * (10 + 4)

    ds = DatapointDataset([h5], "train", frames=400, widen=0.5)
    assert len(ds) == 4
    mean, std = norm_stats([h5])
    spec, onsets, _ = read_track(h5, "a0")
    full_y = frame_targets(onsets, len(spec), widen=0.5)
    for k, start in enumerate((0, 400, 800)):
        x, y = ds[k]
        assert x.shape == (400, 84) and y.shape == (400, 5) and x.dtype == y.dtype == np.float32
        n = min(400, 950 - start)
        np.testing.assert_allclose(x[:n], (spec[start:start + n] - mean) / std, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(y[:n], full_y[start:start + n])
    x, y = ds[2]  # 800..949 real, 950..1199 zero padding (silence), no targets
    np.testing.assert_allclose(x[150:], np.broadcast_to(-mean / std, (250, 84)), rtol=1e-6)
    assert not y[150:].any()
    assert y[100, 0] == 1.0 and y[99, 0] == 0.5  # onset at 9.0 s = frame 900
    # onsets at 3.99 and 4.0 s straddle the datapoint boundary: both windows agree with the track
    assert ds[0][1][399, 0] == 1.0 and ds[1][1][0, 0] == 1.0 and ds[1][1][1, 0] == 0.5


def test_explicit_normalisation_and_widen(tmp_path):
    h5 = make_cache(tmp_path, "a", SPEC_A)
    mean = np.full(84, 0.5, np.float32)
    std = np.full(84, 2.0, np.float32)
    ds = DatapointDataset([h5], "validation", mean=mean, std=std, widen=0.0)
    spec, _, _ = read_track(h5, "a2")
    x, y = ds[0]
    np.testing.assert_allclose(x[:200], (spec - 0.5) / 2.0, rtol=1e-6)
    assert y[:, 0].sum() == 1.0 and y[20, 0] == 1.0
    with pytest.raises(InputError, match="bins"):
        DatapointDataset([h5], "train", mean=np.zeros(10), std=np.ones(10))


def test_class_weights_formula(tmp_path):
    h5 = make_cache(tmp_path, "a", SPEC_A)
    w = class_weights([h5], "train", widen=0.5)
    # train: 1350 frames; positives = sum of widened targets per class
    pos = np.zeros(5)
    total = 0
    for tid in ("a0", "a1"):
        spec, onsets, _ = read_track(h5, tid)
        pos += frame_targets(onsets, len(spec), widen=0.5).sum(0)
        total += len(spec)
    assert total == 1350
    # BD frames 50, 100, 399, 400, 900: five ones; neighbours 49, 51, 99, 101, 398, 401, 899, 901
    # get 0.5 (399 and 400 are each other's neighbours and stay 1)
    assert pos[0] == 5 + 0.5 * 8
    assert pos[2] == 0  # no toms in train → counted as one positive frame
    inv = total / np.maximum(pos, 1)
    np.testing.assert_allclose(w, inv / inv.mean(), rtol=1e-6)
    assert w.mean() == pytest.approx(1.0) and int(np.argmax(w)) == 2
    assert w.dtype == np.float32 and w.shape == (5,)
    with pytest.raises(InputError, match="no test"):
        class_weights([h5], "test")


def test_dataloader_workers_give_same_batches(tmp_path):
    h5a = make_cache(tmp_path, "a", SPEC_A)
    h5b = make_cache(tmp_path, "b", [("b0", "train", {"TT": [0.3, 1.7]}, 6.0)])
    ds = DatapointDataset([h5a, h5b], "train")
    assert len(ds) == 6
    # __init__ leaves no open HDF5 handle behind (nothing to inherit through fork)
    assert ds._files is None
    pickle.loads(pickle.dumps(ds))  # spawn-safe too

    def batches(workers):
        dl = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False, num_workers=workers)
        return [(x.numpy(), y.numpy()) for x, y in dl]

    b0 = batches(0)
    b2 = batches(2)
    assert len(b0) == len(b2) == 2
    for (x0, y0), (x2, y2) in zip(b0, b2):
        assert x0.shape[1:] == (400, 84) and y0.shape[1:] == (400, 5)
        np.testing.assert_array_equal(x0, x2)
        np.testing.assert_array_equal(y0, y2)
    assert b0[1][1][:, :, 2].max() == 1.0  # toms of b0 present in the second batch
    ds.close()


def test_preloaded_datapoints_equal_the_lazy_ones(tmp_path):
    h5a = make_cache(tmp_path, "a", SPEC_A)
    h5b = make_cache(tmp_path, "b", [("b0", "train", {"TT": [0.3, 1.7]}, 6.0)])
    ds = DatapointDataset([h5a, h5b], "train", widen=0.3)
    pre = ds.preload()
    assert len(pre) == len(ds) == 6 and pre.n_bins == 84
    assert ds.nbytes() == 6 * 400 * (2 * 84 + 4 * 5)
    x, y = pre.batch(torch.tensor([4, 0, 5]))
    for row, i in enumerate((4, 0, 5)):
        xl, yl = ds[i]
        np.testing.assert_array_equal(x[row].numpy(), xl)  # same float32 arithmetic
        np.testing.assert_array_equal(y[row].numpy(), yl)
    assert y[0, :, 2].max() == 1.0 and abs(float(y[0, 29, 2]) - 0.3) < 1e-7  # b0's tom at 0.3 s, widened


def test_track_arrays(tmp_path):
    h5 = make_cache(tmp_path, "a", SPEC_A)
    got = list(track_arrays(h5, "train"))
    assert [t for _, _, t in got] == ["a0", "a1"]
    spec, onsets, _ = got[0]
    assert spec.shape == (950, 84) and onsets["HH"].tolist() == [0.25, 4.5]
    mean, std = norm_stats([h5])
    normed = next(track_arrays(h5, "train", mean=mean, std=std))[0]
    np.testing.assert_allclose(normed, (spec - mean) / std, rtol=1e-5, atol=1e-5)
    assert set(onsets) == set(CLASSES)
