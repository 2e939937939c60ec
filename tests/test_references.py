"""references.py: one reader per format, shared by ``drumscribe evaluate`` and the evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drumscribe import cli, evaluation, references
from drumscribe.errors import InputError
from drumscribe.midi import write_midi

ONSETS = {"BD": [0.5, 1.0], "SD": [0.75], "TT": [], "HH": [0.25], "CY": []}


def _files(tmp_path):
    """The same onsets in every format the readers know."""
    files = {}
    files["text"] = tmp_path / "song_class.txt"
    files["text"].write_text("0.25\tHH\n0.5 \t KD \n0.75\tSD\n1.0\tKD\n")
    files["midi"] = tmp_path / "song.mid"
    write_midi(files["midi"], {c: np.asarray(v) for c, v in ONSETS.items()})
    files["json"] = tmp_path / "song.json"
    files["json"].write_text(json.dumps({"track_id": "song", "onsets": ONSETS}))
    files["csv"] = tmp_path / "song.csv"
    files["csv"].write_text("time,class,confidence\n0.25,HH,0.9\n0.5,BD,0.8\n0.75,SD,0.7\n1.0,BD,0.6\n")
    return files


def test_each_format_reads_the_same_onsets_through_every_entry(tmp_path):
    for fmt, path in _files(tmp_path).items():
        assert references.format_of(path) == fmt
        for on in (references.read_onsets(path), references.read_reference(path),
                   evaluation.read_reference(path), cli.read_reference(path),
                   cli.read_predictions(path, transcriber_factory=None)):
            assert {c: np.round(v, 3).tolist() for c, v in on.items()} == ONSETS, (fmt, on)


def test_json_prediction_file_gives_confidence_and_track_id(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"track_id": "x/y", "onsets": {"BD": [0.1]}, "confidence": {"BD": [0.5]}}))
    onsets, conf, tid = references.read_json(path)
    assert onsets["BD"].tolist() == [0.1] and conf == {"BD": [0.5]} and tid == "x/y"
    assert list(references.read_predictions(tmp_path)) == ["x/y"]


@pytest.mark.parametrize("name, content, match", [
    ("a.json", "{}", "no onsets"),
    ("a.json", "[1, 2]", "JSON object"),
    ("a.csv", "time,class\n0.1,XX\n", r"a\.csv:2"),
    ("a.txt", "0.1\n", r"a\.txt:1"),
    ("a.mid", "not midi", "not a readable MIDI file"),
])
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=match) as err:
        references.read_reference(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_require_onsets_only_for_references(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("time,class\n")
    assert not any(len(v) for v in references.read_onsets(path).values())
    with pytest.raises(InputError, match="no onsets"):
        references.read_reference(path)
