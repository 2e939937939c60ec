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
