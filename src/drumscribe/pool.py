"""The accompaniment pool: real and realistic drumless music, real drum stems and rooms.

Training audio for real records (issue 11, item 2) mixes drums with accompaniment and
degrades the mix on the fly. This module builds what that mixing draws from, once, as a
small folder that travels to a GPU machine (docs/pool.md):

- ``fretsonfire``: the real guitar stems (``guitar.ogg``) of the Frets on Fire song packs
  in Debian (``fretsonfire-songs-muldjord``, ``-sectoid``); ``song.ogg`` has drums and is
  never used here. ``fretsonfire_items`` non-overlapping excerpts per song.
- ``fretsonfire_band``: the same songs' ``song.ogg``, the band **with** its drums (no lead
  guitar): real mixed and mastered music, unlabelled (kind ``band``), one excerpt of
  ``band_seconds`` per song, for training on a teacher's labels (:mod:`drumscribe.pseudo`).
- ``pop909``: POP909 arrangements (MELODY, BRIDGE, PIANO; no drums) rendered by the
  project's FluidSynth binding through the best GM font installed, with a lead program
  for the melody, piano/e-piano/guitar for bridge and piano and (for ``pop909_bass`` of
  the songs) a bass line from the chord annotations: the chord's bass note on every beat
  or every other beat. Each excerpt starts on a downbeat; its beat and downbeat times
  are kept in ``detail``.
- ``planetblupi``: the General MIDI songs of ``planetblupi-music-midi`` rendered
  **without the drum channel** (MIDI channel 10: every ``is_drum`` track is dropped);
  ``planetblupi_items`` excerpts per song, each from a downbeat.
- ``mdb``: the MDB Drums dev songs' real raw stems: per song the sum of its non-drum
  stems (``accompaniment``), each vocal stem (``stem``) and its drum stem (``drums``, at
  ``drums_ogg_quality``), all scaled by one gain per song so the natural ratios hold
  (``rms_db`` of the files; ``detail.natural_db``). Whole songs, never cut.
- ``rooms``: room impulse responses, the real ones in Debian (``guitarix-common``'s
  great hall, ``jconvolver-config-files``' street) and ``n_rooms`` shoe-box rooms
  simulated with pyroomacoustics, in one ``rirs.npz`` (no pickled objects).

Layout of ``out_dir``::

    pool.csv                       file, source, family, song, kind, duration, license,
                                   gain_db, rms_db, detail (JSON)
    fretsonfire/<song>_<k>.ogg     mono 44.1 kHz Ogg Vorbis (oggenc -q ogg_quality)
    fretsonfire_band/<song>.ogg
    pop909/pop909_<NNN>.ogg
    planetblupi/<song>_<k>.ogg
    mdb/<track>_accompaniment.ogg, <track>_vocals_<NN>.ogg, <track>_drums.ogg
    rirs.npz                       names (str), irs (float16, concatenated), offsets
                                   (int64, n+1), sr, rt60 (float32, measured T30)

Every audio file except the MDB ones is peak-normalised to −1 dBFS (``gain_db`` is the
gain applied to the source; for MDB the gain common to the song's files). Built in a
temporary folder and renamed (:func:`drumscribe.atomic.atomic_dir`); deterministic for a
seed (``oggenc --serial`` is seeded, so the files are byte-identical).

This module owns the table: its columns, the config, the build (which sources, in which
folder) and the reading back (:func:`read_pool`, :func:`load_irs`). The music sources'
builders are in :mod:`drumscribe.pool_sources`, the rooms' in :mod:`drumscribe.rooms`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import SAMPLE_RATE
from .atomic import atomic_dir
from .errors import ConfigError, InputError
from .pool_sources import BUILDERS, Item, pop909_dir
from .rooms import IR_FILE, REAL_IRS, ROOM_RT60, ROOM_RT60_LIMITS, build_rooms

SOURCES = ("fretsonfire", "fretsonfire_band", "pop909", "planetblupi", "mdb", "rooms")
#: ``band``: music with drums and no labels (never mixed in as accompaniment)
KINDS = ("accompaniment", "stem", "drums", "band", "ir")
#: the columns every consumer relies on, then the extras
COLUMNS = ("file", "source", "family", "song", "kind", "duration", "license")
EXTRA_COLUMNS = ("gain_db", "rms_db", "detail")

FRETSONFIRE_DIR = Path("/usr/share/games/fretsonfire/data/songs")
PLANETBLUPI_DIR = Path("/usr/share/planetblupi/music")


@dataclass
class PoolConfig:
    """Config section ``pool:`` (config/README.md). Roots of the sources that live elsewhere."""

    sources: Sequence[str] | str = "all"
    max_seconds_per_item: float = 20.0
    fretsonfire_items: int = 2
    band_seconds: float = 120.0
    planetblupi_items: int = 1
    n_pop909: int = 28
    pop909_bass: float = 0.75
    n_rooms: int = 30
    room_rt60: Sequence[float] = field(default_factory=lambda: list(ROOM_RT60))
    ogg_quality: float = 3.0
    drums_ogg_quality: float = 6.0
    seed: int = 0
    mdb_root: str | Path | None = None
    pop909_root: str | Path | None = None
    fretsonfire_dir: str | Path = FRETSONFIRE_DIR
    planetblupi_dir: str | Path = PLANETBLUPI_DIR
    font: str | Path | None = None
    real_irs: Sequence = field(default_factory=lambda: REAL_IRS)

    def validate(self) -> tuple[list[str], bool]:
        """Check every key; returns ``(sources, explicit)`` (``explicit``: listed, not ``all``)."""
        explicit = not (self.sources in (None, "all"))
        if not explicit:
            sources = list(SOURCES)
        elif isinstance(self.sources, str) or not all(isinstance(s, str) for s in self.sources):
            raise ConfigError(f"pool.sources: expected 'all' or a list of {', '.join(SOURCES)}, not {self.sources!r}")
        else:
            sources = list(self.sources)
            for s in sources:
                if s not in SOURCES:
                    raise ConfigError(f"pool.sources: unknown source {s!r} (known: {', '.join(SOURCES)})")
        _positive("pool.max_seconds_per_item", self.max_seconds_per_item)
        _count("pool.fretsonfire_items", self.fretsonfire_items, minimum=1)
        _positive("pool.band_seconds", self.band_seconds)
        _count("pool.planetblupi_items", self.planetblupi_items, minimum=1)
        _count("pool.n_pop909", self.n_pop909)
        _count("pool.n_rooms", self.n_rooms)
        r = self.room_rt60
        if (isinstance(r, (str, bytes)) or not isinstance(r, Sequence) or len(r) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in r)
                or not ROOM_RT60_LIMITS[0] <= r[0] <= r[1] <= ROOM_RT60_LIMITS[1]):
            raise ConfigError(f"pool.room_rt60: [low, high] seconds with {ROOM_RT60_LIMITS[0]} <= low <= high <= "
                              f"{ROOM_RT60_LIMITS[1]}, not {r!r}")
        _count("pool.seed", self.seed)
        if not isinstance(self.pop909_bass, (int, float)) or not 0.0 <= self.pop909_bass <= 1.0:
            raise ConfigError(f"pool.pop909_bass: a fraction in [0, 1], not {self.pop909_bass!r}")
        for key in ("ogg_quality", "drums_ogg_quality"):
            q = getattr(self, key)
            if not isinstance(q, (int, float)) or isinstance(q, bool) or not -1.0 <= q <= 10.0:
                raise ConfigError(f"pool.{key}: Vorbis quality in [-1, 10], not {q!r}")
        return sources, explicit


def _positive(key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{key}: must be a positive number of seconds, not {value!r}")


def _count(key, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{key}: must be an integer >= {minimum}, not {value!r}")

# ------------------------------------------------------------------ build ----

def _source_dir(source: str, cfg: PoolConfig) -> Path | None:
    """The folder a source reads (None for rooms: its files are checked one by one)."""
    if source in ("fretsonfire", "fretsonfire_band"):
        return Path(cfg.fretsonfire_dir)
    if source == "planetblupi":
        return Path(cfg.planetblupi_dir)
    if source == "pop909":
        return pop909_dir(cfg.pop909_root) if cfg.pop909_root else None
    if source == "mdb":
        return Path(cfg.mdb_root) / "audio" / "multi-tracks" if cfg.mdb_root else None
    return None


def _available(source: str, cfg: PoolConfig) -> bool:
    d = _source_dir(source, cfg)
    if source == "rooms":
        return True
    if d is None or not d.is_dir():
        return False
    pattern = {"fretsonfire": "*/*/guitar.ogg", "fretsonfire_band": "*/*/song.ogg", "planetblupi": "*.mid", "pop909": "*/*.mid", "mdb": "*/*_METADATA.yaml"}
    return next(d.glob(pattern[source]), None) is not None


_HINTS = {"fretsonfire": "apt-get install fretsonfire-songs-muldjord fretsonfire-songs-sectoid",
          "fretsonfire_band": "apt-get install fretsonfire-songs-muldjord fretsonfire-songs-sectoid",
          "planetblupi": "apt-get install planetblupi-music-midi",
          "pop909": "paths.pop909 names POP909's folder", "mdb": "paths.mdb_drums names MDB Drums with audio/multi-tracks"}


def build_pool(out_dir: str | Path, progress: bool = True, **kw) -> Path:
    """Build the pool in ``out_dir`` (replaced atomically); returns the path of ``pool.csv``.

    The keyword arguments are :class:`PoolConfig` fields (their defaults are its own, the
    schema's: ``tests/test_defaults.py``). ``sources`` is ``"all"`` (every source whose
    files are there; the others are skipped with a warning) or a list of :data:`SOURCES`
    (a listed source whose folder is missing is a ``ConfigError``).

    Examples
    --------
    >>> build_pool("results/pool", sources=["rooms"], n_rooms=2, progress=False)  # doctest: +SKIP
    PosixPath('results/pool/pool.csv')
    """
    import pandas as pd

    unknown = set(kw) - set(PoolConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"pool.{sorted(unknown)[0]}: unknown key")
    cfg = PoolConfig(**kw)
    chosen, explicit = cfg.validate()
    todo = []
    for s in chosen:
        if _available(s, cfg):
            todo.append(s)
        elif explicit:
            raise ConfigError(f"pool.sources: {s}: {_source_dir(s, cfg)} not found or empty ({_HINTS[s]})")
        else:
            where = _source_dir(s, cfg)
            warnings.warn(f"{where if where else 'no folder given'}: pool source {s} not found, skipped ({_HINTS[s]})",
                          stacklevel=2)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        items: list[Item] = []
        for s in todo:
            (tmp / s).mkdir(exist_ok=True) if s != "rooms" else None
            if s == "rooms":
                items += build_rooms(cfg, tmp, progress, explicit)
            else:
                items += BUILDERS[s](cfg, tmp, progress)
        rows = [{**{c: getattr(it, c) for c in COLUMNS + EXTRA_COLUMNS if c != "detail"},
                 "detail": json.dumps(it.detail, sort_keys=True)} for it in items]
        df = pd.DataFrame(rows, columns=list(COLUMNS + EXTRA_COLUMNS))
        df.to_csv(tmp / "pool.csv", index=False)
    return out_dir / "pool.csv"


def pool(pool_cfg: dict, out_csv: str | Path, mdb_root=None, pop909_root=None, progress: bool = True) -> Path:
    """The graph's entry (rule ``pool``): the config section ``pool:`` and the dataset roots."""
    out_csv = Path(out_csv)
    if out_csv.name != "pool.csv":
        raise ConfigError(f"{out_csv}: the pool's table must be called pool.csv")
    cfg = dict(pool_cfg or {})
    return build_pool(out_csv.parent, mdb_root=mdb_root, pop909_root=pop909_root, progress=progress, **cfg)


# ------------------------------------------------------------------- read ----

def read_pool(pool_dir: str | Path, check_audio: bool = True):
    """The pool's table (``pool.csv``) with a ``path`` column, validated.

    Checks the columns and kinds; with ``check_audio`` that every listed file exists, is
    mono at 44.1 kHz and lasts ``duration`` (±50 ms), and that every ``ir`` row is in
    ``rirs.npz``. A problem is an ``InputError`` naming the file.
    """
    import pandas as pd
    import soundfile as sf

    pool_dir = Path(pool_dir)
    csv = pool_dir / "pool.csv"
    if not csv.is_file():
        raise InputError(f"{csv}: pool table missing (build it: snakemake results/pool/pool.csv)")
    try:
        df = pd.read_csv(csv, keep_default_na=False, dtype={"song": str, "file": str})
    except Exception as error:  # noqa: BLE001 - any parse failure is the file's fault
        raise InputError(f"{csv}: not a readable csv ({error})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{csv}: column {missing[0]!r} missing")
    bad = df.loc[~df["kind"].isin(KINDS), "kind"]
    if len(bad):
        raise InputError(f"{csv}: unknown kind {bad.iloc[0]!r} (known: {', '.join(KINDS)})")
    df["duration"] = df["duration"].astype(float)
    df["path"] = [str(pool_dir / f) for f in df["file"]]
    if not check_audio:
        return df
    ir_names = None
    for row in df.itertuples():
        path = Path(row.path)
        if not path.is_file():
            raise InputError(f"{path}: missing (listed in {csv.name})")
        if row.kind == "ir":
            if ir_names is None:
                with np.load(path, allow_pickle=False) as z:
                    ir_names = set(z["names"].tolist())
            if row.song not in ir_names:
                raise InputError(f"{path}: impulse response {row.song!r} (listed in {csv.name}) not in the bank")
            continue
        try:
            info = sf.info(str(path))
        except Exception:  # noqa: BLE001
            raise InputError(f"{path}: not a readable audio file") from None
        if info.samplerate != SAMPLE_RATE or info.channels != 1:
            raise InputError(f"{path}: {info.channels} channel(s) at {info.samplerate} Hz, the pool holds mono "
                             f"{SAMPLE_RATE} Hz")
        if abs(info.frames / info.samplerate - row.duration) > 0.05:
            raise InputError(f"{path}: lasts {info.frames / info.samplerate:.3f} s, {csv.name} says {row.duration:.3f} s")
    return df


def load_irs(pool_dir: str | Path, with_names: bool = False, exclude: Iterable[str] = ()):
    """The pool's impulse responses as float32 arrays at 44.1 kHz (in ``rirs.npz`` order),
    less those named in ``exclude`` (bank names, e.g. ``real_greathall``: the rooms a
    training run holds out, ``mixing.held_out_irs``; a name not in the bank is a
    ``ConfigError``, but for a real room that was not installed).

    ``with_names``: ``(names, irs)``. Read with ``allow_pickle=False``.
    """
    path = Path(pool_dir) / IR_FILE
    if not path.is_file():
        raise InputError(f"{path}: impulse-response bank missing (pool source rooms)")
    try:
        with np.load(path, allow_pickle=False) as z:
            names, irs, offsets, sr = z["names"].tolist(), z["irs"], z["offsets"], int(z["sr"])
    except (KeyError, ValueError, OSError) as error:
        raise InputError(f"{path}: not an impulse-response bank ({error})") from None
    if sr != SAMPLE_RATE or len(offsets) != len(names) + 1 or offsets[-1] != len(irs):
        raise InputError(f"{path}: inconsistent bank (sr {sr}, {len(names)} names, {len(offsets)} offsets)")
    exclude = list(exclude)
    # a real room the bank lacks (its Debian package was not installed) has nothing to hold out
    real = {f"real_{name}" for name, _files, _lic in REAL_IRS}
    unknown = [n for n in exclude if n not in names and n not in real]
    if unknown:
        raise ConfigError(f"mixing.held_out_irs: {unknown[0]!r} is not in {path} (it holds {', '.join(names[:4])}, ...)")
    keep = [k for k, n in enumerate(names) if n not in exclude]
    out = [irs[offsets[k]:offsets[k + 1]].astype(np.float32) for k in keep]
    return ([names[k] for k in keep], out) if with_names else out


def summary(df) -> "object":
    """Minutes and files per source and kind (for docs and logs)."""
    g = df.groupby(["source", "kind"]).agg(files=("file", "nunique"), items=("file", "size"),
                                           minutes=("duration", lambda d: round(d.sum() / 60, 2)))
    return g.reset_index()


def iter_audio(df, kinds: Iterable[str] = ("accompaniment", "stem")):
    """Yield ``(row, audio)`` for the rows of ``kinds`` (audio decoded to float32)."""
    from .audio import load_audio

    for row in df[df["kind"].isin(list(kinds))].itertuples():
        yield row, load_audio(row.path)
