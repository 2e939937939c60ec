"""The HDF5 feature cache: its layout, writing, reading, attributes and normalisation statistics.

One file per dataset and feature config, laid out as in ``docs/architecture.md``:

* root attrs ``dataset``, ``sample_rate``, ``fps``, ``hop``, ``n_bins``, ``feature_config``
  (JSON), ``config_hash``, ``classes``, ``drumscribe_version``, and ``input_level_db`` when
  every track's audio was brought to that gated RMS level (dBFS) before its spectrogram
  (:func:`drumscribe.audio.normalize_level`, as transcription does for a model trained on
  it; absent in caches built before it and where a dataset comes as precomputed features);
* ``/tracks/<key>/spec`` float16 (frames, bins), chunked (:data:`CHUNK_FRAMES`, bins),
  gzip-compressed after the shuffle filter; ``<key>`` is :func:`track_key` of the
  track id (kept in the group's ``track_id`` attribute), attrs ``split``, ``group``,
  ``duration``, ``n_frames``, ``source`` (JSON list of audio paths), ``source_sha1``;
* ``/tracks/<key>/onsets/<CLASS>`` float64 seconds;
* ``/norm/{mean,std,count}`` per-bin statistics of the **train** split only.

:func:`build_cache` (and :func:`features`, the rule's: build, then verify) takes tracks
(:class:`drumscribe.datasets.Track` or anything with its fields), not a dataset name:
resolving a dataset is the caller's business, so this module and
:mod:`drumscribe.features` (the signal chain) never import the dataset registry.
``build_cache(threads=N)`` computes the tracks (load, mix, spectrogram, compressed
chunks) in N 'spawn' worker processes and writes them, in order, from the calling
process: the same content as a serial build.

Every reader goes through :func:`reading` / :func:`open_cache`: a missing or
unreadable file is a one-line :class:`InputError` naming it, and a corrupt one is set
aside as ``<name>.corrupt`` so that the graph rebuilds it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import shutil
import sys
import types
import zlib
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import h5py
import numpy as np
from tqdm import tqdm

from . import CLASSES, DATAPOINT_FRAMES, __version__
from .atomic import atomic_path
from .audio import INPUT_LEVEL_DB, load_audio, mix, normalize_level
from .errors import ConfigError, DrumscribeError, InputError, OutputError
from .features import FeatureConfig, n_bins, spectrogram
from .logs import Progress

log = logging.getLogger(__name__)

#: Frames per chunk of every cached spectrogram (one datapoint, 4 s).
CHUNK_FRAMES: int = DATAPOINT_FRAMES
#: gzip (deflate) level of the cached spectrograms (with the HDF5 shuffle filter before it).
GZIP_LEVEL: int = 4
#: Free space a cache build keeps: it stops with an ``OutputError`` before a track's write
#: could fill the disk (h5py 3.16 / HDF5 2.0 crash with a segmentation fault when a write
#: or the closing flush meets a full disk, so the disk must never get full under it).
H5_FREE_MARGIN_BYTES: int = 16 << 20


# --------------------------------------------------------------------------- writing
def track_key(track_id: str) -> str:
    """HDF5 group name of a track id ('/' would nest groups, so it becomes '__')."""
    return str(track_id).replace("/", "__")


def _sha1_file(path: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


def _track_spec(track, cfg: FeatureConfig, level_db: float | None = INPUT_LEVEL_DB) -> tuple[np.ndarray, float]:
    """(spectrogram, duration in s) of one Track: precomputed features (as they are), or its
    audio files mixed with gains and brought to ``level_db`` (None: as is)."""
    if track.features is not None:
        where = track.annotation or (track.audio[0] if track.audio else track.track_id)
        try:
            spec = np.asarray(track.features(), dtype=np.float32)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{where}: cannot read precomputed features ({type(exc).__name__}: {exc})") from None
        if spec.ndim == 3 and spec.shape[-1] == 1:
            spec = spec[..., 0]
        if spec.ndim != 2 or spec.shape[1] != n_bins(cfg):
            raise InputError(f"{where}: precomputed features have shape {spec.shape}, "
                             f"expected (frames, {n_bins(cfg)}) for feature config {cfg.hash()}")
        return spec, len(spec) / cfg.fps
    if not track.audio:
        raise InputError(f"track {track.track_id}: no audio files and no features")
    signals = [load_audio(p, cfg.sample_rate) for p in track.audio]
    y = signals[0] if len(signals) == 1 and not track.gains else mix(signals, track.gains)
    if level_db is not None:
        y = normalize_level(y, level_db, cfg.sample_rate)
    return spectrogram(y, cfg), len(y) / cfg.sample_rate


#: Environment variables that cap BLAS/OpenMP threads; set to 1 in feature workers.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _no_onsets():
    """Stand-in ``load_onsets`` of a track sent to a worker whose onsets the main process loads."""
    raise RuntimeError("onsets of this track are loaded by the main process")


def _spec_chunks(spec16: np.ndarray, rows: int) -> list[bytes]:
    """The stored chunks of a float16 (frames, bins) spectrogram, as HDF5's filters write them.

    Chunk ``k`` holds frames ``[k*rows, (k+1)*rows)`` (the last one zero-padded to
    ``rows``), passed through the shuffle filter (byte ``j`` of every element, for
    each ``j``) and the deflate filter (zlib ``compress2`` at :data:`GZIP_LEVEL`), so
    ``write_direct_chunk`` stores what ``create_dataset(data=..., compression="gzip",
    shuffle=True)`` would. Computed in the workers, this takes compression off the
    main (writing) process.
    """
    spec16 = np.ascontiguousarray(spec16, dtype=np.float16)
    out = []
    for start in range(0, len(spec16), rows):
        block = spec16[start:start + rows]
        if len(block) < rows:
            block = np.concatenate([block, np.zeros((rows - len(block), spec16.shape[1]), np.float16)])
        shuffled = block.view(np.uint8).reshape(-1, block.itemsize).T.tobytes()
        out.append(zlib.compress(shuffled, GZIP_LEVEL))
    return out


def _track_result(track, cfg: FeatureConfig, with_onsets: bool = True, level_db: float | None = INPUT_LEVEL_DB) -> dict:
    """Everything :func:`build_cache` writes for one track, computed without the HDF5 file.

    Returns ``shape`` (frames, bins) of the float16 spectrogram, ``chunks`` (its
    compressed HDF5 chunks of ``rows`` frames, :func:`_spec_chunks`; ``spec16`` itself
    instead when it has no frames), ``duration`` (s), ``onsets`` (per class, seconds;
    None if ``with_onsets`` is False), ``sha1`` of the first source file ("" if none)
    and, for train tracks, ``s1``/``s2`` (float64 per-bin sum and sum of squares of the
    float16 values) for the normalisation statistics; audio is brought to ``level_db`` first
    (:func:`_track_spec`). Runs in the main process (serial
    build) or in a worker process (``threads > 1``), with identical results.
    """
    spec, duration = _track_spec(track, cfg, level_db)
    onsets = track.load_onsets() if with_onsets else None
    spec16 = spec.astype(np.float16)
    del spec
    first = Path(track.audio[0]) if track.audio else (Path(track.annotation) if track.annotation else None)
    rows = min(CHUNK_FRAMES, len(spec16))
    out = {"shape": spec16.shape, "rows": rows, "duration": float(duration), "onsets": onsets,
           "sha1": _sha1_file(first) if first is not None and first.is_file() else ""}
    if rows:
        out["chunks"] = _spec_chunks(spec16, rows)
    else:
        out["spec16"] = spec16
    if track.split == "train":
        x = spec16.astype(np.float64)
        out["s1"] = x.sum(axis=0)
        out["s2"] = np.square(x).sum(axis=0)
    return out


def _worker_init() -> None:
    """Initializer of a feature worker process: one BLAS/OpenMP/torch thread each."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    if "torch" in sys.modules:  # not imported by the feature chain; only if a dataset's callable did
        sys.modules["torch"].set_num_threads(1)


def _worker_job(track, cfg: FeatureConfig, with_onsets: bool, level_db: float | None) -> dict:
    """Worker entry point (module level, so it pickles under 'spawn')."""
    return _track_result(track, cfg, with_onsets, level_db)


def _pool_jobs(tracks: Sequence) -> tuple[list | None, bool, bool]:
    """(jobs, onsets_in_workers, needs_main) for a process pool, or (None, ..) to build serially.

    A job is the track itself when it pickles whole, else the track with ``load_onsets``
    (e.g. a closure) left to the main process and ``meta`` dropped; if even that does
    not pickle (a ``features`` callable that is a lambda or closure) the dataset is
    built serially. ``needs_main`` is True when a pickled job names an object of the
    ``__main__`` module, which the workers then must import (the multiprocessing default).
    """
    jobs = [dataclasses.replace(t, meta={}) for t in tracks]
    with_onsets = True
    try:
        blobs = [pickle.dumps(j) for j in jobs]
    except Exception:
        jobs = [dataclasses.replace(j, load_onsets=_no_onsets) for j in jobs]
        with_onsets = False
        try:
            blobs = [pickle.dumps(j) for j in jobs]
        except Exception:
            return None, False, False
    needs_main = any(b"__main__" in b for b in blobs)
    return jobs, with_onsets, needs_main


@contextlib.contextmanager
def _worker_start(hide_main: bool):
    """Context for starting 'spawn' workers: thread caps in their environment; no ``__main__`` re-run.

    The thread variables are set in ``os.environ`` while workers start (a spawned child
    inherits them before numpy loads BLAS) and restored afterwards. Unless a job needs it,
    ``__main__`` is masked so children do not re-execute the calling script (a Snakemake
    ``script:`` has no ``if __name__ == "__main__"`` guard).
    """
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    main = sys.modules.get("__main__")
    os.environ.update({v: "1" for v in _THREAD_VARS})
    if hide_main and main is not None:
        sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if hide_main and main is not None:
            sys.modules["__main__"] = main
        for v, value in saved.items():
            if value is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = value


def _results_in_order(tracks: Sequence, cfg: FeatureConfig, threads: int,
                      level_db: float | None = INPUT_LEVEL_DB) -> Iterator[dict]:
    """Yield :func:`_track_result` of every track, in order, computed by up to ``threads`` processes.

    Serial when ``threads <= 1``, for a single track, or when the tracks do not pickle.
    Workers use the 'spawn' start method and one BLAS thread each; at most
    ``2 * threads`` tracks are in flight, so memory holds a bounded number of
    spectrograms. A worker's exception is re-raised here with its type and message
    (a :class:`DrumscribeError` without the remote traceback, as the serial build
    raises it); pending work is cancelled.
    """
    workers = min(int(threads), len(tracks))
    jobs, with_onsets, needs_main = _pool_jobs(tracks) if workers > 1 else (None, True, False)
    if jobs is None:
        for track in tracks:
            yield _track_result(track, cfg, level_db=level_db)
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)
    pending: deque = deque()
    todo = iter(jobs)
    try:
        def fill():
            for job in todo:
                with _worker_start(hide_main=not needs_main):
                    pending.append(pool.submit(_worker_job, job, cfg, with_onsets, level_db))
                if len(pending) >= 2 * workers:
                    break

        fill()
        for track in tracks:
            future = pending.popleft()
            try:
                result = future.result()
            except DrumscribeError as exc:
                exc.__cause__, exc.__context__, exc.__suppress_context__ = None, None, True
                raise exc.with_traceback(None)
            except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
                exc.add_note(f"feature worker died; tracks in flight from {track.track_id!r} "
                             f"({', '.join(map(str, track.audio)) or track.annotation})")
                raise
            fill()
            if not with_onsets:
                result["onsets"] = track.load_onsets()
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def build_cache(tracks: Iterable, out_h5: str | os.PathLike, cfg: FeatureConfig | None = None,
                name: str | None = None, max_tracks: int | None = None, progress: bool = True,
                threads: int = 1, level_db: float | None = INPUT_LEVEL_DB) -> Path:
    """Compute the spectrogram of every track and write the HDF5 cache ``out_h5``.

    Parameters
    ----------
    tracks : :class:`drumscribe.datasets.Track` objects (``track_id``, ``split``, ``group``,
        ``audio``, ``load_onsets``, ``gains``, ``features``, ``annotation``), e.g.
        ``datasets.get(name).tracks(root)``.
    out_h5 : the cache file; written to a temp sibling and renamed on success, so an
        interrupted or failed build leaves no ``.h5`` (and an old one untouched).
    cfg : feature config (default :class:`FeatureConfig`).
    name : the dataset's name, written to the root attrs (default: the file's stem).
    max_tracks : keep the first N tracks (in the given order) — for quick runs.
    progress : tqdm progress bar (shown on a TTY only).
    threads : processes computing spectrograms (load + mix + spectrogram + float16 +
        source sha1, and onsets where ``load_onsets`` pickles). ``1`` builds serially.
        With more, tracks go to a 'spawn' process pool (one BLAS thread per worker,
        at most ``2 * threads`` tracks in flight) and the main process alone writes the
        HDF5, in track order: the file has the same content as the serial build's.
        Tracks that do not pickle (a lambda ``features`` callable) are built serially.
    level_db : gated RMS level (dBFS) every track's audio is brought to before its
        spectrogram (default :data:`drumscribe.audio.INPUT_LEVEL_DB`, the level the mixed
        training audio and transcription use), so that a model trained on the cache does not
        depend on the input's level; written as the root attr ``input_level_db`` when every
        track was levelled (not where a dataset comes as precomputed features). None: the
        audio as it is, no attr.

    Raises
    ------
    InputError naming the file of a track that fails to load; InputError if two tracks
    share an id or there are no tracks; OutputError before the disk would fill.
    """
    cfg = cfg or FeatureConfig()
    out_h5 = Path(out_h5)
    name = out_h5.stem if name is None else str(name)
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ConfigError(f"build_cache: threads must be a positive integer, not {threads!r}")
    tracks = list(tracks)
    if max_tracks is not None:
        tracks = tracks[: int(max_tracks)]
    if not tracks:
        raise InputError(f"{out_h5}: dataset {name!r} has no tracks")
    keys = [track_key(t.track_id) for t in tracks]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise InputError(f"{out_h5}: dataset {name!r} has duplicate track id(s) {', '.join(dup)}")
    nb = n_bins(cfg)
    stats = _NormSums(nb)
    with atomic_path(out_h5) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs.update({
                "dataset": name, "sample_rate": cfg.sample_rate, "fps": cfg.fps, "hop": cfg.hop,
                "n_bins": nb, "feature_config": cfg.to_json(), "config_hash": cfg.hash(),
                "classes": json.dumps(list(CLASSES)), "drumscribe_version": __version__,
            })
            group = h5.create_group("tracks")
            bar = tqdm(total=len(tracks), desc=f"features {name}", unit="track",
                       disable=None if progress else True)
            results = _results_in_order(tracks, cfg, int(threads), level_db)
            logged = Progress(log, f"features {name}", len(tracks), "tracks")
            try:
                for track, key, res in zip(tracks, keys, results):
                    free = shutil.disk_usage(out_h5.parent).free
                    if free < max(H5_FREE_MARGIN_BYTES, 4 * res["shape"][0] * nb * 2):
                        raise OutputError(f"{out_h5}: no space left on device (stopped at {free >> 20} MiB free, "
                                          f"before track {track.track_id}; free some space and rerun)")
                    _write_track(group.create_group(key), track, res, nb)
                    if track.split == "train":
                        stats.add(res)
                    bar.update(1)
                    logged.update(1)
            finally:
                results.close()  # cancels and joins a pool at once on an error
                bar.close()
            stats.write(h5.create_group("norm"))
            if level_db is not None and all(t.features is None for t in tracks):  # precomputed: not levelled
                h5.attrs["input_level_db"] = float(level_db)
    return out_h5


def _write_track(g, track, res: dict, nb: int) -> None:
    """Write one track's :func:`_track_result` into its (new) group ``g``."""
    if "chunks" in res:  # compressed by _track_result: stored as they are
        ds = g.create_dataset("spec", shape=res["shape"], dtype=np.float16, chunks=(res["rows"], nb),
                              compression="gzip", compression_opts=GZIP_LEVEL, shuffle=True)
        for k, chunk in enumerate(res["chunks"]):
            ds.id.write_direct_chunk((k * res["rows"], 0), chunk)
    else:
        g.create_dataset("spec", data=res["spec16"], chunks=(res["rows"], nb),
                         compression="gzip", compression_opts=GZIP_LEVEL, shuffle=True)
    og = g.create_group("onsets")
    for c in CLASSES:
        og.create_dataset(c, data=np.asarray(res["onsets"].get(c, ()), dtype=np.float64))
    g.attrs.update({
        "track_id": str(track.track_id), "split": track.split, "group": str(track.group),
        "duration": res["duration"], "n_frames": res["shape"][0],
        "source": json.dumps([str(p) for p in track.audio]), "source_sha1": res["sha1"],
    })


class _NormSums:
    """Per-bin sums of the train tracks' float16 values, written as ``/norm/{mean,std,count}``."""

    def __init__(self, nb: int):
        self.s1, self.s2, self.count, self.nb = np.zeros(nb, np.float64), np.zeros(nb, np.float64), 0, nb

    def add(self, res: dict) -> None:
        self.s1 += res["s1"]
        self.s2 += res["s2"]
        self.count += res["shape"][0]

    def write(self, norm) -> None:
        mean = self.s1 / max(self.count, 1)
        std = np.sqrt(np.maximum(self.s2 / max(self.count, 1) - mean ** 2, 0.0))
        if self.count == 0:
            std = np.ones(self.nb)
        norm.create_dataset("mean", data=mean.astype(np.float64))
        norm.create_dataset("std", data=std.astype(np.float64))
        norm.create_dataset("count", data=np.int64(self.count))


# --------------------------------------------------------------------------- reading
def _set_aside(path: Path, exc: BaseException) -> InputError:
    """The error for a corrupt cache, after moving it to ``<name>.corrupt``: the graph
    then sees its output missing and the rerun rebuilds it (instead of failing forever)."""
    cause = " ".join(str(exc).split())[:160] or type(exc).__name__
    aside = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, aside)
        todo = f"moved to {aside.name}; rerun to rebuild it"
    except OSError:
        todo = "remove it and rerun to rebuild it"
    return InputError(f"{path}: corrupt or truncated HDF5 feature cache ({cause}); {todo}")


def open_cache(path: str | os.PathLike) -> h5py.File:
    """Open a cache for reading (the caller closes it).

    A missing or unreadable file is a one-line ``InputError``; a file that h5py cannot
    open for another reason than access rights (truncated, not HDF5) is set aside as
    ``<name>.corrupt`` with a one-line ``InputError``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: feature cache not found")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: feature cache not readable (permission denied)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise _set_aside(path, exc) from None


@contextlib.contextmanager
def reading(h5_or_path) -> Iterator[h5py.File]:
    """``with reading(path_or_file) as h5``: a path is opened (:func:`open_cache`) and closed
    on leaving; an already open file is passed through and left open."""
    if not isinstance(h5_or_path, (str, os.PathLike)):
        yield h5_or_path
        return
    h5 = open_cache(h5_or_path)
    try:
        yield h5
    finally:
        h5.close()


def verify_cache(h5_path: str | os.PathLike, full: bool = False) -> None:
    """Check that a cache opens and that every group, attribute and dataset header reads
    (``full``: every dataset's data too, e.g. right after writing it). A corrupt cache is
    set aside (``<name>.corrupt``, so the rerun rebuilds it) with a one-line ``InputError``.
    """
    path = Path(h5_path)
    h5 = open_cache(path)
    try:
        def visit(name, obj):
            dict(obj.attrs)
            if hasattr(obj, "shape"):
                if full:
                    obj[()]
                else:
                    obj.shape, obj.dtype
        with h5:
            dict(h5.attrs)
            if "tracks" not in h5 or "norm" not in h5:
                raise KeyError("no tracks/norm group")
            h5.visititems(visit)
    except (OSError, KeyError, RuntimeError, ValueError) as exc:
        raise _set_aside(path, exc) from None


def features(tracks: Iterable, out_h5: str | os.PathLike, cfg: FeatureConfig | None = None,
             name: str | None = None, threads: int = 1, progress: bool = True,
             level_db: float | None = INPUT_LEVEL_DB) -> Path:
    """Rule ``features``: :func:`build_cache` of ``tracks`` (audio brought to ``level_db``), then
    :func:`verify_cache` of all the data, so that a bad write fails this job rather than every
    consumer. Returns ``out_h5``."""
    out = build_cache(tracks, out_h5, cfg, name=name, progress=progress, threads=threads, level_db=level_db)
    verify_cache(out, full=True)
    return out


@dataclass(frozen=True)
class Entry:
    """What a cache records of one track, without its spectrogram.

    ``key`` is the HDF5 group name (:func:`track_key`), ``track_id`` the original id,
    ``shape`` the spectrogram's (frames, bins); ``onsets`` per class (seconds) when asked for.
    """

    key: str
    track_id: str
    split: str
    shape: tuple[int, int]
    onsets: dict[str, np.ndarray] | None = None

    @property
    def n_frames(self) -> int:
        return int(self.shape[0])


def _onsets_of(g) -> dict[str, np.ndarray]:
    return {c: g["onsets"][c][()].astype(np.float64) for c in CLASSES}


def entries(h5_or_path, split: str | None = None, onsets: bool = False) -> list[Entry]:
    """The :class:`Entry` of every track (of ``split``), in key order; ``onsets`` reads them too."""
    with reading(h5_or_path) as h5:
        out = []
        for key in sorted(h5["tracks"]):
            g = h5["tracks"][key]
            if split is not None and g.attrs["split"] != split:
                continue
            out.append(Entry(key, str(g.attrs.get("track_id", key)), str(g.attrs["split"]),
                             tuple(int(n) for n in g["spec"].shape), _onsets_of(g) if onsets else None))
        return out


def spec_dataset(h5: h5py.File, key: str) -> h5py.Dataset:
    """The h5py dataset of the spectrogram of the track with group name ``key`` (read lazily)."""
    return h5["tracks"][key]["spec"]


def read_spec(h5_or_path, key: str) -> np.ndarray:
    """The whole spectrogram (float32 (frames, bins)) of the track with group name ``key``."""
    with reading(h5_or_path) as h5:
        return spec_dataset(h5, key)[()].astype(np.float32)


def read_track(h5_or_path, track_id: str) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """Read one track: (spec float32 (frames, bins), onsets per class, attrs dict)."""
    with reading(h5_or_path) as h5:
        key = track_key(track_id)
        if key not in h5.get("tracks", {}):
            raise InputError(f"{h5.filename}: no track {track_id!r}")
        g = h5["tracks"][key]
        attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in g.attrs.items()}
        return g["spec"][()].astype(np.float32), _onsets_of(g), attrs


def list_tracks(h5_or_path, split: str | None = None) -> list[str]:
    """Track ids of a cache (sorted), optionally only those of ``split``."""
    return sorted(e.track_id for e in entries(h5_or_path, split))


def iter_tracks(h5_or_path, split: str | None = None) -> Iterator[tuple[str, np.ndarray, dict, dict]]:
    """Yield (track_id, spec float32, onsets, attrs) of every track (of ``split``), in id order."""
    with reading(h5_or_path) as h5:
        for tid in list_tracks(h5, split):
            spec, onsets, attrs = read_track(h5, tid)
            yield tid, spec, onsets, attrs


def cache_attrs(h5_or_path) -> dict:
    """The root attributes of a cache (numbers as Python numbers, JSON strings as they are)."""
    with reading(h5_or_path) as h5:
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in h5.attrs.items()}


def dataset_name(h5_or_path) -> str:
    """The ``dataset`` root attribute of a cache (its file stem where there is none)."""
    with reading(h5_or_path) as h5:
        return str(h5.attrs.get("dataset", Path(h5.filename).stem))


def input_level_db(h5_paths: Iterable[str | os.PathLike]) -> float | None:
    """The gated RMS level (dBFS) the audio of every one of these caches was brought to before
    its spectrograms (root attr ``input_level_db``), which a model trained on them records so that
    transcription brings its input there too; None where any cache lacks it or they differ (the
    training audio then had no one level, and the input is used at its own)."""
    levels = set()
    for p in h5_paths:
        with reading(p) as h5:
            v = h5.attrs.get("input_level_db")
        levels.add(None if v is None else float(v))
    return levels.pop() if len(levels) == 1 else None


def cache_config(h5_or_path) -> FeatureConfig:
    """The :class:`FeatureConfig` a cache was built with."""
    with reading(h5_or_path) as h5:
        return FeatureConfig.from_dict(json.loads(h5.attrs["feature_config"]))


def check_cache(h5_path: str | os.PathLike, cfg: FeatureConfig) -> None:
    """Raise InputError if ``h5_path`` is missing, unreadable or built with another feature config."""
    with reading(h5_path) as h5:
        have = h5.attrs.get("config_hash")
        if have is None or "tracks" not in h5 or "norm" not in h5:
            raise InputError(f"{h5_path}: not a drumscribe feature cache (no config_hash/tracks/norm)")
        if have != cfg.hash():
            raise InputError(f"{h5_path}: built with feature config {have} "
                             f"({h5.attrs.get('feature_config')}), expected {cfg.hash()} ({cfg.to_json()}); "
                             f"rebuild the cache")


def norm_stats(h5_paths: Iterable[str | os.PathLike], eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin (mean, std) float32 over the train splits of several caches, count-weighted.

    A cache without train tracks has ``count`` 0 and adds nothing.
    Combines each cache's ``/norm`` group exactly: ``mean = Σ n_i m_i / N``,
    ``var = Σ n_i (s_i² + m_i²) / N - mean²``; ``std`` is floored at ``eps``.
    Raises InputError if the caches have no train frames or differ in bins.
    """
    paths = list(h5_paths)
    tot, s1, s2, nb = 0, None, None, None
    for p in paths:
        with reading(p) as h5:
            m, s, n = h5["norm/mean"][()], h5["norm/std"][()], int(h5["norm/count"][()])
        if nb is None:
            nb = len(m)
            s1, s2 = np.zeros(nb), np.zeros(nb)
        elif len(m) != nb:
            raise InputError(f"{p}: {len(m)} bins, but the other caches have {nb}")
        s1 += n * m
        s2 += n * (s ** 2 + m ** 2)
        tot += n
    if not tot:
        raise InputError(f"{', '.join(map(str, paths)) or '(no caches)'}: no train-split frames for normalisation")
    mean = s1 / tot
    std = np.sqrt(np.maximum(s2 / tot - mean ** 2, 0.0))
    return mean.astype(np.float32), np.maximum(std, eps).astype(np.float32)
