"""FluidSynth rendering in-process, through Debian's ``libfluidsynth`` (ctypes).

Why in-process instead of ``fluidsynth -ni -F out.wav FONT in.mid``: a sound font is
loaded once per kit instead of once per file, any channel can select any bank/preset
(the drum kits on bank 128, the AVL kits on bank 0 program 0), and note-ons are placed
sample-exactly. FluidSynth renders in blocks of 64 samples and an event sent between
two ``fluid_synth_write_float`` calls takes effect at the next block, so
:meth:`FluidSynth.render` snaps every event to that 64-sample grid (1.45 ms at
44.1 kHz) and returns the snapped times: the labels are the times the sound really
starts. The binding needs only the shared library of the ``fluidsynth`` package
(``libfluidsynth.so.3``); no Python package.

Sources: FluidSynth 2.3 API (``fluid_synth_write_float``, ``FLUID_BUFSIZE`` = 64).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .. import SAMPLE_RATE
from ..errors import InputError

#: FluidSynth's internal block size (samples): events take effect on this grid.
BLOCK = 64


@dataclass(frozen=True, order=True)
class Event:
    """A MIDI-like event at ``time`` seconds: kind is ``"on"``, ``"off"``, ``"cc"`` or ``"program"``.

    ``program`` events carry ``a`` = bank, ``b`` = preset.
    """

    time: float
    order: int  # ties: program < off < cc < on
    kind: str
    chan: int
    a: int
    b: int = 0


def note_on(time: float, chan: int, key: int, vel: int) -> Event:
    return Event(float(time), 3, "on", int(chan), int(key), int(vel))


def note_off(time: float, chan: int, key: int) -> Event:
    return Event(float(time), 1, "off", int(chan), int(key), 0)


def control(time: float, chan: int, num: int, value: int) -> Event:
    return Event(float(time), 2, "cc", int(chan), int(num), int(value))


def program(time: float, chan: int, bank: int, preset: int) -> Event:
    return Event(float(time), 0, "program", int(chan), int(bank), int(preset))


@functools.lru_cache(maxsize=1)
def _lib():
    name = ctypes.util.find_library("fluidsynth")
    for cand in filter(None, [name, "libfluidsynth.so.3", "libfluidsynth.so.2", "libfluidsynth.so"]):
        try:
            lib = ctypes.CDLL(cand)
            break
        except OSError:
            continue
    else:
        raise InputError("libfluidsynth: not installed (apt-get install fluidsynth)")
    vp, ci, cd, cs = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_char_p
    sig = {
        "new_fluid_settings": (vp, []),
        "delete_fluid_settings": (None, [vp]),
        "fluid_settings_setnum": (ci, [vp, cs, cd]),
        "fluid_settings_setint": (ci, [vp, cs, ci]),
        "new_fluid_synth": (vp, [vp]),
        "delete_fluid_synth": (None, [vp]),
        "fluid_synth_sfload": (ci, [vp, cs, ci]),
        "fluid_synth_program_select": (ci, [vp, ci, ci, ci, ci]),
        "fluid_synth_noteon": (ci, [vp, ci, ci, ci]),
        "fluid_synth_noteoff": (ci, [vp, ci, ci]),
        "fluid_synth_cc": (ci, [vp, ci, ci, ci]),
        "fluid_synth_system_reset": (ci, [vp]),
        "fluid_synth_all_sounds_off": (ci, [vp, ci]),
        "fluid_synth_write_float": (ci, [vp, ci, vp, ci, ci, vp, ci, ci]),
        "fluid_set_log_function": (vp, [ci, vp, vp]),
    }
    for fn, (res, args) in sig.items():
        f = getattr(lib, fn)
        f.restype, f.argtypes = res, args
    # silence FluidSynth's own warnings/info on stderr (errors still surface as return codes)
    for level in (1, 2, 3, 4):  # ERR, WARN, INFO, DBG
        lib.fluid_set_log_function(level, None, None)
    return lib


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when libfluidsynth can be loaded (cached)."""
    try:
        _lib()
        return True
    except InputError:
        return False


class FluidSynth:
    """One FluidSynth instance with one sound font loaded (mono output at ``sr``).

    Reverb and chorus are off (dry kits; a room is the kit's own sound). ``gain`` is
    FluidSynth's master gain.

    Examples
    --------
    >>> fs = FluidSynth("/usr/share/sounds/sf2/TimGM6mb.sf2")  # doctest: +SKIP
    >>> y, times = fs.render([program(0, 9, 128, 0), note_on(0.1, 9, 38, 100)], 1.0)  # doctest: +SKIP
    """

    def __init__(self, font: str | Path, sr: int = SAMPLE_RATE, gain: float = 0.5, polyphony: int = 512):
        self.font = Path(font)
        if not self.font.is_file():
            raise InputError(f"{self.font}: sound font not found")
        lib = _lib()
        self._lib = lib
        self.sr = int(sr)
        self._settings = lib.new_fluid_settings()
        lib.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(sr))
        lib.fluid_settings_setnum(self._settings, b"synth.gain", float(gain))
        lib.fluid_settings_setint(self._settings, b"synth.polyphony", int(polyphony))
        lib.fluid_settings_setint(self._settings, b"synth.reverb.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.chorus.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.midi-channels", 32)
        lib.fluid_settings_setint(self._settings, b"synth.cpu-cores", 1)
        # load sample data only for the presets in use: the full GM fonts load in ms
        lib.fluid_settings_setint(self._settings, b"synth.dynamic-sample-loading", 1)
        self._synth = lib.new_fluid_synth(self._settings)
        self.sfid = lib.fluid_synth_sfload(self._synth, str(self.font).encode(), 1)
        if self.sfid < 0:
            self.close()
            raise InputError(f"{self.font}: FluidSynth cannot load this sound font")

    def close(self) -> None:
        if getattr(self, "_synth", None):
            self._lib.delete_fluid_synth(self._synth)
            self._synth = None
        if getattr(self, "_settings", None):
            self._lib.delete_fluid_settings(self._settings)
            self._settings = None

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _write(self, out: np.ndarray, start: int, n: int) -> None:
        if n <= 0:
            return
        left = np.zeros(n, dtype=np.float32)
        right = np.zeros(n, dtype=np.float32)
        self._lib.fluid_synth_write_float(self._synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
        out[start:start + n] = 0.5 * (left + right)

    def render(self, events: Iterable[Event], duration: float) -> tuple[np.ndarray, np.ndarray]:
        """Render ``events`` into ``duration`` seconds of mono float32 audio.

        All sounding voices are stopped and controllers reset first (programs stay selected:
        a reset would unload and re-decode the samples of .sf3 fonts).
        Returns ``(audio, times)`` where ``times[i]`` is the time (s) at which event ``i``
        (in the sorted order of ``sorted(events)``) took effect: its time snapped up to
        the 64-sample block grid. Events at or after ``duration`` are dropped (time NaN).
        """
        evs = sorted(events)
        n_total = int(round(duration * self.sr))
        out = np.zeros(n_total, dtype=np.float32)
        lib, syn = self._lib, self._synth
        lib.fluid_synth_all_sounds_off(syn, -1)
        for chan in sorted({ev.chan for ev in evs}):
            lib.fluid_synth_cc(syn, chan, 121, 0)  # reset all controllers
        # render one silent block so the reset has taken effect on a block boundary
        scratch = np.zeros(BLOCK, dtype=np.float32)
        lib.fluid_synth_write_float(syn, BLOCK, scratch.ctypes.data, 0, 1, scratch.ctypes.data, 0, 1)
        pos = 0
        times = np.full(len(evs), np.nan)
        for i, ev in enumerate(evs):
            target = int(np.ceil(ev.time * self.sr / BLOCK) * BLOCK) if ev.time > 0 else 0
            if target >= n_total:
                break
            if target > pos:
                self._write(out, pos, target - pos)
                pos = target
            if ev.kind == "on":
                lib.fluid_synth_noteon(syn, ev.chan, ev.a, ev.b)
            elif ev.kind == "off":
                lib.fluid_synth_noteoff(syn, ev.chan, ev.a)
            elif ev.kind == "cc":
                lib.fluid_synth_cc(syn, ev.chan, ev.a, ev.b)
            elif ev.kind == "program":
                if lib.fluid_synth_program_select(syn, ev.chan, self.sfid, ev.a, ev.b) != 0:
                    raise InputError(f"{self.font}: no preset bank {ev.a} program {ev.b}")
            times[i] = pos / self.sr
        self._write(out, pos, n_total - pos)
        return out, times


def render_notes(font: str | Path, bank: int, preset: int, notes: Sequence[tuple[float, int, int]],
                 duration: float, chan: int = 9, note_length: float = 0.1,
                 synth: FluidSynth | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render ``(time s, key, velocity)`` hits on one channel with bank/preset selected.

    Returns ``(audio, onset_times)`` with the block-snapped time of every note-on, in
    the order of ``notes``.
    """
    fs = synth or FluidSynth(font)
    evs = [program(0.0, chan, bank, preset)]
    for t, k, v in notes:
        evs.append(note_on(t, chan, k, v))
        evs.append(note_off(t + note_length, chan, k))
    order = sorted(range(len(evs)), key=lambda i: evs[i])
    y, times_sorted = fs.render(evs, duration)
    t_by_index = np.empty(len(evs))
    t_by_index[order] = times_sorted
    onset_times = np.array([t_by_index[1 + 2 * j] for j in range(len(notes))])
    if synth is None:
        fs.close()
    return y, onset_times
