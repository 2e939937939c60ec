"""A generated, tempo-aligned accompaniment for a GMD groove (``gmd_synth_mix``).

For one performance: the groove's tempo (the MIDI file's tempo, which equals
``info.csv``'s bpm) and time signature give the beat period; GMD performances are
locked to that click but at an arbitrary phase, so the downbeat is estimated from the
drums (:func:`estimate_origin`). Together they give the beat grid. On it a seeded random generator writes

- a **key** (random tonic, major or natural minor) and a **chord progression** of
  diatonic triads (common pop/rock/jazz-ish progressions), one chord per bar, per two
  bars or per half bar;
- a **bass** line on a GM bass (programs 32–39): roots/fifths/octaves in one of several
  rhythms (quarters, halves, eighths, syncopated);
- **chords** on a GM keys/guitar/organ/strings/pad program: sustained, on the beat or
  on the off-beats;
- a **lead** line on a GM solo instrument: a random walk on the scale in eighth or
  quarter notes with rests, phrased in two-bar groups;

every note starting on an eighth-note position of the groove's grid. It is rendered
with FluidSynth through a GM melodic font (FluidR3 GM, MuseScore General or TimGM6mb,
chosen per track) and mixed with the drums at a random level: accompaniment RMS −
drums RMS (dB) drawn uniformly in ``accompaniment_db ± accompaniment_db_spread``
(config ``render``), around ENST-Drums' 2:1 drums:accompaniment (−6 dB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import SAMPLE_RATE
from ..errors import InputError
from .kits import SF2_DIR, SF3_DIR

#: GM melodic fonts for the accompaniment (those installed are used)
ACCOMPANIMENT_FONTS = (SF2_DIR / "FluidR3_GM.sf2", SF3_DIR / "MuseScore_General_Full.sf3", SF2_DIR / "TimGM6mb.sf2")

BASS_PROGRAMS = (32, 33, 34, 35, 36, 37, 38, 39)
CHORD_PROGRAMS = (0, 1, 2, 4, 5, 7, 16, 17, 18, 19, 24, 25, 26, 27, 28, 29, 30, 48, 49, 50, 52, 61, 88, 89, 90, 91, 94)
LEAD_PROGRAMS = (11, 12, 22, 26, 40, 56, 57, 64, 65, 66, 68, 71, 73, 80, 81, 82, 84, 87)

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
#: progressions as scale degrees (0 = tonic)
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (0, 3, 0, 4), (5, 3, 0, 4), (1, 4, 0, 0), (0, 0, 3, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 6, 4)),
}


@dataclass(frozen=True)
class Note:
    """One generated note: ``part`` is bass/chords/lead; times in seconds; ``beat`` its grid position
    (beats from the accompaniment's ``origin``)."""

    part: str
    pitch: int
    start: float
    end: float
    velocity: int
    beat: float


@dataclass
class Accompaniment:
    """A generated accompaniment: notes, programs per part and the grid it follows."""

    bpm: float
    beats_per_bar: float
    key: int
    mode: str
    progression: tuple[int, ...]
    programs: dict[str, int]
    notes: list[Note] = field(default_factory=list)
    origin: float = 0.0  # seconds: a downbeat of the grid

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.bpm

    def to_midi(self, path: str | Path) -> None:
        """Write the accompaniment as a MIDI file (one instrument per part), atomically."""
        import pretty_midi

        from ..atomic import atomic_path

        pm = pretty_midi.PrettyMIDI(initial_tempo=self.bpm)
        for part, prog in self.programs.items():
            inst = pretty_midi.Instrument(program=prog, name=part)
            inst.notes = [pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=n.start, end=n.end)
                          for n in self.notes if n.part == part]
            pm.instruments.append(inst)
        with atomic_path(path) as tmp:
            pm.write(str(tmp))


def parse_time_signature(ts: str | None) -> tuple[int, int]:
    """``"4-4"`` / ``"6/8"`` -> (4, 4) / (6, 8); None or unparsable -> (4, 4)."""
    if not ts or not isinstance(ts, str):
        return 4, 4
    parts = ts.replace("/", "-").split("-")
    try:
        num, den = int(parts[0]), int(parts[1])
        if num > 0 and den in (1, 2, 4, 8, 16):
            return num, den
    except (ValueError, IndexError):
        pass
    return 4, 4


def groove_tempo(midi_path: str | Path | None, bpm: float | None = None, time_signature: str | None = None
                 ) -> tuple[float, float]:
    """(bpm, beats per bar in quarter notes) of a groove.

    The MIDI file's first tempo and time signature win (they are the click the drummer
    played to); ``bpm``/``time_signature`` (info.csv) are the fallback.
    """
    q_bpm, num, den = bpm, *parse_time_signature(time_signature)
    if midi_path is not None:
        from ..references import read_midi

        pm = read_midi(midi_path)
        _, tempi = pm.get_tempo_changes()
        if len(tempi):
            q_bpm = float(tempi[0])
        if pm.time_signature_changes:
            num, den = pm.time_signature_changes[0].numerator, pm.time_signature_changes[0].denominator
    if not q_bpm or q_bpm <= 0:
        raise InputError(f"{midi_path}: no tempo in the MIDI file and no bpm given")
    return float(q_bpm), num * 4.0 / den


def _chord(tonic: int, scale: tuple[int, ...], degree: int) -> list[int]:
    """Pitch classes (+octaves) of the diatonic triad on ``degree``."""
    out = []
    for k in (0, 2, 4):
        d = degree + k
        out.append(tonic + scale[d % 7] + 12 * (d // 7))
    return out


def estimate_origin(times, classes, bpm: float, beats_per_bar: float, sigma: float = 0.025) -> float:
    """Time (s, in ``[0, bar)``) of a downbeat of a groove played to a click at ``bpm``.

    GMD performances are played to a click at the MIDI tempo, and most files start on a
    downbeat, but not all (on GMD's 489 4/4 beats the estimate below lands within 40 ms
    of 0 s, modulo the bar, for 74 %; most others on another whole or half beat).
    The beat phase is the one that puts the most onset weight (BD, SD 1.0; HH, CY 0.3;
    TT 0.2) near the quarter-note grid (Gaussian, ``sigma`` s). Of that phase and the
    phase half a beat later, and of the beats of the bar, the downbeat is the one with
    the most bass drums on beat 1 (beat 3 at half weight), cymbals on beat 1 (half
    weight) and, in 4/4, snares on beats 2 and 4 (a kick on 1 and 3 with snares on 2 and
    4 alone cannot tell beat 1 from beat 3); a downbeat at 0 s wins when it scores at least 90 % of the best (the file
    starting on the click's first bar is the prior).
    """
    times = np.asarray(times, dtype=np.float64)
    classes = np.asarray(classes)
    p = 60.0 / bpm
    nb = max(1, int(round(beats_per_bar)))
    bar = nb * p
    if times.size == 0:
        return 0.0
    weights = np.array([{"BD": 1.0, "SD": 1.0, "HH": 0.3, "CY": 0.3, "TT": 0.2}.get(str(c), 0.0) for c in classes])
    phis = np.arange(0.0, p, 0.001)
    d = (times[None, :] - phis[:, None]) / p
    d = (d - np.round(d)) * p
    score = (weights[None, :] * np.exp(-d ** 2 / (2 * sigma ** 2))).sum(axis=1)
    phi0 = float(phis[int(np.argmax(score))])
    cands = []
    for k, phi in enumerate((phi0, phi0 + p / 2)):
        x = (times - phi) / p
        on = np.abs(x - np.round(x)) * p < 0.06
        idx = np.round(x).astype(int)
        for b in range(nb):
            pos = (idx - b) % nb
            sc = float(np.sum(on & (classes == "BD") & (pos == 0))) + 0.5 * np.sum(on & (classes == "CY") & (pos == 0))
            if nb == 4:
                sc += 0.5 * np.sum(on & (classes == "BD") & (pos == 2))
                sc += np.sum(on & (classes == "SD") & ((pos == 1) | (pos == 3)))
            sc -= 0.25 * k  # ties: keep the best-fitting phase
            cands.append((sc, (phi + b * p) % bar))
    best = max(c[0] for c in cands)
    near0 = [c for c in cands if min(c[1], bar - c[1]) < 0.06]
    if near0 and max(c[0] for c in near0) >= 0.9 * best:
        return float(max(near0)[1])
    return float(max(cands)[1])


def generate(bpm: float, beats_per_bar: float, duration: float, rng: np.random.Generator,
             origin: float = 0.0) -> Accompaniment:
    """Generate bass, chords and lead for ``duration`` s on the grid of ``bpm`` and ``beats_per_bar``.

    Bars start at ``origin + k·bar`` s (a pickup bar before ``origin`` is included, notes
    before 0 s dropped). Every note starts on an eighth-note position of that grid.
    (About 80 lines: one pass over the bars draws the three parts together, since the
    chords, the bass and the lead share each bar's harmony and rhythm.)
    """
    spb = 60.0 / bpm
    mode = "major" if rng.random() < 0.6 else "minor"
    scale = MAJOR if mode == "major" else MINOR
    key = int(rng.integers(0, 12))
    progs = PROGRESSIONS[mode]
    progression = progs[int(rng.integers(len(progs)))]
    programs = {"bass": int(rng.choice(BASS_PROGRAMS)), "chords": int(rng.choice(CHORD_PROGRAMS)),
                "lead": int(rng.choice(LEAD_PROGRAMS))}
    acc = Accompaniment(bpm, beats_per_bar, key, mode, tuple(progression), programs, origin=float(origin))
    bar_beats = beats_per_bar
    n_bars = int(np.ceil(max(0.0, duration - origin) / (bar_beats * spb))) + 1
    harmonic = rng.choice(["bar", "two_bars", "half_bar"] if bar_beats >= 4 else ["bar", "two_bars"])
    eighths_per_bar = int(round(bar_beats * 2))

    def chord_at(beat: float) -> list[int]:
        unit = {"bar": bar_beats, "two_bars": 2 * bar_beats, "half_bar": bar_beats / 2}[harmonic]
        idx = int(beat // unit) % len(progression)
        return _chord(key, scale, progression[idx])

    def add(part, pitch, beat, length_beats, vel):
        start = origin + beat * spb
        if start >= duration or start < 0:
            return
        end = min(duration, origin + (beat + length_beats) * spb)
        acc.notes.append(Note(part, int(pitch), start, end, int(np.clip(vel, 1, 127)), float(beat)))

    # bass
    bass_style = rng.choice(["quarters", "halves", "eighths", "syncopated"])
    for bar in range(-1, n_bars):
        for e in range(eighths_per_bar):
            beat = bar * bar_beats + e / 2
            on = {"quarters": e % 2 == 0, "halves": e % 4 == 0, "eighths": True,
                  "syncopated": e in (0, 3, 4, 7) or (e % 2 == 0 and rng.random() < 0.3)}[bass_style]
            if not on:
                continue
            root = chord_at(beat)[0]
            pitch = 36 + (root % 12)
            if e % 4 == 2 and rng.random() < 0.4:
                pitch += 7  # fifth
            elif e % 4 == 3 and rng.random() < 0.3:
                pitch += 12
            length = {"quarters": 0.9, "halves": 1.9, "eighths": 0.45, "syncopated": 0.9}[bass_style]
            add("bass", pitch, beat, length, rng.normal(92, 6) - (8 if e % 2 else 0))
    # chords
    chord_style = rng.choice(["sustained", "beats", "offbeats"])
    chord_base = 60 if rng.random() < 0.5 else 55  # voicing register, kept for the track
    for bar in range(-1, n_bars):
        for e in range(eighths_per_bar):
            beat = bar * bar_beats + e / 2
            if chord_style == "sustained":
                unit = bar_beats if harmonic != "half_bar" else bar_beats / 2
                on, length = (beat % unit) == 0, unit - 0.1
            elif chord_style == "beats":
                on, length = e % 2 == 0, 0.8
            else:
                on, length = e % 2 == 1, 0.4
            if not on:
                continue
            for pc in chord_at(beat):
                pitch = chord_base + ((pc - chord_base) % 12)
                add("chords", pitch, beat, length, rng.normal(68, 6))
    # lead
    lead_rate = rng.choice([1, 2])  # notes per beat max: quarter or eighth
    density = rng.uniform(0.45, 0.8)
    degree = int(rng.integers(0, 7))
    for bar in range(-1, n_bars):
        if bar % 4 == 3 and rng.random() < 0.5:  # breathe
            continue
        step = 2 // lead_rate
        for e in range(0, eighths_per_bar, step):
            if rng.random() > density:
                continue
            beat = bar * bar_beats + e / 2
            degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2]), -3, 10))
            pitch = 72 + key % 12 - 12 * (key % 12 > 6) + scale[degree % 7] + 12 * (degree // 7)
            add("lead", pitch, beat, step / 2 * 0.95, rng.normal(90, 7))
    acc.notes.sort(key=lambda n: (n.start, n.part, n.pitch))
    return acc


def installed_fonts() -> list[Path]:
    return [f for f in ACCOMPANIMENT_FONTS if f.is_file()]


_SYNTHS: dict[str, object] = {}


def _synth(font: Path):
    from .fluid import FluidSynth

    key = str(font)
    if key not in _SYNTHS:
        _SYNTHS[key] = FluidSynth(font)
    return _SYNTHS[key]


def render(acc: Accompaniment, duration: float, font: str | Path | None = None) -> np.ndarray:
    """Render an accompaniment with FluidSynth (GM bank 0 programs; channels 0–2) to mono float32."""
    from .fluid import note_off, note_on, program

    if font is None:
        fonts = installed_fonts()
        if not fonts:
            raise InputError(f"{ACCOMPANIMENT_FONTS[0]}: no General MIDI sound font installed")
        font = fonts[0]
    fs = _synth(Path(font))
    chans = {"bass": 0, "chords": 1, "lead": 2}
    evs = [program(0.0, chans[p], 0, prog) for p, prog in acc.programs.items()]
    for n in acc.notes:
        evs.append(note_on(n.start, chans[n.part], n.pitch, n.velocity))
        evs.append(note_off(n.end, chans[n.part], n.pitch))
    y, _ = fs.render(evs, duration)
    return y


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0


def mix_at_level(drums: np.ndarray, accompaniment: np.ndarray, level_db: float) -> tuple[np.ndarray, float]:
    """``drums + g·accompaniment`` with ``g`` setting accompaniment RMS − drums RMS to ``level_db``.

    Returns ``(mix, g)``. A silent accompaniment is an ``InputError`` (something is wrong
    with the font or program selection).
    """
    ra, rd = rms(accompaniment), rms(drums)
    if ra <= 1e-7:
        raise InputError("accompaniment: rendered silent (sound font or program selection failed)")
    g = rd / ra * 10.0 ** (level_db / 20.0)
    n = min(len(drums), len(accompaniment))
    out = drums[:n].astype(np.float32) + np.float32(g) * accompaniment[:n].astype(np.float32)
    return out, float(g)


def accompany(midi_path: str | Path, drums: np.ndarray, rng: np.random.Generator, level_db: float,
              bpm: float | None = None, time_signature: str | None = None, font: str | Path | None = None,
              sr: int = SAMPLE_RATE) -> tuple[np.ndarray, Accompaniment, dict]:
    """Generate, render and mix an accompaniment under ``drums`` (mono, ``sr``).

    Returns ``(mix, accompaniment, info)`` with ``info`` = level_db, gain, font, programs, key.
    """
    from ..labels import ROLAND_TO_CLASS
    from .render import read_hits

    duration = len(drums) / sr
    q_bpm, bar = groove_tempo(midi_path, bpm, time_signature)
    hits = read_hits(midi_path)
    origin = estimate_origin(hits.times, [ROLAND_TO_CLASS[int(n)] for n in hits.notes], q_bpm, bar)
    acc = generate(q_bpm, bar, duration, rng, origin=origin)
    if font is None:
        fonts = installed_fonts()
        if not fonts:
            raise InputError(f"{ACCOMPANIMENT_FONTS[0]}: no General MIDI sound font installed")
        font = fonts[int(rng.integers(len(fonts)))]
    ya = render(acc, duration, font)
    mix, g = mix_at_level(drums, ya, level_db)
    info = {"accompaniment_db": round(float(level_db), 3), "accompaniment_gain": g, "font": Path(font).name,
            "programs": acc.programs, "key": acc.key, "mode": acc.mode, "bpm": q_bpm,
            "origin": round(origin, 4)}
    return mix, acc, info
