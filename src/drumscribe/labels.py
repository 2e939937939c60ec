"""Label mapping: notes and annotation labels to the five classes.

Onsets are represented everywhere as ``dict[str, np.ndarray]``: one sorted float64
array of onset times in seconds per class in :data:`drumscribe.CLASSES`.

The General MIDI reduction is ADTOF's (see ``docs/labels.md``):
35, 36 → BD; 37, 38, 39, 40 → SD; 41, 43, 45, 47, 48, 50 → TT; 42, 44, 46 → HH;
49, 51, 52, 53, 55, 57, 59 → CY. The Roland TD-11/TD-17 extras of GMD and E-GMD
(22, 26 hi-hat edges, 58 tom-3 rim) join their classes. Everything else is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from . import CLASSES
from .errors import InputError

#: General MIDI drum note → class (ADTOF's 5-class reduction).
GM_TO_CLASS: dict[int, str] = {
    35: "BD", 36: "BD",
    37: "SD", 38: "SD", 39: "SD", 40: "SD",
    41: "TT", 43: "TT", 45: "TT", 47: "TT", 48: "TT", 50: "TT",
    42: "HH", 44: "HH", 46: "HH",
    49: "CY", 51: "CY", 52: "CY", 53: "CY", 55: "CY", 57: "CY", 59: "CY",
}

#: Roland TD-11 / TD-17 (GMD, E-GMD): GM plus hi-hat edges 22/26 and tom-3 rim 58.
ROLAND_TO_CLASS: dict[int, str] = {**GM_TO_CLASS, 22: "HH", 26: "HH", 58: "TT"}


def empty_onsets() -> dict[str, np.ndarray]:
    """Return onsets with no events for every class."""
    return {c: np.zeros(0, dtype=np.float64) for c in CLASSES}


def map_events(events: Iterable[tuple[float, object]], label_map: Mapping[object, str]) -> dict[str, np.ndarray]:
    """Map ``(time, label)`` events to per-class sorted onset arrays; unmapped labels are dropped.

    Examples
    --------
    >>> on = map_events([(0.5, 38), (0.1, 36), (0.2, 99)], GM_TO_CLASS)
    >>> on["BD"].tolist(), on["SD"].tolist(), on["HH"].tolist()
    ([0.1], [0.5], [])
    """
    per_class: dict[str, list[float]] = {c: [] for c in CLASSES}
    for time, label in events:
        cls = label_map.get(label)
        if cls is not None:
            per_class[cls].append(float(time))
    return {c: np.asarray(sorted(v), dtype=np.float64) for c, v in per_class.items()}


def read_midi(path: str | Path, what: str = "MIDI file"):
    """Open a MIDI file with pretty_midi; ``InputError`` naming the file if it is missing or unreadable.

    ``what`` names the file in the "missing" message (e.g. "MIDI of drum stem S01").
    """
    import pretty_midi

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


def count_onsets(onsets: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Number of onsets per class."""
    return {c: int(len(onsets.get(c, ()))) for c in CLASSES}


def onsets_to_json(onsets: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    """Plain-JSON form ``{class: [times...]}`` of onsets."""
    return {c: [round(float(t), 6) for t in onsets.get(c, ())] for c in CLASSES}


def onsets_from_json(obj: Mapping[str, Iterable[float]]) -> dict[str, np.ndarray]:
    """Inverse of :func:`onsets_to_json` (missing classes become empty)."""
    return {c: np.sort(np.asarray(list(obj.get(c, [])), dtype=np.float64)) for c in CLASSES}


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
