"""Reading onset files: one reader per format, for references and predictions alike.

Every file of onsets the project reads goes through this module: the datasets'
annotations (:mod:`drumscribe.datasets`), ``drumscribe evaluate`` (:mod:`drumscribe.cli`)
and the saved test predictions (:mod:`drumscribe.evaluation`).

=========  ===================  ====================================================
format     suffixes             reader
=========  ===================  ====================================================
text       ``.txt``, ``.tsv``   :func:`read_text` (MDB Drums / ENST-Drums ``time label``
                                lines, through :func:`read_annotation_txt`)
midi       ``.mid``, ``.midi``  :func:`onsets_from_midi` (every note of every track)
json       ``.json``            :func:`read_json` (``{class: [s]}`` or a prediction file
                                ``{"onsets": {class: [s]}, "confidence": ..., "track_id": ...}``)
csv        ``.csv``             :func:`read_csv` (``time,class[,confidence]`` rows, as
                                ``drumscribe transcribe`` writes them)
=========  ===================  ====================================================

:func:`read_onsets` picks the reader by suffix (or an explicit ``fmt``);
:func:`read_reference` is the same with "no onset at all" an error; :func:`read_predictions`
reads a folder of prediction JSONs. Label tables live in :mod:`drumscribe.labels`.
Bad input is a one-line :class:`~drumscribe.errors.InputError` naming the file
(``"<file>[:<line>]: <cause>"``).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from . import CLASSES
from .errors import InputError
from .labels import GM_TO_CLASS, IGNORED_LABELS, map_events, onsets_from_json, text_label_map
from .metrics import validate_onsets

#: Format of each file suffix :func:`read_onsets` understands.
SUFFIX_FORMAT: dict[str, str] = {".txt": "text", ".tsv": "text", ".mid": "midi", ".midi": "midi",
                                 ".json": "json", ".csv": "csv"}
FORMATS: tuple[str, ...] = ("text", "midi", "json", "csv")


# --------------------------------------------------------------------------- MIDI
def read_midi(path: str | Path, what: str = "MIDI file"):
    """Open a MIDI file with pretty_midi; ``InputError`` naming the file if it is missing or unreadable.

    ``what`` names the file in the "missing" message (e.g. "MIDI of drum stem S01").
    """
    import pretty_midi  # slow to import (it loads its instrument tables); only MIDI readers pay

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # pretty_midi/mido raise many kinds
        raise InputError(f"{path}: not a readable MIDI file ({type(exc).__name__}: {exc})") from None


def onsets_from_midi(path: str | Path, note_map: Mapping[int, str] = GM_TO_CLASS,
                     require_notes: bool = True) -> dict[str, np.ndarray]:
    """Read drum onsets from a MIDI file, mapping every note of every track.

    Notes are read from all instruments, whatever their channel or drum flag
    (MDB Drums++ files carry drums on channel 1 with the flag off).

    Raises
    ------
    InputError
        The file is missing or not a MIDI file, or (``require_notes``) it holds no
        note that maps to a drum class.
    """
    path = Path(path)
    pm = read_midi(path, "file")
    events = [(n.start, n.pitch) for inst in pm.instruments for n in inst.notes]
    onsets = map_events(events, note_map)
    if require_notes and not any(len(v) for v in onsets.values()):
        raise InputError(f"{path}: no drum notes that map to {'/'.join(CLASSES)}")
    return onsets


# --------------------------------------------------------------------------- text
def read_annotation_txt(path: str | Path, label_map: Mapping[str, object],
                        to_class: Mapping[object, str] | None = None, *, fold_case: bool = False,
                        unknown: dict | None = None) -> dict[str, np.ndarray]:
    """Read a ``time <whitespace> label`` annotation file (MDB Drums, ENST-Drums).

    Each non-empty line holds an onset time in seconds and a label, separated by a
    tab and/or spaces (MDB Drums pads its tab with spaces: ``"0.57 \\t SD "``).
    Lines starting with ``#`` are comments. ``label_map`` maps a label to either a
    class in :data:`drumscribe.CLASSES` or, with ``to_class``, to an intermediate key
    (e.g. a General MIDI note) that ``to_class`` maps to a class. Labels absent
    from the maps are ignored (MDB's ``OT``, ENST's ``cb``); with ``unknown`` (a dict)
    the labels absent from ``label_map`` are counted in it (``{label: onsets}``; a label
    mapped to ``None`` is known and dropped). ``fold_case`` matches labels case-insensitively.

    Raises
    ------
    InputError
        The file is missing, or a line does not parse (``"<file>:<line>: ..."``).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = open(p, "w").write("0.010000 \\t KD \\n0.57\\tSD\\n")
    >>> read_annotation_txt(p, {"KD": "BD", "SD": "SD"})["SD"].tolist()
    [0.57]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: annotation file not found")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read annotation file ({type(exc).__name__})") from None
    if fold_case:
        label_map = {str(k).casefold(): v for k, v in label_map.items()}
    events: list[tuple[float, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split()
        if len(parts) != 2:
            raise InputError(f"{path}:{number}: expected 'time label', got {stripped[:60]!r}")
        try:
            time = float(parts[0])
        except ValueError:
            raise InputError(f"{path}:{number}: onset time {parts[0][:30]!r} is not a number") from None
        if not np.isfinite(time) or time < 0:
            raise InputError(f"{path}:{number}: onset time {parts[0]!r} is negative or not finite")
        label = parts[1].casefold() if fold_case else parts[1]
        if unknown is not None and label not in label_map:
            unknown[parts[1]] = unknown.get(parts[1], 0) + 1
        key = label_map.get(label)
        if key is not None and to_class is not None:
            key = to_class.get(key)
        if key is not None:
            events.append((time, key))
    return map_events(events, {c: c for c in CLASSES})


def read_text(path: str | os.PathLike, label_map: Mapping[str, str] | None = None,
              ignore_unknown: bool = False, unknown: dict | None = None) -> dict[str, np.ndarray]:
    """Onsets of an MDB Drums / ENST-Drums text annotation; labels match case-insensitively.

    ``label_map`` defaults to :func:`drumscribe.labels.text_label_map` (plus
    :data:`~drumscribe.labels.IGNORED_LABELS`, known and dropped). A label it does not
    know is an ``InputError`` listing every such label, unless ``ignore_unknown``; then
    they are dropped, and counted in ``unknown`` (``{label: onsets}``) when given. An
    explicit ``label_map`` maps what it names and drops the rest (counted in ``unknown``).
    """
    path = Path(path)
    labels = {**{k: None for k in IGNORED_LABELS}, **text_label_map()} if label_map is None else label_map
    found: dict[str, int] = {}
    onsets = read_annotation_txt(path, labels, fold_case=True, unknown=found)
    if found and not ignore_unknown and label_map is None:
        listed = ", ".join(f"{k} ({n})" for k, n in sorted(found.items()))
        raise InputError(f"{path}: unknown label(s) {listed}; known: MDB Drums class/subclass and "
                         f"ENST-Drums labels (drop unknown ones with --ignore-unknown-labels)")
    if unknown is not None:
        for k, n in found.items():
            unknown[k] = unknown.get(k, 0) + n
    return onsets


# --------------------------------------------------------------------------- JSON, CSV
def read_json(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict | None, str | None]:
    """(onsets, confidence or None, track_id or None) of an onsets or prediction JSON.

    Accepts ``{class: [seconds]}`` or an object with an ``"onsets"`` member of that form
    (a prediction file, or ``drumscribe transcribe``'s JSON). Unknown classes, an empty
    object, and times that are not finite non-negative numbers are errors.
    """
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({type(exc).__name__})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a JSON object of onsets")
    body = obj.get("onsets", obj)
    if not isinstance(body, dict):
        raise InputError(f"{path}: 'onsets' is not an object {{class: [seconds]}}")
    unknown = sorted(set(body) - set(CLASSES))
    if unknown:
        raise InputError(f"{path}: unknown class(es) {', '.join(map(str, unknown))} (expected {'/'.join(CLASSES)})")
    if not body:
        raise InputError(f"{path}: JSON holds no onsets ({{class: [seconds]}} with classes {'/'.join(CLASSES)})")
    try:
        onsets = onsets_from_json(body)
        validate_onsets(onsets, "onsets")
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: bad onset times ({exc})") from None
    conf = obj.get("confidence") if "onsets" in obj else None
    track_id = obj.get("track_id") if "onsets" in obj else None
    return onsets, conf, track_id


def read_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Onsets of a ``time,class[,confidence]`` CSV (a header row, then one row per onset)."""
    path = Path(path)
    per = {c: [] for c in CLASSES}
    try:
        with open(path, newline="") as f:
            for n, row in enumerate(csv.DictReader(f), start=2):
                try:
                    per[row["class"].strip()].append(float(row["time"]))
                except (KeyError, ValueError, TypeError, AttributeError):
                    raise InputError(f"{path}:{n}: expected columns time,class[,confidence] "
                                     f"with a class among {'/'.join(CLASSES)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read CSV ({type(exc).__name__})") from None
    return {c: np.sort(np.asarray(v, dtype=np.float64)) for c, v in per.items()}


# --------------------------------------------------------------------------- any format
def format_of(path: str | os.PathLike) -> str | None:
    """The format (:data:`FORMATS`) of a file by its suffix, or None for a suffix no reader knows."""
    return SUFFIX_FORMAT.get(Path(path).suffix.lower())


def read_onsets(path: str | os.PathLike, fmt: str = "auto", *, label_map: Mapping[str, str] | None = None,
                note_map: Mapping[int, str] = GM_TO_CLASS, ignore_unknown: bool = False,
                unknown: dict | None = None, require_onsets: bool = False,
                what: str = "file") -> dict[str, np.ndarray]:
    """Onsets of a file in any format; ``fmt="auto"`` picks it by suffix (:data:`SUFFIX_FORMAT`).

    ``label_map``, ``ignore_unknown`` and ``unknown`` go to :func:`read_text`; ``note_map``
    to :func:`onsets_from_midi` (default General MIDI; ``labels.ROLAND_TO_CLASS`` for GMD /
    E-GMD). With ``require_onsets`` a file without any onset of any class is an error.
    ``what`` names the file in the "not found" message.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} not found")
    if fmt == "auto":
        fmt = format_of(path)
        if fmt is None:
            raise InputError(f"{path}: unknown reference format {path.suffix.lower() or '(no extension)'} "
                             f"(expected .txt, .mid/.midi, .json or .csv)")
    if fmt == "text":
        onsets = read_text(path, label_map, ignore_unknown, unknown)
    elif fmt == "midi":
        onsets = onsets_from_midi(path, note_map, require_notes=require_onsets)
    elif fmt == "json":
        onsets = read_json(path)[0]
    elif fmt == "csv":
        onsets = read_csv(path)
    else:
        raise ValueError(f"fmt: expected 'auto' or one of {FORMATS}, got {fmt!r}")
    if require_onsets and not any(len(v) for v in onsets.values()):
        raise InputError(f"{path}: no onsets that map to {'/'.join(CLASSES)}")
    return onsets


def read_reference(path: str | os.PathLike, label_map: Mapping[str, str] | None = None,
                   note_map: Mapping[int, str] = GM_TO_CLASS, ignore_unknown: bool = False,
                   unknown: dict | None = None, fmt: str = "auto") -> dict[str, np.ndarray]:
    """Reference onsets of a file (:func:`read_onsets`); a file with no onset is an error.

    - ``.txt`` (or ``.tsv``): MDB Drums / ENST-Drums lines ``time <tab or spaces> label``,
      labels mapped by ``label_map`` (default :func:`drumscribe.labels.text_label_map`),
      case-insensitively; unknown labels are an error unless ``ignore_unknown``.
    - ``.mid`` / ``.midi``: every note of every track, mapped by ``note_map``.
    - ``.json``: drumscribe onsets ``{class: [seconds]}``, or a prediction file.
    - ``.csv``: ``time,class[,confidence]`` rows.

    Raises
    ------
    InputError
        Missing file, unknown extension, unreadable content, or no onset of any class.
    """
    return read_onsets(path, fmt, label_map=label_map, note_map=note_map, ignore_unknown=ignore_unknown,
                       unknown=unknown, require_onsets=True, what="reference file")


def read_predictions(pred_dir: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """``{track_id: onsets}`` of every ``*.json`` prediction file in ``pred_dir``."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise InputError(f"{pred_dir}: predictions folder not found")
    out: dict[str, dict[str, np.ndarray]] = {}
    for path in sorted(pred_dir.glob("*.json")):
        onsets, _, track_id = read_json(path)
        tid = track_id or path.stem
        if tid in out:
            raise InputError(f"{path}: track {tid!r} predicted twice in {pred_dir}")
        out[tid] = onsets
    if not out:
        raise InputError(f"{pred_dir}: no prediction files (*.json)")
    return out
