"""gmd_synth / gmd_synth_mix: grooves rendered per kit, manifests, splits, accompaniment."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pretty_midi
import pytest
import soundfile as sf

from drumscribe import datasets
from drumscribe.errors import ConfigError, InputError
from drumscribe.labels import ROLAND_TO_CLASS
from drumscribe.references import onsets_from_midi
from drumscribe.synth import accompaniment, fluid, gmd, kits, render

SHARED = Path(__file__).resolve().parents[2] / "shared"
GMD = SHARED / "data" / "gmd" / "groove"
SR = 44100
needs_fluid = pytest.mark.skipif(not fluid.available(), reason="libfluidsynth not installed")


def _write_groove(path: Path, bpm: float = 120.0, bars: int = 2, ts=(4, 4)) -> dict[str, list[float]]:
    """A real MIDI groove (Roland notes incl. 22/26/58) on a known grid; returns its notes by time."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(ts[0], ts[1], 0.0))
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    spb = 60.0 / bpm
    beats = int(bars * ts[0] * 4 / ts[1])
    notes = []
    for b in range(beats):
        t = b * spb + 0.003
        notes.append((t, 36 if b % 2 == 0 else 38, 100))
        notes.append((t, 22 if b % 3 else 42, 70))
        notes.append((t + spb / 2, 26 if b == 1 else 44, 60))
    notes += [(0.25 * spb, 58, 90), (0.75 * spb, 48, 90), (beats * spb - spb / 2, 49, 110), (spb * 1.5, 53, 80)]
    for t, p, v in notes:
        drums.notes.append(pretty_midi.Note(velocity=v, pitch=p, start=t, end=t + 0.1))
    pm.instruments.append(drums)
    pm.write(str(path))
    # the times as the file holds them (quantized to MIDI ticks)
    back = pretty_midi.PrettyMIDI(str(path))
    return [(n.start, n.pitch, n.velocity) for inst in back.instruments for n in inst.notes]


def _info_row(gid: str, midi: str, split: str, session: str, duration: float, bpm=120, ts="4-4") -> dict:
    return {"drummer": session.split("/")[0], "session": session, "id": gid, "style": "rock", "bpm": bpm,
            "beat_type": "beat", "time_signature": ts, "midi_filename": midi, "audio_filename": "",
            "duration": duration, "split": split}


# ---------------------------------------------------------------- one groove through three kinds of kit

@pytest.mark.parametrize("kit_id", ["fluidr3_standard", "avl_black_pearl", "hydrogen_black_pearl"])
def test_render_short_groove(tmp_path, kit_id):
    kit = kits.get_kit(kit_id)
    if not kit.installed:
        pytest.skip(f"{kit.source} not installed")
    if kit.kind != "hydrogen" and not fluid.available():
        pytest.skip("libfluidsynth not installed")
    midi = tmp_path / "groove.mid"
    notes = _write_groove(midi, bpm=120, bars=2)  # 4 s of music
    y, onsets, dur = render.render_performance(kit_id, midi, max_seconds=3.0)
    assert dur == pytest.approx(3.0)
    assert len(y) == int(round(3.0 * SR))
    assert np.sqrt(np.mean(y ** 2)) > 1e-3  # not silent
    # every note before 3 s is labelled once, in its class, within 10 ms after its note-on
    nmap = render.kit_note_map(render.open_kit(kit_id).slots)
    for cls in ("BD", "SD", "TT", "HH", "CY"):
        ref = sorted(t for t, p, v in notes if ROLAND_TO_CLASS[p] == cls and t < 3.0 and p in nmap)
        got = onsets[cls]
        assert len(got) == len(ref), (cls, got, ref)
        if ref:
            d = got - np.asarray(ref)
            assert np.all(d > -1.0 / SR) and np.all(d < 0.010), (cls, d)
    # the labels sit where the audio becomes loud: energy right after each BD label exceeds energy before it
    for t in onsets["BD"][onsets["BD"] > 0.05]:
        i = int(t * SR)
        assert np.abs(y[i: i + 441]).max() > 3 * np.abs(y[i - 441 - 200: i - 200]).max() + 1e-6


def test_midi_without_drum_notes_is_an_error(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(velocity=80, pitch=p, start=0.1 * i, end=0.1 * i + 0.1) for i, p in
                   enumerate(range(60, 72))]
    pm.instruments.append(piano)
    path = tmp_path / "melody.mid"
    pm.write(str(path))
    with pytest.raises(InputError, match=r"melody\.mid: no drum notes"):
        render.read_hits(path)
    (tmp_path / "text.mid").write_text("not midi")
    with pytest.raises(InputError, match=r"text\.mid: not a readable MIDI file"):
        render.read_hits(tmp_path / "text.mid")


# ---------------------------------------------------------------- per-kit render, manifest atomicity

def _tiny_gmd(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    root = tmp_path / "groove"
    (root / "drummer1" / "session1").mkdir(parents=True)
    rows = []
    for i, split in enumerate(["train", "train", "validation", "test"]):
        midi = f"drummer1/session1/{i}_rock_120_beat_4-4.mid"
        _write_groove(root / midi, bars=1)
        rows.append(_info_row(f"drummer1/session1/{i}", midi, split, "drummer1/session1", 2.1))
    df = pd.DataFrame(rows)
    df.to_csv(root / "info.csv", index=False)
    return root, df


def test_render_kit_manifest_is_written_last(tmp_path, monkeypatch):
    root, info = _tiny_gmd(tmp_path)
    kit = "hydrogen_millo_multilayered2"
    if not kits.get_kit(kit).installed:
        pytest.skip("hydrogen-drumkits not installed")
    assign = gmd.assign_kits(info, [kit, "hydrogen_black_pearl", "hydrogen_colombo"],
                             {"validation": ["hydrogen_black_pearl"], "test": ["hydrogen_colombo"]})
    out = tmp_path / "audio"
    cfg = {"seed": 0, "max_seconds": 1.5}
    manifest = gmd.render_kit(kit, assign, root, out, mix=False, render_cfg=cfg, progress=False)
    first = pd.read_csv(manifest)
    assert list(first.columns[:7]) == list(gmd.MANIFEST_COLUMNS) and len(first) == 2
    assert set(first["split"]) == {"train"}

    # a render killed on its second track leaves no manifest (the old one is gone too)
    real = gmd.render_track
    calls = {"n": 0}

    def dying(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(gmd, "render_track", dying)
    with pytest.raises(KeyboardInterrupt):
        gmd.render_kit(kit, assign, root, out, mix=False, render_cfg=cfg, progress=False)
    assert not (out / kit / "manifest.csv").exists()
    assert not list((out / kit).glob(".*tmp*"))  # no temp file left behind
    with pytest.raises(InputError, match="no rendered kit"):
        datasets.get("gmd_synth").tracks(out)

    # a rerun redoes it
    monkeypatch.setattr(gmd, "render_track", real)
    gmd.render_kit(kit, assign, root, out, mix=False, render_cfg=cfg, progress=False)
    tracks = datasets.get("gmd_synth").tracks(out)
    assert [t.track_id for t in tracks] == sorted(first["track_id"])
    t = tracks[0]
    y, sr = sf.read(t.audio[0])
    assert sr == SR and y.ndim == 1 and len(y) == pytest.approx(1.5 * SR, abs=1)
    assert np.abs(y).max() == pytest.approx(10 ** (-1 / 20), abs=1e-3)
    on = t.load_onsets()
    ref = onsets_from_midi(root / info.loc[0, "midi_filename"], ROLAND_TO_CLASS)
    for cls in on:  # the kit plays every class of this groove: same counts as the MIDI (cropped)
        assert len(on[cls]) == np.sum(ref[cls] < 1.5), cls
    assert t.group == "drummer1/session1" and t.meta["kit"] == kit


@needs_fluid
def test_render_kit_mix(tmp_path):
    root, info = _tiny_gmd(tmp_path)
    kit = "hydrogen_black_pearl"
    if not kits.get_kit(kit).installed or not accompaniment.installed_fonts():
        pytest.skip("kits or GM fonts not installed")
    assign = gmd.assign_kits(info, ["hydrogen_rumpf", kit, "hydrogen_colombo"],
                             {"validation": [kit], "test": ["hydrogen_colombo"]})
    cfg = {"seed": 3, "max_seconds": 1.5, "accompaniment_db": -6.0, "accompaniment_db_spread": 3.0}
    m = pd.read_csv(gmd.render_kit(kit, assign, root, tmp_path / "mix", mix=True, render_cfg=cfg, progress=False))
    assert len(m) == 1 and m.loc[0, "split"] == "validation"
    assert -9.0 <= m.loc[0, "accompaniment_db"] <= -3.0
    assert (tmp_path / "mix" / kit / f"{m.loc[0, 'track_id']}.mid").is_file()
    spec = datasets.get("gmd_synth_mix")
    assert spec.tracks(tmp_path / "mix")[0].meta["accompaniment_db"] == m.loc[0, "accompaniment_db"]


def test_render_kit_skips_unplayable_performance(tmp_path):
    kit = "hydrogen_electric_empire"  # no toms, no cymbals
    if not kits.get_kit(kit).installed:
        pytest.skip("hydrogen-drumkits not installed")
    root, info = _tiny_gmd(tmp_path)
    fill = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program=0, is_drum=True)
    inst.notes = [pretty_midi.Note(velocity=100, pitch=p, start=0.1 * i, end=0.1 * i + 0.1)
                  for i, p in enumerate([48, 45, 43, 58, 49])]
    fill.instruments.append(inst)
    fill.write(str(root / info.loc[1, "midi_filename"]))
    assign = gmd.assign_kits(info, [kit, "hydrogen_rumpf", "hydrogen_colombo"],
                             {"validation": ["hydrogen_rumpf"], "test": ["hydrogen_colombo"]})
    with pytest.warns(UserWarning, match="no note of this performance is playable"):
        m = pd.read_csv(gmd.render_kit(kit, assign, root, tmp_path / "out", render_cfg={}, progress=False))
    assert list(m.gmd_id) == [info.loc[0, "id"]]


# ---------------------------------------------------------------- splits never leak

def test_assign_kits_kit_split_and_gmd_split(tmp_path):
    rows = []
    for s, split in enumerate(["train"] * 6 + ["validation", "test"]):
        for i in range(5):
            rows.append(_info_row(f"d{s}/s{s}/{i}", f"d{s}/s{s}/{i}.mid", split, f"d{s}/s{s}", 30.0))
    info = pd.DataFrame(rows)
    ks = [f"k{i}" for i in range(8)]
    split = {"validation": ["k1", "k2"], "test": ["k3"]}
    a = gmd.assign_kits(info, ks, split, kits_per_track=2, seed=1, max_seconds=10)
    assert len(a) == 2 * 35 + 5  # the test pool has one kit: one render per test track
    assert set(a[a.split == "validation"].kit) <= {"k1", "k2"}
    assert set(a[a.split == "test"].kit) == {"k3"}  # one kit in the pool: one render per track
    assert not set(a[a.split == "train"].kit) & {"k1", "k2", "k3"}
    # each performance stays in its GMD split; kits of a track are distinct
    assert (a.groupby("gmd_id").split.nunique() == 1).all()
    assert (a.groupby("gmd_id").kit.nunique() == a.groupby("gmd_id").size()).all()
    assert a["track_id"].is_unique and (a["seconds"] == 10).all()
    # train kits get the same audio (performances of equal length: the same count)
    counts = a[a.split == "train"].kit.value_counts()
    assert counts.max() - counts.min() <= 1
    # ... and with unequal lengths, equal seconds to within one performance
    uneven = info.assign(duration=np.linspace(5, 100, len(info)))
    b = gmd.assign_kits(uneven, ks, split, kits_per_track=1, seed=0)
    per_kit = b[b.split == "train"].groupby("kit").seconds.sum()
    assert per_kit.max() - per_kit.min() <= uneven.duration.max()
    assert per_kit.max() - per_kit.min() < 0.1 * per_kit.mean()
    # same seed, same table; max_tracks per split
    assert a.equals(gmd.assign_kits(info, ks, split, kits_per_track=2, seed=1, max_seconds=10))
    small = gmd.assign_kits(info, ks, split, max_tracks=2)
    assert small.groupby("split").size().to_dict() == {"test": 2, "train": 2, "validation": 2}


def test_kit_split_errors():
    with pytest.raises(ConfigError, match="both validation and test"):
        gmd.kit_pools(["a", "b", "c"], {"validation": ["a"], "test": ["a"]})
    with pytest.raises(ConfigError, match="kit_split.test: kit zz"):
        gmd.kit_pools(["a", "b"], {"validation": ["a"], "test": ["zz"]})
    with pytest.raises(ConfigError, match="train kit pool is empty"):
        gmd.kit_pools(["a", "b"], {"validation": ["a"], "test": ["b"]})
    args = (["fluidr3_standard", "musescore_standard", "hydrogen_rumpf"],
            {"validation": ["hydrogen_rumpf"], "test": ["musescore_standard"]}, kits.families())
    with pytest.raises(ConfigError, match="family fluidr3 share samples"):
        gmd.kit_pools(*args, strict_families=True)
    with pytest.warns(UserWarning, match="family fluidr3 share samples"):
        gmd.kit_pools(*args)


def test_render_config_errors():
    with pytest.raises(ConfigError, match="render.max_seconds"):
        gmd.check_render_config({"max_seconds": 0})
    with pytest.raises(ConfigError, match="render.accompaniment_db_spread"):
        gmd.check_render_config({"accompaniment_db_spread": -1})
    with pytest.raises(ConfigError, match="render.split_by"):
        gmd.assign_kits(pd.DataFrame([_info_row("a/b/1", "x.mid", "train", "a/b", 3.0)]), ["k1", "k2", "k3"],
                        {"validation": ["k2"], "test": ["k3"]}, split_by="drummer")


@pytest.mark.skipif(not (GMD / "info.csv").is_file(), reason="../shared/data/gmd/groove not present")
def test_real_gmd_assignment_never_leaks():
    info = gmd.read_info(GMD)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ks = kits.resolve_kits("all")
    import yaml

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())["render"]
    a = gmd.assign_kits(info, ks, cfg["kit_split"], cfg["kits_per_track"], cfg["seed"])
    pools = {s: set(a[a.split == s].kit) for s in ("train", "validation", "test")}
    assert not pools["train"] & pools["validation"] and not pools["train"] & pools["test"]
    assert not pools["validation"] & pools["test"]
    assert pools["test"] == set(cfg["kit_split"]["test"])
    # GMD's split of performances is kept as is
    merged = a.merge(info[["id", "split"]], left_on="gmd_id", right_on="id", suffixes=("", "_gmd"))
    assert (merged["split"] == merged["split_gmd"]).all() and a.gmd_id.nunique() == len(info)
    # the session-disjoint variant: no session in two splits, eval sessions in test
    s = gmd.assign_kits(info, ks, cfg["kit_split"], 1, 0, split_by="session")
    assert (s.groupby("group").split.nunique() == 1).all()
    assert set(s[s.group.str.contains("eval_session")].split) == {"test"}
    assert set(s.split) == {"train", "validation", "test"}


# ---------------------------------------------------------------- accompaniment

@pytest.mark.parametrize("bpm,ts,origin", [(97.0, (4, 4), 0.0), (140.0, (3, 4), 0.37), (70.0, (6, 8), 1.1)])
def test_accompaniment_on_the_beat_grid(bpm, ts, origin):
    beats_per_bar = ts[0] * 4 / ts[1]
    acc = accompaniment.generate(bpm, beats_per_bar, 12.0, np.random.default_rng(5), origin=origin)
    spb = 60.0 / bpm
    parts = {n.part for n in acc.notes}
    assert parts == {"bass", "chords", "lead"}
    starts = np.array([n.start for n in acc.notes])
    eighths = (starts - origin) / (spb / 2)
    assert np.allclose(eighths, np.round(eighths), atol=1e-6)  # every onset on an eighth of the groove
    assert starts.min() >= 0 and starts.max() < 12.0
    # the bass plays on (almost) every downbeat: it follows the bars
    bar = beats_per_bar * spb
    bass = np.array([n.start for n in acc.notes if n.part == "bass"])
    downbeats = [origin + k * bar for k in range(int((12.0 - origin) // bar))]
    hit = sum(np.min(np.abs(bass - d)) < 1e-6 for d in downbeats)
    assert hit >= 0.75 * len(downbeats)


@pytest.mark.parametrize("crash", [True, False])
def test_estimate_origin_finds_the_downbeat(crash):
    """A humanised 4/4 rock beat whose first downbeat is at 0.37 s (the recording started
    before the music): kick on 1 and 3, snare on 2 and 4, hats on eighths, ±8 ms jitter,
    with or without a crash on the first beat of every other bar."""
    rng = np.random.default_rng(0)
    bpm, start = 104.0, 0.37
    p = 60.0 / bpm
    times, classes = [], []
    for beat in range(-1, 40):
        t = start + beat * p
        if t < 0:
            continue
        classes += ["BD" if beat % 4 in (0, 2) else "SD", "HH", "HH"]
        times += [t, t, t + p / 2]
        if beat % 4 == 2:  # a syncopated kick on the and of 3
            times.append(t + p / 2)
            classes.append("BD")
        if crash and beat % 8 == 0:
            times.append(t)
            classes.append("CY")
    times = np.asarray(times) + rng.normal(0, 0.008, len(times))
    origin = accompaniment.estimate_origin(times, classes, bpm, 4.0)
    # without a crash, beat 1 and beat 3 look alike (kick, then snare): half a bar is the resolution
    period = 4 * p if crash else 2 * p
    err = (origin - start) % period
    assert min(err, period - err) < 0.01


@needs_fluid
@pytest.mark.skipif(not (GMD / "info.csv").is_file(), reason="../shared/data/gmd/groove not present")
def test_accompaniment_follows_gmd_tempo_and_level(tmp_path):
    info = gmd.read_info(GMD)
    row = info[info.id == "drummer1/eval_session/4"].iloc[0]  # soul groove, 4/4, 80 bpm
    midi = GMD / row.midi_filename
    bpm, bar = accompaniment.groove_tempo(midi, row.bpm, row.time_signature)
    assert bpm == pytest.approx(row.bpm, rel=1e-3) and bar == 4.0
    kit = "hydrogen_black_pearl" if kits.get_kit("hydrogen_black_pearl").installed else "fluidr3_standard"
    drums, onsets, dur = render.render_performance(kit, midi, max_seconds=8.0)
    font = kits.SF2_DIR / "TimGM6mb.sf2"
    if not font.is_file():
        font = accompaniment.installed_fonts()[0]
    mix, acc, info_ = accompaniment.accompany(midi, drums, np.random.default_rng(0), -6.0, font=font)
    # tempo: the notes sit on the eighth-note grid of this groove's tempo, from the estimated downbeat
    eighth = 60.0 / row.bpm / 2
    eighths = (np.array([n.start for n in acc.notes]) - acc.origin) / eighth
    assert np.allclose(eighths, np.round(eighths), atol=1e-3)
    # ... and that grid is the drummer's: the kicks and snares lie nearer to it than to shifted grids
    hits = render.read_hits(midi)
    ks = hits.times[np.isin(hits.notes, (36, 38))]

    def dist(offset):
        x = (ks - acc.origin - offset) / eighth
        return float(np.mean(np.abs(x - np.round(x))) * eighth)

    shifted = [dist(o) for o in np.linspace(0.1, 0.9, 9) * eighth]
    assert dist(0.0) < 0.5 * min(shifted)
    # audible at the configured level: the accompaniment part is 6 dB under the drums (RMS)
    acc_part = mix - drums[: len(mix)]
    level = 20 * np.log10(accompaniment.rms(acc_part) / accompaniment.rms(drums))
    assert level == pytest.approx(-6.0, abs=0.05)
    assert 20 * np.log10(accompaniment.rms(acc_part)) > -50

    # ... and it sounds in the bass register: low-frequency energy grows by the mix
    def low_energy(y):
        spec = np.abs(np.fft.rfft(y))
        f = np.fft.rfftfreq(len(y), 1 / SR)
        return spec[(f > 40) & (f < 300)].sum()

    assert low_energy(acc_part) > 0.05 * low_energy(drums)


def test_gmd_synth_specs():
    for name in ("gmd_synth", "gmd_synth_mix"):
        spec = datasets.get(name)
        assert spec.name == name and spec.path_key is None
        assert "CC BY 4.0" in spec.license
        dl = spec.downloads[0]
        assert dl.sha256 == "651cbc524ffb891be1a3e46d89dc82a1cecb09a57c748c7b45b844c4841dcc1e"
        assert dl.url.endswith("groove-v1.0.0-midionly.zip")
        assert spec.label_map[22] == "HH" and spec.label_map[58] == "TT"


def test_manifest_with_bad_json(tmp_path):
    kit = tmp_path / "k"
    kit.mkdir()
    pd.DataFrame([{"track_id": "t", "split": "train", "group": "g", "kit": "k", "audio": "t.flac",
                   "onsets": "t.json", "duration": 1.0}]).to_csv(kit / "manifest.csv", index=False)
    (kit / "t.json").write_text("{not json")
    t = datasets.get("gmd_synth").tracks(tmp_path)[0]
    with pytest.raises(InputError, match=r"t\.json: not an onset JSON file"):
        t.load_onsets()
