"""cache.py: a cache round-trips its tracks, attributes and normalisation statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drumscribe import CLASSES, DATAPOINT_FRAMES, __version__, cache
from drumscribe.errors import InputError
from drumscribe.features import FeatureConfig, n_bins

from test_features import CFG, TOY, make_tracks


def test_cache_round_trips_tracks_attributes_and_norm(tmp_path):
    tracks = make_tracks(tmp_path, TOY)
    out = cache.features(tracks, tmp_path / "toy.h5", CFG, progress=False)  # rule features: build + verify
    attrs = cache.cache_attrs(out)
    assert attrs["dataset"] == "toy" == cache.dataset_name(out)  # the name defaults to the file's stem
    assert attrs["config_hash"] == CFG.hash() and attrs["n_bins"] == n_bins(CFG) and attrs["fps"] == CFG.fps
    assert json.loads(attrs["classes"]) == list(CLASSES) and attrs["drumscribe_version"] == __version__
    assert cache.cache_config(out) == CFG
    cache.check_cache(out, CFG)
    cache.verify_cache(out, full=True)
    entries = cache.entries(out, onsets=True)
    assert [e.track_id for e in entries] == [t.track_id for t in tracks]
    for e, t, (_, split, onsets, seconds) in zip(entries, tracks, TOY):
        assert e.key == cache.track_key(t.track_id) and e.split == split
        assert e.n_frames == int(np.ceil(seconds * CFG.fps)) and e.shape[1] == n_bins(CFG)
        for c in CLASSES:
            np.testing.assert_array_equal(e.onsets[c], onsets.get(c, []))
        spec, on, a = cache.read_track(out, t.track_id)
        np.testing.assert_array_equal(spec, cache.read_spec(out, e.key))
        assert a["split"] == split and a["n_frames"] == e.n_frames
    assert [e.track_id for e in cache.entries(out, "train")] == ["kitA/t0", "kitA/t1"]
    with cache.reading(out) as h5:
        assert cache.spec_dataset(h5, "kitA__t1").chunks == (DATAPOINT_FRAMES, n_bins(CFG))
        assert cache.entries(h5) == cache.entries(out)  # an open file is passed through
        assert h5.id.valid
    train = np.concatenate([cache.read_track(out, t)[0] for t in ("kitA/t0", "kitA/t1")]).astype(np.float64)
    mean, std = cache.norm_stats([out])
    np.testing.assert_allclose(mean, train.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std, np.maximum(train.std(0), 1e-5), rtol=1e-4, atol=1e-5)


def test_the_rule_entry_fails_on_a_bad_write_and_sets_it_aside(tmp_path, monkeypatch):
    good = cache.build_cache(make_tracks(tmp_path, TOY[:1]), tmp_path / "good.h5", CFG, name="toy", progress=False)
    data = good.read_bytes()

    def truncating_build(tracks, out_h5, *args, **kw):  # a write that went wrong after the rename
        Path(out_h5).write_bytes(data[: len(data) // 2])
        return Path(out_h5)

    monkeypatch.setattr(cache, "build_cache", truncating_build)
    with pytest.raises(InputError, match="toy.h5: corrupt or truncated"):
        cache.features([], tmp_path / "toy.h5", CFG, name="toy", progress=False)
    assert not (tmp_path / "toy.h5").exists() and (tmp_path / "toy.h5.corrupt").is_file()


def test_open_cache_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="absent.h5: feature cache not found"):
        cache.open_cache(tmp_path / "absent.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="bad.h5: corrupt or truncated") as err:
        cache.entries(bad)
    assert "\n" not in str(err.value) and (tmp_path / "bad.h5.corrupt").is_file()


def test_build_cache_refuses_another_feature_config_on_check(tmp_path):
    out = cache.build_cache(make_tracks(tmp_path, TOY[:1]), tmp_path / "a.h5", CFG, name="a", progress=False)
    with pytest.raises(InputError, match="a.h5: built with feature config"):
        cache.check_cache(out, FeatureConfig(kind="mel"))
