"""The dataset registry's building blocks: what a dataset is and what a track is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

SPLITS: tuple[str, ...] = ("train", "validation", "test")


@dataclass(frozen=True)
class Download:
    """One public archive of a dataset.

    ``sha256``/``md5`` may both be None where the publisher gives none: the download
    rule then records the sum of the first download and refuses later mismatches.
    """

    url: str
    filename: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    extract: bool = True
    git_commit: str | None = None  # for git repositories (MDB Drums): pin the commit


@dataclass(frozen=True)
class Track:
    """One piece of music of a dataset, with its split and how to load it.

    ``audio`` files are each loaded at 44.1 kHz mono and summed with ``gains``
    (linear, default 1.0 each): drums + accompaniment for ENST's minus-one subset,
    a mix or stems for Slakh. ``features`` replaces audio for datasets that ship
    precomputed features (ADTOF-YT): it returns a (frames, bins) array.
    """

    track_id: str
    split: str
    group: str
    audio: tuple[Path, ...]
    load_onsets: Callable[[], dict[str, np.ndarray]]
    gains: tuple[float, ...] | None = None
    annotation: Path | None = None
    features: Callable[[], np.ndarray] | None = None
    meta: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"track {self.track_id}: split must be one of {SPLITS}, not {self.split!r}")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset of the registry.

    ``tracks(root)`` lists the tracks found under ``root`` (the folder named by the
    config key ``paths.<path_key>``, or the rendered folder for ``gmd_synth``);
    it raises :class:`drumscribe.errors.InputError` naming ``root`` when the layout
    is not there.

    ``songs`` names the recordings the tracks are made of when they are another
    dataset's songs under a split of their own (e.g. remixes of MDB Drums songs in
    folds: ``songs="mdb_drums"``); by default a dataset's songs are those of its raw
    data (``path_key``), split the same way for every dataset read from it. The config
    checks refuse a study that tests on songs it was trained on
    (``config.check_song_overlap``).
    """

    name: str
    description: str
    license: str
    tracks: Callable[[Path], list[Track]]
    label_map: Mapping[object, str]
    downloads: tuple[Download, ...] = ()
    path_key: str | None = None
    citation: str = ""
    songs: str | None = None
