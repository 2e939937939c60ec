"""SADTP: a user's own folder of songs and their drum MIDI (the thesis author's 16 songs are not public).

Layout expected under ``root``::

    <root>/<song>.wav | .flac | .mp3 | .ogg    the song (any rate, depth, channels)
    <root>/<song>.mid | .midi                   its drum transcription (same name)
    <root>/splits.csv                           optional: columns song,split

Songs are the audio files directly in ``root`` (sorted by name); a song without a
MIDI file beside it is an error naming the file. MIDI notes map through General
MIDI (:data:`drumscribe.labels.GM_TO_CLASS`); when the file has drum
instruments (channel 10), only those are read, otherwise all notes are (DAW
exports often lose the drum flag).

Split: ``splits.csv`` (``song`` = file name without extension, ``split`` in
train/validation/test) when present, every song listed; otherwise a seeded
grouped split by song (:func:`~drumscribe.datasets.splits.grouped_split`,
fractions 0.8/0.1/0.1 of songs, seed 0). Group: the song.
"""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..labels import GM_TO_CLASS, map_events
from ..references import read_midi
from .base import SPLITS, DatasetSpec, Track
from .download import require_layout
from .splits import grouped_split

NAME = "sadtp"
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
MIDI_EXTENSIONS = (".mid", ".midi")


def load_onsets(path: Path) -> dict[str, np.ndarray]:
    """Onsets of a user's drum MIDI: drum instruments only if any, else every note (GM map)."""
    pm = read_midi(path)
    drums = [i for i in pm.instruments if i.is_drum] or pm.instruments
    onsets = map_events(((n.start, n.pitch) for i in drums for n in i.notes), GM_TO_CLASS)
    if not any(len(v) for v in onsets.values()):
        raise InputError(f"{path}: no drum notes that map to BD/SD/TT/HH/CY")
    return onsets


def read_splits_csv(path: Path) -> dict[str, str]:
    """``song -> split`` from ``splits.csv`` (columns ``song,split``)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"song", "split"} <= set(reader.fieldnames or []):
            raise InputError(f"{path}: needs the columns song,split")
        out = {}
        for line, row in enumerate(reader, start=2):
            split = (row["split"] or "").strip()
            if split not in SPLITS:
                raise InputError(f"{path}:{line}: split {split!r} is not one of {', '.join(SPLITS)}")
            out[(row["song"] or "").strip()] = split
    return out


def tracks(root: str | Path, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
           seed: int = 0) -> list[Track]:
    """List the (audio, MIDI) pairs in ``root``; see the module docstring for the layout."""
    root = require_layout(root, NAME)
    audio = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                   and not p.name.startswith("."))
    if not audio:
        raise InputError(f"{root}: not a {NAME} folder (no {'/'.join(AUDIO_EXTENSIONS)} files)")
    pairs = []
    for a in audio:
        midi = next((a.with_suffix(ext) for ext in (*MIDI_EXTENSIONS, ".MID", ".MIDI")
                     if a.with_suffix(ext).is_file()), None)
        if midi is None:
            raise InputError(f"{a}: no MIDI file beside it (expected {a.with_suffix('.mid').name})")
        pairs.append((a, midi))
    songs = [a.stem for a, _ in pairs]
    if len(set(songs)) != len(songs):
        dup = sorted({s for s in songs if songs.count(s) > 1})
        raise InputError(f"{root}: several audio files for song(s) {', '.join(dup)}")
    table = root / "splits.csv"
    if table.is_file():
        given = read_splits_csv(table)
        missing = [s for s in songs if s not in given]
        if missing:
            raise InputError(f"{table}: no split for song(s) {', '.join(missing)}")
        splits = [given[s] for s in songs]
    else:
        splits = grouped_split(songs, fractions, seed)
    return [Track(track_id=song, split=split, group=song, audio=(a,), annotation=midi,
                  load_onsets=partial(load_onsets, midi), meta={})
            for song, split, (a, midi) in zip(songs, splits, pairs)]


SPEC = DatasetSpec(
    name=NAME,
    description="SADTP: your own songs + drum MIDI (a folder of <song>.wav + <song>.mid pairs)",
    license="yours",
    tracks=tracks,
    label_map=GM_TO_CLASS,
    downloads=(),
    path_key=NAME,
    citation="",
)
