"""TiMidity++ rendering of GUS-patch drum sets (Debian ``freepats``), as a subprocess.

Why TiMidity++: FreePats is a set of Gravis UltraSound ``.pat`` patches, for which there is
no well-kept Python reader; TiMidity++ (Debian ``timidity``) is the program they are made
for, configured with the set's own ``freepats.cfg`` (``dir /usr/share/midi/freepats`` and a
``drumset 0`` block naming one ``Drum_000/*.pat`` per GM drum note).

Each render writes the hits as a Standard MIDI File whose tick is exactly one sample at
44.1 kHz (441 ticks a quarter note at 10,000 µs a quarter), runs ::

    timidity -c freepats.cfg -s 44100 -Ow --output-stereo --output-24bit --preserve-silence
             -EFreverb=d -EFchorus=d -EFdelay=d --noise-shaping=0 -A 25 in.mid -o out.wav

in a temporary folder and reads the WAV back as mono (mean of L and R, as the FluidSynth path
does). ``--preserve-silence`` keeps the time origin (TiMidity otherwise drops the silence before
the first note); a note-on then starts at its sample, exactly (measured, and tested). Reverb,
chorus and delay are off (the dry kit, as FluidSynth renders it); no dither (the output is
deterministic); stereo because TiMidity's mono output renders the first block of a voice at
half rate (measured: pairs of equal samples); 24-bit and a low amplification (``-A 25``,
:data:`VOLUME`: one hit at velocity 127 peaks near 0.11) so that coincident hits do not clip.
Drum notes get no note-off (TiMidity ignores them on the drum channel, and strips the loops
of drum patches: every hit ends with its sample). Controller 120 (all sound off) cuts every
voice at once; the renderer uses it to measure many hits in one run.

A missing ``timidity`` or configuration, or a drum patch the configuration names but that is
not on disk, is an ``InputError`` naming the program or file.

Sources: TiMidity++ 2.14.0 ``timidity --help``; ``man 5 timidity.cfg`` (``dir``,
``source``, ``drumset``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import SAMPLE_RATE
from ..errors import InputError

#: the TiMidity++ program; override with $DRUMSCRIBE_TIMIDITY
TIMIDITY_ENV = "DRUMSCRIBE_TIMIDITY"
#: TiMidity's amplification in percent (``-A``): a hit at velocity 127 peaks near 0.11
VOLUME = 25
#: MIDI file resolution: 441 ticks a quarter at 10,000 µs a quarter = one tick per sample
PPQ = 441
TEMPO_US = 10_000
#: controller 120: all sound off (cuts every voice of the channel at once)
ALL_SOUND_OFF = 120


def executable() -> str:
    """Path of the ``timidity`` program; ``InputError`` when it is not installed."""
    name = os.environ.get(TIMIDITY_ENV, "timidity")
    path = shutil.which(name)
    if path is None:
        raise InputError(f"{name}: TiMidity++ not installed (apt-get install timidity)")
    return path


def available() -> bool:
    """True when the ``timidity`` program is found."""
    try:
        executable()
        return True
    except InputError:
        return False


def drum_patches(cfg: str | Path, drumset: int = 0) -> dict[int, Path]:
    """``{note: patch file}`` of drum set ``drumset`` in a TiMidity configuration.

    Reads the lines TiMidity reads for this: ``dir`` (patch folders, the last one first),
    ``source`` (another configuration), ``drumset N`` / ``bank N`` (which block follows) and
    ``NOTE file [options]``. Files are resolved as TiMidity does (absolute, or in a ``dir``,
    ``.pat`` added when missing); a patch found in no folder is returned under the first
    folder (so the caller can name it). ``InputError`` names an unreadable configuration.

    Examples
    --------
    >>> drum_patches("/etc/timidity/freepats.cfg")[38].name  # doctest: +SKIP
    '038_Snare_1.pat'
    """
    dirs: list[Path] = []
    raw: dict[int, str] = {}

    def read(path: Path, depth: int) -> None:
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            raise InputError(f"{path}: cannot read TiMidity configuration ({exc.strerror or exc})") from None
        block = None
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            key = words[0]
            if key == "dir" and len(words) > 1:
                dirs.insert(0, Path(words[1]))
            elif key == "source" and len(words) > 1 and depth < 8:
                read(Path(words[1]) if Path(words[1]).is_absolute() else path.parent / words[1], depth + 1)
            elif key in ("drumset", "bank") and len(words) > 1:
                block = ("drumset", int(words[1])) if key == "drumset" and words[1].isdigit() else ("bank", None)
            elif re.fullmatch(r"\d+", key) and len(words) > 1 and block == ("drumset", drumset):
                raw[int(key)] = words[1]

    read(Path(cfg), 0)
    out = {}
    for note, name in raw.items():
        names = [name] if name.endswith(".pat") else [name + ".pat", name]
        folders = [Path("/")] if Path(name).is_absolute() else dirs or [Path(cfg).parent]
        cands = [d / n for d in folders for n in names]
        out[note] = next((c for c in cands if c.is_file()), cands[0])
    return dict(sorted(out.items()))


def _config(cfg: str | Path) -> Path:
    """``cfg`` as a path; ``InputError`` when the configuration file is not there."""
    cfg = Path(cfg)
    if not cfg.is_file():
        raise InputError(f"{cfg}: TiMidity configuration not found (apt-get install freepats)")
    return cfg


def check_patches(cfg: str | Path, notes: Sequence[int], drumset: int = 0) -> dict[int, Path]:
    """:func:`drum_patches` of ``notes``; ``InputError`` naming the first patch file that is missing."""
    cfg = _config(cfg)
    patches = drum_patches(cfg, drumset)
    for note in notes:
        if note in patches and not patches[note].is_file():
            raise InputError(f"{patches[note]}: drum patch of note {note} in {cfg} not found")
    return {n: p for n, p in patches.items() if n in set(notes)}


def write_midi(path: str | Path, times, notes, velocities, duration: float, channel: int = 9, program: int = 0,
               cuts=(), sr: int = SAMPLE_RATE) -> np.ndarray:
    """Write hits as a one-track MIDI file whose tick is one sample at ``sr`` (44.1 kHz only).

    ``times`` (s), ``notes``, ``velocities`` (clipped to 1..127) on ``channel``, after a program
    change to ``program`` (the drum set); ``cuts`` (s): all-sound-off controllers. Hits at or after
    ``duration`` are left out. Returns each hit's start (sample index; -1 for those left out).
    """
    import mido

    if sr * TEMPO_US != PPQ * 1_000_000:
        raise ValueError(f"write_midi: a tick is one sample only at {PPQ * 1_000_000 // TEMPO_US} Hz, not {sr}")
    n_total = int(round(duration * sr))
    starts = np.round(np.asarray(times, dtype=np.float64) * sr).astype(np.int64)
    starts = np.where((starts >= 0) & (starts < n_total), starts, -1)
    evs = [(int(round(t * sr)), 0, mido.Message("control_change", channel=channel, control=ALL_SOUND_OFF, value=0))
           for t in cuts if 0 <= t < duration]
    for s, k, v in zip(starts, notes, velocities):
        if s >= 0:
            evs.append((int(s), 1, mido.Message("note_on", channel=channel, note=int(k),
                                                velocity=int(min(max(int(v), 1), 127)))))
    evs.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(type=0, ticks_per_beat=PPQ)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=TEMPO_US, time=0))
    track.append(mido.Message("program_change", channel=channel, program=int(program), time=0))
    now = 0
    for tick, _, msg in evs:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, n_total - now)))
    mid.save(str(path))
    return starts


def render(cfg: str | Path, times, notes, velocities, duration: float, channel: int = 9, program: int = 0,
           cuts=(), sr: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Render hits through TiMidity++ with configuration ``cfg`` into ``duration`` s of mono float32.

    Returns ``(audio, starts)``: ``starts[i]`` is the sample at which hit ``i`` starts (-1 when
    at or after ``duration``: not played). See :func:`write_midi` for the arguments.
    """
    import soundfile as sf

    exe = executable()
    cfg = _config(cfg)
    n_total = int(round(duration * sr))
    with tempfile.TemporaryDirectory(prefix="drumscribe-timidity-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        starts = write_midi(mid, times, notes, velocities, duration, channel, program, cuts, sr)
        cmd = [exe, "-c", str(cfg), "-s", str(sr), "-Ow", "--output-stereo", "--output-24bit", "--preserve-silence",
               "-EFreverb=d", "-EFchorus=d", "-EFdelay=d", "--noise-shaping=0", "-A", str(VOLUME), "-idqq",
               "-o", str(wav), str(mid)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        if proc.returncode != 0 or not wav.is_file():
            last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
            raise InputError(f"{cfg}: TiMidity++ failed (exit {proc.returncode}: {last})")
        y, file_sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if file_sr != sr:
        raise InputError(f"{cfg}: TiMidity++ wrote {file_sr} Hz, not {sr} Hz")
    out = np.zeros(n_total, dtype=np.float32)
    mono = y.mean(axis=1)[:n_total]
    out[: len(mono)] = mono
    return out, starts
