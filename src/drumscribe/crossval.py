"""Song-level folds over the real songs, and training on audio mixed on the fly with
real validation (issue 11).

The real songs (the MDB dev songs with multi-tracks) are few, so they are used in
**song-level folds**: fold ``k`` tests on its songs, validates on ``n_validation`` songs
of the other folds and trains on the rest; a song's real drums and stems are never
heard in training by the model that reports figures on it. The ``release`` fold has no
test songs (the released model's real-music figures come from the folds' models, which
share its recipe).

:func:`train_fold` trains one model of a fold on :class:`drumscribe.mixing.MixDataset`
(synthetic drums and the fold's real drums, under the accompaniment pool's music of
the fold's training songs and of the other sources' training families, through the
record chain) and selects epochs and tunes thresholds on a **real validation** set:
the validation songs' real drums and accompaniment under a few of the robustness
suite's conditions, plus synthetic validation tracks, their activations computed as
``drumscribe transcribe`` computes them (``Transcriber.from_model``).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import CLASSES, FPS, SAMPLE_RATE, resolve_device
from .errors import ConfigError, InputError

#: Conditions of the real validation set (names as in the robustness suite).
#: Only conditions built in process (no encoder binaries: the GPU machine has none).
VALIDATION_CONDITIONS = ("drums", "mix_natural", "mix_p6", "lp10k", "master")
#: Share of a non-MDB pool family that goes to validation (by a hash of its name).
VALIDATION_SHARE = 0.15
#: Seconds of each synthetic validation track that enter the real validation set.
SYNTH_VAL_SECONDS = 30.0


@dataclass(frozen=True)
class Fold:
    """One fold: the real songs it trains, validates and tests on (disjoint)."""

    name: str
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def make_folds(songs: Sequence[str], n_folds: int = 3, n_validation: int = 2) -> list[Fold]:
    """``n_folds`` song-level folds plus the ``release`` fold over the sorted ``songs``.

    Fold ``k`` tests on ``songs[k::n_folds]``; its validation songs are the first
    ``n_validation`` songs of the other folds' test lists, taken in turn from the next
    folds; it trains on the rest. The release fold validates on fold 0's validation
    songs and trains on all others. ``ConfigError`` when the songs cannot fill them.
    """
    songs = sorted(dict.fromkeys(songs))
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
        raise ConfigError(f"crossval.folds: {n_folds!r} is not an integer >= 2")
    if isinstance(n_validation, bool) or not isinstance(n_validation, int) or n_validation < 1:
        raise ConfigError(f"crossval.validation_songs: {n_validation!r} is not an integer >= 1")
    if len(songs) < n_folds + n_validation + 1:
        raise ConfigError(f"crossval: {len(songs)} songs are too few for {n_folds} folds with "
                          f"{n_validation} validation songs each")
    tests = [songs[k::n_folds] for k in range(n_folds)]
    out = []
    for k in range(n_folds):
        others = [tests[(k + j) % n_folds] for j in range(1, n_folds)]
        val: list[str] = []
        depth = 0
        while len(val) < n_validation:
            for o in others:
                if depth < len(o) and len(val) < n_validation:
                    val.append(o[depth])
            depth += 1
        train = [s for s in songs if s not in tests[k] and s not in val]
        out.append(Fold(f"fold{k}", tuple(train), tuple(val), tuple(tests[k])))
    release_val = out[0].validation
    out.append(Fold("release", tuple(s for s in songs if s not in release_val), release_val, ()))
    check_folds(out)
    return out


def config_folds(cv: Mapping[str, Any], mdb_root: str | os.PathLike | None) -> list[Fold]:
    """The folds of a ``crossval:`` config section: its ``songs`` (``all`` or absent: the MDB
    songs with multi-tracks under ``mdb_root``, none when that folder is absent), ``folds``
    and ``validation_songs`` (:func:`make_folds`); ``[]`` without songs."""
    from .robustness import mdb_tracks

    songs = cv.get("songs", "all")
    if songs in (None, "all"):
        songs = mdb_tracks(mdb_root) if mdb_root is not None and Path(mdb_root).exists() else []
    if not songs:
        return []
    return make_folds(songs, cv["folds"], cv["validation_songs"])


def check_folds(folds: Sequence[Fold]) -> None:
    """``ConfigError`` if a fold trains or validates on a song it tests on, or trains on a
    validation song."""
    for f in folds:
        for a, b in (("train", "test"), ("validation", "test"), ("train", "validation")):
            both = sorted(set(getattr(f, a)) & set(getattr(f, b)))
            if both:
                raise ConfigError(f"crossval.{f.name}: song(s) {', '.join(both)} both in {a} and {b}")


def fold_of(folds: Sequence[Fold], name: str) -> Fold:
    for f in folds:
        if f.name == name:
            return f
    raise ConfigError(f"crossval: no fold {name!r} (folds: {', '.join(f.name for f in folds)})")


def test_models(folds: Sequence[Fold], model_of: Mapping[str, str]) -> dict[str, str]:
    """``{song: model}``: each test song with the model of the fold that tests on it."""
    return {s: model_of[f.name] for f in folds for s in f.test}


def init_checkpoint(init_from: "str | Mapping[str, str] | None", fold: str,
                    folds: Sequence[str] | None = None, key: str = "crossval.init_from") -> str | None:
    """The checkpoint ``fold``'s model starts from: ``init_from`` itself (one checkpoint,
    or ``package``, for every fold), its entry for ``fold`` (a mapping from every fold
    name to a checkpoint: each fold continues from its own earlier model), or None.
    ``ConfigError`` for a mapping that misses a fold of ``folds`` or names another."""
    if init_from is None or isinstance(init_from, (str, os.PathLike)):
        return None if init_from is None else str(init_from)
    if not isinstance(init_from, Mapping):
        raise ConfigError(f"{key}: {init_from!r} is not a checkpoint, a mapping or null")
    if folds is not None:
        problems = []
        missing = [f for f in folds if f not in init_from]
        if missing:
            problems.append(f"no checkpoint for fold(s) {', '.join(missing)}")
        unknown = sorted(set(init_from) - set(folds))
        if unknown:
            problems.append(f"unknown fold(s) {', '.join(unknown)}")
        if problems:
            raise ConfigError(f"{key}: " + "; ".join(problems))
    if fold not in init_from:
        raise ConfigError(f"{key}: no checkpoint for fold {fold}")
    return str(init_from[fold])


def check_init_songs(init_meta: Mapping[str, Any], fold: Fold, path: str | os.PathLike,
                     key: str = "crossval.init_from") -> None:
    """``ConfigError`` (naming ``key``) when the checkpoint a fold starts from, or learns
    from (``init_meta``: its metadata), trained or validated on a song that the fold
    validates or tests on: the fold's figures would then come from songs its model heard."""
    earlier = init_meta.get("fold") or {}
    trained = set(earlier.get("train") or ())
    heard = trained | set(earlier.get("validation") or ())
    for part, songs in (("test", heard), ("validation", trained)):
        both = sorted(songs & set(getattr(fold, part)))
        if both:
            raise ConfigError(f"{key}: {path} (fold {earlier.get('name', '?')}) heard "
                              f"{', '.join(both)}, a {part} song of {fold.name}")


# --------------------------------------------------------------------------- sources
def family_split(family: str) -> str:
    """``validation`` for :data:`VALIDATION_SHARE` of the pool's non-MDB families (by a hash of the name), else ``train``."""
    h = int(hashlib.sha1(family.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "validation" if h < VALIDATION_SHARE else "train"


def pool_accompaniment(pool: "Any", songs: Sequence[str], split: str, load) -> list[np.ndarray]:
    """The accompaniment clips of the pool for ``split``: MDB rows only of ``songs``;
    other sources' families split by a hash of the family (:data:`VALIDATION_SHARE`)."""
    out = []
    for r in pool.itertuples(index=False):
        if r.kind not in ("accompaniment", "stem"):
            continue
        song = r.song if isinstance(r.song, str) else ""
        if str(r.source) == "mdb":
            if song not in songs:
                continue
        elif family_split(str(r.family)) != split:
            continue
        out.append(load(r.file))
    return out


def song_audio(pool: "Any", song: str, load) -> tuple[np.ndarray, np.ndarray]:
    """``(drums, accompaniment)`` of an MDB song from the pool (kind ``drums`` and the
    song's ``accompaniment`` sum), cut to one length."""
    rows = pool[(pool["source"] == "mdb") & (pool["song"] == song)]
    d = rows[rows["kind"] == "drums"]
    a = rows[rows["kind"] == "accompaniment"]
    if d.empty or a.empty:
        raise InputError(f"pool: song {song} has no drums or no accompaniment")
    drums, acc = load(d.iloc[0]["file"]), load(a.iloc[0]["file"])
    n = min(len(drums), len(acc))
    return drums[:n], acc[:n]


def song_onsets(mdb_root: str | os.PathLike, song: str) -> dict[str, np.ndarray]:
    """Reference onsets of an MDB song from ``annotations/class`` (``OT`` ignored)."""
    from .labels import MDB_CLASS_LABELS as CLASS_LABELS
    from .references import read_annotation_txt

    return read_annotation_txt(Path(mdb_root) / "annotations" / "class" / f"{song}_class.txt", CLASS_LABELS)


def validation_condition(drums: np.ndarray, acc: np.ndarray, name: str) -> np.ndarray:
    """One real-validation condition of a song (names as the robustness suite's)."""
    from .robustness import SongStems, render_condition

    return render_condition(SongStems("validation", drums, acc, {}), name)


def load_init(init_from: str | os.PathLike | None, arch: str, params: Mapping[str, Any],
              fold: Fold) -> tuple[dict | None, Any, Any]:
    """``(state_dict, norm_mean, norm_std)`` of the checkpoint a fold starts from (``package``:
    the shipped model), or ``(None, None, None)`` for a random start. ``ConfigError`` for
    another architecture or parameters, or a checkpoint that heard the fold's songs
    (:func:`check_init_songs`)."""
    if not init_from:
        return None, None, None
    from . import models
    from .transcribe import default_model_path

    path = default_model_path() if str(init_from) == "package" else Path(init_from)
    init_model, init_meta = models.load_checkpoint(path, map_location="cpu")
    if init_meta.get("arch") != arch or dict(init_model.params) != {**init_model.params, **dict(params)}:
        raise ConfigError(f"crossval.init_from: {path} is {init_meta.get('arch')} {init_model.params}, "
                          f"not {arch} {dict(params)}")
    check_init_songs(init_meta, fold, path)
    return init_model.state_dict(), init_meta.get("norm_mean"), init_meta.get("norm_std")


def validation_items(fold: Fold, pool: "Any", load, mdb_root: str | os.PathLike, cfg, conditions: Sequence[str],
                     synth_val: Sequence) -> tuple[list[tuple[str, np.ndarray, dict]], int]:
    """The real validation set of a fold: ``([(name, spectrogram, reference)], n_real)``.

    First each validation song's real drums and accompaniment in ``conditions``
    (:func:`validation_condition`), then every k-th synthetic validation track (its first
    :data:`SYNTH_VAL_SECONDS`); each brought to the input level as ``drumscribe
    transcribe`` brings a song, as raw (unnormalised) spectrograms."""
    from . import audio, features

    fps = int(cfg.fps)
    items: list[tuple[str, np.ndarray, dict]] = []
    for s in fold.validation:
        d, a = song_audio(pool, s, load)
        ref = song_onsets(mdb_root, s)
        for c in conditions:
            y = audio.normalize_level(validation_condition(d, a, c))
            items.append((f"{s}/{c}", features.spectrogram(y, cfg), ref))
    n_real = len(items)
    n_synth = max(4, len(synth_val) // 8)
    for t in synth_val[:: max(1, len(synth_val) // n_synth)]:
        y = audio.normalize_level(t.audio[: int(SYNTH_VAL_SECONDS * SAMPLE_RATE)])
        spec = features.spectrogram(y, cfg)
        ref = {c: fr[fr < len(spec)].astype(np.float64) / fps for c, fr in zip(CLASSES, t.frames)}
        items.append((f"synthetic/{t.name}", spec, ref))
    return items, n_real


def fold_datasets(fold: Fold, pool: "Any", load, irs: Sequence[np.ndarray], synth_dirs, mix_dirs, mdb_root,
                  mix_cfg: Mapping, cfg, frames: int, widen: float, seed: int, mean=None, std=None, threads: int = 1,
                  pseudo: Sequence = ()):
    """``(synth_train, synth_val, train_data, val_data)`` of a fold: the rendered synthetic
    tracks of both splits (drums alone and under the generated accompaniment), and the
    :class:`~drumscribe.mixing.MixDataset` of training (the real drum stems and
    accompaniment of the fold's training songs, the pool's training families, the rooms
    ``irs``; normalised with ``mean``/``std``, default: statistics of the training data)
    and of validation (512 fixed items of the validation songs and families, for the
    validation loss). ``pseudo``: bands labelled by a teacher (:mod:`drumscribe.pseudo`), drawn
    in training with ``mixing.p_pseudo``; never in validation (their labels are a model's)."""
    from . import mixing

    synth_train = mixing.rendered_tracks(synth_dirs, "train", threads=threads)
    synth_train += mixing.rendered_tracks(mix_dirs, "train", has_accompaniment=True, threads=threads)
    synth_val = mixing.rendered_tracks(synth_dirs, "validation", threads=threads)
    synth_val += mixing.rendered_tracks(mix_dirs, "validation", has_accompaniment=True, threads=threads)
    if not synth_train or not synth_val:
        raise InputError(f"{', '.join(map(str, synth_dirs))}: no synthetic train or validation tracks")

    def real_tracks(songs):
        return [mixing.drum_track(song_audio(pool, s, load)[0], song_onsets(mdb_root, s), s, real=True,
                                  fps=int(cfg.fps)) for s in songs]

    train_data = mixing.MixDataset(synth_train, real_tracks(fold.train),
                                   pool_accompaniment(pool, fold.train, "train", load), irs, mix_cfg, cfg,
                                   frames, widen, seed, mean=mean, std=std, pseudo=pseudo)
    val_data = mixing.MixDataset(synth_val, real_tracks(fold.validation),
                                 pool_accompaniment(pool, fold.validation, "validation", load), irs,
                                 {**mix_cfg, "p_pseudo": 0.0}, cfg,
                                 frames, widen, seed + 1, mean=train_data.mean, std=train_data.std, fixed=True,
                                 n_items=512)
    return synth_train, synth_val, train_data, val_data


def fold_validator(items, n_real: int, meta: Mapping[str, Any], device, peak_params: Mapping[str, int], fps: int,
                   window: float, threshold_grid, default_threshold: float):
    """The per-epoch validation of a fold model (a ``training.Validator``): a
    :class:`drumscribe.trial.CacheValidator` over the validation items whose activations
    come from the transcription path (``Transcriber.from_model`` on raw spectrograms), with
    the micro F1 of the real items alone (the first ``n_real``; none when 0) beside the kept
    epoch's score over all items. (A class made here: ``trial`` imports torch, which the DAG build,
    importing this module for the folds, does without.)"""
    from .evaluation import evaluate_activations
    from .transcribe import Transcriber
    from .trial import CacheValidator

    class FoldValidator(CacheValidator):
        def activations(self, model):
            t = Transcriber.from_model(model, meta, device=str(device))
            return t.stitched_many([spec for _, spec, _ in self.tracks])  # chunks of all items batched

        def validate(self, model):
            acts = self.activations(model)
            result = self.score(acts)
            if not n_real:  # synthetic validation items only (the dataset study's kinds without real songs)
                return result
            real, _ = evaluate_activations(acts[:n_real], [r for _, _, r in self.tracks[:n_real]],
                                           result.thresholds, self.peak_params, self.fps, self.window,
                                           method="fast")
            return replace(result, extra={**result.extra, "real_micro_f1": real["micro_f1"] or 0.0,
                                          "real_scores": real})

    return FoldValidator(items, meta["norm_mean"], meta["norm_std"], peak_params, fps, window, threshold_grid,
                         default_threshold)


class FoldValidation:
    """A fold model's validation set outside training, as :func:`train_fold` builds it (the
    validation songs in :data:`VALIDATION_CONDITIONS` plus the synthetic validation tracks of
    the config's validation kits, rendered by rule ``render_kit`` under
    ``results/audio/gmd_synth*/<kit>/``), for the scripts that re-score committed fold
    models (``benchmarks/average_folds.py``, ``benchmarks/retune_folds.py``). No test
    song is touched.

    ``config`` is the merged config of the fold models' presets (``config.load_config``).
    """

    def __init__(self, config: Mapping[str, Any], pool_dir: str | os.PathLike, mdb_root: str | os.PathLike,
                 audio_root: str | os.PathLike = "results/audio", threads: int = 2):
        from . import features, mixing, peaks as peaks_mod, pool as pool_mod

        self.folds = {f.name: f for f in config_folds(config["crossval"], mdb_root)}
        self.kits = list(config["render"]["kit_split"]["validation"])
        root = Path(audio_root)
        self.synth_val = mixing.rendered_tracks([root / "gmd_synth" / k for k in self.kits], "validation",
                                                threads=threads)
        self.synth_val += mixing.rendered_tracks([root / "gmd_synth_mix" / k for k in self.kits], "validation",
                                                 has_accompaniment=True, threads=threads)
        self.cfg = features.FeatureConfig.from_dict(config["features"])
        self.pool = pool_mod.read_pool(pool_dir)
        self.load = lambda f: mixing.load_clip(Path(pool_dir) / f)
        self.mdb_root = mdb_root
        self.peak_params = peaks_mod.validate_params(config["peaks"])
        self.window = float(config["evaluation"]["window"])
        self.grid = config["peaks"]["threshold_grid"]
        self.default_threshold = peaks_mod.default_threshold(config["peaks"])

    def fold(self, name: str) -> Fold:
        if name not in self.folds:
            raise ConfigError(f"crossval: no fold {name!r} (folds: {', '.join(self.folds)})")
        return self.folds[name]

    def items(self, name: str) -> tuple[list[tuple[str, np.ndarray, dict]], int]:
        """:func:`validation_items` of fold ``name``."""
        return validation_items(self.fold(name), self.pool, self.load, self.mdb_root, self.cfg,
                                VALIDATION_CONDITIONS, self.synth_val)

    def validator(self, name: str, meta: Mapping[str, Any], device: str = "cpu"):
        """``(validator, items, n_real)``: :func:`fold_validator` over fold ``name``'s items
        with a model's ``meta`` (its input normalisation)."""
        items, n_real = self.items(name)
        v = fold_validator(items, n_real, meta, device, self.peak_params, int(self.cfg.fps), self.window,
                           self.grid, self.default_threshold)
        return v, items, n_real


# --------------------------------------------------------------------------- training
def train_fold(arch: str, params: Mapping[str, Any], fold: Fold, *, synth_dirs: Sequence[str | os.PathLike],
               mix_dirs: Sequence[str | os.PathLike], pool_dir: str | os.PathLike, mdb_root: str | os.PathLike,
               out_model: str | os.PathLike, out_history: str | os.PathLike, out_metrics: str | os.PathLike,
               training: Mapping, mixing: Mapping, targets: Mapping, peaks: Mapping, evaluation: Mapping,
               feature_config: Mapping | None = None, threads: int | None = None, progress: bool = True,
               conditions: Sequence[str] = VALIDATION_CONDITIONS, init_from: str | os.PathLike | None = None,
               pseudo_labels: str | os.PathLike | None = None) -> dict:
    """Train ``arch`` on ``fold`` with audio mixed on the fly; real validation (module docstring).

    ``init_from``: a checkpoint (``"package"``: the model shipped in the package) of the
    same architecture and parameters whose weights and input normalisation the model
    starts from (fine-tuning); None trains from a random initialisation.

    ``pseudo_labels``: a teacher's labels of the pool's unlabelled bands (rule
    ``pseudo_labels``, :mod:`drumscribe.pseudo`), drawn with ``mixing.p_pseudo``; refused
    when the teacher heard one of the fold's test or validation songs.

    Writes ``out_model`` (checkpoint with thresholds tuned on the real validation set,
    ``input_level_db`` and the fold), ``out_history`` and ``out_metrics`` (validation
    scores, thresholds, the fold's songs, timings). Returns the metrics.
    """
    from . import audio, features, peaks as peaks_mod, pool as pool_mod
    from . import mixing as mixing_mod
    from . import training as train_mod
    from .atomic import write_json
    from .evaluation import set_threads

    t_start = time.perf_counter()
    out_dir = Path(out_model).parent
    if Path(out_history).parent != out_dir or Path(out_metrics).parent != out_dir:
        raise ConfigError(f"{out_dir}: model, history and metrics must share one folder")
    set_threads(threads)
    mix_cfg = mixing_mod.mixing_config(mixing)
    cfg = features.FeatureConfig.from_dict(feature_config)
    fps = int(cfg.fps)
    frames, widen = int(targets["datapoint_frames"]), float(targets["widen"])
    peak_params = peaks_mod.validate_params(peaks)
    window = float(evaluation["window"])
    train_cfg = train_mod.training_config(training)
    seed = int(train_cfg["seed"])
    loader_threads = max(1, int(threads or 1))

    init_state, mean, std = load_init(init_from, arch, params, fold)
    pool = pool_mod.read_pool(pool_dir)
    load = lambda f: mixing_mod.load_clip(Path(pool_dir) / f)  # noqa: E731
    irs = pool_mod.load_irs(pool_dir, exclude=mix_cfg["held_out_irs"])  # the suite's room is never trained on
    bands = []
    if pseudo_labels and mix_cfg["p_pseudo"] > 0:
        from . import pseudo

        labels, teacher = pseudo.read_pseudo_labels(pseudo_labels)
        check_init_songs({"fold": teacher["fold"]}, fold, teacher["teacher"], "crossval.pseudo_teacher")
        bands = pseudo.band_tracks(pool, labels, load, keep=lambda family: family_split(family) == "train", fps=fps)
    synth_train, synth_val, train_data, val_data = fold_datasets(
        fold, pool, load, irs, synth_dirs, mix_dirs, mdb_root, mix_cfg, cfg, frames, widen,
        seed, mean, std, loader_threads, pseudo=bands)

    # the real validation set: raw spectrograms, brought to the input level as in transcription
    val_items, n_real = validation_items(fold, pool, load, mdb_root, cfg, conditions, synth_val)
    meta = {
        "feature_config": cfg.to_dict(), "norm_mean": train_data.mean, "norm_std": train_data.std,
        "peak_params": peak_params, "datapoint_frames": frames, "widen": widen, "n_bins": train_data.n_bins,
        "arch": arch, "input_level_db": audio.INPUT_LEVEL_DB, "fold": fold.to_dict(), "recipe": "mixing",
        "mixing": mix_cfg, "init_from": str(init_from) if init_from else None,
        "pseudo_labels": str(pseudo_labels) if bands else None,
        "datasets": ["gmd_synth", "gmd_synth_mix", "mdb_drums (fold)", "pool"] + (["pool bands (teacher's labels)"] if bands else []),
    }
    device = resolve_device(train_cfg["device"], "training.device")
    validator = fold_validator(val_items, n_real, meta, device, peak_params, fps, window, peaks["threshold_grid"],
                               peaks_mod.default_threshold(peaks))
    pos_weight = _class_weights(train_data, 256, widen)
    t_train = time.perf_counter()
    summary = train_mod.fit(arch, dict(params), train_data, val_data, out_dir, training, progress=progress,
                            pos_weight=pos_weight, validator=validator, meta=meta, threads=threads,
                            init_state=init_state, masked_targets=bool(bands) and bool(mix_cfg["pseudo_ignore"]))
    best = summary["val_metrics"]
    result = {
        "fold": fold.name, "songs": fold.to_dict(), "arch": arch, "params": summary["params"],
        **dict(best["scores"]), "real_micro_f1": best["real_micro_f1"], "real_scores": best["real_scores"],
        "thresholds": best["thresholds"], "val_micro_f1_default_threshold": best["micro_f1_default_threshold"],
        "validation_conditions": list(conditions), "n_real_validation": n_real,
        "n_synthetic_validation": len(val_items) - n_real,
        "epochs": summary["epochs"], "best_epoch": summary["best_epoch"], "best_val_loss": summary["best_val_loss"],
        "stopped_early": summary["stopped_early"], "stopped_by_time": summary.get("stopped_by_time", False),
        "seconds": summary["seconds"],
        "datapoints_per_s": summary["datapoints_per_s"], "device": summary["device"],
        "n_synthetic_tracks": len(synth_train), "n_real_tracks": len(fold.train),
        "n_accompaniment_clips": len(train_data.accompaniment), "n_pseudo_tracks": len(bands), "n_impulse_responses": len(train_data.irs),
        "class_weights": [float(w) for w in pos_weight],
        "setup_seconds": round(t_train - t_start, 3), "train_seconds": round(time.perf_counter() - t_train, 3),
    }
    write_json(out_metrics, result)
    return result


def _card_rows(cv, base, peer, fmt) -> list[str]:
    """The robustness table's rows of the card: per condition the fold models' micro and
    per-class F1, then the baseline's and the peer's micro F1 where given."""
    rows = []
    for cond, r in cv.iterrows():
        row = f"| {cond} | {fmt(r['micro_f1'])} | " + " | ".join(fmt(r[f'f1_{c}']) for c in CLASSES) + " |"
        for other in (base, peer):
            if other is not None:
                row += f" {fmt(other['micro_f1'].get(cond))} |"
        rows.append(row)
    return rows


def _class_weights(data, n: int, widen: float) -> np.ndarray:
    """Infrequency weights (as ``targets.class_weights``) over ``n`` seeded items of ``data``
    (an unknown target, ``targets.IGNORED_TARGET``, counts as no onset)."""
    pos = np.zeros(len(CLASSES), np.float64)
    total = 0
    for i in range(n):
        _, y, _ = data.example(3 * (1 << 24) + i)
        pos += np.maximum(y, 0.0).sum(0)
        total += len(y)
    from .targets import infrequency_weights

    return infrequency_weights(pos, total)


# --------------------------------------------------------------------------- the model card
def shown_path(path, project_root: str | os.PathLike | None) -> str:
    """``path`` as a card shows it: relative to ``project_root`` when it lies under it
    (the committed file, not one machine's checkout), otherwise as given."""
    path = str(path)
    if project_root is not None and os.path.isabs(path):
        root = os.path.abspath(project_root)
        if os.path.commonpath([root, os.path.abspath(path)]) == root:
            return os.path.relpath(path, root)
    return path


def crossval_card(model: str | os.PathLike, train_metrics: str | os.PathLike, robustness_csv: str | os.PathLike,
                  baseline_csv: str | os.PathLike | None, out_md: str | os.PathLike, command: str = "",
                  commit: str = "", date: str = "", name: str = "release", baseline_name: str = "baseline",
                  peer_csv: str | os.PathLike | None = None, project_root: str | os.PathLike | None = None) -> str:
    """Write the model card of a model trained by :func:`train_fold` (the release fold; rule ``crossval_card``).

    Its real-music figures are the robustness suite's table of the **fold models** of the
    same recipe (``robustness_csv``: each song scored by the fold model that never heard
    it), beside ``baseline_csv`` (``baseline_name``: the previous release's fold models on the
    same songs and conditions) and ``peer_csv`` (the peer's figures where it was measured):
    the released model itself trained on most of the songs, so no figure of it on them is
    reported. ``name`` titles the card. The checkpoint it started from is shown relative to
    ``project_root`` (:func:`shown_path`). Returns the Markdown written to ``out_md`` (atomically).
    (Over 80 lines: most of them are the card's text, in reading order.)
    """
    import json

    import pandas as pd

    from . import models
    from .atomic import write_text
    from .release import card_header

    _, meta = models.load_checkpoint(model, map_location="cpu")
    m = json.loads(Path(train_metrics).read_text())
    cv = pd.read_csv(robustness_csv).set_index("condition")
    base = pd.read_csv(baseline_csv).set_index("condition") if baseline_csv else None
    peer = pd.read_csv(peer_csv).set_index("condition") if peer_csv else None
    fold = meta.get("fold") or {}
    init = shown_path(meta.get("init_from"), project_root)
    avg = meta.get("average_of")  # benchmarks/average_folds.py: the weights of two runs averaged
    fmt = lambda v: "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.3f}"  # noqa: E731
    lines = [
        *card_header(meta, f"# drumscribe default model ({name})"),
        f"- input: {meta.get('n_bins')} bins of `{json.dumps(meta.get('feature_config'), sort_keys=True)}`; "
        f"the input is first brought to a gated RMS level of {meta.get('input_level_db')} dBFS "
        "(the transcription does not depend on the input level)",
        (f"- weights: the average {1 - float(avg['weight']):g} x `{avg['a']}` + {float(avg['weight']):g} x "
         f"`{avg['b']}` of two runs from one start (weight interpolation; docs/robustness.md), with its own "
         "thresholds; the runs trained on audio " if avg else
         f"- started from: `{init}` (weights and input normalisation), trained on audio ")
        + "mixed and degraded on the fly (`drumscribe.mixing`, docs/robustness.md): GMD rendered through 23 kits, "
        "drums alone and under generated accompaniment, real MDB drum stems and real non-drum stems of its "
        "training songs, Frets on Fire guitar stems, POP909 and Planet Blupi renders, at accompaniment levels "
        "of -10 to +22 dB, through rooms, EQ, saturation, compression, band limits and MP3/Vorbis round trips",
        f"- real songs it trained on: {', '.join(fold.get('train') or []) or '-'}; validated on: "
        f"{', '.join(fold.get('validation') or []) or '-'}",
        (f"- mixing of the two runs: `{json.dumps(avg.get('mixing_a'), sort_keys=True)}` and "
         f"`{json.dumps(avg.get('mixing_b'), sort_keys=True)}`" if avg and avg.get("mixing_b") else
         f"- mixing: `{json.dumps(meta.get('mixing'), sort_keys=True)}`"),
        None if avg else f"- epochs: {m.get('epochs')}, best epoch: {m.get('best_epoch')}, training time: "
        f"{m.get('train_seconds', 0):.0f} s ({m.get('datapoints_per_s')} datapoints/s, device {m.get('device')})",
        f"- peak picking: `{json.dumps(meta.get('peak_params'), sort_keys=True)}`",
        "- per-class thresholds (tuned on the real validation set: validation songs in five conditions of "
        "the suite, plus synthetic validation tracks): "
        + ", ".join(f"{c} {float(meta['thresholds'][c]):.2f}" for c in CLASSES),
        f"- validation micro F1: {fmt(m.get('micro_f1'))} (real part: {fmt(m.get('real_micro_f1'))})",
        "",
        "## Robustness on real recordings (song-level cross-validation)",
        "",
        "The 9 MDB dev songs' real drum stems and real accompaniment in the conditions of real records "
        "(docs/robustness.md). Each song is transcribed by the fold model of this recipe that never trained "
        "or validated on it (3 folds of 3 songs), on the path `drumscribe transcribe` runs; micro F1 at 50 ms "
        "from counts summed over the songs"
        + (f", beside {baseline_name}'s fold models on the same songs" if base is not None else "")
        + (" and the ADTOF port where it was measured (../shared/README.md)" if peer is not None else "") + ".",
        "",
        "| condition | micro F1 | " + " | ".join(CLASSES) + (f" | {baseline_name} |" if base is not None else " |")
        + (" ADTOF port |" if peer is not None else ""),
        "|---|---|" + "---|" * len(CLASSES) + ("---|" if base is not None else "") + ("---|" if peer is not None else ""),
    ]
    lines += _card_rows(cv, base, peer, fmt)
    lines += [
        "",
        "## Provenance",
        f"- command: `{command}`" if command else "- command: see docs/robustness.md",
        f"- commit: `{commit}`" if commit else "",
        f"- date: {date}" if date else "",
        f"- drumscribe {meta.get('drumscribe_version')}",
        "",
        "## Data licenses",
        "The Groove MIDI Dataset is CC BY 4.0 (Magenta); the rendering kits' licenses are listed by "
        "`drumscribe kits`; MDB Drums is CC BY-NC-SA 4.0, and this model trained on 7 of its songs' stems, "
        "so it inherits the non-commercial terms; the pool's sources and licences are in docs/pool.md.",
        "",
    ]
    text = "\n".join(line for line in lines if line is not None)
    write_text(out_md, text)
    return text
