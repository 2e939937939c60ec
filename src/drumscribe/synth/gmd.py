"""The offline default: GMD performances assigned to kits and rendered, per kit.

Splits
------
- **Performances.** ``split_by="official"`` (this function's default; the workflow's
  config defaults to ``session``) keeps GMD's own
  ``info.csv`` split. Note what it is: GMD splits *performances* (stratified by style),
  not sessions: 17 of the 25 drummer sessions and every drummer but one appear in
  more than one split (only the four ``eval_session`` folders are test-only). No
  performance (``id``) is in two splits. ``split_by: session`` instead regroups whole
  sessions (``drummer/session``) with scikit-learn's ``GroupShuffleSplit`` (seeded),
  keeping the ``eval_session`` folders in test, for a session-disjoint variant.
- **Kits.** ``render.kit_split`` names the validation and test kit pools; every other
  kit is a train kit. A performance of split *s* is rendered only through kits of pool
  *s*, so test kits are never heard in training. Kits that share samples (a
  *family*: the presets of one sound font; MuseScore General's kits are FluidR3's
  samples; the two AVL kits) should sit in one pool: a warning, or a ``ConfigError``
  with ``strict_families``.
- Beats and fills are all kept (fills carry most of GMD's tom hits, the weak class).

Files (one folder per kit, the unit of one Snakemake job)::

    <out_dir>/<kit>/<track_id>.flac   16-bit mono 44.1 kHz, peak −1 dBFS
    <out_dir>/<kit>/<track_id>.json   onsets, ``labels.onsets_to_json`` form
    <out_dir>/<kit>/<track_id>.mid    (mix only) the generated accompaniment
    <out_dir>/<kit>/manifest.csv      written last and atomically

``track_id`` is ``<kit>__<gmd id with / as _>``. The mix (``gmd_synth_mix``) renders
the drums again (deterministic, same audio as ``gmd_synth``'s file) rather than
reading ``gmd_synth``'s, so the two datasets are independent jobs of the graph.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .. import SAMPLE_RATE
from ..atomic import atomic_path, write_json
from ..errors import ConfigError, InputError
from ..labels import onsets_to_json

MANIFEST_COLUMNS = ("track_id", "split", "group", "kit", "audio", "onsets", "duration")
SPLITS = ("train", "validation", "test")
#: peak level of every written file (linear): −1 dBFS
PEAK = 10 ** (-1 / 20)


class NothingPlayable(InputError):
    """A performance has no note that the kit can play (e.g. a tom fill on a kit without toms)."""


def read_info(gmd_root: str | Path) -> pd.DataFrame:
    """GMD's ``info.csv``; ``InputError`` names it when missing or without the needed columns."""
    path = Path(gmd_root) / "info.csv"
    if not path.is_file():
        raise InputError(f"{path}: GMD info.csv not found")
    df = pd.read_csv(path)
    need = {"drummer", "session", "id", "bpm", "time_signature", "midi_filename", "duration", "split"}
    missing = need - set(df.columns)
    if missing:
        raise InputError(f"{path}: missing columns {', '.join(sorted(missing))}")
    return df


def session_split(info_df: pd.DataFrame, seed: int = 0, val_size: float = 0.1, test_size: float = 0.1) -> pd.Series:
    """A session-disjoint split (GroupShuffleSplit by ``session``); ``eval_session`` folders stay test."""
    from sklearn.model_selection import GroupShuffleSplit

    split = pd.Series("train", index=info_df.index)
    is_eval = info_df["session"].str.contains("eval_session")
    split[is_eval] = "test"
    rest = info_df[~is_eval]
    groups = rest["session"].to_numpy()
    need_test = max(0.0, test_size - is_eval.mean()) / max(1e-9, 1 - is_eval.mean())
    idx = np.arange(len(rest))
    if need_test > 0:
        gss = GroupShuffleSplit(n_splits=1, test_size=need_test, random_state=seed)
        tr, te = next(gss.split(idx, groups=groups))
        split[rest.index[te]] = "test"
        idx = tr
    gss = GroupShuffleSplit(n_splits=1, test_size=val_size / (1 - test_size), random_state=seed + 1)
    tr, va = next(gss.split(idx, groups=groups[idx]))
    split[rest.index[idx[va]]] = "validation"
    return split


def kit_pools(kits: list[str], kit_split: Mapping[str, list[str]] | None,
              families: Mapping[str, str] | None = None, strict_families: bool = False) -> dict[str, list[str]]:
    """Kit pool per split: validation/test from ``kit_split``, train = the remaining kits.

    ``ConfigError`` when a kit is in two pools, a pool kit is not among ``kits`` or a
    pool is empty. Kits of one family (``families``: kit -> family; kits sharing
    samples, see :data:`drumscribe.synth.kits.FAMILIES`) in different pools leak sounds
    across the kit split: a ``UserWarning``, or a ``ConfigError`` with ``strict_families``
    (config ``render.strict_families``).
    """
    kit_split = dict(kit_split or {})
    unknown_keys = set(kit_split) - {"validation", "test"}
    if unknown_keys:
        raise ConfigError(f"render.kit_split: unknown keys {sorted(unknown_keys)} (validation, test)")
    val, test = list(kit_split.get("validation") or []), list(kit_split.get("test") or [])
    both = set(val) & set(test)
    if both:
        raise ConfigError(f"render.kit_split: kit(s) {sorted(both)} in both validation and test")
    for name, pool in (("validation", val), ("test", test)):
        for k in pool:
            if k not in kits:
                raise ConfigError(f"render.kit_split.{name}: kit {k} is not among the kits rendered")
    train = [k for k in kits if k not in set(val) | set(test)]
    pools = {"train": train, "validation": val or [], "test": test or []}
    for name, pool in pools.items():
        if not pool:
            raise ConfigError(f"render.kit_split: the {name} kit pool is empty")
    if families:
        where: dict[str, dict[str, list[str]]] = {}
        for name, pool in pools.items():
            for k in pool:
                where.setdefault(families.get(k, k), {}).setdefault(name, []).append(k)
        for fam, by_pool in where.items():
            if len(by_pool) > 1:
                desc = "; ".join(f"{p}: {', '.join(ks)}" for p, ks in by_pool.items())
                msg = (f"render.kit_split: kits of family {fam} share samples but sit in "
                       f"different pools ({desc}); put the whole family in one pool")
                if strict_families:
                    raise ConfigError(msg)
                warnings.warn(msg, stacklevel=3)
    return pools


def _slug(gmd_id: str) -> str:
    return gmd_id.replace("/", "_")


def track_seed(seed: int, *parts: str) -> int:
    """A stable per-track seed (independent of Python's hash randomisation)."""
    h = hashlib.sha256("|".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(h[:8], "little")


def assign_kits(info_df: pd.DataFrame, kits: list[str], kit_split: Mapping[str, list[str]] | None,
                kits_per_track: int = 1, seed: int = 0, max_tracks: int | None = None,
                max_seconds: float | None = None, split_by: str = "official",
                strict_families: bool = False) -> pd.DataFrame:
    """Assign each GMD performance to ``kits_per_track`` kits of its split's pool.

    Longest performances first, each goes to the kits of its pool with the least audio
    so far (ties: a seeded order), so every kit of a pool gets about the same seconds.
    ``max_tracks`` (per split) keeps a seeded random subset of performances;
    ``max_seconds`` crops each.

    Returns a table with columns ``track_id, gmd_id, split, kit, group, drummer,
    midi_filename, bpm, time_signature, beat_type, seconds`` (``group`` = the GMD
    session ``drummer/session``; ``seconds`` = audio seconds the render will hold,
    approximately: the performance's duration, cropped).
    """
    if kits_per_track < 1:
        raise ConfigError(f"render.kits_per_track: must be >= 1, not {kits_per_track}")
    from .kits import families

    pools = kit_pools(list(kits), kit_split, families(), strict_families)
    df = info_df.copy()
    if split_by == "session":
        df["split"] = session_split(df, seed)
    elif split_by != "official":
        raise ConfigError(f"render.split_by: {split_by!r} is not 'official' or 'session'")
    rng = np.random.default_rng(seed)
    rows = []
    for split in SPLITS:
        part = df[df["split"] == split].sort_values("id")
        if max_tracks is not None and len(part) > max_tracks:
            keep = np.sort(rng.choice(len(part), size=int(max_tracks), replace=False))
            part = part.iloc[keep]
        pool = list(pools[split])
        order = [pool[i] for i in rng.permutation(len(pool))]  # seeded tie-break between kits
        k = min(kits_per_track, len(order))
        load = {kit: 0.0 for kit in order}
        # longest performances first, each to the k kits with the least audio so far:
        # every kit of a pool gets about the same number of seconds
        secs_of = part["duration"].astype(float).clip(upper=max_seconds if max_seconds is not None else np.inf)
        part = part.assign(clip_secs=secs_of.to_numpy()).sort_values(["clip_secs", "id"], ascending=[False, True],
                                                                   kind="stable")
        for r in part.itertuples(index=False):
            secs = float(r.clip_secs)
            chosen = sorted(order, key=lambda kit: (load[kit], order.index(kit)))[:k]
            for kit in chosen:
                load[kit] += secs
                rows.append({"track_id": f"{kit}__{_slug(r.id)}", "gmd_id": r.id, "split": split, "kit": kit,
                             "group": r.session, "drummer": r.drummer, "midi_filename": r.midi_filename,
                             "bpm": float(r.bpm), "time_signature": r.time_signature,
                             "beat_type": getattr(r, "beat_type", ""), "seconds": secs})
    cols = ["track_id", "gmd_id", "split", "kit", "group", "drummer", "midi_filename", "bpm", "time_signature",
            "beat_type", "seconds"]
    return pd.DataFrame(rows, columns=cols).sort_values(["split", "gmd_id", "kit"], kind="stable",
                                                         ignore_index=True)


#: Defaults of the ``render:`` keys :func:`render_track` reads (the schema's: ``tests/test_defaults.py``).
RENDER_DEFAULTS: dict[str, float] = {"accompaniment_db": -6.0, "accompaniment_db_spread": 3.0}


def check_render_config(cfg: Mapping) -> dict:
    """Validate the ``render`` keys this module reads; ``ConfigError`` names the key."""
    cfg = dict(cfg or {})
    ms = cfg.get("max_seconds")
    if ms is not None and (not isinstance(ms, (int, float)) or ms <= 0):
        raise ConfigError(f"render.max_seconds: must be a positive number or null, not {ms!r}")
    for key in ("accompaniment_db", "accompaniment_db_spread"):
        v = cfg.get(key)
        if v is not None and not isinstance(v, (int, float)):
            raise ConfigError(f"render.{key}: must be a number (dB), not {v!r}")
    if float(cfg.get("accompaniment_db_spread") or 0.0) < 0:
        raise ConfigError("render.accompaniment_db_spread: must be >= 0 dB")
    return cfg


def write_flac(path: Path, y: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write mono float audio as 16-bit FLAC, atomically."""
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(str(tmp), y, sr, format="FLAC", subtype="PCM_16")


def _normalize(y: np.ndarray) -> np.ndarray:
    pk = float(np.abs(y).max()) if y.size else 0.0
    return (y * np.float32(PEAK / pk)).astype(np.float32) if pk > 0 else y.astype(np.float32)


def render_track(kit_id: str, midi_path: Path, max_seconds: float | None = None, mix: bool = False,
                 render_cfg: Mapping | None = None, seed: int = 0, bpm: float | None = None,
                 time_signature: str | None = None):
    """Render one performance: ``(audio, onsets, duration, info)``; ``mix`` adds the accompaniment."""
    from . import accompaniment
    from .render import open_kit, read_hits, render_hits, TAIL

    cfg = {**RENDER_DEFAULTS, **dict(render_cfg or {})}
    hits = read_hits(midi_path, max_seconds)
    renderer = open_kit(kit_id)
    duration = None
    if max_seconds is not None:
        duration = float(min(max_seconds, max(hits.end, hits.times.max()) + TAIL))
    y, onsets, duration = render_hits(renderer, hits, duration)
    if not any(len(v) for v in onsets.values()):
        raise NothingPlayable(f"{midi_path}: no note of this performance is playable on kit {kit_id}")
    info: dict = {}
    if mix:
        rng = np.random.default_rng(seed)
        mean, spread = float(cfg["accompaniment_db"]), float(cfg["accompaniment_db_spread"])
        level = float(rng.uniform(mean - spread, mean + spread))
        y, acc, info = accompaniment.accompany(midi_path, y, rng, level, bpm=bpm, time_signature=time_signature)
        info["accompaniment"] = acc
    return _normalize(y), onsets, duration, info


def render_kit(kit_id: str, assignments: pd.DataFrame, gmd_root: str | Path, out_dir: str | Path,
               mix: bool = False, render_cfg: Mapping | None = None, progress: bool = True) -> Path:
    """Render every performance assigned to ``kit_id`` into ``<out_dir>/<kit_id>/``.

    Writes ``<track_id>.flac`` and ``<track_id>.json`` per track (each atomically), then
    ``manifest.csv`` (columns :data:`MANIFEST_COLUMNS` + ``gmd_id``, + ``accompaniment_db``
    for the mix; paths relative to the kit folder) last and atomically. An existing
    manifest is removed first, so a killed render leaves none and a rerun redoes the kit.
    A performance with no note the kit can play (a tom-only fill on a kit without toms) is
    skipped with a warning: it would be a silent file. Returns the manifest path.
    """
    from tqdm.auto import tqdm

    cfg = check_render_config(render_cfg)
    seed = int(cfg.get("seed", 0) or 0)
    max_seconds = cfg.get("max_seconds")
    gmd_root = Path(gmd_root)
    kit_dir = Path(out_dir) / kit_id
    kit_dir.mkdir(parents=True, exist_ok=True)
    manifest = kit_dir / "manifest.csv"
    manifest.unlink(missing_ok=True)
    rows = assignments[assignments["kit"] == kit_id]
    out_rows = []
    from ..logs import Progress

    logged = Progress(logging.getLogger(__name__), f"render {kit_id}{' (mix)' if mix else ''}", len(rows), "tracks")
    for r in tqdm(list(rows.itertuples(index=False)), desc=f"render {kit_id}", disable=None if progress else True,
                  unit="track"):
        logged.update(1)
        midi = gmd_root / r.midi_filename
        try:
            y, onsets, duration, info = render_track(
                kit_id, midi, max_seconds, mix, cfg, seed=track_seed(seed, "mix", r.gmd_id, kit_id),
                bpm=r.bpm, time_signature=r.time_signature)
        except NothingPlayable as exc:  # 8 GMD fills are toms/cymbals only; two kits have neither
            warnings.warn(f"{exc}: track {r.track_id} skipped", stacklevel=2)
            continue
        audio = kit_dir / f"{r.track_id}.flac"
        ann = kit_dir / f"{r.track_id}.json"
        write_flac(audio, y)
        write_json(ann, onsets_to_json(onsets))
        row = {"track_id": r.track_id, "split": r.split, "group": r.group, "kit": kit_id, "audio": audio.name,
               "onsets": ann.name, "duration": round(duration, 6), "gmd_id": r.gmd_id}
        if mix:
            info["accompaniment"].to_midi(kit_dir / f"{r.track_id}.mid")
            row["accompaniment_db"] = info["accompaniment_db"]
            row["accompaniment"] = json.dumps({k: v for k, v in info.items() if k != "accompaniment"})
        out_rows.append(row)
    cols = list(MANIFEST_COLUMNS) + ["gmd_id"] + (["accompaniment_db", "accompaniment"] if mix else [])
    table = pd.DataFrame(out_rows, columns=cols)
    with atomic_path(manifest) as tmp:
        table.to_csv(tmp, index=False)
    return manifest


def clean_kit_dir(out_dir: str | Path, kit_id: str) -> None:
    """Remove a kit's rendered folder (for a full redo)."""
    shutil.rmtree(Path(out_dir) / kit_id, ignore_errors=True)
