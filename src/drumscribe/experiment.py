"""Experiment glue: what the Snakemake graph plans and what its scripts call.

The workflow (``Snakefile``, ``workflow/rules/*.smk``) stays thin: it asks this
module which datasets, kits and trials exist (:func:`check_config`,
:func:`trials`, :func:`render_kits`, ...) and each ``workflow/scripts/*.py``
calls one function here (:func:`run_trial`, :func:`evaluate_model`,
:func:`summarize_datasets`, ...), which composes the stage modules
(``features``, ``targets``, ``training``, ``peaks``, ``metrics``, ``studies``).
Every function raises :class:`drumscribe.errors.DrumscribeError` subclasses with
one-line messages; none prints or exits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import CLASSES, datasets
from .errors import ConfigError, InputError

#: Datasets rendered from the Groove MIDI Dataset by the render rules (no raw folder of their own).
SYNTH_DATASETS: tuple[str, ...] = ("gmd_synth", "gmd_synth_mix")
#: Config key of the raw data the synthetic datasets are rendered from.
GMD_KEY = "gmd"


# --------------------------------------------------------------------------- planning


def known_datasets() -> tuple[str, ...]:
    """Names of every dataset of the registry (``drumscribe.datasets.NAMES``)."""
    return tuple(datasets.NAMES)


def known_architectures() -> tuple[str, ...]:
    """Names of the five architectures (``drumscribe.models.REGISTRY``)."""
    from . import models

    return tuple(models.REGISTRY)


def members(dataset: str) -> list[str]:
    """The datasets of a training dataset name: ``"a+b"`` -> ``["a", "b"]``."""
    return dataset.split("+")


def path_key(name: str) -> str:
    """Config ``paths`` key of a dataset's raw data (``gmd`` for the synthetic datasets)."""
    if name in SYNTH_DATASETS:
        return GMD_KEY
    spec = datasets.get(name)
    return spec.path_key or name


def dataset_root(config: Mapping, name: str, project_root: str | os.PathLike | None = None) -> str:
    """Folder the raw data of ``name`` is read from.

    ``paths.<key>`` when that path exists (used as is, no network), looked up in the
    working directory and then, if relative, in ``project_root`` (the folder of the
    Snakefile, so ``--directory`` runs find ``../shared`` too); otherwise
    ``resources/<key>`` in the working directory, which the download rule fills.
    """
    key = path_key(name)
    configured = (config.get("paths") or {}).get(key)
    if configured:
        path = Path(configured)
        if path.exists():
            return str(path)
        if project_root is not None and not path.is_absolute() and (Path(project_root) / path).exists():
            return str((Path(project_root) / path).resolve())
    return f"resources/{key}"


#: ``training`` keys that change how a trial runs, not what it learns: kept out of the
#: rules' params (common.smk ``result_training``) so that changing them replans no trial.
TRAINING_RUNTIME_KEYS: tuple[str, ...] = ("device", "num_workers", "preload", "preload_max_gb")


def runtime_training(config: Mapping, release: bool = False) -> dict[str, Any]:
    """The :data:`TRAINING_RUNTIME_KEYS` of ``config["training"]`` (overlaid by
    ``release.training`` for the released model), for the training script."""
    merged = {**config["training"], **((config["release"].get("training") or {}) if release else {})}
    return {k: merged[k] for k in TRAINING_RUNTIME_KEYS if k in merged}


def check_paths(config: Mapping, project_root: str | os.PathLike | None = None) -> None:
    """A ``ConfigError`` for a ``paths.<key>`` of a dataset the graph uses that does not
    exist and is not under ``resources/`` (where the download rule puts it): a mistyped
    path would otherwise plan a download and a full rerun without a word."""
    names = [*used_datasets(config), *(m for e in config["release"]["datasets"] for m in members(e))]
    for name in dict.fromkeys(names):
        key = path_key(name)
        configured = (config.get("paths") or {}).get(key)
        if not configured or dataset_root(config, name, project_root) != f"resources/{key}":
            continue  # not configured (resources/<key>), or found
        path = Path(configured)
        if not path.is_absolute() and path.parts[:1] == ("resources",):
            continue  # the download rule fills resources/<key>
        raise ConfigError(f"paths.{key}: {configured} does not exist (fix the path, or set it to "
                          f"resources/{key} to have the graph download the dataset)")


def used_datasets(config: Mapping) -> list[str]:
    """Every single dataset the graph builds a feature cache for, in first-use order.

    Entries may be combinations ``a+b`` (trained on / tested on the union of their
    members' splits); their members are listed.
    """
    names: list[str] = []
    groups: list[Iterable[str]] = [
        config["datasets"],
        config["evaluation"]["extra_test_datasets"],
        *config["dataset_study"]["train_combinations"],
        config["dataset_study"]["test_datasets"],
    ]
    for group in groups:
        for entry in group:
            for name in members(entry):
                if name not in names:
                    names.append(name)
    return names


def release_test_datasets(config: Mapping) -> list[str]:
    """Datasets the released model is tested on: its training datasets, then the zero-shot ones."""
    out = list(config["release"]["datasets"])
    for name in config["evaluation"]["extra_test_datasets"]:
        if name not in out:
            out.append(name)
    return out


def test_splits(config: Mapping, name: str) -> list[str]:
    """Splits of ``name`` a model is tested on (``evaluation.test_splits``, default ``[test]``)."""
    return list((config["evaluation"].get("test_splits") or {}).get(name, ["test"]))


def render_kits(config: Mapping) -> list[str]:
    """Kit ids rendered for the synthetic datasets: ``render.kits`` (``all`` = every installed, usable kit).

    A listed kit that is unknown, not installed or unusable is a ``ConfigError``.
    """
    import warnings

    from .synth import kits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(kits.resolve_kits(config["render"].get("kits", "all")))


def search_trials(config: Mapping, arch: str, n_trials: int | None = None) -> dict[str, dict[str, Any]]:
    """``{trial id: params}`` of the search over ``spaces.<arch>`` (seeded, deterministic).

    ``n_trials`` caps a random search (default ``search.n_trials``); a grid search
    runs every point of the grid.
    """
    from . import search

    s = config["search"]
    n = s["n_trials"] if n_trials is None else n_trials
    params = search.sample_trials(config["spaces"][arch], s["method"], s["n_trials"], s["seed"])
    params = params[:n]
    return {search.trial_id(i): dict(p) for i, p in enumerate(params)}


def trials(config: Mapping, dataset: str, arch: str) -> dict[str, dict[str, Any]]:
    """Trials of the search of ``arch`` on the training dataset ``dataset``.

    Datasets of the architecture study get ``search.n_trials`` trials. A dataset
    combination only trained for the dataset study gets the same search, capped at
    ``dataset_study.n_trials`` when that is set: the trial ids are the same, so a
    combination that is also a dataset of the architecture study reuses its trials.
    """
    if dataset in config["datasets"]:
        return search_trials(config, arch)
    return search_trials(config, arch, config["dataset_study"].get("n_trials"))


def schema_error_message(error: BaseException, source: str = "config") -> str:
    """One line for a Snakemake schema-validation error: ``config: <key path>: <cause>``."""
    import jsonschema

    inner, seen = error, 0
    while inner is not None and not isinstance(inner, jsonschema.ValidationError) and seen < 10:
        inner, seen = inner.__cause__ or inner.__context__, seen + 1
    if inner is not None and inner.context:  # oneOf/anyOf: the most specific sub-error
        inner = jsonschema.exceptions.best_match(inner.context) or inner
    if inner is None:
        first = str(error).strip().splitlines()
        return f"{source}: {first[0] if first else type(error).__name__}"
    where = ".".join(str(p) for p in inner.absolute_path) or "(top level)"
    message = inner.message.splitlines()[0]
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{source}: {where}: {message}"


def check_config(config: Mapping) -> None:
    """drumscribe's checks beyond the schema, run before any job.

    Unknown architectures or datasets, dataset combinations naming a dataset that
    is not configured, search spaces naming an unknown parameter or value, a
    ``dataset_study.architecture`` outside ``architectures``, a release
    configuration the architecture does not accept: each a ``ConfigError`` whose
    one-line message names the config key.
    """
    archs = known_architectures()
    names = known_datasets()
    for i, arch in enumerate(config["architectures"]):
        if arch not in archs:
            raise ConfigError(f"architectures[{i}]: unknown architecture {arch!r} (known: {', '.join(archs)})")
    for key in ("datasets", "evaluation.extra_test_datasets", "dataset_study.test_datasets", "release.datasets"):
        section, _, sub = key.partition(".")
        values = config[section][sub] if sub else config[section]
        for i, entry in enumerate(values):
            for name in members(entry):
                if name not in names:
                    raise ConfigError(f"{key}[{i}]: unknown dataset {name!r} (known: {', '.join(names)})")
            if len(set(members(entry))) != len(members(entry)):
                raise ConfigError(f"{key}[{i}]: {entry!r} names a dataset twice")
        if len(set(values)) != len(values):
            raise ConfigError(f"{key}: a dataset is listed twice")
    configured = {m for entry in [*config["datasets"], *config["evaluation"]["extra_test_datasets"]]
                  for m in members(entry)}
    for i, combination in enumerate(config["dataset_study"]["train_combinations"]):
        for name in combination:
            if name not in names:
                raise ConfigError(f"dataset_study.train_combinations[{i}]: unknown dataset {name!r} (known: {', '.join(names)})")
            if name not in configured:
                raise ConfigError(
                    f"dataset_study.train_combinations[{i}]: dataset {name!r} is not configured "
                    f"(add it to datasets or evaluation.extra_test_datasets)"
                )
        if len(set(combination)) != len(combination):
            raise ConfigError(f"dataset_study.train_combinations[{i}]: a dataset is named twice")
    for i, entry in enumerate(config["dataset_study"]["test_datasets"]):
        for name in members(entry):
            if name not in configured:
                raise ConfigError(
                    f"dataset_study.test_datasets[{i}]: dataset {name!r} is not configured "
                    f"(add it to datasets or evaluation.extra_test_datasets)"
                )
    study_arch = config["dataset_study"]["architecture"]
    if study_arch != "best" and study_arch not in config["architectures"]:
        raise ConfigError(
            f"dataset_study.architecture: {study_arch!r} is neither 'best' nor one of architectures "
            f"({', '.join(config['architectures'])})"
        )
    for arch in config["architectures"]:
        if arch not in config["spaces"]:
            raise ConfigError(f"spaces: no search space for architecture {arch!r}")
    from . import search

    search.validate_config_spaces(config)
    rel = config["release"]
    if rel["architecture"] not in archs:
        raise ConfigError(f"release.architecture: unknown architecture {rel['architecture']!r} (known: {', '.join(archs)})")
    from . import models

    try:
        models.validate_params(rel["architecture"], rel["params"])
    except ConfigError as error:
        raise ConfigError(f"release.params: {error}") from None
    for name in config["evaluation"].get("test_splits") or {}:
        if name not in names:
            raise ConfigError(f"evaluation.test_splits: unknown dataset {name!r}")
    check_song_overlap(config)
    if any(name in SYNTH_DATASETS for name in used_datasets(config)):
        render_kits(config)  # unknown kit ids fail here


#: Splits a model is trained on (train) or selected and tuned on (validation).
TRAINED_SPLITS = ("train", "validation")


def song_source(name: str) -> tuple[str, str]:
    """``(songs, split assignment)`` of a dataset: which recordings its tracks are made of
    (``DatasetSpec.songs``, default its raw data's ``path_key``) and whose split of them it
    uses (its ``path_key``: datasets read from one raw folder split each song the same way,
    e.g. ``mdb_drums`` and ``mdb_drums_drum_only``)."""
    key = path_key(name)
    return str(getattr(datasets.get(name), "songs", None) or key), key


def check_song_overlap(config: Mapping) -> None:
    """Refuse a study whose training data share songs with what it is tested on.

    For every training dataset or combination (``datasets``,
    ``dataset_study.train_combinations``, ``release.datasets``) and every test set it is
    tested on, a training member and a test member made of the same songs
    (:func:`song_source`) overlap when the test set uses another split of those songs,
    or when the splits tested (``evaluation.test_splits``) include one trained on
    (:data:`TRAINED_SPLITS`). A ``ConfigError`` names the key.
    """
    extra = list(config["evaluation"]["extra_test_datasets"])
    plans = [(f"datasets[{i}]", d, [d] + [t for t in extra if t != d]) for i, d in enumerate(config["datasets"])]
    plans += [(f"dataset_study.train_combinations[{i}]", "+".join(c), list(config["dataset_study"]["test_datasets"]))
              for i, c in enumerate(config["dataset_study"]["train_combinations"])]
    plans.append(("release.datasets", "+".join(config["release"]["datasets"]), release_test_datasets(config)))
    for where, train, tests in plans:
        for test in tests:
            for t in members(test):
                songs_t, split_t = song_source(t)
                tested = test_splits(config, t)
                for m in members(train):
                    songs_m, split_m = song_source(m)
                    if songs_m != songs_t:
                        continue
                    if split_m != split_t:
                        why = f"the songs of {songs_m!r}, split another way"
                    elif set(tested) & set(TRAINED_SPLITS):
                        why = (f"evaluation.test_splits of {t!r} ({', '.join(tested)}) includes a split "
                               f"{m!r} is trained on")
                    else:
                        continue
                    raise ConfigError(f"{where}: trained on {m!r} and tested on {t!r}, the same songs ({why})")


# --------------------------------------------------------------------------- data


ASSIGNMENT_DTYPES = {"track_id": str, "gmd_id": str, "split": str, "kit": str, "group": str, "drummer": str,
                     "midi_filename": str, "time_signature": str, "beat_type": str}


def assign_kits(gmd_root: str | os.PathLike, kits: Sequence[str], render: Mapping,
                out_csv: str | os.PathLike) -> Path:
    """Assign every GMD performance to kits of its split's pool (``synth.gmd.assign_kits``)
    and write the table once, so every render job (on any host) reads the same assignment."""
    from .atomic import atomic_path
    from .synth import gmd

    render = dict(render)
    table = gmd.assign_kits(
        gmd.read_info(gmd_root), list(kits), render.get("kit_split"),
        kits_per_track=int(render.get("kits_per_track") or 1), seed=int(render.get("seed") or 0),
        max_tracks=render.get("max_tracks"), max_seconds=render.get("max_seconds"),
        split_by=render.get("split_by", "session"),
    )
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    return Path(out_csv)


def render_kit(kit: str, assignments: str | os.PathLike, gmd_root: str | os.PathLike,
               out_dir: str | os.PathLike, mix: bool, render: Mapping) -> Path:
    """Render every GMD performance the ``assignments`` table (:func:`assign_kits`) gives
    ``kit`` into ``out_dir/<kit>/`` (+ ``manifest.csv``); ``mix`` adds the generated
    accompaniment (``gmd_synth_mix``)."""
    import pandas as pd

    from .synth import gmd

    path = Path(assignments)
    try:
        table = pd.read_csv(path, dtype=ASSIGNMENT_DTYPES, keep_default_na=False)
        table["bpm"] = table["bpm"].astype(float)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a kit assignment table ({type(exc).__name__}: {exc})") from None
    return gmd.render_kit(kit, table, gmd_root, out_dir, mix, dict(render))


def build_features(dataset: str, root: str | os.PathLike, out_h5: str | os.PathLike,
                   features: Mapping, threads: int = 1) -> Path:
    """Build the HDF5 feature cache of ``dataset`` read from ``root`` (``features.build_cache``).

    ``threads`` processes compute the spectrograms (the rule's ``threads:``).
    """
    from . import cache
    from . import features as feat

    _set_threads(threads)
    cfg = feat.FeatureConfig.from_dict(dict(features))
    tracks = datasets.get(dataset).tracks(Path(root))
    out = cache.build_cache(tracks, out_h5, cfg, name=dataset, threads=max(1, int(threads or 1)))
    cache.verify_cache(out, full=True)  # a bad write fails this job, not every consumer
    return out


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def summary_table(h5_paths: Sequence[str | os.PathLike], datapoint_frames: int = 400):
    """Per dataset and split: tracks, hours, datapoints, frames and onsets per class (a DataFrame)."""
    import math

    import h5py
    import pandas as pd

    from .datasets import SPLITS

    from .cache import verify_cache

    rows = []
    for path in h5_paths:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: feature cache not found")
        verify_cache(path)
        with h5py.File(path, "r") as h5:
            name = str(h5.attrs.get("dataset", path.stem))
            acc = {s: {"tracks": 0, "seconds": 0.0, "datapoints": 0, "frames": 0, **{c: 0 for c in CLASSES}}
                   for s in SPLITS}
            for g in h5["tracks"].values():
                a = acc[str(g.attrs["split"])]
                n = int(g["spec"].shape[0])
                a["tracks"] += 1
                a["seconds"] += float(g.attrs.get("duration", n / 100))
                a["frames"] += n
                a["datapoints"] += math.ceil(n / datapoint_frames)
                for c in CLASSES:
                    a[c] += int(g["onsets"][c].shape[0])
        for split in SPLITS:
            a = acc[split]
            rows.append({"dataset": name, "split": split, "tracks": a["tracks"],
                         "hours": round(a["seconds"] / 3600, 4), "datapoints": a["datapoints"],
                         "frames": a["frames"], **{f"onsets_{c}": a[c] for c in CLASSES}})
    return pd.DataFrame(rows)


def summarize_datasets(h5_paths: Sequence[str | os.PathLike], out_csv: str | os.PathLike,
                       out_png: str | os.PathLike, datapoint_frames: int = 400) -> None:
    """Write ``summary.csv`` (see :func:`summary_table`) and a class-balance bar plot."""
    from .atomic import atomic_path

    table = summary_table(h5_paths, datapoint_frames)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    plt, sns = _pyplot()
    long = table.melt(id_vars=["dataset", "split"], value_vars=[f"onsets_{c}" for c in CLASSES],
                      var_name="class", value_name="onsets")
    long["class"] = long["class"].str.replace("onsets_", "", regex=False)
    names = list(dict.fromkeys(table["dataset"]))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False, sharey=False)
    for i, (ax, name) in enumerate(zip(axes[0], names)):
        sns.barplot(data=long[long["dataset"] == name], x="class", y="onsets", hue="split",
                    order=list(CLASSES), ax=ax)
        ax.set_title(name)
        ax.set_xlabel("")
        # one legend, outside the axes, so it hides no bar
        if i == len(names) - 1:
            sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title="split")
        elif ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.suptitle("Onsets per class and split")
    fig.tight_layout()
    _savefig(fig, out_png)


def plot_example(h5_path: str | os.PathLike, out_png: str | os.PathLike, widen: float = 0.5,
                 seconds: float = 8.0, track_id: str | None = None) -> None:
    """Plot the first ``seconds`` of one track: spectrogram (train-split normalised) and widened targets."""
    import numpy as np

    from . import cache as feat
    from . import targets

    feat.verify_cache(h5_path)
    tracks = feat.list_tracks(h5_path)
    if not tracks:
        raise InputError(f"{h5_path}: no tracks")
    tid = track_id or tracks[0]
    spec, onsets, attrs = feat.read_track(h5_path, tid)
    fps = int(feat.cache_config(h5_path).fps)
    n = min(len(spec), int(seconds * fps))
    y = targets.frame_targets(onsets, len(spec), fps, widen)[:n]
    plt, _ = _pyplot()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1.4]})
    t = np.arange(n) / fps
    a1.imshow(spec[:n].T, origin="lower", aspect="auto", cmap="magma",
              extent=(0, n / fps, 0, spec.shape[1]))
    a1.grid(False)
    a1.set_ylabel("band")
    a1.set_title(f"{Path(h5_path).stem}: {tid} ({attrs.get('split')} split)")
    for i, c in enumerate(CLASSES):
        a2.fill_between(t, i, i + 0.9 * y[:, i], step="mid")
    a2.set_yticks(np.arange(len(CLASSES)) + 0.45, CLASSES)
    a2.set_xlabel("time (s)")
    a2.set_ylabel("targets")
    fig.tight_layout()
    _savefig(fig, out_png)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    return plt, sns


def _savefig(fig, out_png) -> None:
    from .atomic import atomic_path

    import matplotlib.pyplot as plt

    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)


# --------------------------------------------------------------------------- models on cached tracks


def _device(name: str | None = "auto"):
    import torch

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("training.device: cuda asked for, but no GPU is available")
    return torch.device(name)


def track_activations(model, spec, frames: int = 400, batch_size: int = 16, device=None):
    """Onset probabilities (frames, 5) float32 of one normalised spectrogram (frames, bins).

    The track is cut into non-overlapping windows of ``frames`` (the datapoints the
    model was trained on; the last zero-padded), run in batches, and joined.
    """
    return tracks_activations(model, [spec], frames, batch_size, device)[0]


def tracks_activations(model, specs: Sequence, frames: int = 400, batch_size: int = 64, device=None) -> list:
    """:func:`track_activations` of many tracks, their windows batched together (one
    forward pass per ``batch_size`` windows, whatever the tracks' lengths)."""
    import numpy as np
    import torch

    device = device or next(model.parameters()).device
    windows, counts = [], []
    for spec in specs:
        n, bins = spec.shape
        n_win = max(1, -(-n // frames))
        padded = np.zeros((n_win * frames, bins), np.float32)
        padded[:n] = spec
        windows.append(padded.reshape(n_win, frames, bins))
        counts.append(n_win)
    if not windows:
        return []
    windows = np.concatenate(windows)
    out = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(windows), batch_size):
            x = torch.from_numpy(windows[i:i + batch_size]).to(device)
            out.append(torch.sigmoid(model(x).float()).cpu().numpy())
    acts = np.concatenate(out)
    result, start = [], 0
    for spec, n_win in zip(specs, counts):
        result.append(acts[start:start + n_win].reshape(n_win * frames, -1)[:len(spec)])
        start += n_win
    return result


def split_activations(model, h5_paths: Sequence[str | os.PathLike], split: str, mean, std,
                      frames: int = 400, device=None):
    """``[(track_id, activations, reference onsets)]`` of every ``split`` track of the caches."""
    from . import targets

    tracks = [(tid, spec, onsets) for path in h5_paths
              for spec, onsets, tid in targets.track_arrays(path, split, mean, std)]
    acts = tracks_activations(model, [spec for _, spec, _ in tracks], frames, device=device)
    return [(tid, act, onsets) for (tid, _, onsets), act in zip(tracks, acts)]


def score_activations(items, thresholds, peak_params: Mapping, fps: int, window: float,
                      method: str = "mir_eval") -> tuple[dict, list[dict]]:
    """Peak-pick ``[(track_id, activations, reference)]`` and score them with global counts
    (``evaluation.evaluate_activations``): ``(scores, per_track)``."""
    from . import evaluation

    return evaluation.evaluate_activations(
        [a for _, a, _ in items], [r for _, _, r in items], thresholds, peak_params, fps, window,
        track_ids=[t for t, _, _ in items], method=method)


def peak_params_of(peaks_cfg: Mapping) -> dict[str, int]:
    """The librosa ``peak_pick`` window parameters of the ``peaks`` config section."""
    return {k: int(peaks_cfg[k]) for k in ("pre_max", "post_max", "pre_avg", "post_avg", "wait")}


def _feature_config_of(h5_paths: Sequence[str | os.PathLike]):
    """The one feature config shared by ``h5_paths`` (``InputError`` when they differ)."""
    from . import cache as feat

    cfgs = [(Path(p), feat.cache_config(p)) for p in h5_paths]
    first_path, first = cfgs[0]
    for path, cfg in cfgs[1:]:
        if cfg.hash() != first.hash():
            raise InputError(f"{path}: feature config {cfg.hash()} differs from {first_path}'s {first.hash()}")
    return first


# --------------------------------------------------------------------------- training


def _dataset_names(h5_paths: Sequence[str | os.PathLike]) -> list[str]:
    return [_h5_dataset_name(p) for p in h5_paths]


def run_trial(arch: str, params: Mapping[str, Any], train_h5s: Sequence[str | os.PathLike],
              out_model: str | os.PathLike, out_history: str | os.PathLike, out_metrics: str | os.PathLike,
              training: Mapping, targets: Mapping, peaks: Mapping, evaluation: Mapping,
              threads: int | None = None, progress: bool = True, seed: int = 0,
              trial: str | None = None) -> dict:
    """Train one trial on the caches ``train_h5s`` and tune its thresholds on validation.

    1. Normalisation statistics, class weights and datapoints come from the **train**
       split(s) of ``train_h5s`` only (``features.norm_stats``, ``targets.class_weights``,
       ``targets.DatapointDataset``); validation datapoints use the same statistics.
    2. ``training.train_trial`` fits the model in ``out_model``'s folder (history,
       resumable ``checkpoint.pt``); after each epoch ``evaluate_fn`` peak-picks the
       whole validation tracks with per-class thresholds tuned on them, and the epoch
       with the best validation micro F1 is kept.
    3. Per-class thresholds are tuned on the **validation** split only
       (``peaks.tune_thresholds`` over ``peaks.threshold_grid``); the kept epoch's
       go into ``model.pt`` with the normalisation, feature config and peak parameters.
    4. ``out_metrics`` gets the validation scores with the tuned thresholds, the
       thresholds, parameters, epochs and seconds (what ``select_best`` ranks).

    ``seed`` > 0 makes this a seed run (:func:`run_seed`): trained with
    ``training.seed + seed``; ``seed`` and ``trial`` (default: the folder's name) are
    recorded in ``model.pt`` and ``out_metrics``.
    """
    import time

    import numpy as np

    from . import training as train_mod
    from . import peaks as peaks_mod
    from . import targets as targets_mod
    from . import cache as feat
    from .atomic import write_json

    t_start = time.perf_counter()
    out_dir = Path(out_model).parent
    seed = int(seed)
    if seed:
        training = {**training, "seed": int(training.get("seed") or 0) + seed}
    if Path(out_history).parent != out_dir or Path(out_metrics).parent != out_dir:
        raise ConfigError(f"{out_dir}: model, history and metrics must share one trial folder")
    _set_threads(threads)
    train_h5s = [Path(p) for p in train_h5s]
    for p in train_h5s:
        feat.verify_cache(p)  # a corrupt cache: one line, set aside for the rerun to rebuild
    cfg = _feature_config_of(train_h5s)
    fps = int(cfg.fps)
    frames, widen = int(targets["datapoint_frames"]), float(targets["widen"])
    peak_params = peak_params_of(peaks)
    window = float(evaluation["window"])
    mean, std = feat.norm_stats(train_h5s)
    train_data = targets_mod.DatapointDataset(train_h5s, "train", frames, widen, mean, std, fps)
    val_data = targets_mod.DatapointDataset(train_h5s, "validation", frames, widen, mean, std, fps)
    pos_weight = targets_mod.class_weights(train_h5s, "train", widen, fps)
    val_tracks = [(tid, spec, onsets) for p in train_h5s
                  for spec, onsets, tid in targets_mod.track_arrays(p, "validation", mean, std)]
    if not val_tracks:
        raise InputError(f"{', '.join(map(str, train_h5s))}: no validation tracks")
    default_threshold = float(peaks.get("default_threshold", 0.5))

    def evaluate_fn(model) -> dict:
        # Each epoch is scored with per-class thresholds tuned on the validation split:
        # with one fixed threshold an early, under-confident model scores 0 and model
        # selection would be blind. The kept epoch's thresholds go into model.pt
        # (train_trial) and its scores into metrics.json, so the kept weights need no
        # second pass. ("fast" matching gives mir_eval's counts: tests/test_metrics.py.)
        acts = tracks_activations(model, [spec for _, spec, _ in val_tracks], frames)
        items = [(tid, act, ref) for (tid, _, ref), act in zip(val_tracks, acts)]
        thresholds = peaks_mod.tune_thresholds([a for _, a, _ in items], [r for _, _, r in items], peak_params,
                                               fps, window, peaks["threshold_grid"])
        scores, _ = score_activations(items, thresholds, peak_params, fps, window, method="fast")
        fixed, _ = score_activations(items, default_threshold, peak_params, fps, window, method="fast")
        return {"micro_f1": scores["micro_f1"] or 0.0, "macro_f1": scores["macro_f1"],
                "micro_f1_default_threshold": fixed["micro_f1"] or 0.0,
                "thresholds": thresholds, "scores": scores}

    datasets_ = _dataset_names(train_h5s)
    meta = {
        "feature_config": cfg.to_dict(), "norm_mean": mean, "norm_std": std, "peak_params": peak_params,
        "datasets": datasets_, "trial": trial or out_dir.name, "seed": seed, "datapoint_frames": frames,
        "widen": widen,
    }
    t_train = time.perf_counter()
    summary = train_mod.train_trial(arch, dict(params), train_data, val_data, out_dir, training,
                                    progress=progress, pos_weight=pos_weight, evaluate_fn=evaluate_fn,
                                    meta=meta, threads=threads)
    train_data.close()
    val_data.close()

    # the kept epoch's validation scores and thresholds (tuned on the validation split only)
    best = summary["val_metrics"]
    scores, thresholds = best["scores"], best["thresholds"]
    result = {
        "trial": trial or out_dir.name, "seed": seed, "dataset": "+".join(datasets_), "arch": arch,
        "params": summary["params"],
        **{k: v for k, v in scores.items()},
        "thresholds": thresholds,
        "val_micro_f1_default_threshold": best["micro_f1_default_threshold"],
        "default_threshold": default_threshold,
        "epochs": summary["epochs"], "best_epoch": summary["best_epoch"],
        "best_val_loss": summary["best_val_loss"], "stopped_early": summary["stopped_early"],
        "seconds": summary["seconds"], "datapoints_per_s": summary["datapoints_per_s"],
        "device": summary["device"], "n_train_datapoints": len(train_data),
        "n_val_tracks": len(val_tracks), "class_weights": [float(w) for w in np.asarray(pos_weight)],
        # where the trial's time went (s): data loading before training, training with its
        # per-epoch validation (threshold tuning and scoring included)
        "setup_seconds": round(t_train - t_start, 3), "train_seconds": round(time.perf_counter() - t_train, 3),
    }
    if result["micro_f1"] is None:  # no onset and no prediction at all in validation
        result["micro_f1"] = 0.0
    write_json(out_metrics, result)
    return result


def run_seed(best_json: str | os.PathLike, seed: int, train_h5s: Sequence[str | os.PathLike],
             out_model: str | os.PathLike, out_history: str | os.PathLike, out_metrics: str | os.PathLike,
             training: Mapping, targets: Mapping, peaks: Mapping, evaluation: Mapping,
             threads: int | None = None, progress: bool = True) -> dict:
    """Retrain the winner of a search (its ``best.json``) with another seed (rule train_seed).

    The same architecture, hyperparameters and data as the winning trial, trained with
    ``training.seed + seed`` (seed 0 is the trial itself, so ``seed`` >= 1); see
    :func:`run_trial`. The tables pool the seed runs (``evaluation.seeds``).
    """
    path = Path(best_json)
    try:
        best = json.loads(path.read_text())
        arch, params, trial = best["metrics"]["arch"], best["metrics"]["params"], best["trial"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a search result ({type(exc).__name__}: {exc})") from None
    if int(seed) < 1:
        raise ConfigError(f"seed: {seed} is not a seed run (seed 0 is the search trial itself)")
    return run_trial(arch, params, train_h5s, out_model, out_history, out_metrics, training, targets, peaks,
                     evaluation, threads=threads, progress=progress, seed=int(seed), trial=str(trial))


# --------------------------------------------------------------------------- evaluation


def best_model(best_json: str | os.PathLike) -> Path:
    """The ``model.pt`` of the trial a ``best.json`` (rule select_best) names."""
    path = Path(best_json)
    try:
        best = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable ({exc})") from None
    model = Path(best["trial_dir"]) / "model.pt"
    if not model.is_file():
        raise InputError(f"{path}: the best trial's model {model} does not exist")
    return model


def _h5_dataset_name(h5_path) -> str:
    from .cache import dataset_name, verify_cache

    verify_cache(h5_path)  # a corrupt cache: one line, set aside for the rerun to rebuild
    return dataset_name(h5_path)


def evaluate_model(model: str | os.PathLike, h5_paths: str | os.PathLike | Sequence[str | os.PathLike],
                   splits: Sequence[str] | Mapping[str, Sequence[str]],
                   out_metrics: str | os.PathLike, out_predictions: str | os.PathLike,
                   window: float = 0.05, test_dataset: str | None = None, threads: int | None = None,
                   device: str | None = "auto") -> dict:
    """Test a checkpoint on the test split(s) of one or more feature caches with its validation-tuned thresholds.

    ``model`` is a ``model.pt`` or the ``best.json`` of a search. ``h5_paths`` is one
    cache or several (a combination ``a+b`` is tested on the pooled tracks of its
    members); ``splits`` is a list of splits for every cache, or ``{dataset: splits}``.
    Writes the scores (micro, macro and per-class F1 from counts summed over every
    track) with what was tested to ``out_metrics``, and one JSON of onsets per track
    into the ``out_predictions`` folder (both atomically). Each cache must have the
    checkpoint's feature config.
    """
    from . import cache, evaluation, models, peaks
    from . import features as feat
    from .atomic import atomic_dir, write_json

    _set_threads(threads)
    if isinstance(h5_paths, (str, os.PathLike)):
        h5_paths = [h5_paths]
    h5_paths = [Path(p) for p in h5_paths]
    names = _dataset_names(h5_paths)
    test_dataset = test_dataset or "+".join(names)
    model = Path(model)
    if model.suffix == ".json":
        model = best_model(model)
    net, meta = models.load_checkpoint(model, map_location="cpu")
    cfg = feat.FeatureConfig.from_dict(meta["feature_config"])
    dev = _device(device)
    net.to(dev)
    mean, std = meta["norm_mean"], meta["norm_std"]
    thresholds, peak_params = models.checkpoint_thresholds(model, meta), meta["peak_params"]
    frames = int(meta.get("datapoint_frames") or 400)
    items = []
    used_splits = {}
    for path, name in zip(h5_paths, names):
        cache.check_cache(path, cfg)
        wanted = list(splits.get(name, ["test"]) if isinstance(splits, Mapping) else splits)
        used_splits[name] = wanted
        for split in wanted:
            items += split_activations(net, [path], split, mean, std, frames, dev)
    if not items:
        raise InputError(f"{', '.join(map(str, h5_paths))}: no tracks in the split(s) tested ({used_splits})")
    train_datasets = list(meta.get("datasets") or [])
    result = {
        "test_dataset": test_dataset,
        "splits": sorted({s for v in used_splits.values() for s in v}, key=["train", "validation", "test"].index),
        "splits_per_dataset": used_splits,
        "train_dataset": "+".join(train_datasets),
        "arch": meta["arch"],
        "trial": meta.get("trial"),
        "seed": int(meta.get("seed") or 0),
        "params": meta["params"],
        "zero_shot": not set(members(test_dataset)) <= set(train_datasets),
        "n_tracks": len(items),
        "window": window,
        "thresholds": thresholds,
        "model": str(model),
    }
    scores, per_track = score_activations(items, thresholds, peak_params, cfg.fps, window)
    result.update(scores)
    result["per_track"] = per_track
    with atomic_dir(out_predictions) as tmp:
        for tid, act, _ in items:
            onsets, conf = peaks.pick_onsets_with_confidence(act, thresholds, peak_params, cfg.fps)
            evaluation.predictions_to_json(Path(tmp) / f"{tid.replace('/', '__')}.json", onsets, conf, track_id=tid)
    write_json(out_metrics, result)
    return result


# --------------------------------------------------------------------------- searches


def select_best(metric_paths: Sequence[str | os.PathLike], out_json: str | os.PathLike) -> dict:
    """Write the best trial of a search by validation micro F1 (``search.select_best``) to ``out_json``."""
    from . import search
    from .atomic import write_json

    best = search.select_best(metric_paths)
    best["params"] = best.get("metrics", {}).get("params")
    best["n_trials"] = len(list(metric_paths))
    write_json(out_json, best)
    return best


def plot_curves(best_json: str | os.PathLike, out_png: str | os.PathLike, title: str = "") -> None:
    """Plot the best trial's history: losses per epoch and validation micro F1."""
    import pandas as pd

    best = json.loads(Path(best_json).read_text())
    history_path = Path(best["trial_dir"]) / "history.csv"
    if not history_path.is_file():
        raise InputError(f"{best_json}: the best trial has no history ({history_path})")
    history = pd.read_csv(history_path)
    x = history["epoch"] if "epoch" in history else range(1, len(history) + 1)
    plt, _ = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for col in [c for c in history.columns if "loss" in c]:
        a1.plot(x, history[col], marker="o", ms=3, label=col)
    a1.set_xlabel("epoch")
    a1.set_ylabel("loss")
    a1.legend()
    for col in [c for c in history.columns if "f1" in c]:
        a2.plot(x, history[col], marker="o", ms=3, label=col)
    a2.set_xlabel("epoch")
    a2.set_ylabel("validation F1")
    a2.set_ylim(0, 1)
    from matplotlib.ticker import MaxNLocator

    for ax in (a1, a2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if a2.lines:
        a2.legend()
    fig.suptitle(f"{title} (trial {best['trial']}, val micro F1 {best['micro_f1']:.3f})")
    fig.tight_layout()
    _savefig(fig, out_png)


# --------------------------------------------------------------------------- studies


def architecture_study(metric_paths: Sequence[str | os.PathLike], out_csv, out_long, out_png,
                       datasets: Sequence[str] = (), zero_shot: Sequence[str] = (), out_tracks=None,
                       bootstrap_samples: int = 1000, note: str | None = None) -> None:
    """Architecture study table, long and tracks tables and bar plot (``studies.architecture_table``);
    ``metric_paths`` hold every seed run's evaluations (pooled per cell)."""
    from . import studies

    _check_resamples(bootstrap_samples)
    studies.architecture_table(list(metric_paths), out_csv, out_long, out_png, datasets=list(datasets) or None,
                               out_tracks_csv=out_tracks, n_resamples=int(bootstrap_samples), note=note)


def dataset_study(metric_paths: Sequence[str | os.PathLike], out_csv, out_long, out_png,
                  combinations: Sequence[str] = (), test_datasets: Sequence[str] = (), out_tracks=None,
                  bootstrap_samples: int = 1000, note: str | None = None) -> None:
    """Dataset study matrix, long and tracks tables and heatmap (``studies.dataset_table``)."""
    from . import studies

    _check_resamples(bootstrap_samples)
    studies.dataset_table(list(metric_paths), out_csv, out_long, out_png,
                          combinations=list(combinations) or None, test_datasets=list(test_datasets) or None,
                          out_tracks_csv=out_tracks, n_resamples=int(bootstrap_samples), note=note)


def _check_resamples(n) -> None:
    from .stats import MIN_RESAMPLES

    if isinstance(n, bool) or not isinstance(n, int) or n < MIN_RESAMPLES:
        raise ConfigError(f"evaluation.bootstrap_samples: {n!r} is less than {MIN_RESAMPLES}")


def study_note(config: Mapping) -> str:
    """The line under the studies' plot titles: the run's scale, and "smoke run" for a
    run too short to mean anything (``training.max_epochs`` below 5, as the quick preset)."""
    s, t = config["search"], config["training"]
    n = "grid" if s["method"] == "grid" else f"{s['n_trials']} trial{'s' if s['n_trials'] != 1 else ''}"
    scale = f"{n} per search, at most {t['max_epochs']} epoch{'s' if t['max_epochs'] != 1 else ''}"
    if t.get("max_train_datapoints"):
        scale += f" of {t['max_train_datapoints']} datapoints"
    if int(t["max_epochs"]) < 5:
        return f"SMOKE RUN ({scale}): not a result"
    return scale


def best_architecture(long_csv: str | os.PathLike, datasets: Sequence[str] | None = None) -> str:
    """The architecture study's winner: best mean in-distribution test micro F1
    (``studies.best_architecture`` of ``architecture_long.csv``)."""
    from . import studies

    return studies.best_architecture(long_csv, datasets)


# --------------------------------------------------------------------------- release


def _git_commit() -> str:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=10, cwd=Path(__file__).resolve().parent)
        if out.returncode == 0:
            return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def card_header(meta: Mapping, title: str) -> list[str]:
    """The first lines of a model card: title, task and the architecture line."""
    return [
        title,
        "",
        f"Automatic drum transcription, 5 classes ({', '.join(CLASSES)}: bass drum, snare, toms, hi-hat, "
        "cymbals + ride), onsets written as General MIDI notes 35/38/47/42/49.",
        "",
        "## Model",
        f"- architecture: `{meta['arch']}`, parameters: `{json.dumps(meta['params'], sort_keys=True)}`",
    ]


def model_card(meta: Mapping, train_metrics: Mapping, test_metrics: Mapping[str, Mapping],
               config: Mapping, command: str, commit: str, date: str) -> str:
    """The Markdown model card of a released model."""
    rel = config["release"]
    lines = [
        *card_header(meta, "# drumscribe default model"),
        f"- input: {meta.get('n_bins')} bins of `{json.dumps(meta.get('feature_config'), sort_keys=True)}`",
        f"- trained on the train splits of: {', '.join(rel['datasets'])}; validated on their validation splits",
        f"- epochs: {train_metrics.get('epochs')}, best epoch: {train_metrics.get('best_epoch')}, "
        f"training time: {train_metrics.get('seconds', 0):.0f} s",
        f"- training: `{json.dumps({**config['training'], **(rel.get('training') or {})}, sort_keys=True)}`",
        f"- peak picking: `{json.dumps(meta.get('peak_params'), sort_keys=True)}`",
        "- per-class thresholds (tuned on validation only): "
        + ", ".join(f"{c} {float(meta['thresholds'][c]):.2f}" for c in CLASSES),
        f"- validation micro F1 (tuned thresholds): {_fmt(train_metrics.get('micro_f1'))}",
        "",
        f"## Test results (onset F1, {config['evaluation']['window'] * 1000:.0f} ms tolerance)",
        "",
        "| test set | splits | zero-shot | tracks | micro F1 | macro F1 | " + " | ".join(CLASSES) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(CLASSES),
    ]
    for name, m in test_metrics.items():
        lines.append(
            f"| {name} | {'/'.join(m.get('splits', []))} | {'yes' if m.get('zero_shot') else 'no'} | "
            f"{m.get('n_tracks')} | {_fmt(m.get('micro_f1'))} | {_fmt(m.get('macro_f1'))} | "
            + " | ".join(_fmt(m.get(f"f1_{c}")) for c in CLASSES) + " |")
    if test_metrics.get("mdb_drums", {}).get("n_tracks") == 9:
        lines += ["", "`mdb_drums` here is the 9 MDB Drums dev tracks (audio/remix: multitracks summed, "
                      "an approximation of the full mix), never trained on; `mdb_drums_drum_only` their "
                      "drum stems."]
    lines += [
        "",
        "## Provenance",
        f"- command: `{command}`",
        f"- commit: `{commit}`",
        f"- date: {date}",
        f"- drumscribe {meta.get('drumscribe_version')}",
        "",
        "## Data licenses",
        "The Groove MIDI Dataset is CC BY 4.0 (Magenta); the rendering kits' licenses are listed by "
        "`drumscribe kits`; MDB Drums is CC BY-NC-SA 4.0 (evaluation only).",
        "",
    ]
    return "\n".join(lines)


def release_model(model: str | os.PathLike, train_metrics: str | os.PathLike,
                  test_metrics: Mapping[str, str | os.PathLike], out_model: str | os.PathLike,
                  out_card: str | os.PathLike, config: Mapping, command: str | None = None) -> None:
    """Copy the trained release model to ``out_model`` and write its ``MODEL_CARD.md``."""
    import datetime
    import shutil

    from . import models
    from .atomic import atomic_path, write_text

    _, meta = models.load_checkpoint(model)
    train = json.loads(Path(train_metrics).read_text())
    tests = {name: json.loads(Path(p).read_text()) for name, p in test_metrics.items()}
    command = command or "snakemake --cores all release"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    card = model_card(meta, train, tests, config, command, _git_commit(), date)
    with atomic_path(out_model) as tmp:
        shutil.copyfile(model, tmp)
    write_text(out_card, card)
