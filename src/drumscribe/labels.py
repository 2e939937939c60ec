"""Label tables: notes and annotation labels to the five classes (no file I/O).

Onsets are represented everywhere as ``dict[str, np.ndarray]``: one sorted float64
array of onset times in seconds per class in :data:`drumscribe.CLASSES`.

The General MIDI reduction is ADTOF's (see ``docs/labels.md``):
35, 36 → BD; 37, 38, 39, 40 → SD; 41, 43, 45, 47, 48, 50 → TT; 42, 44, 46 → HH;
49, 51, 52, 53, 55, 57, 59 → CY. The Roland TD-11/TD-17 extras of GMD and E-GMD
(22, 26 hi-hat edges, 58 tom-3 rim) join their classes. Everything else is ignored.

The annotation labels of MDB Drums (:data:`MDB_CLASS_LABELS`, :data:`MDB_SUBCLASS_TO_GM`)
and ENST-Drums (:data:`ENST_TO_GM`) are here too, so that the datasets, the CLI and
the evaluation share one table each. Files are read by :mod:`drumscribe.references`.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from . import CLASSES

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

#: MDB Drums ``annotations/class`` label → class (``OT``, other, is ignored).
MDB_CLASS_LABELS: dict[str, str] = {"KD": "BD", "SD": "SD", "TT": "TT", "HH": "HH", "CY": "CY"}

#: MDB Drums ``annotations/subclass`` label → General MIDI note (MDB Drums paper, table 1);
#: TMB (54) maps to no class.
MDB_SUBCLASS_TO_GM: dict[str, int] = {
    "KD": 35,
    "SD": 38, "SDB": 38, "SDD": 38, "SDF": 38, "SDG": 38, "SDNS": 38, "SST": 37,
    "CHH": 42, "OHH": 46, "PHH": 44,
    "HIT": 50, "MHT": 48, "HFT": 43, "LFT": 41,
    "RDC": 51, "RDB": 53, "CRC": 49, "CHC": 52, "SPC": 55,
    "TMB": 54,
}

#: ENST-Drums label → General MIDI note (Vogl's and ADTOF's mapping); cb, sticks and others are ignored.
ENST_TO_GM: dict[str, int] = {
    "bd": 35,
    "sd": 38, "sd-": 38, "rs": 38, "cs": 37,
    "chh": 42, "ohh": 46,
    "lft": 41, "lt": 45, "lmt": 47, "mt": 48,
    "cr": 49, "c1": 49, "cr1": 49, "cr5": 49, "cr2": 57, "c": 57, "c4": 57,
    "rc": 51, "rc1": 51, "rc3": 51, "rc2": 59, "rc4": 59,
    "ch": 52, "ch1": 52, "ch5": 52,
    "spl": 55, "spl2": 55,
}
#: ENST-Drums label → class (:data:`ENST_TO_GM` composed with the GM reduction).
ENST_LABELS: dict[str, str] = {k: GM_TO_CLASS[v] for k, v in ENST_TO_GM.items() if v in GM_TO_CLASS}

#: Labels of the text formats that are known but map to no class (dropped without a word).
IGNORED_LABELS: tuple[str, ...] = ("OT", "TMB", "cb", "sticks")


def text_label_map() -> dict[str, str]:
    """Label → class for the text annotation formats: MDB Drums ``class`` and ``subclass``
    labels (``KD``, ``SD``, ``CHH``, …) and ENST-Drums labels (``bd``, ``sd``, ``chh``, …).

    The label sets do not collide (MDB is upper case, ENST lower case). MDB's ``OT`` and
    ``TMB`` and ENST's ``cb``/``sticks`` map to no class and are dropped.
    """
    mdb_sub = {k: GM_TO_CLASS[v] for k, v in MDB_SUBCLASS_TO_GM.items() if v in GM_TO_CLASS}
    return {**ENST_LABELS, **mdb_sub, **MDB_CLASS_LABELS}


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


def count_onsets(onsets: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Number of onsets per class."""
    return {c: int(len(onsets.get(c, ()))) for c in CLASSES}


def onsets_to_json(onsets: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    """Plain-JSON form ``{class: [times...]}`` of onsets."""
    return {c: [round(float(t), 6) for t in onsets.get(c, ())] for c in CLASSES}


def onsets_from_json(obj: Mapping[str, Iterable[float]]) -> dict[str, np.ndarray]:
    """Inverse of :func:`onsets_to_json` (missing classes become empty)."""
    return {c: np.sort(np.asarray(list(obj.get(c, [])), dtype=np.float64)) for c in CLASSES}
