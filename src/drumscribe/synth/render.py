"""Rendering GMD performances through a kit: audio + labels on the audible onset.

- :func:`open_kit` gives a renderer for any kit of :mod:`drumscribe.synth.kits`; its
  ``slots`` are the GM sound slots the kit really plays (sound fonts and TiMidity drum sets:
  measured by rendering every slot alone, silent slots are absent; Hydrogen: from instrument
  names; one-shot folders: from file names or the eXaDrums kit file).
- :func:`kit_note_map` maps every GMD (Roland) note to the slot it plays on the kit, or
  drops it when the kit has no sound of that note's class.
- :func:`render_performance` renders one MIDI file: returns audio and the onsets per
  class, each label placed on the audible onset of its hit (note-on snapped to
  FluidSynth's 64-sample block, or TiMidity's sample, + the measured onset delay of that
  slot/velocity; for Hydrogen and one-shot kits, the trimmed sample's onset delay).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import CLASSES, SAMPLE_RATE
from ..errors import InputError
from ..labels import GM_TO_CLASS, ROLAND_TO_CLASS
from ..references import read_midi
from .kits import NOTE_PREFERENCES, SLOTS, Kit, get_kit
from .onset import ONSET_REL_DB, first_crossing

#: a sound-font slot counts as present when its loudest probe peaks above this (dBFS)
PRESENT_DBFS = -45.0


def slot_plays(delay: float | None, peak: float) -> bool:
    """A probed slot plays: its hit at velocity 127 has an onset (``delay``) and peaks above
    :data:`PRESENT_DBFS` (the sound-font and TiMidity renderers' one criterion)."""
    return delay is not None and 20 * np.log10(peak + 1e-12) > PRESENT_DBFS

#: seconds of audio kept after the last hit
TAIL = 1.0


class HydrogenKitRenderer:
    """Renderer for a Hydrogen or one-shot kit (numpy sampler)."""

    def __init__(self, kit: Kit):
        from .kits import load_kit_drumkit

        self.kit = kit
        self.drumkit = load_kit_drumkit(kit)
        self.slots = tuple(self.drumkit.slots)

    def render(self, times, slots, velocities, duration: float):
        return self.drumkit.render(times, slots, velocities, duration)

    def close(self):
        pass


class FluidKitRenderer:
    """Renderer for a sound-font kit (FluidSynth).

    Slots are present when a hit at velocity 127 peaks above :data:`PRESENT_DBFS`. The
    onset delay of a slot (note-on to audible onset) is measured by rendering that slot
    alone, once per (slot, velocity) used, and cached: multi-layer kits (AVL) switch
    samples with velocity, so the delay is exact per velocity, not interpolated.
    """

    PROBE_SECONDS = 0.25

    def __init__(self, kit: Kit):
        from .fluid import FluidSynth

        self.kit = kit
        self.synth = FluidSynth(kit.source)
        self._delays: dict[tuple[int, int], float] = {}
        self.slots = self._probe()

    def close(self):
        self.synth.close()

    def _events(self, times, slots, velocities):
        from .fluid import note_on, program

        k = self.kit
        evs = [program(0.0, k.channel, k.bank, k.preset)]
        evs += [note_on(t, k.channel, int(s), int(v)) for t, s, v in zip(times, slots, velocities)]
        return evs

    def _measure(self, slot: int, velocity: int) -> tuple[float | None, float]:
        """(onset delay s or None if silent, peak) of one hit rendered alone."""
        sr = self.synth.sr
        y, t = self.synth.render(self._events([0.01], [slot], [velocity]), self.PROBE_SECONDS)
        seg = y[int(round(t[1] * sr)):]
        i = first_crossing(seg, ONSET_REL_DB)
        return (None if i is None else i / sr), (float(np.abs(seg).max()) if seg.size else 0.0)

    def _probe(self) -> tuple[int, ...]:
        present = []
        for slot in SLOTS:
            d, peak = self._measure(slot, 127)
            if slot_plays(d, peak):
                self._delays[(slot, 127)] = d
                present.append(slot)
        return tuple(present)

    def delay(self, slot: int, velocity: int) -> float:
        """Onset delay (s) of ``slot`` at ``velocity``: note-on to audible onset (measured, cached)."""
        key = (int(slot), int(velocity))
        if key not in self._delays:
            d, _ = self._measure(*key)
            self._delays[key] = d if d is not None else self.delay(slot, 127)
        return self._delays[key]

    def render(self, times, slots, velocities, duration: float):
        times = np.asarray(times, dtype=np.float64)
        evs = self._events(times, slots, velocities)
        order = sorted(range(len(evs)), key=lambda i: evs[i])
        y, t_sorted = self.synth.render(evs, duration)
        t = np.empty(len(evs))
        t[order] = t_sorted
        snapped = t[1:]
        labels = np.array([s + self.delay(int(sl), int(v)) if np.isfinite(s) else np.nan
                           for s, sl, v in zip(snapped, slots, velocities)])
        return y, labels


class TimidityKitRenderer:
    """Renderer for a GUS-patch drum set (FreePats) through TiMidity++ (:mod:`drumscribe.synth.timidity`).

    The same contract as :class:`FluidKitRenderer`: slots are present when a hit at velocity
    127 peaks above :data:`PRESENT_DBFS`; the onset delay of a slot (note-on to audible onset)
    is measured by rendering that slot alone, once per (slot, velocity) used, and cached. The
    hits to measure are rendered in one TiMidity run, :data:`PROBE_GAP` apart, each after an
    all-sound-off that cuts the one before (a hit so measured equals it rendered alone: tested).
    A note-on starts at its sample (``round(time * 44100)``); its label is that time + the delay.
    A hit TiMidity renders silent (velocity 1: its velocity curve gives 0) is not labelled.
    """

    PROBE_SECONDS = FluidKitRenderer.PROBE_SECONDS
    #: seconds between two measured hits in one run
    PROBE_GAP = 0.3

    def __init__(self, kit: Kit):
        from . import timidity

        self.kit = kit
        timidity.executable()
        timidity.check_patches(kit.source, SLOTS, kit.preset)
        self.sr = SAMPLE_RATE
        self._delays: dict[tuple[int, int], float | None] = {}
        self._peaks: dict[int, float] = {}  # slot -> peak of its hit at velocity 127
        self._measure_all([(s, 127) for s in SLOTS])
        self.slots = tuple(s for s in SLOTS if slot_plays(self._delays[(s, 127)], self._peaks[s]))

    def close(self):
        pass

    def _render(self, times, slots, velocities, duration: float, cuts=()):
        from . import timidity

        return timidity.render(self.kit.source, times, slots, velocities, duration, channel=self.kit.channel,
                               program=self.kit.preset, cuts=cuts, sr=self.sr)

    def _measure_all(self, pairs) -> None:
        """Measure the onset delay (None: silent) of every (slot, velocity) of ``pairs`` in one run."""
        pairs = sorted({(int(s), int(v)) for s, v in pairs} - set(self._delays))
        if not pairs:
            return
        gap, sr = self.PROBE_GAP, self.sr
        cuts = gap * np.arange(len(pairs))
        times = cuts + 0.01
        y, starts = self._render(times, [s for s, _ in pairs], [v for _, v in pairs], gap * len(pairs), cuts)
        for (slot, vel), i0 in zip(pairs, starts):
            seg = y[i0: i0 + int(self.PROBE_SECONDS * sr)]
            i = first_crossing(seg, ONSET_REL_DB)
            self._delays[(slot, vel)] = None if i is None else i / sr
            if vel == 127:
                self._peaks[slot] = float(np.abs(seg).max()) if seg.size else 0.0

    def delay(self, slot: int, velocity: int) -> float | None:
        """Onset delay (s) of ``slot`` at ``velocity`` (measured, cached); None when it renders silent."""
        key = (int(slot), int(velocity))
        if key not in self._delays:
            self._measure_all([key])
        return self._delays[key]

    def render(self, times, slots, velocities, duration: float):
        self._measure_all(zip(slots, velocities))
        y, starts = self._render(times, slots, velocities, duration)
        labels = np.full(len(starts), np.nan)
        for i, (st, sl, v) in enumerate(zip(starts, slots, velocities)):
            d = self._delays[(int(sl), int(v))]
            if st >= 0 and d is not None:
                labels[i] = st / self.sr + d
        return y, labels


@functools.lru_cache(maxsize=8)
def _cached_renderer(kit: Kit):
    return _make_renderer(kit)


def _make_renderer(kit: Kit):
    if kit.kind == "timidity":
        return TimidityKitRenderer(kit)  # its checks name the missing program, configuration or patch
    if not kit.installed and "xml" not in kit.meta:  # an eXaDrums kit names its missing XML itself
        raise InputError(f"{kit.source}: kit {kit.kit_id} is not installed")
    if kit.kind in ("hydrogen", "oneshot"):
        return HydrogenKitRenderer(kit)
    return FluidKitRenderer(kit)


def open_kit(kit: str | Kit, cached: bool = True):
    """A renderer (``.slots``, ``.render(times, slots, velocities, duration) -> (y, labels)``) for a kit."""
    if isinstance(kit, str):
        kit = get_kit(kit)  # the registry's kit now (a compact copy may serve the id)
        return _cached_renderer(kit) if cached else _make_renderer(kit)
    return _make_renderer(kit)


def kit_note_map(slots) -> dict[int, int]:
    """GMD/Roland note -> GM slot played on a kit with these ``slots`` (notes it cannot play are absent).

    Examples
    --------
    >>> kit_note_map([36, 38, 42])[22], 49 in kit_note_map([36, 38, 42])
    (42, False)
    """
    have = set(slots)
    out = {}
    for note, prefs in NOTE_PREFERENCES.items():
        for s in prefs:
            if s in have:
                out[note] = s
                break
    return out


@dataclass
class Hits:
    """Drum hits of a performance: times (s), GMD notes, velocities (1..127)."""

    times: np.ndarray
    notes: np.ndarray
    velocities: np.ndarray
    end: float  # seconds: end of the last note


def read_hits(midi_path: str | Path, max_seconds: float | None = None) -> Hits:
    """Read the drum notes of a GMD MIDI file (notes of every track whose pitch is a drum class).

    ``max_seconds`` keeps hits that start before it. ``InputError`` names the file when it
    cannot be read or holds no drum note.
    """
    path = Path(midi_path)
    pm = read_midi(path)
    notes = [n for inst in pm.instruments for n in inst.notes if n.pitch in ROLAND_TO_CLASS and n.velocity > 0]
    if not notes:
        raise InputError(f"{path}: no drum notes (none of the notes maps to {'/'.join(CLASSES)})")
    notes.sort(key=lambda n: (n.start, n.pitch))
    end = max(n.end for n in notes)
    if max_seconds is not None:
        notes = [n for n in notes if n.start < max_seconds]
        end = min(end, float(max_seconds))
        if not notes:
            raise InputError(f"{path}: no drum notes in the first {max_seconds} s")
    return Hits(np.array([n.start for n in notes]), np.array([n.pitch for n in notes]),
                np.array([n.velocity for n in notes]), float(end))


def render_hits(renderer, hits: Hits, duration: float | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
    """Render ``hits`` through a kit renderer.

    Returns ``(audio float32 mono 44.1 kHz, onsets per class, duration s)``. Notes the kit
    cannot play are neither rendered nor labelled. ``duration`` defaults to the last
    note's end + :data:`TAIL`.
    """
    nmap = kit_note_map(renderer.slots)
    keep = np.array([int(n) in nmap for n in hits.notes], dtype=bool)
    times, notes, vels = hits.times[keep], hits.notes[keep], hits.velocities[keep]
    slots = np.array([nmap[int(n)] for n in notes], dtype=np.int64)
    if duration is None:
        duration = max(hits.end, float(times.max()) if times.size else 0.0) + TAIL
    y, labels = renderer.render(times, slots, vels, duration)
    per_class: dict[str, list[float]] = {c: [] for c in CLASSES}
    for lab, s in zip(labels, slots):
        if np.isfinite(lab) and lab < duration:
            per_class[GM_TO_CLASS[int(s)]].append(float(lab))
    onsets = {c: np.asarray(sorted(v), dtype=np.float64) for c, v in per_class.items()}
    return y.astype(np.float32, copy=False), onsets, float(duration)


def render_performance(kit: str | Kit, midi_path: str | Path, max_seconds: float | None = None):
    """Render one MIDI performance through ``kit``: ``(audio, onsets, duration)``.

    With ``max_seconds`` the audio is exactly ``max_seconds`` long (hits after it dropped,
    ringing cut); otherwise it lasts to the last note's end + 1 s.
    """
    hits = read_hits(midi_path, max_seconds)
    renderer = open_kit(kit)
    duration = None
    if max_seconds is not None:
        duration = float(min(max_seconds, max(hits.end, hits.times.max()) + TAIL))
    return render_hits(renderer, hits, duration)

