"""The config's meaning beyond its schema: which datasets, kits and trials a run has,
and drumscribe's checks of them (one-line ``ConfigError`` naming the key).

The workflow (``workflow/rules/common.smk``) validates the config against the schema,
then asks this module: :func:`check_config`, :func:`check_paths`,
:func:`check_song_overlap`; :func:`used_datasets`, :func:`render_kits`,
:func:`trials`, :func:`test_splits`, ... The paths of the graph (``resources/<key>``,
``results/...``) are the workflow's: functions here take them as arguments.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import datasets
from .errors import ConfigError

#: Datasets rendered from the Groove MIDI Dataset by the render rules (no raw folder of their own).
SYNTH_DATASETS: tuple[str, ...] = ("gmd_synth", "gmd_synth_mix")
#: Config key of the raw data the synthetic datasets are rendered from.
GMD_KEY = "gmd"
#: Training data of the dataset study mixed on the fly (``drumscribe.study_kinds``), not
#: cached: named in ``dataset_study.train_combinations`` beside the datasets, never tested on.
STUDY_KINDS: tuple[str, ...] = ("gmd_synth_pool", "mdb_remix")


def overlay(base: Mapping, over: Mapping) -> dict:
    """``base`` updated by ``over`` as snakemake's ``--configfile`` overlays it: nested
    mappings merge key by key, any other value (a list too) replaces the base's.

    >>> overlay({"a": {"x": 1, "y": [1]}, "b": 2}, {"a": {"y": [3]}, "c": 4})
    {'a': {'x': 1, 'y': [3]}, 'b': 2, 'c': 4}
    """
    out = dict(base)
    for k, v in over.items():
        out[k] = overlay(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def load_config(files: Iterable[str | os.PathLike], base: str | os.PathLike | None = None) -> dict:
    """The config a run of ``snakemake --configfile FILES...`` sees: ``base`` (e.g.
    ``config/config.yaml``; none: an empty config) with each file overlaid in order
    (:func:`overlay`). For scripts outside the graph (``benchmarks/``); the graph's own
    config is snakemake's. A file that is not a YAML mapping: ``ConfigError`` naming it."""
    import yaml

    config: dict = {}
    for f in ([base] if base is not None else []) + list(files):
        try:
            data = yaml.safe_load(Path(f).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{f}: not a readable YAML file ({type(exc).__name__})") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{f}: not a YAML mapping of config keys")
        config = overlay(config, data)
    return config


def arch_params(arch: str, params: Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    """The hyperparameters of ``arch`` in the config mapping ``params`` (e.g. ``crossval.params``).

    A preset that switches ``crossval.architecture`` overlays its ``params`` on the base
    config's, key by key (as snakemake merges ``--configfile`` mappings), so the base
    architecture's own keys (a CRNN's ``cell``, ``num_layers``) stay beside the new ones: keys
    of another architecture's space are left out here, a key of no architecture's space is a
    ``ConfigError`` naming ``key``, and the values are checked (``models.validate_params``).
    Such a preset names every key of its architecture that it means to set.

    >>> arch_params("cnn", {"cell": "gru", "num_layers": 2, "hidden_size": 144, "num_blocks": 3}, "crossval.params")
    {'hidden_size': 144, 'num_blocks': 3}
    """
    from . import models

    params = dict(params or {})
    own = models.param_specs(arch)
    anywhere = {name for a in models.REGISTRY for name in models.param_specs(a)}
    stray = sorted(set(params) - anywhere)
    if stray:
        raise ConfigError(f"{key}: {stray[0]!r} is no parameter of any architecture "
                          f"({arch}'s: {', '.join(sorted(own))})")
    try:
        return models.validate_params(arch, {k: v for k, v in params.items() if k in own})
    except ConfigError as error:
        raise ConfigError(f"{key}: {error}") from None


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


def configured_root(config: Mapping, name: str, project_root: str | os.PathLike | None = None) -> str | None:
    """The folder ``paths.<key>`` of ``name``'s raw data when it exists (used as is, no
    network), looked up in the working directory and then, if relative, in
    ``project_root`` (the folder of the Snakefile, so ``--directory`` runs find
    ``../shared`` too); None when it is not configured or not found (the workflow then
    downloads the data: ``dataset_root`` in common.smk)."""
    configured = (config.get("paths") or {}).get(path_key(name))
    if configured:
        path = Path(configured)
        if path.exists():
            return str(path)
        if project_root is not None and not path.is_absolute() and (Path(project_root) / path).exists():
            return str((Path(project_root) / path).resolve())
    return None


#: ``training`` keys that change how a trial runs, not what it learns: kept out of the
#: rules' params (common.smk ``result_training``) so that changing them replans no trial.
TRAINING_RUNTIME_KEYS: tuple[str, ...] = ("device", "num_workers", "preload", "preload_max_gb")


def runtime_training(config: Mapping, release: bool = False) -> dict[str, Any]:
    """The :data:`TRAINING_RUNTIME_KEYS` of ``config["training"]`` (overlaid by
    ``release.training`` for the released model), for the training script."""
    merged = {**config["training"], **((config["release"].get("training") or {}) if release else {})}
    return {k: merged[k] for k in TRAINING_RUNTIME_KEYS if k in merged}


def check_paths(config: Mapping, project_root: str | os.PathLike | None = None, *, download_dir: str) -> None:
    """A ``ConfigError`` for a ``paths.<key>`` of a dataset the graph uses that does not
    exist and is not under ``download_dir`` (the workflow's folder the download rule fills,
    ``resources``): a mistyped path would otherwise plan a download and a full rerun
    without a word."""
    names = [*used_datasets(config), *(m for e in config["release"]["datasets"] for m in members(e))]
    for name in dict.fromkeys(names):
        key = path_key(name)
        configured = (config.get("paths") or {}).get(key)
        if not configured or configured_root(config, name, project_root) is not None:
            continue  # not configured (downloaded), or found
        path = Path(configured)
        if not path.is_absolute() and path.parts[:1] == (download_dir,):
            continue  # the download rule fills it
        raise ConfigError(f"paths.{key}: {configured} does not exist (fix the path, or set it to "
                          f"{download_dir}/{key} to have the graph download the dataset)")


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
                if name not in names and name not in STUDY_KINDS:  # kinds are mixed on the fly, not cached
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
            if name in STUDY_KINDS:
                continue  # checked by study_kinds.check_config (it needs the folds)
            if name not in names:
                raise ConfigError(f"dataset_study.train_combinations[{i}]: unknown dataset {name!r} "
                                  f"(known: {', '.join(names)}, and the mixed kinds {', '.join(STUDY_KINDS)})")
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
    if config.get("crossval"):
        cv = config["crossval"]
        if cv["architecture"] not in archs:
            raise ConfigError(f"crossval.architecture: unknown architecture {cv['architecture']!r} "
                              f"(known: {', '.join(archs)})")
        arch_params(cv["architecture"], cv.get("params"), "crossval.params")
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
                    if m in STUDY_KINDS:
                        continue  # their real songs are checked by study_kinds.check_config
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


def peak_params_of(peaks_cfg: Mapping) -> dict[str, int]:
    """The librosa ``peak_pick`` window parameters of the ``peaks`` config section
    (:func:`drumscribe.peaks.validate_params`: its keys, checked)."""
    from .peaks import validate_params

    return validate_params(peaks_cfg)


def study_note(config: Mapping, arch: str | None = None) -> str:
    """The line under the studies' plot titles: the run's scale (trials, epochs, epoch size,
    time budget of a run), and "smoke run" for a run too short to mean anything
    (``training.max_epochs`` below 5, as the quick preset).

    With ``arch`` (the dataset study's named architecture), a search space of one point
    reads "one configuration" instead of the trial count it would not run, and a time cap of
    the mixed kinds' models (``dataset_study.kinds.training.max_seconds``) other than the
    cached data's is named.

    >>> study_note({"search": {"method": "random", "n_trials": 8},
    ...             "training": {"max_epochs": 100, "max_train_datapoints": 2048, "max_seconds": 120}})
    '8 trials per search, at most 100 epochs of 2048 datapoints or 120 s'
    >>> study_note({"search": {"method": "random", "n_trials": 8, "seed": 0}, "spaces": {"crnn": {"cell": ["gru"]}},
    ...             "training": {"max_epochs": 100, "max_train_datapoints": 2048, "max_seconds": 120},
    ...             "dataset_study": {"kinds": {"training": {"max_seconds": 600}}}}, arch="crnn")
    'one configuration, at most 100 epochs of 2048 datapoints or 120 s (mixed kinds 600 s)'
    """
    s, t = config["search"], config["training"]
    n = "grid" if s["method"] == "grid" else f"{s['n_trials']} trial{'s' if s['n_trials'] != 1 else ''}"
    n += " per search"
    if arch is not None and arch in config.get("spaces", {}) and len(search_trials(config, arch)) == 1:
        n = "one configuration"
    scale = f"{n}, at most {t['max_epochs']} epoch{'s' if t['max_epochs'] != 1 else ''}"
    if t.get("max_train_datapoints"):
        scale += f" of {t['max_train_datapoints']} datapoints"
    if t.get("max_seconds"):
        scale += f" or {t['max_seconds']:g} s"
    kinds_cap = (((config.get("dataset_study") or {}).get("kinds") or {}).get("training") or {}).get("max_seconds")
    if arch is not None and kinds_cap and kinds_cap != t.get("max_seconds"):
        scale += f" (mixed kinds {kinds_cap:g} s)"
    if int(t["max_epochs"]) < 5:
        return f"SMOKE RUN ({scale}): not a result"
    return scale
