"""Onsets to a General MIDI drum file (channel 10).

Each class of :data:`drumscribe.CLASSES` is written as one General MIDI percussion
note (:data:`drumscribe.GM_NOTES_OUT`): BD → 35 (acoustic bass drum), SD → 38
(acoustic snare), TT → 47 (low-mid tom), HH → 42 (closed hi-hat), CY → 49 (crash 1).
All notes go on one drum instrument (pretty_midi ``is_drum=True``, i.e. MIDI
channel 10 in General MIDI's 1-based numbering), at 120 BPM with 480 ticks per
quarter note, so a tick is 1/960 s and onsets keep about 1 ms of precision.

Velocity: a detected onset carries the model's activation peak ``p`` (a probability,
0..1). It is mapped linearly to a MIDI velocity ``v = 1 + round(p * 126)``, so
``p = 0`` → 1, ``p = 0.5`` → 64, ``p = 1`` → 127. Without confidences every note
gets velocity 100.

Reading MIDI back is :func:`drumscribe.references.onsets_from_midi` (re-exported here as
:func:`read_midi_onsets`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from . import CLASSES, GM_NOTES_OUT
from .atomic import atomic_path
from .errors import InputError
from .references import onsets_from_midi as read_midi_onsets  # noqa: F401  (re-export)

#: Length of every written note in seconds (drum hits are one-shots; 50 ms is
#: long enough for every sampler and short enough never to overlap at 16th notes
#: up to 300 BPM).
NOTE_DURATION = 0.05
#: Velocity of notes written without a confidence.
DEFAULT_VELOCITY = 100

__all__ = ["write_midi", "read_midi_onsets", "confidence_to_velocity", "NOTE_DURATION"]


def confidence_to_velocity(confidence) -> np.ndarray:
    """Map activation peaks (probabilities 0..1) to MIDI velocities 1..127.

    ``v = 1 + round(clip(p, 0, 1) * 126)``; NaN counts as 0.

    Examples
    --------
    >>> confidence_to_velocity([0.0, 0.5, 1.0, 2.0]).tolist()
    [1, 64, 127, 127]
    """
    p = np.nan_to_num(np.asarray(confidence, dtype=np.float64), nan=0.0)
    return (1 + np.rint(np.clip(p, 0.0, 1.0) * 126)).astype(int)


def build_midi(onsets: Mapping[str, np.ndarray], velocities: Mapping[str, np.ndarray] | None = None):
    """Return a :class:`pretty_midi.PrettyMIDI` holding ``onsets`` as drum notes.

    Parameters
    ----------
    onsets
        ``{class: seconds}`` for classes in :data:`drumscribe.CLASSES` (others raise).
    velocities
        Optional ``{class: confidences 0..1}`` of the same lengths as ``onsets``;
        mapped with :func:`confidence_to_velocity`.
    """
    import pretty_midi

    unknown = set(onsets) - set(CLASSES)
    if unknown:
        raise ValueError(f"onsets: unknown classes {sorted(unknown)} (expected {CLASSES})")
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=120.0)
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="Drums")
    for cls, note in zip(CLASSES, GM_NOTES_OUT):
        times = np.asarray(onsets.get(cls, ()), dtype=np.float64)
        if times.size and (not np.all(np.isfinite(times)) or times.min() < 0):
            raise ValueError(f"onsets[{cls!r}]: times must be finite and >= 0 seconds")
        if velocities is not None and cls in velocities:
            conf = np.asarray(velocities[cls], dtype=np.float64)
            if conf.shape != times.shape:
                raise ValueError(f"velocities[{cls!r}]: {conf.shape[0] if conf.ndim else 0} values "
                                 f"for {times.shape[0]} onsets")
            vel = confidence_to_velocity(conf)
        else:
            vel = np.full(times.shape, DEFAULT_VELOCITY, dtype=int)
        for t, v in zip(times, vel):
            drums.notes.append(pretty_midi.Note(velocity=int(v), pitch=int(note),
                                                start=float(t), end=float(t) + NOTE_DURATION))
    drums.notes.sort(key=lambda n: (n.start, n.pitch))
    pm.instruments.append(drums)
    return pm


def write_midi(path: str | Path, onsets: Mapping[str, np.ndarray],
               velocities: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write ``onsets`` as a General MIDI drum file (channel 10) at ``path``, atomically.

    See the module docstring for the notes, velocities and timing. An empty
    transcription gives a valid MIDI file with an empty drum track.

    Returns the path written.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = write_midi(os.path.join(d, "x.mid"), {"BD": np.array([0.0, 0.5]), "SD": np.array([0.25])})
    >>> {c: v.tolist() for c, v in read_midi_onsets(p).items() if len(v)}
    {'BD': [0.0, 0.5], 'SD': [0.25]}
    """
    path = Path(path)
    pm = build_midi(onsets, velocities)
    try:
        with atomic_path(path) as tmp:
            pm.write(str(tmp))
    except OSError as exc:
        raise InputError(f"{path}: cannot write MIDI file ({exc.strerror or exc})") from None
    return path
