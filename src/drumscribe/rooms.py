"""Rooms for the accompaniment pool (its source ``rooms``): impulse responses in one bank.

The real ones installed by Debian (``guitarix-common``'s great hall,
``jconvolver-config-files``' street, :data:`REAL_IRS`) and ``n_rooms`` shoe-box rooms
simulated with pyroomacoustics (:func:`simulate_room`), each trimmed (:func:`trim_ir`) and
measured (:func:`measure_rt60`), written to one ``rirs.npz`` (:data:`IR_FILE`; names (str),
irs (float16, concatenated), offsets (int64, n+1), sr, rt60 (float32, measured T30); no
pickled objects) by :func:`build_rooms`. The bank is read back by
:func:`drumscribe.pool.load_irs`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import SAMPLE_RATE
from .atomic import atomic_path
from .errors import ConfigError, InputError
from .pool_sources import LICENSES, Item, rms_db, source_rng

if TYPE_CHECKING:
    from .pool import PoolConfig

IR_FILE = "rirs.npz"
#: real impulse responses: (name, files mixed to mono (a stereo pair: both), licence)
REAL_IRS = (
    ("greathall", ("/usr/share/gx_head/sounds/greathall.wav",), "GPL-2+ (guitarix-common)"),
    ("street2", ("/usr/share/jconvolver/config-files/demo-reverbs/street2-L.wav",
                 "/usr/share/jconvolver/config-files/demo-reverbs/street2-R.wav"),
     "GPL-2+ (jconvolver-config-files)"),
)


def trim_ir(h: np.ndarray, onset_db: float = -20.0, floor_db: float = -60.0, pre: int = 32) -> np.ndarray:
    """Peak-normalise an impulse response, start it ``pre`` samples before its direct sound
    (first sample within ``onset_db`` of the peak) and cut it where it last reaches ``floor_db``."""
    h = np.asarray(h, dtype=np.float64)
    peak = float(np.max(np.abs(h))) if h.size else 0.0
    if peak <= 0:
        raise InputError("impulse response: silent")
    h = h / peak
    a = np.abs(h)
    onset = int(np.argmax(a >= 10 ** (onset_db / 20)))
    last = int(len(a) - 1 - np.argmax(a[::-1] >= 10 ** (floor_db / 20)))
    out = h[max(0, onset - pre): last + 1].copy()
    n = min(64, len(out) // 4)
    if n:
        out[-n:] *= np.linspace(1.0, 0.0, n)
    return out.astype(np.float32)


def measure_rt60(h: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """RT60 (s) from the Schroeder decay (T30: −5 to −35 dB, extrapolated); NaN when too short."""
    e = np.cumsum(np.square(h[::-1], dtype=np.float64))[::-1]
    if e[0] <= 0:
        return float("nan")
    d = 10 * np.log10(np.maximum(e / e[0], 1e-30))
    i5, i35 = np.argmax(d <= -5), np.argmax(d <= -35)
    if i35 <= i5:
        return float("nan")
    return float(60.0 / 30.0 * (i35 - i5) / sr)


#: Highest image-source reflection order of a simulated room (inverse_sabine's above it are capped).
MAX_ORDER = 80
ROOM_RT60 = (0.2, 1.5)
"""The simulated rooms' RT60 range (seconds) unless ``pool.room_rt60`` says otherwise."""
ROOM_RT60_LIMITS = (0.1, 4.0)
"""The range ``pool.room_rt60`` may ask for (seconds)."""


def shoebox_rir(dims, absorption: float, max_order: int, source, mic, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The impulse response (float64, untrimmed) from ``source`` to ``mic`` of a pyroomacoustics
    shoe box of ``dims`` (m) with one ``absorption`` on every wall and image sources up to
    ``max_order`` (capped at :data:`MAX_ORDER`)."""
    import pyroomacoustics as pra

    room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(absorption), max_order=int(min(max_order, MAX_ORDER)))
    room.add_source(source)
    room.add_microphone(mic)
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


def simulate_room(rng: np.random.Generator, sr: int = SAMPLE_RATE,
                  rt60_range: tuple[float, float] = ROOM_RT60) -> tuple[np.ndarray, dict]:
    """One shoe-box room (pyroomacoustics): floor 3–20 m a side, height 2.5–8 m, RT60 drawn
    uniformly in ``rt60_range`` (default 0.2–1.5 s; absorption and reflection order by
    ``inverse_sabine``), source and microphone at random (0.5 m from the walls, at least 1 m
    apart). Returns the RIR and its parameters."""
    import pyroomacoustics as pra

    while True:
        dims = [float(rng.uniform(3, 20)), float(rng.uniform(3, 20)), float(rng.uniform(2.5, 8))]
        rt60 = float(rng.uniform(*rt60_range))
        try:
            absorption, max_order = pra.inverse_sabine(rt60, dims)
        except ValueError:
            continue
        src = [float(rng.uniform(0.5, d - 0.5)) for d in dims]
        mic = [float(rng.uniform(0.5, d - 0.5)) for d in dims]
        if np.linalg.norm(np.subtract(src, mic)) < 1.0:
            continue
        h = shoebox_rir(dims, absorption, max_order, src, mic, sr)
        return h, {"dims": [round(d, 2) for d in dims], "rt60_target": round(rt60, 3),
                   "source": [round(x, 2) for x in src], "mic": [round(x, 2) for x in mic],
                   "max_order": int(min(max_order, MAX_ORDER))}


def build_rooms(cfg: PoolConfig, out: Path, progress: bool, explicit: bool) -> list[Item]:
    """The rooms' rows of the pool, their bank written to ``out/rirs.npz``; a missing real
    impulse response is a ``ConfigError`` when ``rooms`` was listed (``explicit``), else a warning."""
    from tqdm import tqdm

    from .audio import load_audio

    names, irs, rows = [], [], []
    for name, files, lic in cfg.real_irs:
        paths = [Path(f) for f in files]
        if not all(p.is_file() for p in paths):
            missing = next(p for p in paths if not p.is_file())
            if explicit:
                raise ConfigError(f"pool.sources: rooms: {missing} not found (apt-get install guitarix-common "
                                  f"jconvolver-config-files)")
            warnings.warn(f"{missing}: impulse response not installed, skipped", stacklevel=2)
            continue
        h = np.mean([load_audio(p) for p in paths], axis=0)  # load_audio: 44.1 kHz, channels mixed to mono
        names.append(f"real_{name}")
        irs.append(trim_ir(h))
        rows.append(dict(family=f"ir_{name}", license=lic, detail={"source_file": [str(p) for p in paths]}))
    for k in tqdm(range(cfg.n_rooms), desc="pool rooms", disable=None if progress else True):
        h, params = simulate_room(source_rng(cfg.seed, "rooms", k), rt60_range=tuple(cfg.room_rt60))
        names.append(f"sim_{k:03d}")
        irs.append(trim_ir(h))
        rows.append(dict(family="ir_sim", license=LICENSES["sim"], detail=params))
    if not irs:
        return []
    rt60 = np.array([measure_rt60(h) for h in irs], dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum([len(h) for h in irs])]).astype(np.int64)
    with atomic_path(out / IR_FILE) as tmp:
        np.savez_compressed(tmp, names=np.array(names, dtype=str), irs=np.concatenate(irs).astype(np.float16),
                            offsets=offsets, sr=np.int64(SAMPLE_RATE), rt60=rt60)
    items = []
    for name, h, row, t in zip(names, irs, rows, rt60):
        row["detail"] = {**row["detail"], "rt60": None if not np.isfinite(t) else round(float(t), 3)}
        items.append(Item(file=IR_FILE, source="rooms", song=name, kind="ir", duration=round(len(h) / SAMPLE_RATE, 6),
                           gain_db=0.0, rms_db=round(rms_db(h), 3), **row))
    return items
