"""The studies' cells: results read in one shape, seed runs pooled, intervals and best marks.

Used by :mod:`drumscribe.studies` (the tables) and :mod:`drumscribe.study_plots` (the
figures), and the display names of architectures and datasets that both use.

Inputs are the ``metrics.json`` files of the evaluation rule (or the same dicts):
``train_dataset`` (or ``dataset``), ``test_dataset``, ``arch``, ``trial``, ``seed``
(default 0), ``params``, ``zero_shot``, the scores of :func:`drumscribe.metrics.scores`
(flat, or under ``scores``) and ``per_track`` (each track's ``tp_<C>``, ``fp_<C>``,
``fn_<C>``).

**Uncertainty** (:mod:`drumscribe.stats`): the seed runs of one cell (same training
data, architecture and test set) are *pooled*: each track's counts are summed over the
seeds, the cell's scores come from the pooled counts, and its 95 % interval
(``micro_f1_lo``, ``micro_f1_hi``) is a bootstrap over test tracks of the pooled counts.
What the seeds change is shown apart: mean and sd of the runs' own micro F1
(``micro_f1_seed_mean``, ``micro_f1_seed_sd``). "Best" is marked only where the top is
significantly better than the runner-up on the same tracks (paired permutation test,
p < 0.05), otherwise every cell not significantly worse than the top is marked as a
tie (``best_tie``). Rows without ``per_track`` counts get no interval and a best by
value alone. The tracks CSV (``*_tracks.csv``) keeps every seed's and every track's
counts, so :func:`drumscribe.studies.rows_from_tracks` and the table functions recompute
every table without models.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import CLASSES
from . import stats
from .errors import InputError

#: Display names of the architectures (the thesis' table), in table order.
ARCH_NAMES: dict[str, str] = {
    "rnn": "Recurrent",
    "cnn": "Convolutional",
    "crnn": "Convolutional Recurrent",
    "conv_transformer": "Convolutional Transformer",
    "vit": "Vision Transformer",
}

#: Display names of the datasets; combinations ``a+b`` are shown as ``A + B``.
DATASET_NAMES: dict[str, str] = {
    "gmd_synth": "GMD synth",
    "gmd_synth_mix": "GMD synth mix",
    "mdb_drums": "MDB Drums",
    "mdb_drums_drum_only": "MDB Drums (drum stems)",
    "enst_drums": "ENST",
    "enst_mdb": "ENST+MDB",
    "egmd": "E-GMD",
    "slakh": "Slakh",
    "adtof_yt": "ADTOF-YT",
    "sadtp": "SADTP",
    "gmd_synth_pool": "GMD synth under the pool",
    "mdb_remix": "MDB remixes (folds)",
}

SCORE_KEYS = ("micro_f1", "macro_f1", "micro_precision", "micro_recall") + tuple(f"f1_{c}" for c in CLASSES)
#: Per-track count columns of the tracks CSV, in this order.
COUNT_KEYS = tuple(f"{k}_{c}" for c in CLASSES for k in ("tp", "fp", "fn"))
#: Columns of the uncertainty of a cell (long CSVs), after the scores.
CI_KEYS = ("micro_f1_lo", "micro_f1_hi", "micro_f1_seed_mean", "micro_f1_seed_sd", "n_seeds", "seeds")
#: Significance level of the best marks; intervals are at 1 - ALPHA.
ALPHA = 0.05


def arch_name(arch: str) -> str:
    """Display name of an architecture (the machine name when unknown)."""
    return ARCH_NAMES.get(arch, arch)


def dataset_name(dataset: str) -> str:
    """Display name of a dataset or a combination ``a+b``; a real-song column ``real_<condition>``
    of the dataset study (``drumscribe.study_kinds``) by its robustness condition's label."""
    if str(dataset).startswith("real_"):
        from .robustness import CONDITIONS

        cond = CONDITIONS.get(str(dataset)[len("real_"):])
        if cond is not None:
            return f"Real songs: {cond.label}"
    return " + ".join(DATASET_NAMES.get(d, d) for d in str(dataset).split("+"))


def column_label(dataset: str, test: str, in_dist: bool) -> str:
    """A (training, test) pair's column: the dataset's display name, ``"A → B"`` for another test set."""
    if in_dist and dataset == test:
        return dataset_name(dataset)
    return f"{dataset_name(dataset)} → {dataset_name(test)}"


# --------------------------------------------------------------------------- rows

def _load(item: Any, i: int) -> tuple[dict, str]:
    """(row dict, its source for messages) from a dict or a JSON path."""
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        try:
            obj = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"{path}: metrics file not found") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"{path}: not a readable JSON file ({type(exc).__name__})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}: expected a JSON object of metrics")
        return obj, str(path)
    if isinstance(item, Mapping):
        return dict(item), f"rows[{i}]"
    raise InputError(f"rows[{i}]: expected a dict or a metrics.json path, got {type(item).__name__}")


def _score(row: Mapping, key: str, src: str, required: bool = False) -> float:
    scores = row.get("scores") if isinstance(row.get("scores"), Mapping) else row
    val = scores.get(key)
    if val is None:
        if required:
            raise InputError(f"{src}: missing {key}")
        return math.nan
    try:
        v = float(val)
    except (TypeError, ValueError):
        raise InputError(f"{src}: {key} is not a number ({val!r})") from None
    if not (0.0 <= v <= 1.0):
        raise InputError(f"{src}: {key} = {v} is outside [0, 1]")
    return v


def _name(row: Mapping, keys: Sequence[str], src: str) -> str:
    for k in keys:
        v = row.get(k)
        if v not in (None, ""):
            if isinstance(v, (list, tuple)):
                return "+".join(map(str, v))
            return str(v)
    raise InputError(f"{src}: missing {' or '.join(keys)}")


def _track_counts(row: Mapping, src: str) -> dict[str, tuple[int, ...]] | None:
    """``{track_id: counts in COUNT_KEYS order}`` of a row's ``per_track`` (None without)."""
    per_track = row.get("per_track")
    if per_track is None:
        return None
    if not isinstance(per_track, (list, tuple)):
        raise InputError(f"{src}: per_track is not a list")
    out = {}
    for j, t in enumerate(per_track):
        if not isinstance(t, Mapping) or t.get("track_id") in (None, ""):
            raise InputError(f"{src}: per_track[{j}] has no track_id")
        try:
            vals = tuple(int(t[k]) for k in COUNT_KEYS)
        except KeyError as exc:
            raise InputError(f"{src}: per_track[{j}] ({t['track_id']}): missing {exc.args[0]}") from None
        except (TypeError, ValueError):
            raise InputError(f"{src}: per_track[{j}] ({t['track_id']}): counts are not integers") from None
        if min(vals) < 0:
            raise InputError(f"{src}: per_track[{j}] ({t['track_id']}): negative count")
        tid = str(t["track_id"])
        if tid in out:
            raise InputError(f"{src}: per_track: track {tid} twice")
        out[tid] = vals
    return out


def normalize_rows(rows: Iterable) -> list[dict]:
    """Rows of the studies in one shape (see the module docstring for what is read).

    Each returned dict has ``dataset`` (training dataset or combination),
    ``test_dataset``, ``in_distribution``, ``arch``, ``trial``, ``seed``, ``params``
    (JSON text), ``n_tracks``, the :data:`SCORE_KEYS` (NaN where absent; ``micro_f1``
    required) and ``track_counts`` (``{track_id: counts}`` in :data:`COUNT_KEYS` order,
    or None when the row has no ``per_track``).
    """
    out = []
    for i, item in enumerate(rows):
        row, src = _load(item, i)
        dataset = _name(row, ("train_dataset", "dataset", "train"), src)
        test = row.get("test_dataset") or row.get("test") or dataset
        if isinstance(test, (list, tuple)):
            test = "+".join(map(str, test))
        if "in_distribution" in row:
            in_dist = bool(row["in_distribution"])
        elif "zero_shot" in row and row["zero_shot"] is not None:
            in_dist = not bool(row["zero_shot"])
        else:
            in_dist = set(str(test).split("+")) <= set(dataset.split("+"))
        params = row.get("params")
        seed = row.get("seed", 0)
        try:
            seed = int(0 if seed is None else seed)
        except (TypeError, ValueError):
            raise InputError(f"{src}: seed is not an integer ({seed!r})") from None
        rec = {
            "dataset": dataset,
            "test_dataset": str(test),
            "in_distribution": in_dist,
            "arch": str(row.get("arch") or ""),
            "trial": "" if row.get("trial") is None else str(row.get("trial")),
            "seed": seed,
            "params": json.dumps(params, sort_keys=True) if params is not None else "",
            "n_tracks": row.get("n_tracks"),
            "track_counts": _track_counts(row, src),
        }
        for key in SCORE_KEYS:
            rec[key] = _score(row, key, src, required=(key == "micro_f1"))
        out.append(rec)
    if not out:
        raise InputError("rows: no results to tabulate")
    return out


def ordered(values: Iterable[str], preferred: Sequence[str] | None) -> list[str]:
    """``values`` once each in order of appearance, those in ``preferred`` first (in its order)."""
    seen = list(dict.fromkeys(values))
    if not preferred:
        return seen
    first = [v for v in preferred if v in seen]
    return first + [v for v in seen if v not in first]


# --------------------------------------------------------------------------- seeds, intervals, best marks

def _micro_counts(counts: np.ndarray) -> np.ndarray:
    """(n_tracks, 15) per-class counts in COUNT_KEYS order -> (n_tracks, 3) tp, fp, fn over classes."""
    return counts.reshape(len(counts), len(CLASSES), 3).sum(axis=1)


def _nan(v) -> float:
    return math.nan if v is None else float(v)


def pool_cells(recs: list[dict], keys: Sequence[str], n_resamples: int) -> tuple[list[dict], list[dict]]:
    """One cell per distinct ``keys`` with its seed runs pooled: ``(cells, track rows)``.

    With per-track counts in every run: the runs must cover the same tracks; each
    track's counts are summed over the runs and the cell's scores, interval and seed
    spread come from them (module docstring). Without: scores averaged over the runs,
    no interval. Track rows: one per run and track, with its counts.
    """
    from .metrics import scores

    groups: dict[tuple, list[dict]] = {}
    for r in recs:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    cells, tracks = [], []
    for key, runs in groups.items():
        what = ", ".join(f"{k} {v}" for k, v in zip(keys, key))
        seeds = [r["seed"] for r in runs]
        dup = sorted({s for s in seeds if seeds.count(s) > 1})
        if dup:
            raise InputError(f"rows: more than one result for {what}, seed {dup[0]}")
        runs = sorted(runs, key=lambda r: r["seed"])
        first = runs[0]
        cell = {k: v for k, v in first.items() if k not in ("track_counts", "seed")}
        cell["n_seeds"] = len(runs)
        cell["seeds"] = " ".join(str(r["seed"]) for r in runs)
        if all(r["track_counts"] is not None for r in runs):
            ids = sorted(first["track_counts"])
            for r in runs[1:]:
                if sorted(r["track_counts"]) != ids:
                    raise InputError(f"rows: {what}: seed {r['seed']} was tested on other tracks than seed "
                                     f"{first['seed']}")
            per_seed = [np.array([r["track_counts"][t] for t in ids], np.int64).reshape(len(ids), len(COUNT_KEYS))
                        for r in runs]
            pooled = np.sum(per_seed, axis=0)
            total = pooled.sum(axis=0).reshape(len(CLASSES), 3)
            sc = scores({c: tuple(int(v) for v in total[i]) for i, c in enumerate(CLASSES)})
            for k in SCORE_KEYS:
                cell[k] = _nan(sc[k])
            micro = _micro_counts(pooled)
            ci = stats.bootstrap_ci(micro, n_resamples, 1 - ALPHA) if len(ids) else stats.Interval(*[math.nan] * 3)
            cell["micro_f1_lo"], cell["micro_f1_hi"] = ci.low, ci.high
            if ids:
                cell["micro_f1_seed_mean"], cell["micro_f1_seed_sd"] = stats.seed_spread(
                    [_micro_counts(c) for c in per_seed])
            else:
                cell["micro_f1_seed_mean"] = cell["micro_f1_seed_sd"] = math.nan
            cell["n_tracks"] = len(ids)
            cell["_tracks"], cell["_counts"] = tuple(ids), micro
            for r in runs:
                for t in ids:
                    tracks.append({**{k: r[k] for k in keys}, "in_distribution": r["in_distribution"],
                                   "arch": r["arch"], "trial": r["trial"], "seed": r["seed"], "track_id": t,
                                   **dict(zip(COUNT_KEYS, r["track_counts"][t]))})
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN optional scores
                for k in SCORE_KEYS:
                    cell[k] = float(np.nanmean([r[k] for r in runs]))
            f1s = [r["micro_f1"] for r in runs]
            cell["micro_f1_lo"] = cell["micro_f1_hi"] = math.nan
            cell["micro_f1_seed_mean"] = float(np.mean(f1s))
            cell["micro_f1_seed_sd"] = float(np.std(f1s, ddof=1)) if len(f1s) > 1 else math.nan
            cell["_tracks"] = cell["_counts"] = None
        cells.append(cell)
    return cells, tracks


def mark_best(cells: list[dict], group_keys: Sequence[str], flag: str, eligible, n_resamples: int) -> None:
    """Set ``flag``, ``best_tie`` and ``p_vs_top`` of every cell: per group of ``group_keys``
    among the ``eligible`` cells, :func:`drumscribe.stats.best_marks` (by value alone
    where a cell has no per-track counts)."""
    groups: dict[tuple, list[dict]] = {}
    for c in cells:
        c[flag], c["best_tie"], c["p_vs_top"] = False, False, math.nan
        if eligible(c):
            groups.setdefault(tuple(c[k] for k in group_keys), []).append(c)
    for key, members in groups.items():
        if all(m["_counts"] is not None for m in members):
            ids = members[0]["_tracks"]
            for m in members[1:]:
                if m["_tracks"] != ids:
                    raise InputError(f"rows: {', '.join(map(str, key))}: results on different tracks cannot be "
                                     f"compared ({len(ids)} and {len(m['_tracks'])} tracks)")
            marks = stats.best_marks({str(i): m["_counts"] for i, m in enumerate(members)}, ALPHA, n_resamples)
            for i, m in enumerate(members):
                m["p_vs_top"] = marks.p_values[str(i)]
                if str(i) in marks.best:
                    m[flag], m["best_tie"] = True, marks.tie
        else:
            values = [m["micro_f1"] for m in members if np.isfinite(m["micro_f1"])]
            best = [m for m in members if values and m["micro_f1"] == max(values)]
            for m in best:
                m[flag], m["best_tie"] = True, len(best) > 1
