"""E-GMD v1.0.0 (Callender et al., 2020): 444 h of GMD performances re-recorded through 43 TD-17 kits.

Layout (``e-gmd-v1.0.0.zip`` unpacks to ``e-gmd-v1.0.0/``; ``root`` may be that folder
or the one holding it)::

    e-gmd-v1.0.0.csv     drummer,session,id,style,bpm,beat_type,time_signature,duration,
                         split,midi_filename,audio_filename,kit_name
    drummer1/session1/<n>_<style>_<bpm>_<beat_type>_<ts>_<k>.midi / .wav

Split: the official ``split`` column (train / validation / test, by GMD session).
Every kit appears in every split; ``kits=`` selects kits (e.g. to hold kits out).
Group: the GMD performance (``id``, else ``drummer/session``).
Labels: the MIDI notes through the Roland TD-17 map (:data:`drumscribe.labels.ROLAND_TO_CLASS`).
"""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from ..labels import ROLAND_TO_CLASS
from ..references import onsets_from_midi
from .base import SPLITS, DatasetSpec, Download, Track
from .download import require_layout

NAME = "egmd"
CSV_NAME = "e-gmd-v1.0.0.csv"
REQUIRED_COLUMNS = ("split", "midi_filename", "audio_filename", "kit_name")


def find_root(root: str | Path) -> Path:
    """The folder that holds ``e-gmd-v1.0.0.csv`` (``root`` or ``root/e-gmd-v1.0.0``)."""
    root = require_layout(root, NAME)
    for cand in (root, root / "e-gmd-v1.0.0"):
        if (cand / CSV_NAME).is_file():
            return cand
    raise InputError(f"{root}: not an {NAME} folder (missing {CSV_NAME})")


def tracks(root: str | Path, kits: Iterable[str] | None = None) -> list[Track]:
    """List E-GMD tracks (one per csv row with audio) under ``root``; ``kits`` filters by ``kit_name``."""
    base = find_root(root)
    table = base / CSV_NAME
    wanted = None if kits is None else set(kits)
    with open(table, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{table}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    out: list[Track] = []
    for line, row in enumerate(rows, start=2):
        if not row["audio_filename"]:
            continue
        if wanted is not None and row["kit_name"] not in wanted:
            continue
        split = row["split"].strip()
        if split not in SPLITS:
            raise InputError(f"{table}:{line}: split {split!r} is not one of {', '.join(SPLITS)}")
        audio, midi = base / row["audio_filename"], base / row["midi_filename"]
        if not audio.is_file():
            raise InputError(f"{audio}: audio listed in {table.name} line {line} is missing")
        group = row.get("id") or "/".join(Path(row["midi_filename"]).parts[:2])
        out.append(Track(
            track_id=str(Path(row["audio_filename"]).with_suffix("")).replace("/", "_"),
            split=split, group=group, audio=(audio,), annotation=midi,
            load_onsets=partial(onsets_from_midi, midi, ROLAND_TO_CLASS),
            meta={"kit_name": row["kit_name"], "drummer": row.get("drummer"), "style": row.get("style"),
                  "bpm": row.get("bpm")}))
    return out


SPEC = DatasetSpec(
    name=NAME,
    description="E-GMD v1.0.0: GMD performances re-recorded through 43 Roland TD-17 kits (official split)",
    license="CC BY 4.0",
    tracks=tracks,
    label_map=ROLAND_TO_CLASS,
    downloads=(
        Download(url="https://storage.googleapis.com/magentadata/datasets/e-gmd/v1.0.0/e-gmd-v1.0.0.zip",
                 filename="e-gmd-v1.0.0.zip", size=96_422_999_145,
                 sha256="7d9a264fb4c9eabd9fec09d5f8e333192f529b1a1b845d170279a977ac436053"),
    ),
    path_key=NAME,
    citation="L. Callender, C. Hawthorne, J. Engel. Improving perceptual quality of drum transcription "
             "with the Expanded Groove MIDI Dataset. arXiv:2004.00188, 2020.",
)
