"""Dataset loaders on small fixtures in each dataset's real on-disk format (made here).

Each test writes a tiny copy of the dataset's layout (wav/flac written with
soundfile, annotation text files, MIDI via pretty_midi, metadata.yaml, csv) with
known onsets in, and checks the mapped onsets, splits and errors that come out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumscribe import CLASSES
from drumscribe.datasets import get
from drumscribe.datasets.splits import grouped_split
from drumscribe.errors import ConfigError, InputError
from drumscribe.labels import count_onsets

SHARED = Path(__file__).parents[2] / "shared"
MDB_DEV = SHARED / "data" / "mdb_drums_dev" / "MDB Drums"
SR = 44100


# ---------------------------------------------------------------- helpers
def write_audio(path: Path, seconds: float = 0.5, channels: int = 1, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * SR)
    y = 0.1 * np.sin(2 * np.pi * 220 * np.arange(n) / SR)
    data = y if channels == 1 else np.stack([y] * channels, axis=1)
    sf.write(path, data, SR, format=fmt)
    return path


def write_midi(path: Path, notes: list[tuple[float, int]], is_drum: bool = True, program: int = 0) -> Path:
    import pretty_midi

    path.parent.mkdir(parents=True, exist_ok=True)
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
    for t, p in notes:
        inst.notes.append(pretty_midi.Note(velocity=100, pitch=p, start=t, end=t + 0.05))
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def as_lists(onsets) -> dict[str, list[float]]:
    return {c: [round(float(t), 4) for t in onsets[c]] for c in CLASSES}


def assert_onsets(onsets, expected: dict[str, list[float]], atol: float = 1e-6) -> None:
    """Every class has exactly the expected onsets (MIDI ticks quantize: use atol ~3 ms there)."""
    for c in CLASSES:
        got = np.asarray(onsets[c])
        want = np.asarray(expected.get(c, []), dtype=float)
        assert got.shape == want.shape and np.allclose(got, want, atol=atol), (c, got.tolist(), want.tolist())


def no_group_crosses_splits(tracks) -> bool:
    seen: dict[str, str] = {}
    for t in tracks:
        if seen.setdefault(t.group, t.split) != t.split:
            return False
    return True


# ---------------------------------------------------------------- splits
def test_grouped_split_never_splits_a_group_and_is_deterministic():
    groups = [f"drummer{i % 7}/session{i % 3}" for i in range(200)]
    a = grouped_split(groups, (0.7, 0.15, 0.15), seed=3)
    pairs = {}
    for g, s in zip(groups, a):
        assert pairs.setdefault(g, s) == s
    assert set(a) == {"train", "validation", "test"}
    assert grouped_split(list(reversed(groups)), (0.7, 0.15, 0.15), seed=3) == list(reversed(a))


def test_grouped_split_rejects_bad_fractions():
    with pytest.raises(ConfigError, match="sum to 1"):
        grouped_split(["a", "b"], (0.5, 0.5, 0.5))
    assert grouped_split(["a", "b"], (0.0, 0.0, 1.0)) == ["test", "test"]


# ---------------------------------------------------------------- MDB Drums
def make_mdb(root: Path, songs: dict[str, list[tuple[float, str]]], full_mix: bool = True,
             mirex_md: bool = True) -> Path:
    mdb = root / "MDB Drums"
    for song, events in songs.items():
        name = f"MusicDelta_{song}"
        write_audio(mdb / "audio" / "drum_only" / f"{name}_Drum.wav")
        if full_mix:
            write_audio(mdb / "audio" / "full_mix" / f"{name}_MIX.wav", channels=2)
        else:
            write_audio(mdb / "audio" / "remix" / f"{name}_REMIX.wav")
        cls = mdb / "annotations" / "class" / f"{name}_class.txt"
        cls.parent.mkdir(parents=True, exist_ok=True)
        cls.write_text("".join(f"{t:.6f} \t {lab} \n" for t, lab in events))
        sub = {"KD": "KD", "SD": "SST", "TT": "HFT", "HH": "OHH", "CY": "RDB", "OT": "TMB"}
        subp = mdb / "annotations" / "subclass" / f"{name}_subclass.txt"
        subp.parent.mkdir(parents=True, exist_ok=True)
        subp.write_text("".join(f"{t:.6f} \t {sub[lab]} \n" for t, lab in events))
        gm = {"KD": 36, "SD": 38, "TT": 45, "HH": 42, "CY": 51, "OT": 54}
        # MDB Drums++ style: drums on channel 1 with the drum flag off
        write_midi(mdb / "annotations" / "midi_pp" / f"{name}_Drum.mid",
                   [(t, gm[lab]) for t, lab in events], is_drum=False)
    if mirex_md:
        (root / "MIREX2017.md").write_text(
            "## MIREX 2017\n\n### Training Set\n\nMusicDelta_80sRock   \nMusicDelta_CoolJazz  \n"
            "MusicDelta_Zepplin  \n\n### Test Set\n\nMusicDelta_Beatles  \n")
    return mdb


MDB_EVENTS = [(0.01, "KD"), (0.1, "SD"), (0.1, "KD"), (0.2, "HH"), (0.25, "TT"), (0.3, "CY"), (0.35, "OT")]
MDB_EXPECTED = {"BD": [0.01, 0.1], "SD": [0.1], "TT": [0.25], "HH": [0.2], "CY": [0.3]}


def test_mdb_full_layout_mirex_split_variants_and_labels(tmp_path):
    songs = {s: MDB_EVENTS for s in ("80sRock", "CoolJazz", "Zeppelin", "Beatles", "Extra")}
    make_mdb(tmp_path, songs)
    spec = get("mdb_drums")
    tracks = spec.tracks(tmp_path)  # the repository root holding "MDB Drums"
    by_id = {t.track_id: t for t in tracks}
    assert set(by_id) == {f"MusicDelta_{s}" for s in songs}
    assert by_id["MusicDelta_80sRock"].split == "train"
    assert by_id["MusicDelta_Zeppelin"].split == "train"  # "Zepplin" in MIREX2017.md
    assert by_id["MusicDelta_CoolJazz"].split == "validation"
    assert by_id["MusicDelta_Beatles"].split == "test"
    t = by_id["MusicDelta_80sRock"]
    assert t.audio[0].parent.name == "full_mix" and t.meta["mix_source"] == "full_mix"
    assert as_lists(t.load_onsets()) == MDB_EXPECTED
    from drumscribe.datasets.mdb_drums import tracks as mdb_tracks
    both = mdb_tracks(tmp_path / "MDB Drums", variant="both")
    assert len(both) == 2 * len(songs) and no_group_crosses_splits(both)
    drum = {t.track_id: t for t in both}["MusicDelta_Beatles_drum_only"]
    assert drum.audio[0].parent.name == "drum_only" and drum.split == "test"
    for kind in ("subclass", "midi_pp"):  # same events through the other annotations
        t = {t.track_id: t for t in mdb_tracks(tmp_path, annotations=kind)}["MusicDelta_Beatles"]
        assert_onsets(t.load_onsets(), MDB_EXPECTED, atol=0.003)


def test_mdb_dev_subset_uses_remix_and_is_test_only(tmp_path):
    make_mdb(tmp_path, {"Punk": MDB_EVENTS, "Rock": MDB_EVENTS}, full_mix=False, mirex_md=False)
    tracks = get("mdb_drums").tracks(tmp_path / "MDB Drums")
    assert {t.split for t in tracks} == {"test"}
    assert all(t.meta["mix_source"] == "remix" and t.audio[0].parent.name == "remix" for t in tracks)
    from drumscribe.datasets.mdb_drums import tracks as mdb_tracks
    forced = {t.track_id: t.split for t in mdb_tracks(tmp_path, split_mode="mirex")}
    assert forced == {"MusicDelta_Punk": "test", "MusicDelta_Rock": "train"}  # built-in MIREX lists


def test_mdb_bad_annotation_line_names_file_and_line(tmp_path):
    mdb = make_mdb(tmp_path, {"Punk": MDB_EVENTS})
    bad = mdb / "annotations" / "class" / "MusicDelta_Punk_class.txt"
    bad.write_text("0.010000 \t KD \n0.5O \t SD \n")
    (track,) = get("mdb_drums").tracks(mdb)
    with pytest.raises(InputError, match=r"MusicDelta_Punk_class\.txt:2: onset time '0\.5O'"):
        track.load_onsets()


def test_mdb_missing_path_and_wrong_layout(tmp_path):
    spec = get("mdb_drums")
    with pytest.raises(InputError, match=r"nowhere: mdb_drums dataset path not found"):
        spec.tracks(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: not a mdb_drums folder"):
        spec.tracks(tmp_path / "empty")
    mdb = make_mdb(tmp_path / "x", {"Punk": MDB_EVENTS})
    (mdb / "audio" / "full_mix" / "MusicDelta_Punk_MIX.wav").unlink()
    with pytest.raises(InputError, match="MusicDelta_Punk has no mix audio"):
        spec.tracks(mdb)
    with pytest.raises(ConfigError, match="variant"):
        from drumscribe.datasets.mdb_drums import tracks as mdb_tracks
        mdb_tracks(mdb, variant="stems")


@pytest.mark.skipif(not MDB_DEV.is_dir(), reason=f"shared MDB dev tracks not found at {MDB_DEV}")
def test_real_mdb_dev_tracks_load_and_annotations_agree():
    from drumscribe.datasets.mdb_drums import tracks as mdb_tracks

    tracks = get("mdb_drums").tracks(MDB_DEV)
    assert len(tracks) == 9 and {t.split for t in tracks} == {"test"}
    assert all(t.audio[0].is_file() and t.meta["mix_source"] == "remix" for t in tracks)
    pp = {t.track_id: t for t in mdb_tracks(MDB_DEV, annotations="midi_pp")}
    totals = dict.fromkeys(CLASSES, 0)
    matched = n_ref = 0
    for t in tracks:
        ref = t.load_onsets()
        for c, n in count_onsets(ref).items():
            totals[c] += n
        other = pp[t.track_id].load_onsets()
        for c in CLASSES:  # class onsets that MDB Drums++ also has (same class, within 50 ms)
            if len(ref[c]) and len(other[c]):
                d = np.abs(ref[c][:, None] - other[c][None, :]).min(axis=1)
                matched += int((d <= 0.05).sum())
            n_ref += len(ref[c])
    assert all(n > 0 for n in totals.values()), totals
    assert matched / n_ref > 0.85, matched / n_ref


# ---------------------------------------------------------------- ENST-Drums
def make_enst(root: Path) -> Path:
    base = root / "ENST-drums-public"
    for n in (1, 2, 3):
        d = base / f"drummer_{n}"
        for name in (f"0{n}0_MIDI-minus-one_rock-{n}", f"0{n}1_MIDI-minus-one_funk-{n}"):
            write_audio(d / "audio" / "wet_mix" / f"{name}.wav")
            write_audio(d / "audio" / "accompaniment" / f"{name}.wav")
            (d / "annotation").mkdir(parents=True, exist_ok=True)
            (d / "annotation" / f"{name}.txt").write_text(
                "0.100000 bd\n0.2 sd-\n0.25 cs\n0.3 chh\n0.4 lmt\n0.5 rc2\n0.6 cb\n0.7 spl\n")
        # a hits-only track (no accompaniment): not in the minus-one subset
        write_audio(d / "audio" / "wet_mix" / f"00{n}_hits_snare.wav")
        (d / "annotation" / f"00{n}_hits_snare.txt").write_text("0.1 sd\n")
    return base


def test_enst_minus_one_tracks_split_by_drummer_and_labels(tmp_path):
    make_enst(tmp_path)
    tracks = get("enst_drums").tracks(tmp_path)  # the folder above the archive's top folder
    assert len(tracks) == 6 and no_group_crosses_splits(tracks)
    assert {t.group: t.split for t in tracks} == {"drummer_1": "train", "drummer_2": "validation",
                                                  "drummer_3": "test"}
    t = tracks[0]
    assert [p.parent.name for p in t.audio] == ["wet_mix", "accompaniment"] and t.gains == (1.0, 0.5)
    assert_onsets(t.load_onsets(), {"BD": [0.1], "SD": [0.2, 0.25], "HH": [0.3], "TT": [0.4],
                                    "CY": [0.5, 0.7]})
    from drumscribe.datasets.enst_drums import tracks as enst_tracks
    rotated = enst_tracks(tmp_path / "ENST-drums-public", train=3, validation=1, test=2)
    assert {t.group: t.split for t in rotated}["drummer_2"] == "test"
    with pytest.raises(ConfigError):
        enst_tracks(tmp_path, train=1, validation=1, test=2)


def test_enst_bad_line_missing_annotation_and_missing_root(tmp_path):
    base = make_enst(tmp_path)
    ann = base / "drummer_1" / "annotation" / "010_MIDI-minus-one_rock-1.txt"
    ann.write_text("0.1 bd\n0.2\n")
    t = next(t for t in get("enst_drums").tracks(base) if t.track_id == "drummer_1_010_MIDI-minus-one_rock-1")
    with pytest.raises(InputError, match=r"rock-1\.txt:2: expected 'time label'"):
        t.load_onsets()
    ann.unlink()
    with pytest.raises(InputError, match=r"rock-1\.txt: annotation missing"):
        get("enst_drums").tracks(base)
    with pytest.raises(InputError, match="enst_drums dataset path not found"):
        get("enst_drums").tracks(tmp_path / "absent")


# ---------------------------------------------------------------- E-GMD
def make_egmd(root: Path) -> Path:
    base = root / "e-gmd-v1.0.0"
    rows = []
    for drummer, split in (("drummer1", "train"), ("drummer2", "validation"), ("drummer3", "test")):
        for kit_i, kit in enumerate(("Acoustic Kit", "Vintage Kit"), start=1):
            stem = f"{drummer}/session1/1_funk_100_beat_4-4_{kit_i}"
            # Roland TD-17 notes: 36 kick, 40 snare rim, 58 tom-3 rim, 22 closed hat edge, 26 open hat edge, 53 ride bell
            write_midi(base / f"{stem}.midi", [(0.1, 36), (0.2, 40), (0.3, 58), (0.4, 22), (0.45, 26),
                                               (0.5, 53), (0.6, 81)])
            write_audio(base / f"{stem}.wav")
            rows.append(f"{drummer},{drummer}/session1,{drummer}/session1/1,funk,100,beat,4-4,0.5,{split},"
                        f"{stem}.midi,{stem}.wav,{kit}")
    rows.append("drummer3,drummer3/session1,drummer3/session1/2,rock,90,beat,4-4,0.5,test,"
                "drummer3/session1/2_rock_90_beat_4-4_1.midi,,Acoustic Kit")  # no audio: skipped
    (base / "e-gmd-v1.0.0.csv").write_text(
        "drummer,session,id,style,bpm,beat_type,time_signature,duration,split,midi_filename,"
        "audio_filename,kit_name\n" + "\n".join(rows) + "\n")
    return base


def test_egmd_official_split_roland_map_and_kits(tmp_path):
    make_egmd(tmp_path)
    tracks = get("egmd").tracks(tmp_path)
    assert len(tracks) == 6 and no_group_crosses_splits(tracks)
    assert {t.split for t in tracks} == {"train", "validation", "test"}
    t = tracks[0]
    assert t.track_id == "drummer1_session1_1_funk_100_beat_4-4_1" and t.meta["kit_name"] == "Acoustic Kit"
    assert_onsets(t.load_onsets(), {"BD": [0.1], "SD": [0.2], "TT": [0.3], "HH": [0.4, 0.45], "CY": [0.5]},
                  atol=0.003)
    from drumscribe.datasets.egmd import tracks as egmd_tracks
    assert {t.meta["kit_name"] for t in egmd_tracks(tmp_path, kits=["Vintage Kit"])} == {"Vintage Kit"}


def test_egmd_missing_csv_and_midi_without_drum_notes(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(InputError, match=r"e: not an egmd folder \(missing e-gmd-v1.0.0.csv\)"):
        get("egmd").tracks(tmp_path / "e")
    base = make_egmd(tmp_path)
    write_midi(base / "drummer1/session1/1_funk_100_beat_4-4_1.midi", [(0.1, 81), (0.2, 70)])
    t = get("egmd").tracks(base)[0]
    with pytest.raises(InputError, match=r"1_funk_100_beat_4-4_1\.midi: no drum notes"):
        t.load_onsets()


# ---------------------------------------------------------------- Slakh2100
def make_slakh(root: Path) -> Path:
    import yaml

    base = root / "slakh2100_flac_redux"

    def track(split, name, stems):
        d = base / split / name
        meta = {"UUID": name, "audio_dir": "stems", "midi_dir": "MIDI", "stems": {}}
        for sid, (inst_class, is_drum, plugin, notes) in stems.items():
            meta["stems"][sid] = {"inst_class": inst_class, "is_drum": is_drum, "plugin_name": plugin,
                                  "audio_rendered": True, "program_num": 0 if not is_drum else 128}
            write_midi(d / "MIDI" / f"{sid}.mid", notes, is_drum=is_drum)
            write_audio(d / "stems" / f"{sid}.flac", fmt="FLAC")
        d.mkdir(parents=True, exist_ok=True)
        (d / "metadata.yaml").write_text(yaml.safe_dump(meta))
        write_audio(d / "mix.flac", fmt="FLAC")

    # GM kit: plain General MIDI
    track("train", "Track00001", {"S00": ("Bass", False, "bass.nkm", [(0.1, 40)]),
                                  "S01": ("Drums", True, "some_gm_kit.nkm", [(0.1, 36), (0.2, 38), (0.3, 52)])})
    # Studio Drummer kit: 52 is a ride edge (CY, also in GM), 49 a high crash, 45 a tom, 33 a clap (SD),
    # 27 a cowbell (ignored), 90 a closed hat tip (HH)
    track("validation", "Track01500", {"S02": ("Drums", True, "session_kit_full.nkm",
                                               [(0.1, 33), (0.2, 45), (0.3, 49), (0.4, 27), (0.5, 90)])})
    # Kontakt factory funk kit: 35 is a clap (SD, not GM's kick), 52 a high tom (TT, not GM's china),
    # 68 a kick + hat + tom pattern
    track("test", "Track01900", {"S00": ("Drums", True, "funk_kit.nkm", [(0.1, 35), (0.2, 52), (0.3, 68)])})
    # no drums: skipped; omitted/: skipped
    track("test", "Track01901", {"S00": ("Piano", False, "piano.nkm", [(0.1, 60)])})
    track("omitted", "Track02000", {"S00": ("Drums", True, "funk_kit.nkm", [(0.1, 36)])})
    return base


def test_slakh_official_split_per_kit_maps(tmp_path):
    make_slakh(tmp_path)
    tracks = {t.track_id: t for t in get("slakh").tracks(tmp_path)}
    assert set(tracks) == {"Track00001", "Track01500", "Track01900"}
    assert [tracks[k].split for k in sorted(tracks)] == ["train", "validation", "test"]
    assert tracks["Track00001"].audio[0].name == "mix.flac"
    assert_onsets(tracks["Track00001"].load_onsets(), {"BD": [0.1], "SD": [0.2], "CY": [0.3]}, atol=0.003)
    assert_onsets(tracks["Track01500"].load_onsets(), {"SD": [0.1], "TT": [0.2], "CY": [0.3], "HH": [0.5]},
                  atol=0.003)
    assert_onsets(tracks["Track01900"].load_onsets(), {"SD": [0.1], "TT": [0.2, 0.3], "BD": [0.3], "HH": [0.3]},
                  atol=0.003)
    from drumscribe.datasets.slakh import count_by_kit, tracks as slakh_tracks
    assert len(slakh_tracks(tmp_path, require_drums=False)) == 4
    counts = count_by_kit(tracks.values())
    assert counts["funk_kit.nkm"]["TT"] == 2


def test_slakh_bad_metadata_and_wrong_root(tmp_path):
    base = make_slakh(tmp_path)
    (base / "train" / "Track00001" / "metadata.yaml").write_text("stems: [unclosed\n")
    with pytest.raises(InputError, match=r"Track00001/metadata\.yaml: unreadable metadata"):
        get("slakh").tracks(base)
    with pytest.raises(InputError, match="not a slakh folder"):
        get("slakh").tracks(base / "train" / "Track00001")


# ---------------------------------------------------------------- ADTOF-YT
def test_adtof_target_matrix_to_onsets_without_tensorflow():
    from drumscribe.datasets.adtof_yt import target_to_onsets

    y = np.zeros((400, 5), np.float32)
    for frame, col in ((10, 0), (10, 3), (12, 3), (250, 1), (399, 4)):
        y[frame, col] = 1.0
        y[max(frame - 1, 0), col] = max(y[max(frame - 1, 0), col], 0.5)  # widened neighbours
        if frame + 1 < 400:
            y[frame + 1, col] = max(y[frame + 1, col], 0.5)
    on = target_to_onsets(y, offset=4.0)
    assert_onsets(on, {"BD": [4.1], "HH": [4.1, 4.12], "SD": [6.5], "CY": [7.99]}, atol=1e-9)
    with pytest.raises(InputError, match="expected shape"):
        target_to_onsets(np.zeros((10, 4)))


def test_adtof_layout_errors_and_tensorflow_hint(tmp_path):
    with pytest.raises(InputError, match="adtof_yt dataset path not found"):
        get("adtof_yt").tracks(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no tf.data export"):
        get("adtof_yt").tracks(tmp_path / "empty")
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        export = tmp_path / "yt" / "train" / "part0"
        export.mkdir(parents=True)
        (export / "dataset_spec.pb").write_bytes(b"")
        with pytest.raises(ConfigError, match=r"pip install drumscribe\[adtof\]"):
            get("adtof_yt").tracks(tmp_path / "yt")


def test_adtof_reads_a_real_tf_data_export(tmp_path):
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is the optional extra drumscribe[adtof]")
    x = np.random.default_rng(0).random((3, 400, 84, 1)).astype(np.float32)
    y = np.zeros((3, 400, 5), np.float32)
    y[0, 10, 0] = y[2, 5, 3] = 1.0
    ds = tf.data.Dataset.from_tensor_slices(({"x": x}, y))
    ds.save(str(tmp_path / "yt" / "test" / "part0"))
    from drumscribe.datasets.adtof_yt import tracks as adtof_tracks
    (t,) = adtof_tracks(tmp_path / "yt")
    assert t.split == "test" and t.features().shape == (1200, 84)
    assert_onsets(t.load_onsets(), {"BD": [0.1], "HH": [8.05]}, atol=1e-9)


# ---------------------------------------------------------------- SADTP
def make_sadtp(root: Path, n: int = 10) -> Path:
    exts = (".wav", ".flac", ".ogg")
    for i in range(n):
        fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[exts[i % 3]]
        write_audio(root / f"song {i:02d}{exts[i % 3]}", fmt=fmt)
        write_midi(root / f"song {i:02d}.mid", [(0.1, 36), (0.2, 38), (0.3, 46)])
    return root


def test_sadtp_pairs_seeded_split_and_splits_csv(tmp_path):
    root = make_sadtp(tmp_path / "mine")
    tracks = get("sadtp").tracks(root)
    assert len(tracks) == 10 and {t.split for t in tracks} == {"train", "validation", "test"}
    assert [t.split for t in get("sadtp").tracks(root)] == [t.split for t in tracks]  # seeded
    assert_onsets(tracks[0].load_onsets(), {"BD": [0.1], "SD": [0.2], "HH": [0.3]}, atol=0.003)
    (root / "splits.csv").write_text("song,split\n" + "".join(
        f"song {i:02d},{'test' if i < 2 else 'train'}\n" for i in range(10)))
    by_id = {t.track_id: t.split for t in get("sadtp").tracks(root)}
    assert by_id["song 00"] == "test" and by_id["song 05"] == "train"


def test_sadtp_missing_midi_bad_csv_and_no_drum_notes(tmp_path):
    root = make_sadtp(tmp_path / "mine", n=3)
    (root / "splits.csv").write_text("song,split\nsong 00,train\nsong 01,dev\nsong 02,test\n")
    with pytest.raises(InputError, match=r"splits\.csv:3: split 'dev'"):
        get("sadtp").tracks(root)
    (root / "splits.csv").unlink()
    write_midi(root / "song 01.mid", [(0.1, 60)], is_drum=False)
    t = {t.track_id: t for t in get("sadtp").tracks(root)}["song 01"]
    with pytest.raises(InputError, match=r"song 01\.mid: no drum notes"):
        t.load_onsets()
    (root / "song 02.mid").unlink()
    with pytest.raises(InputError, match=r"song 02\.ogg: no MIDI file beside it"):
        get("sadtp").tracks(root)
    with pytest.raises(InputError, match="sadtp dataset path not found"):
        get("sadtp").tracks(tmp_path / "absent")


# ---------------------------------------------------------------- registry
@pytest.mark.parametrize("name", ["mdb_drums", "enst_drums", "egmd", "slakh", "adtof_yt", "sadtp"])
def test_every_spec_is_complete(name):
    spec = get(name)
    assert spec.name == name and spec.path_key == name and spec.license
    assert set(spec.label_map.values()) <= set(CLASSES)
    for d in spec.downloads:
        assert d.url.startswith("https://") and d.filename
        assert d.git_commit or d.sha256 or d.md5 or name == "enst_drums"  # ENST: recorded on first download
