"""midi.write_midi: General MIDI drum files (channel 10) from onsets."""

import mido
import numpy as np
import pretty_midi
import pytest

from drumscribe import CLASSES, GM_NOTES_OUT
from drumscribe.errors import InputError
from drumscribe.midi import confidence_to_velocity, read_midi_onsets, write_midi


def _onsets():
    rng = np.random.default_rng(0)
    return {c: np.sort(np.round(rng.uniform(0, 10, 7 + i), 3)) for i, c in enumerate(CLASSES)}


def test_roundtrip_times_notes_channel_and_velocity(tmp_path):
    onsets = _onsets()
    conf = {c: np.linspace(0.0, 1.0, len(v)) for c, v in onsets.items()}
    path = write_midi(tmp_path / "song.mid", onsets, conf)
    back = read_midi_onsets(path)
    for c in CLASSES:
        np.testing.assert_allclose(back[c], onsets[c], atol=1.1e-3)
    pm = pretty_midi.PrettyMIDI(str(path))
    assert len(pm.instruments) == 1 and pm.instruments[0].is_drum
    by_pitch = {}
    for n in pm.instruments[0].notes:
        by_pitch.setdefault(n.pitch, []).append(n)
        assert 0 < n.end - n.start <= 0.06
    assert sorted(by_pitch) == sorted(GM_NOTES_OUT)
    for c, note in zip(CLASSES, GM_NOTES_OUT):
        vel = [n.velocity for n in sorted(by_pitch[note], key=lambda n: n.start)]
        assert vel == confidence_to_velocity(conf[c]).tolist()
        assert vel[0] == 1 and vel[-1] == 127
    # raw MIDI: every note-on is on channel 10 (mido's 0-based channel 9)
    channels = {m.channel for tr in mido.MidiFile(str(path)).tracks for m in tr if m.type == "note_on"}
    assert channels == {9}


def test_velocity_mapping():
    assert confidence_to_velocity([0, 0.25, 0.5, 1, -1, np.nan]).tolist() == [1, 33, 64, 127, 1, 1]


def test_empty_transcription_is_valid_midi(tmp_path):
    path = write_midi(tmp_path / "empty.mid", {c: np.zeros(0) for c in CLASSES})
    pm = pretty_midi.PrettyMIDI(str(path))
    assert sum(len(i.notes) for i in pm.instruments) == 0
    assert all(len(v) == 0 for v in read_midi_onsets(path, require_notes=False).values())


def test_default_velocity_without_confidences(tmp_path):
    path = write_midi(tmp_path / "x.mid", {"BD": np.array([0.5, 1.0])})
    assert [n.velocity for n in pretty_midi.PrettyMIDI(str(path)).instruments[0].notes] == [100, 100]


def test_bad_onsets_raise_and_leave_no_file(tmp_path):
    with pytest.raises(ValueError, match="unknown classes"):
        write_midi(tmp_path / "a.mid", {"XX": np.array([1.0])})
    with pytest.raises(ValueError, match="velocities"):
        write_midi(tmp_path / "b.mid", {"BD": np.array([1.0])}, {"BD": np.array([0.1, 0.2])})
    with pytest.raises(ValueError, match=">= 0"):
        write_midi(tmp_path / "c.mid", {"BD": np.array([-1.0])})
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_one_line_error(tmp_path):
    # a "folder" that is a regular file cannot be written into, even by root
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="blocker.*cannot write"):
        write_midi(blocker / "x.mid", {"BD": np.array([1.0])})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
