"""The robustness suite: each degradation does what it claims, the stems load (and bad
stem folders fail in one line), and the suite runs end to end with the shipped model.

The real-data tests read the MDB dev songs' stems in ``../shared``; where that folder
is absent they fail (never skip): CI has it, and a suite that silently skipped its
real-recording checks would pass while measuring nothing.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy.signal import correlate, welch

from drumscribe import CLASSES, degrade, robustness
from drumscribe.errors import ConfigError, InputError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MDB_DEV = SHARED / "data" / "mdb_drums_dev" / "MDB Drums"
SR = 44100


@pytest.fixture(scope="module")
def mdb_root() -> Path:
    if not (MDB_DEV / "audio" / "multi-tracks").is_dir():
        pytest.fail(f"{MDB_DEV}/audio/multi-tracks: the MDB dev multi-tracks are missing "
                    "(the robustness suite's real-data tests need ../shared)")
    return MDB_DEV


@pytest.fixture(scope="module")
def punk(mdb_root) -> robustness.SongStems:
    """Punk's stems, the first 8 s (drums and accompaniment both playing)."""
    return robustness.song_stems(mdb_root, "Punk").cropped(8.0)


def noise(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def click_train(seconds: float = 4.0, every: float = 0.25) -> np.ndarray:
    """Short decaying noise bursts (broadband, like drum hits) every ``every`` seconds."""
    y = np.zeros(int(seconds * SR), np.float32)
    burst = (np.random.default_rng(1).standard_normal(400) * np.exp(-np.arange(400) / 60)).astype(np.float32)
    for t in np.arange(every, seconds - every, every):
        i = int(t * SR)
        y[i:i + 400] += 0.8 * burst
    return y


def band_power_db(y: np.ndarray, lo: float, hi: float) -> float:
    f, p = welch(y.astype(np.float64), fs=SR, nperseg=4096)
    return 10 * math.log10(np.sum(p[(f >= lo) & (f < hi)]) + 1e-30)


def lag_samples(y: np.ndarray, ref: np.ndarray) -> int:
    cc = correlate(y.astype(np.float64), ref.astype(np.float64), mode="full", method="fft")
    return int(np.argmax(cc)) - (len(ref) - 1)


# ------------------------------------------------------------------ degrade: band limits
@pytest.mark.parametrize("cutoff", [6000, 10000, 16000])
def test_lowpass_removes_energy_above_cutoff_keeps_below(cutoff):
    y = noise()
    z = degrade.lowpass(y, cutoff)
    assert z.shape == y.shape and z.dtype == np.float32
    # above the cut-off (up to Nyquist): 8th order run twice, far below the input there
    above = band_power_db(z, cutoff * 1.25, SR / 2) - band_power_db(y, cutoff * 1.25, SR / 2)
    below = band_power_db(z, 100, cutoff * 0.7) - band_power_db(y, 100, cutoff * 0.7)
    assert above < -40, above
    assert abs(below) < 0.2, below
    # zero phase: a click stays where it was
    c = click_train(2.0)
    assert abs(lag_samples(degrade.lowpass(c, cutoff), c)) <= 1


@pytest.mark.parametrize("rate", [22050, 16000])
def test_resample_through_band_limits_and_keeps_length(rate):
    y = noise()
    z = degrade.resample_through(y, rate)
    assert z.shape == y.shape
    assert band_power_db(z, rate / 2 * 1.05, SR / 2) - band_power_db(y, rate / 2 * 1.05, SR / 2) < -40
    assert abs(band_power_db(z, 100, rate / 2 * 0.8) - band_power_db(y, 100, rate / 2 * 0.8)) < 0.2
    c = click_train(2.0)
    assert abs(lag_samples(degrade.resample_through(c, rate), c)) <= 1


def test_band_limit_parameters_out_of_range():
    y = noise(0.1)
    with pytest.raises(ConfigError, match="cutoff_hz.*Nyquist"):
        degrade.lowpass(y, 30000)
    with pytest.raises(ConfigError, match="rate"):
        degrade.resample_through(y, 48000)


# ------------------------------------------------------------------ degrade: codecs
@pytest.mark.parametrize("codec,params,encoder", [
    ("mp3", {"bitrate_kbps": 128}, "lame"),
    ("mp3", {"bitrate_kbps": 64}, "lame"),
    ("vorbis", {"quality": 0}, "oggenc"),
    ("mp3", {"bitrate_kbps": 64}, "ffmpeg"),
    ("vorbis", {"quality": 0}, "ffmpeg"),
])
def test_codec_roundtrip_is_lossy_aligned_within_1ms_and_keeps_length(codec, params, encoder):
    y = click_train(4.0) + 0.05 * noise(4.0, seed=3)
    z = degrade.codec_roundtrip(y, codec, encoder=encoder, **params)
    assert z.shape == y.shape and z.dtype == np.float32
    assert abs(lag_samples(z, y)) <= SR // 1000, lag_samples(z, y)  # within 1 ms
    # really encoded: not the input back, yet the same signal (correlated)
    err_db = 10 * math.log10(np.mean((z - y) ** 2) / np.mean(y ** 2))
    assert -40 < err_db < -3, err_db
    # the clicks come out where they went in (onset by onset)
    env_in = np.abs(y) > 0.3
    first_in, first_out = np.argmax(env_in), np.argmax(np.abs(z) > 0.3)
    assert abs(first_out - first_in) <= SR // 1000


def test_mp3_64_drops_more_high_band_than_128():
    y = noise(3.0)
    hi128 = band_power_db(degrade.codec_roundtrip(y, "mp3", bitrate_kbps=128), 16500, 20000)
    hi64 = band_power_db(degrade.codec_roundtrip(y, "mp3", bitrate_kbps=64), 16500, 20000)
    assert hi64 < hi128 - 10


def test_missing_encoder_names_binary_and_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match=r"lame: .*not found.*'lame'") as err:
        degrade.codec_roundtrip(noise(0.5), "mp3", bitrate_kbps=128)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"oggenc: .*vorbis-tools"):
        degrade.codec_roundtrip(noise(0.5), "vorbis", quality=0)


def test_codec_bad_parameters():
    with pytest.raises(ConfigError, match="codec"):
        degrade.codec_roundtrip(noise(0.1), "aac", bitrate_kbps=128)
    with pytest.raises(ConfigError, match="bitrate_kbps"):
        degrade.codec_roundtrip(noise(0.1), "mp3")
    with pytest.raises(ConfigError, match="encoder"):
        degrade.codec_roundtrip(noise(0.1), "mp3", bitrate_kbps=128, encoder="oggenc")


# ------------------------------------------------------------------ degrade: mastering, reverb, gain
def test_master_reaches_target_loudness_and_compresses(punk):
    y = degrade.peak_normalize(robustness.mix(punk), -1.0)
    z = degrade.master(y, target_lufs=-10.0)
    assert z.shape == y.shape
    assert abs(degrade.loudness_lufs(z) - (-10.0)) <= 0.5
    assert degrade.loudness_lufs(y) < -13  # it was quieter: the makeup did the work
    crest = lambda s: degrade.peak_db(s) - degrade.rms_db(s)  # noqa: E731
    assert crest(z) < crest(y) - 3  # compressed and limited, not just louder
    assert degrade.peak_db(z) <= 0.01
    z2 = degrade.master(y, target_lufs=-14.0)
    assert abs(degrade.loudness_lufs(z2) + 14.0) <= 0.5


def test_reverb_is_aligned_and_adds_a_tail():
    assert degrade.DEFAULT_IR.is_file(), f"{degrade.DEFAULT_IR}: install Debian guitarix-common"
    ir = degrade.load_impulse_response()
    ir_onset = int(np.argmax(np.abs(ir) > 0.05 * np.abs(ir).max()))
    imp = np.zeros(SR, np.float32)
    imp[1000] = 1.0
    wet = degrade.reverb(imp, wet=1.0)
    assert wet.shape == imp.shape
    assert int(np.argmax(np.abs(wet) > 0.05 * np.abs(wet).max())) - 1000 == ir_onset  # no delay beyond the IR's
    assert np.all(np.abs(wet[:1000]) < 1e-4)  # nothing before the impulse (causal)
    mixed = degrade.reverb(imp, wet=0.3)
    assert abs(mixed[1000] - 0.7) < 0.05  # the dry impulse in place
    # the reverberant path has unit energy gain: at wet 0.3 the reverb is 7.4 dB under the dry sound
    rev = mixed.astype(np.float64).copy()
    rev[1000] -= 0.7
    drr = 10 * math.log10(0.7 ** 2 / np.sum(rev ** 2))
    long = np.zeros(3 * SR, np.float32)
    long[1000] = 1.0
    rev_long = degrade.reverb(long, wet=0.3).astype(np.float64)
    rev_long[1000] -= 0.7
    drr_long = 10 * math.log10(0.7 ** 2 / np.sum(rev_long ** 2))
    assert abs(drr_long - 7.36) < 0.3, drr_long  # the whole 2.3 s tail
    assert drr > drr_long  # a 1 s excerpt holds less of it
    total = np.sum(rev_long ** 2)
    assert np.sum(rev_long[1000 + SR // 10:] ** 2) > 0.2 * total  # a hall: a third of it after 100 ms
    assert np.sum(rev_long[1000 + SR // 2:] ** 2) > 0.01 * total  # and a tail past 500 ms
    assert np.allclose(degrade.reverb(imp, wet=0.0), imp, atol=1e-5)
    with pytest.raises(ConfigError, match="wet"):
        degrade.reverb(imp, wet=1.5)
    with pytest.raises(ConfigError, match="impulse response not found"):
        degrade.reverb(imp, ir_path="/nonexistent/ir.wav")


def test_gain_and_peak_helpers():
    y = noise(0.5)
    assert abs(degrade.rms_db(degrade.gain_db(y, -12.0)) - (degrade.rms_db(y) - 12.0)) < 1e-3
    for peak in (-30.0, -1.0, 20.0):
        assert abs(degrade.peak_db(degrade.peak_normalize(y, peak)) - peak) < 1e-3
    assert np.all(degrade.peak_normalize(np.zeros(10, np.float32)) == 0)


# ------------------------------------------------------------------ stems and conditions
def test_natural_ratios_match_the_issue(mdb_root):
    tracks = robustness.mdb_tracks(mdb_root)
    assert len(tracks) == 9 and "MusicDelta_Shadows" in tracks
    ratios = {}
    for t in tracks:
        s = robustness.song_stems(mdb_root, t)
        assert s.drums.shape == s.accompaniment.shape and s.sr == SR
        assert all(v.shape == s.drums.shape for v in s.stems.values())
        assert not any("drum" in i for i in s.instruments.values())
        ratios[t] = robustness.natural_ratio_db(s)
    values = np.array(list(ratios.values()))
    assert 2.5 < values.min() < 3.5 and 20.5 < values.max() < 22, ratios  # +3 to +21 dB
    assert 10.5 < np.median(values) < 11.5, ratios  # median +11
    shadows = robustness.song_stems(mdb_root, "MusicDelta_Shadows")  # its drum raw is RAW_02_01
    assert sorted(shadows.stems) == ["MusicDelta_Shadows_RAW_01_01", "MusicDelta_Shadows_RAW_03_01",
                                     "MusicDelta_Shadows_RAW_04_01"]


def test_conditions_cover_the_issue_list():
    want = {"drums", "mix_natural", "mix_m6", "mix_0", "mix_p6", "mix_p12", "lp16k", "lp12k", "lp10k",
            "lp8k", "lp6k", "rs22k", "rs16k", "mp3_128", "mp3_64", "ogg_q0", "master", "reverb",
            "level_m30", "level_p20"}
    assert want <= set(robustness.CONDITIONS)
    assert list(robustness.CONDITIONS)[0] == "drums"
    with pytest.raises(ConfigError, match="robustness.conditions: unknown condition.*lp3k"):
        robustness.check_conditions(["drums", "lp3k"])
    assert robustness.check_conditions("all") == list(robustness.CONDITIONS)


@pytest.mark.parametrize("name,acc_db", [("mix_m6", -6.0), ("mix_0", 0.0), ("mix_p6", 6.0), ("mix_p12", 12.0)])
def test_mix_ratio_conditions(punk, name, acc_db):
    y = robustness.render_condition(punk, name)
    assert abs(degrade.peak_db(y) + 1.0) < 1e-3  # scaled to a -1 dBFS peak
    # undo the peak scaling: the drums inside the mix are the drum stem times one gain
    raw = robustness.mix(punk, acc_db)
    g = degrade.peak_db(y) - degrade.peak_db(raw)
    assert np.allclose(y, degrade.gain_db(raw, g), atol=1e-5)
    acc = raw - punk.drums
    assert abs((degrade.rms_db(acc) - degrade.rms_db(punk.drums)) - acc_db) < 0.01


def test_natural_and_drums_conditions(punk):
    assert np.array_equal(robustness.render_condition(punk, "drums"), punk.drums)
    nat = robustness.render_condition(punk, "mix_natural")
    ref = degrade.peak_normalize(punk.drums + punk.accompaniment, -1.0)
    assert np.allclose(nat, ref, atol=1e-6)


def test_level_conditions_give_the_asked_peak_and_survive_a_float_wav(punk, tmp_path):
    nat = robustness.render_condition(punk, "mix_natural")
    for name, peak in (("level_m30", -30.0), ("level_p20", 20.0)):
        y = robustness.render_condition(punk, name)
        assert abs(degrade.peak_db(y) - peak) < 1e-3
        assert np.allclose(degrade.peak_normalize(y, -1.0), nat, atol=1e-5)  # the same audio, scaled
        sf.write(tmp_path / f"{name}.wav", y, SR, subtype="FLOAT")
        back, _ = sf.read(tmp_path / f"{name}.wav", dtype="float32")
        assert abs(degrade.peak_db(back) - peak) < 1e-3  # not clipped


def test_band_limit_conditions_on_real_audio(punk):
    nat = robustness.render_condition(punk, "mix_natural")
    for name, edge in (("lp8k", 8000), ("rs16k", 8000), ("lp12k", 12000)):
        y = robustness.render_condition(punk, name)
        assert y.shape == nat.shape
        drop = band_power_db(y, edge * 1.3, 20000) - band_power_db(nat, edge * 1.3, 20000)
        assert drop < -30, (name, drop)


def test_master_and_codec_conditions_on_real_audio(punk):
    y = robustness.render_condition(punk, "master")
    assert abs(degrade.loudness_lufs(y) + 10.0) <= 0.5
    quiet = robustness.render_condition(punk, "master_natural")
    nat = robustness.render_condition(punk, "mix_natural")
    assert abs(degrade.loudness_lufs(quiet) - degrade.loudness_lufs(nat)) < 0.1
    mp3 = robustness.render_condition(punk, "mp3_64")
    assert mp3.shape == nat.shape and abs(lag_samples(mp3, nat)) <= SR // 1000


# ------------------------------------------------------------------ bad stem folders
def _fake_mdb(tmp_path: Path, song: str = "MusicDelta_Fake", raws=(("01", "drum set"), ("02", "electric bass"),
              ("03", "male singer")), drum_seconds=1.0) -> Path:
    root = tmp_path / "MDB Drums"
    (root / "annotations" / "class").mkdir(parents=True)
    (root / "annotations" / "class" / f"{song}_class.txt").write_text("0.5 \t KD\n")
    (root / "audio" / "drum_only").mkdir(parents=True)
    if drum_seconds:
        sf.write(root / "audio" / "drum_only" / f"{song}_Drum.wav", noise(drum_seconds), SR, subtype="PCM_16")
    raw_dir = root / "audio" / "multi-tracks" / song / f"{song}_RAW"
    raw_dir.mkdir(parents=True)
    lines = ["stems:"]
    for k, (n, instrument) in enumerate(raws, start=1):
        lines += [f"  S{n}:", f"    instrument: {instrument}", "    raw:", "      R01:",
                  f"        filename: {song}_RAW_{n}_01.wav", f"        instrument: {instrument}"]
        if instrument != "drum set":
            sf.write(raw_dir / f"{song}_RAW_{n}_01.flac", noise(1.0, seed=k), SR, subtype="PCM_16")
    (root / "audio" / "multi-tracks" / song / f"{song}_METADATA.yaml").write_text("\n".join(lines) + "\n")
    return root


def test_fake_song_loads(tmp_path):
    root = _fake_mdb(tmp_path)
    assert robustness.mdb_tracks(root) == ["MusicDelta_Fake"]
    s = robustness.song_stems(root, "Fake")
    assert sorted(s.instruments.values()) == ["electric bass", "male singer"]
    assert np.allclose(s.accompaniment, sum(s.stems.values()), atol=1e-6)


def test_stem_of_other_length_names_the_file(tmp_path):
    root = _fake_mdb(tmp_path)
    bad = root / "audio/multi-tracks/MusicDelta_Fake/MusicDelta_Fake_RAW/MusicDelta_Fake_RAW_03_01.flac"
    sf.write(bad, noise(0.9), SR, subtype="PCM_16")
    with pytest.raises(InputError, match=r"RAW_03_01\.flac: 39690 samples, but the drum stem") as err:
        robustness.song_stems(root, "Fake")
    assert "\n" not in str(err.value)


def test_stem_of_other_rate_names_the_file(tmp_path):
    root = _fake_mdb(tmp_path)
    bad = root / "audio/multi-tracks/MusicDelta_Fake/MusicDelta_Fake_RAW/MusicDelta_Fake_RAW_02_01.flac"
    sf.write(bad, noise(1.0)[:48000], 48000, subtype="PCM_16")
    with pytest.raises(InputError, match=r"RAW_02_01\.flac: 48000 Hz, but the drum stem .* 44100 Hz"):
        robustness.song_stems(root, "Fake")


def test_song_without_drum_stem(tmp_path):
    root = _fake_mdb(tmp_path, drum_seconds=0)
    with pytest.raises(InputError, match=r"MusicDelta_Fake_Drum\.wav: no drum stem for MusicDelta_Fake"):
        robustness.song_stems(root, "Fake")


def test_missing_and_unreadable_metadata(tmp_path):
    root = _fake_mdb(tmp_path)
    meta = root / "audio/multi-tracks/MusicDelta_Fake/MusicDelta_Fake_METADATA.yaml"
    meta.write_text("stems: [unclosed\n")
    with pytest.raises(InputError, match=r"METADATA\.yaml: unreadable METADATA"):
        robustness.song_stems(root, "Fake")
    meta.unlink()
    with pytest.raises(InputError, match=r"METADATA\.yaml: METADATA file not found"):
        robustness.song_stems(root, "Fake")


def test_song_with_only_a_drum_raw(tmp_path):
    root = _fake_mdb(tmp_path, raws=(("01", "drum set"),))
    with pytest.raises(InputError, match=r"METADATA\.yaml: no non-drum stems for MusicDelta_Fake"):
        robustness.song_stems(root, "Fake")


def test_stem_named_in_metadata_but_missing(tmp_path):
    root = _fake_mdb(tmp_path)
    (root / "audio/multi-tracks/MusicDelta_Fake/MusicDelta_Fake_RAW/MusicDelta_Fake_RAW_02_01.flac").unlink()
    with pytest.raises(InputError, match=r"RAW_02_01\.flac: raw stem named in the METADATA \(electric bass\) not found"):
        robustness.song_stems(root, "Fake")


def test_unreadable_stem(tmp_path):
    root = _fake_mdb(tmp_path)
    (root / "audio/multi-tracks/MusicDelta_Fake/MusicDelta_Fake_RAW/MusicDelta_Fake_RAW_02_01.flac").write_text("x")
    with pytest.raises(InputError, match=r"RAW_02_01\.flac: unreadable audio"):
        robustness.song_stems(root, "Fake")


def test_no_multitracks_folder(tmp_path):
    root = _fake_mdb(tmp_path)
    shutil.rmtree(root / "audio" / "multi-tracks")
    with pytest.raises(InputError, match="multi-tracks: no multi-track folders"):
        robustness.mdb_tracks(root)


# ------------------------------------------------------------------ end to end
def test_the_suite_refuses_a_model_on_a_song_it_heard(mdb_root, tmp_path):
    # the shipped release 4 trained on 7 of the 9 songs (and validated on the other 2)
    out = tmp_path / "rob"
    with pytest.raises(ConfigError, match="trained or validated on MusicDelta_Punk"):
        robustness.robustness(None, mdb_root, out / "long.csv", out / "wide.csv", out / "heat.png",
                              conditions=["drums"], tracks=["Punk"], threads=2, crop_s=4.0, progress=False)
    assert not out.exists() or not list(out.iterdir())


def test_robustness_one_song_two_conditions_fold_model(mdb_root, tmp_path):
    out = tmp_path / "rob"
    fold2 = REPO / "docs" / "results" / "release4-2026-12-01" / "models" / "fold2.pt"
    wide = robustness.robustness({"Punk": str(fold2)}, mdb_root, out / "long.csv", out / "wide.csv", out / "heat.png",
                                 conditions=["drums", "lp6k"], tracks=["Punk"], threads=2, crop_s=8.0,
                                 progress=False)
    long_df = pd.read_csv(out / "long.csv")
    assert len(long_df) == 2 * len(CLASSES)
    assert set(long_df["condition"]) == {"drums", "lp6k"} and set(long_df["model"]) == {str(fold2)}
    assert long_df["natural_ratio_db"].nunique() == 1
    w = pd.read_csv(out / "wide.csv")
    assert list(w["condition"]) == ["drums", "lp6k", "worst", "mean"]
    assert {"micro_f1", "macro_f1", *(f"f1_{c}" for c in CLASSES)} <= set(w.columns)
    drums = w.set_index("condition").loc["drums"]
    assert drums["micro_f1"] > 0.5  # the fold model (never trained on Punk) hears its drums
    # the wide scores are those of the summed counts
    sub = long_df[long_df["condition"] == "drums"]
    tp, fp, fn = sub["tp"].sum(), sub["fp"].sum(), sub["fn"].sum()
    assert abs(drums["micro_f1"] - 2 * tp / (2 * tp + fp + fn)) < 1e-4
    assert w.set_index("condition").loc["worst", "micro_f1"] == pytest.approx(w["micro_f1"][:2].min(), abs=1e-4)
    assert (out / "heat.png").stat().st_size > 10_000
    assert not list(out.glob(".*tmp*"))  # atomic: no temporaries left
    assert isinstance(wide, pd.DataFrame)


def test_robustness_per_song_models_and_bad_arguments(mdb_root, tmp_path):
    with pytest.raises(ConfigError, match="models: no model given for song MusicDelta_Punk"):
        robustness.robustness({"Beatles": "package"}, mdb_root, tmp_path / "l.csv", tmp_path / "w.csv",
                              tmp_path / "h.png", conditions=["drums"], tracks=["Punk"], progress=False)
    with pytest.raises(ConfigError, match="tracks: MusicDelta_Nope not among"):
        robustness.robustness(None, mdb_root, tmp_path / "l.csv", tmp_path / "w.csv", tmp_path / "h.png",
                              conditions=["drums"], tracks=["Nope"], progress=False)
    assert not (tmp_path / "w.csv").exists()


# ------------------------------------------------------------------ the graph
def _dry_run(tmp_path: Path, *args: str) -> "subprocess.CompletedProcess":
    import subprocess

    from conftest import REPO, snakemake_cmd

    return subprocess.run(snakemake_cmd(*args, "-n", "--quiet", "rules", "--directory", str(tmp_path)),
                          cwd=REPO, capture_output=True, text=True, timeout=240)


def test_graph_plans_the_suite_per_model_and_refuses_unknown_conditions(tmp_path):
    from conftest import REPO

    cv = tmp_path / "cv.yaml"
    cv.write_text("robustness:\n  models:\n    cv: {Punk: package, Beatles: results/release/drumscribe-default.pt}\n"
                  "  tracks: [Punk, Beatles]\n")
    proc = _dry_run(tmp_path, "results/robustness/cv.csv", "--configfile", str(REPO / "config/presets/quick.yaml"),
                    str(cv))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^robustness\s+1$", proc.stdout, re.M)
    assert re.search(r"^release_card\s+1$", proc.stdout, re.M)  # a fold's model is built first
    bad = tmp_path / "bad.yaml"
    bad.write_text("robustness:\n  conditions: [drums, lp3k]\n")
    proc = _dry_run(tmp_path, "--configfile", str(bad))
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("drumscribe:")]
    assert lines and "robustness.conditions: unknown condition(s) lp3k" in lines[0]


@pytest.mark.slow
def test_quick_dag_runs_the_suite_on_the_fold_models(quick_dag_results):
    wide = pd.read_csv(quick_dag_results / "robustness" / "cv.csv")
    assert list(wide["condition"]) == ["drums", "mix_natural", "lp8k", "mp3_64", "worst", "mean"]
    assert wide.set_index("condition").loc["drums", "micro_f1"] > 0.6
    long_df = pd.read_csv(quick_dag_results / "robustness" / "cv_long.csv")
    assert set(long_df["song"]) == {"MusicDelta_Punk"}
    assert [m.endswith("docs/results/release6-2026-12-02/models/fold2.pt") for m in set(long_df["model"])] == [True]
    assert (quick_dag_results / "plots" / "robustness_cv.png").is_file()


def test_check_config(tmp_path, mdb_root):
    ok = {"models": {"shipped": "package", "cv": {"Punk": "a.pt", "Beatles": "b.pt"}}, "in_all": ["shipped"],
          "conditions": "all", "tracks": ["Punk", "MusicDelta_Beatles"]}
    robustness.check_config(ok, mdb_root)
    robustness.check_config({**ok, "tracks": "all", "models": {"shipped": "package"}}, tmp_path / "absent")
    with pytest.raises(ConfigError, match=r"robustness.in_all\[0\]: 'cv2' is not a name"):
        robustness.check_config({**ok, "in_all": ["cv2"]}, mdb_root)
    with pytest.raises(ConfigError, match="robustness.tracks: Nope not among"):
        robustness.check_config({**ok, "tracks": ["Nope"]}, mdb_root)
    with pytest.raises(ConfigError, match="robustness.models.cv: no model for song MusicDelta_80sRock"):
        robustness.check_config({**ok, "tracks": "all"}, mdb_root)
    assert robustness.model_files({"Punk": "a.pt", "Beatles": "a.pt", "Grunge": "package"})[0] == "a.pt"
    assert robustness.model_files("package")[0].endswith("drumscribe-default.pt")
