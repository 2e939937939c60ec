"""Hyperparameter search: trial lists from a config space, and the best-trial pick.

A *space* is the config's ``spaces.<arch>`` mapping: hyperparameter name → list
of values. :func:`sample_trials` turns it into an ordered list of trials with
scikit-learn's ``ParameterGrid`` (every combination) or a seeded random draw of
``n_trials`` combinations without replacement (scikit-learn's
``sample_without_replacement``, which ``ParameterSampler`` uses), so the same
config always yields the same trials ``t000, t001, ...``. Each trial runs to its
end as its own Snakemake job (FIFO); :func:`select_best` picks the trial with
the best validation micro F1 once all have finished.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable

from sklearn.model_selection import ParameterGrid
from sklearn.utils.random import sample_without_replacement

from drumscribe import models
from drumscribe.atomic import write_json
from drumscribe.errors import ConfigError, InputError

METHODS = ("grid", "random")
#: Spaces with more combinations than this have their values checked one by one only.
MAX_JOINT_CHECK = 200_000


def _plain(value: Any) -> Any:
    """numpy scalars → Python scalars (trials go to JSON and Snakemake params)."""
    return value.item() if hasattr(value, "item") else value


def _check_space_shape(arch: str, space: Any) -> dict[str, list]:
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"spaces.{arch}: must be a non-empty mapping of hyperparameter -> list of values")
    out = {}
    for name, values in space.items():
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ConfigError(f"spaces.{arch}.{name}: must be a non-empty list of values, got {values!r}")
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) != len(values):
            raise ConfigError(f"spaces.{arch}.{name}: repeated values in {list(values)!r}")
        out[str(name)] = list(values)
    return out


def validate_space(arch: str, space: dict[str, list]) -> None:
    """Raise ``ConfigError`` unless every trial of ``space`` builds for ``arch``.

    Checks the architecture name, every parameter name against the model's
    signature, every value against its allowed values (type, range, choices),
    and joint constraints (e.g. ``num_heads`` divides ``d_model``) on every
    combination (up to ``MAX_JOINT_CHECK`` combinations).
    """
    space = _check_space_shape(arch, space)
    models.param_specs(arch)  # ConfigError for an unknown arch
    for name, values in space.items():
        for value in values:
            models.validate_params(arch, {name: value})
    grid = ParameterGrid(space)
    if len(grid) <= MAX_JOINT_CHECK and len(space) > 1:
        for params in grid:
            models.validate_params(arch, params)


def sample_trials(space: dict[str, list], method: str, n_trials: int | None, seed: int) -> list[dict[str, Any]]:
    """The trials of a search, in order (trial ``i`` is ``trial_id(i)``).

    ``method="grid"``: every combination (``ParameterGrid`` order; ``n_trials``,
    if given, keeps the first ``n_trials``). ``method="random"``: ``n_trials``
    combinations drawn without replacement: the first ``n_trials`` of one
    seeded permutation of the ``ParameterGrid`` (scikit-learn's
    ``sample_without_replacement``, pool method), so a search's trials are a
    prefix of a bigger search's with the same seed (raising ``n_trials`` keeps finished trials);
    a space with fewer combinations than ``n_trials`` yields all of them (in
    sampled order). Deterministic for a given ``(space, method, n_trials, seed)``.
    """
    space = _check_space_shape("space", space)
    if method not in METHODS:
        raise ConfigError(f"search.method: {method!r} is not one of {', '.join(METHODS)}")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise ConfigError(f"search.n_trials: {n_trials!r} is not a positive integer")
    if method == "grid":
        trials = list(ParameterGrid(space))
        if n_trials is not None:
            trials = trials[:n_trials]
    else:
        if n_trials is None:
            raise ConfigError("search.n_trials: random search needs a number of trials")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"search.seed: {seed!r} is not an integer")
        # One seeded permutation of the whole grid, cut to n_trials: the first trials
        # of a bigger budget are those of a smaller one, so raising n_trials keeps
        # the finished trials (t000, t001, ... keep their parameters).
        # (ParameterSampler draws with sklearn's sample_without_replacement too, but its
        # automatic method changes with n_trials / grid size, so its draws are not prefixes.)
        grid = ParameterGrid(space)
        order = sample_without_replacement(len(grid), len(grid), method="pool", random_state=seed)
        trials = [grid[int(i)] for i in order[:n_trials]]
    return [{k: _plain(v) for k, v in sorted(t.items())} for t in trials]


def trial_id(i: int) -> str:
    """Name of trial ``i``: ``t000``, ``t001``, ... (the ``{trial}`` wildcard)."""
    if isinstance(i, bool) or not isinstance(i, int) or i < 0:
        raise ConfigError(f"trial index {i!r} is not a non-negative integer")
    return f"t{i:03d}"


def trial_index(trial: str) -> int:
    """Inverse of :func:`trial_id`: ``"t007"`` → 7."""
    if not (isinstance(trial, str) and len(trial) >= 4 and trial[0] == "t" and trial[1:].isdigit()):
        raise ConfigError(f"trial {trial!r}: not a trial id like t000")
    return int(trial[1:])


def validate_config_spaces(config: dict[str, Any]) -> None:
    """Check the search part of a full config up front (``ConfigError`` on the first problem).

    Every name in ``architectures`` is known and has a valid ``spaces.<arch>``;
    ``search.method`` / ``n_trials`` / ``seed`` are sane; ``release`` (if present)
    names a known architecture with valid parameters.
    """
    archs = config.get("architectures")
    if not isinstance(archs, (list, tuple)) or not archs:
        raise ConfigError("architectures: must be a non-empty list of architecture names")
    spaces = config.get("spaces") or {}
    if not isinstance(spaces, dict):
        raise ConfigError("spaces: must be a mapping of architecture -> space")
    for arch in archs:
        if arch not in models.REGISTRY:
            raise ConfigError(f"architectures: unknown architecture {arch!r} (known: {', '.join(models.REGISTRY)})")
        if arch not in spaces:
            raise ConfigError(f"spaces.{arch}: missing (every listed architecture needs a search space)")
    for arch, space in spaces.items():
        if arch not in models.REGISTRY:
            raise ConfigError(f"spaces.{arch}: unknown architecture (known: {', '.join(models.REGISTRY)})")
        validate_space(arch, space)
    search = config["search"]  # validated: the schema filled in its defaults
    method = search["method"]
    if method not in METHODS:
        raise ConfigError(f"search.method: {method!r} is not one of {', '.join(METHODS)}")
    n_trials = search.get("n_trials")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        raise ConfigError(f"search.n_trials: {n_trials!r} is not a positive integer")
    if method == "random" and n_trials is None:
        raise ConfigError("search.n_trials: random search needs a number of trials")
    seed = search["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"search.seed: {seed!r} is not an integer")
    release = config.get("release")
    if release:
        arch = release.get("architecture")
        if arch not in models.REGISTRY:
            raise ConfigError(f"release.architecture: unknown architecture {arch!r}")
        try:
            models.validate_params(arch, release.get("params") or {})
        except ConfigError as exc:
            raise ConfigError(f"release.params: {exc}") from None


def _micro_f1(metrics: dict[str, Any]) -> Any:
    for key in ("micro_f1", "val_micro_f1"):
        if key in metrics:
            return metrics[key]
    val = metrics.get("validation")
    if isinstance(val, dict) and "micro_f1" in val:
        return val["micro_f1"]
    return None


def select_best(metric_json_paths: Iterable[str | os.PathLike], out_json: str | os.PathLike | None = None) -> dict[str, Any]:
    """Pick the trial with the best validation micro F1 among ``metrics.json`` files.

    Each file is a trial's validation metrics (``results/trials/{dataset}/{arch}/{trial}/metrics.json``)
    holding ``micro_f1`` (or ``validation.micro_f1``). The trial id is the file's
    ``trial`` key, else its folder name. Ties go to the lower trial id; a NaN
    score ranks last. Returns ``{"trial", "micro_f1", "metrics_path", "trial_dir",
    "metrics"}`` (``metrics`` = the winner's whole JSON, params included if it has them).

    With ``out_json`` (rule ``select_best``) the result, with the winner's ``params`` and
    the ``n_trials`` compared, is also written there (atomically) and returned.

    Raises ``InputError`` for no files, an unreadable file or one without micro F1.
    """
    paths = [Path(p) for p in metric_json_paths]
    if not paths:
        raise InputError("select_best: no trial metrics given")
    rows = []
    for path in paths:
        try:
            metrics = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"{path}: trial metrics not found") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not readable JSON ({exc})") from None
        if not isinstance(metrics, dict):
            raise InputError(f"{path}: not a JSON object")
        score = _micro_f1(metrics)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise InputError(f"{path}: no numeric micro_f1")
        trial = metrics.get("trial") or path.parent.name
        try:
            index = trial_index(trial)
        except ConfigError:
            index = math.inf
        rank = -float(score) if math.isfinite(score) else math.inf
        rows.append((rank, index, str(trial), path, metrics, float(score)))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    _, _, trial, path, metrics, score = rows[0]
    best = {
        "trial": trial,
        "micro_f1": score,
        "metrics_path": str(path),
        "trial_dir": str(path.parent),
        "metrics": metrics,
    }
    if out_json is not None:
        best["params"] = metrics.get("params")
        best["n_trials"] = len(paths)
        write_json(out_json, best)
    return best
