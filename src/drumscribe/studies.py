"""The two studies' tables and plots.

**Architecture study** (:func:`architecture_table`): every architecture trained and
tested on every dataset. Wide table = test micro F1 with architectures as rows and
datasets as columns (the thesis' table, with display names and a ``Mean`` column over
the in-distribution datasets); long table = one row per (dataset, test dataset,
architecture) with per-class and macro F1, trial id and hyperparameters (machine
names); a grouped bar plot with the best architecture of each dataset marked.

**Dataset study** (:func:`dataset_table`): one architecture trained on dataset
combinations (``a+b``), tested on every dataset's test split. Wide table = micro F1
with combinations as rows and test datasets as columns; a heatmap where
in-distribution cells (the test set's dataset was trained on) are greyed and hatched,
and the best zero-shot cell of each column has a bold border.

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
counts, so :func:`rows_from_tracks` and the table functions recompute every table
without models.

Every output is written atomically; plots use matplotlib's Agg canvas (no display
needed).
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
from .atomic import atomic_path
from .errors import ConfigError, InputError

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
}

SCORE_KEYS = ("micro_f1", "macro_f1", "micro_precision", "micro_recall") + tuple(f"f1_{c}" for c in CLASSES)
#: Per-track count columns of the tracks CSV, in this order.
COUNT_KEYS = tuple(f"{k}_{c}" for c in CLASSES for k in ("tp", "fp", "fn"))
#: Columns of the uncertainty of a cell (long CSVs), after the scores.
CI_KEYS = ("micro_f1_lo", "micro_f1_hi", "micro_f1_seed_mean", "micro_f1_seed_sd", "n_seeds", "seeds")
#: Name of the wide tables' mean column (over the in-distribution datasets only).
MEAN_COLUMN = "Mean (in-distribution)"
#: Significance level of the best marks; intervals are at 1 - ALPHA.
ALPHA = 0.05


def arch_name(arch: str) -> str:
    """Display name of an architecture (the machine name when unknown)."""
    return ARCH_NAMES.get(arch, arch)


def dataset_name(dataset: str) -> str:
    """Display name of a dataset or a combination ``a+b``."""
    return " + ".join(DATASET_NAMES.get(d, d) for d in str(dataset).split("+"))


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


def _order(values: Iterable[str], preferred: Sequence[str] | None) -> list[str]:
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


def _pool_cells(recs: list[dict], keys: Sequence[str], n_resamples: int) -> tuple[list[dict], list[dict]]:
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


def _mark_best(cells: list[dict], group_keys: Sequence[str], flag: str, eligible, n_resamples: int) -> None:
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


def _wide(long, index: str, columns: str, row_order, col_order, seeds: bool):
    """Wide table: per column its value, ``_lo``, ``_hi`` (and ``_sd`` over seeds)."""
    import pandas as pd

    parts = [("", "micro_f1"), ("_lo", "micro_f1_lo"), ("_hi", "micro_f1_hi")]
    if seeds:
        parts.append(("_sd", "micro_f1_seed_sd"))
    piv = {suffix: long.pivot(index=index, columns=columns, values=v).reindex(index=row_order, columns=col_order)
           for suffix, v in parts}
    wide = pd.DataFrame(index=piv[""].index)
    for col in col_order:
        for suffix, _ in parts:
            wide[f"{col}{suffix}"] = piv[suffix][col]
    return wide, piv[""]


def rows_from_tracks(tracks_csv) -> list[dict]:
    """Rows for :func:`architecture_table` / :func:`dataset_table` from a tracks CSV.

    One row per (cell, seed) with its ``per_track`` counts and the scores they give,
    so the tables (values, intervals, marks) are recomputed without models or
    ``metrics.json`` files (only the hyperparameters are not in the tracks CSV).
    """
    import pandas as pd

    from .metrics import scores

    path = Path(tracks_csv)
    try:
        df = pd.read_csv(path, dtype={"track_id": str, "trial": str}, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"{path}: tracks table not found") from None
    except Exception as exc:  # pandas raises many kinds
        raise InputError(f"{path}: not a readable CSV ({type(exc).__name__})") from None
    train_key = "train_dataset" if "train_dataset" in df.columns else "dataset"
    needed = {train_key, "test_dataset", "in_distribution", "arch", "seed", "track_id", *COUNT_KEYS}
    if not needed <= set(df.columns):
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(needed - set(df.columns)))}")
    rows = []
    for (train, test, arch, seed), g in df.groupby([train_key, "test_dataset", "arch", "seed"], sort=False):
        per_track = [{"track_id": r["track_id"], **{k: int(r[k]) for k in COUNT_KEYS}} for _, r in g.iterrows()]
        total = g[list(COUNT_KEYS)].sum().to_numpy().reshape(len(CLASSES), 3)
        sc = scores({c: tuple(int(v) for v in total[i]) for i, c in enumerate(CLASSES)})
        in_dist = str(g["in_distribution"].iloc[0]).lower() in ("true", "1")
        rows.append({"train_dataset": train, "test_dataset": test, "arch": arch, "seed": int(seed),
                     "trial": g["trial"].iloc[0] if "trial" in g else None, "in_distribution": in_dist,
                     "n_tracks": len(g), "per_track": per_track,
                     **{k: sc[k] for k in SCORE_KEYS if sc[k] is not None}})
    if not rows:
        raise InputError(f"{path}: no tracks")
    return rows


# --------------------------------------------------------------------------- plotting helpers

def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150)
    FigureCanvasAgg(fig)
    return fig


def _save_png(fig, out_png) -> None:
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")


def _save_csv(df, out_csv, **kw) -> None:
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, **kw)


def _subtitle(note: str | None, long) -> str:
    """The plot's second title line: what the intervals are, and the run's note (e.g. smoke run)."""
    n_seeds = sorted(set(int(n) for n in long["n_seeds"]))
    seeds = "1 seed (the winning trial)" if n_seeds == [1] else f"{n_seeds[0]} seeds pooled" \
        if len(n_seeds) == 1 else f"{n_seeds[0]}–{n_seeds[-1]} seeds pooled"
    has_ci = bool(np.isfinite(long["micro_f1_lo"].to_numpy(dtype=float)).any())
    what = f"{seeds}; {100 * (1 - ALPHA):.0f} % bootstrap CI over test tracks" if has_ci else seeds
    return f"{what}\n{note}" if note else what


# --------------------------------------------------------------------------- architecture study

def _column_label(dataset: str, test: str, in_dist: bool) -> str:
    if in_dist and dataset == test:
        return dataset_name(dataset)
    return f"{dataset_name(dataset)} → {dataset_name(test)}"


LONG_ARCH_COLUMNS = ["dataset", "test_dataset", "zero_shot", "arch", "architecture", "trial", "best", "best_tie",
                     "p_vs_top", *SCORE_KEYS, *CI_KEYS, "n_tracks", "params"]


def architecture_frames(rows: Iterable, datasets: Sequence[str] | None = None, n_resamples: int = 1000):
    """(wide, long, tracks) DataFrames of the architecture study (see :func:`architecture_table`)."""
    import pandas as pd

    recs = normalize_rows(rows)
    if any(r["arch"] == "" for r in recs):
        raise InputError("rows: a result without 'arch'")
    cells, track_rows = _pool_cells(recs, ("dataset", "test_dataset", "arch"), n_resamples)
    # best architecture per (dataset, test dataset), significance-aware (ties: all marked)
    _mark_best(cells, ("dataset", "test_dataset"), "best", lambda c: True, n_resamples)
    long = pd.DataFrame(cells)
    long["architecture"] = long["arch"].map(arch_name)
    long["zero_shot"] = ~long["in_distribution"]
    long["column"] = [_column_label(d, t, i) for d, t, i in zip(long.dataset, long.test_dataset, long.in_distribution)]
    arch_order = _order(long["arch"], list(ARCH_NAMES))
    ds_order = _order(long["dataset"], datasets)
    long["_a"] = long["arch"].map({a: i for i, a in enumerate(arch_order)})
    long["_d"] = long["dataset"].map({d: i for i, d in enumerate(ds_order)})
    long = long.sort_values(["zero_shot", "_d", "test_dataset", "_a"]).drop(columns=["_a", "_d"])
    columns = list(dict.fromkeys(long["column"]))
    wide, values = _wide(long, "architecture", "column", [arch_name(a) for a in arch_order], columns,
                         seeds=bool((long["n_seeds"] > 1).any()))
    in_cols = list(dict.fromkeys(long.loc[long.in_distribution & (long.dataset == long.test_dataset), "column"]))
    if in_cols:
        wide[MEAN_COLUMN] = values[in_cols].mean(axis=1)
    wide.index.name = "architecture"
    wide.columns.name = None
    tracks = pd.DataFrame(track_rows, columns=["dataset", "test_dataset", "in_distribution", "arch", "trial", "seed",
                                               "track_id", *COUNT_KEYS])
    return wide, long[LONG_ARCH_COLUMNS].reset_index(drop=True), tracks


def architecture_table(rows: Iterable, out_csv, out_long_csv, out_png, datasets: Sequence[str] | None = None,
                       title: str | None = None, out_tracks_csv=None, n_resamples: int = 1000,
                       note: str | None = None):
    """Write the architecture study's table, long table, tracks table and bar plot.

    Parameters
    ----------
    rows : iterable of dicts or ``metrics.json`` paths
        One test result per (training dataset, test dataset, architecture, seed).
    out_csv : wide table, micro F1 (4 decimals), architectures × datasets, display names;
        test sets other than the training set appear as ``"A → B"`` columns after the
        in-distribution ones; each column ``C`` is followed by ``C_lo``, ``C_hi`` (95 %
        bootstrap interval over test tracks) and, with several seeds, ``C_sd`` (sd of the
        seed runs' micro F1); ``Mean (in-distribution)`` = mean over the in-distribution
        datasets.
    out_long_csv : one row per (dataset, test dataset, architecture), seeds pooled:
        machine names, per-class / macro F1, trial, params (JSON), the interval and seed
        spread (:data:`CI_KEYS`), ``best`` (best of its column, or tied for best:
        ``best_tie``) and ``p_vs_top`` (paired test against the column's top).
    out_png : grouped bar plot (x = dataset, hue = architecture) with the intervals as
        error bars, values written above the bars; the best bar of each dataset outlined
        and starred (★ significantly best, ☆ tied).
    datasets : column order (default: order of appearance).
    out_tracks_csv : optional; every seed's and track's counts (:func:`rows_from_tracks`).
    n_resamples : bootstrap resamples and permutations (at least 100).
    note : a line added under the plot title (e.g. that it is a smoke run).

    Returns
    -------
    (wide, long) pandas DataFrames.
    """
    wide, long, tracks = architecture_frames(rows, datasets, n_resamples)
    fig = _architecture_plot(long, title, note)  # everything is computed before anything is written
    _save_csv(wide.round(4), out_csv, float_format="%.4f")
    _save_csv(long, out_long_csv, index=False, float_format="%.6g")
    if out_tracks_csv is not None:
        _save_csv(tracks, out_tracks_csv, index=False)
    _save_png(fig, out_png)
    return wide, long


def _architecture_plot(long, title: str | None, note: str | None = None):
    import seaborn as sns
    from matplotlib.lines import Line2D

    long = long.assign(column=[_column_label(d, t, not z) for d, t, z in
                               zip(long.dataset, long.test_dataset, long.zero_shot)])
    columns = list(dict.fromkeys(long["column"]))
    archs = list(dict.fromkeys(long["architecture"]))
    n_bars = len(columns) * len(archs)
    fig = _figure(max(6.0, 1.0 + 0.42 * n_bars + 0.6 * len(columns)), 4.8)
    ax = fig.add_subplot(1, 1, 1)
    palette = sns.color_palette("colorblind", n_colors=max(len(archs), 1))
    sns.barplot(data=long, x="column", y="micro_f1", hue="architecture", order=columns, hue_order=archs,
                palette=palette, ax=ax, errorbar=None, saturation=0.9)
    cells = {(r.column, r.architecture): r for r in long.itertuples()}
    for container, arch in zip(ax.containers, archs):
        for bar, col in zip(container.patches, columns):
            h = bar.get_height()
            r = cells.get((col, arch))
            if r is None or h is None or not np.isfinite(h):
                continue
            x = bar.get_x() + bar.get_width() / 2
            top = h
            if np.isfinite(r.micro_f1_lo) and np.isfinite(r.micro_f1_hi):
                ax.errorbar(x, h, yerr=[[max(0.0, h - r.micro_f1_lo)], [max(0.0, r.micro_f1_hi - h)]],
                            fmt="none", ecolor="black", elinewidth=0.9, capsize=2.0)
                top = max(h, r.micro_f1_hi)
            mark = (" ☆" if r.best_tie else " ★") if r.best else ""
            # above the bar (and its interval), in black: readable on short and light bars alike
            ax.annotate(f"{h:.3f}{mark}", (x, top + 0.012), ha="center", va="bottom", rotation=90, fontsize=7,
                        color="black", fontweight="bold" if r.best else "normal")
            if r.best:
                bar.set_edgecolor("black")
                bar.set_linewidth(2.0)
                if r.best_tie:
                    bar.set_linestyle("--")
    ax.set_ylim(0, 1.22)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel("")
    ax.set_ylabel("test micro F1")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title((title or "Architecture study: test micro F1 per dataset") + "\n" + _subtitle(note, long),
                 fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="$★$", color="black", linestyle="", markersize=9),
                Line2D([], [], marker="$☆$", color="black", linestyle="", markersize=9)]
    labels += ["best (better than the runner-up, p < 0.05)", "tied for best (no significant difference)"]
    if np.isfinite(long["micro_f1_lo"].to_numpy(dtype=float)).any():
        handles.append(Line2D([], [], marker="|", color="black", linestyle="", markersize=9))
        labels.append(f"{100 * (1 - ALPHA):.0f} % CI (bootstrap over test tracks)")
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return fig


def best_architecture(long_csv, datasets: Sequence[str] | None = None) -> str:
    """Machine name of the architecture with the highest mean test micro F1 over datasets.

    Only in-distribution results count (trained and tested on the same dataset),
    optionally restricted to ``datasets``. An architecture missing a dataset ranks below
    those that have them all; ties go to the first in :data:`ARCH_NAMES` order.
    """
    import pandas as pd

    path = Path(long_csv)
    try:
        long = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"{path}: architecture table not found") from None
    except Exception as exc:  # pandas raises many kinds
        raise InputError(f"{path}: not a readable CSV ({type(exc).__name__})") from None
    needed = {"dataset", "test_dataset", "arch", "micro_f1"}
    if not needed <= set(long.columns):
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(needed - set(long.columns)))}")
    sel = long[long["dataset"] == long["test_dataset"]]
    if datasets:
        sel = sel[sel["dataset"].isin(list(datasets))]
    sel = sel.dropna(subset=["micro_f1"])
    if sel.empty:
        raise InputError(f"{path}: no in-distribution results to pick an architecture from")
    stats = sel.groupby("arch")["micro_f1"].agg(["mean", "count"])
    order = {a: i for i, a in enumerate(_order(stats.index, list(ARCH_NAMES)))}
    ranked = sorted(stats.index, key=lambda a: (-stats.loc[a, "count"], -stats.loc[a, "mean"], order[a]))
    return str(ranked[0])




# --------------------------------------------------------------------------- dataset study

def _dataset_records(rows: Iterable) -> list[dict]:
    recs = []
    for i, item in enumerate(rows):
        if isinstance(item, (tuple, list)) and not isinstance(item, str):
            if len(item) not in (3, 4):
                raise InputError(f"rows[{i}]: expected (train, test, micro_f1[, in_distribution])")
            d = {"train_dataset": item[0], "test_dataset": item[1], "micro_f1": item[2]}
            if len(item) == 4:
                d["in_distribution"] = item[3]
            item = d
        recs.append(item)
    return normalize_rows(recs)


LONG_DATASET_COLUMNS = ["train_dataset", "test_dataset", "in_distribution", "best_zero_shot", "best_tie", "p_vs_top",
                        "arch", "trial", *SCORE_KEYS, *CI_KEYS, "n_tracks", "params"]


def dataset_frames(rows: Iterable, combinations: Sequence | None = None, test_datasets: Sequence[str] | None = None,
                   n_resamples: int = 1000):
    """(wide, long, row_order, col_order, tracks) of the dataset study (see :func:`dataset_table`)."""
    import pandas as pd

    recs = _dataset_records(rows)
    cells, track_rows = _pool_cells(recs, ("dataset", "test_dataset"), n_resamples)
    # per test column, the best among the zero-shot cells only, significance-aware
    _mark_best(cells, ("test_dataset",), "best_zero_shot", lambda c: not c["in_distribution"], n_resamples)
    long = pd.DataFrame(cells).rename(columns={"dataset": "train_dataset"})
    combos = ["+".join(c) if isinstance(c, (list, tuple)) else str(c) for c in (combinations or [])]
    row_order = _order(long["train_dataset"], combos)
    col_order = _order(long["test_dataset"], test_datasets)
    long["_r"] = long["train_dataset"].map({d: i for i, d in enumerate(row_order)})
    long["_c"] = long["test_dataset"].map({d: i for i, d in enumerate(col_order)})
    long = long.sort_values(["_r", "_c"]).drop(columns=["_r", "_c"]).reset_index(drop=True)
    wide, _ = _wide(long, "train_dataset", "test_dataset", row_order, col_order,
                    seeds=bool((long["n_seeds"] > 1).any()))
    names = {d: dataset_name(d) for d in col_order}
    wide.columns = [names.get(c, None) or _rename_suffixed(c, names) for c in wide.columns]
    wide.index = [dataset_name(d) for d in wide.index]
    wide.index.name = "trained on"
    tracks = pd.DataFrame(track_rows, columns=["dataset", "test_dataset", "in_distribution", "arch", "trial", "seed",
                                               "track_id", *COUNT_KEYS]).rename(columns={"dataset": "train_dataset"})
    return wide, long[LONG_DATASET_COLUMNS], row_order, col_order, tracks


def _rename_suffixed(column: str, names: Mapping[str, str]) -> str:
    for suffix in ("_lo", "_hi", "_sd"):
        if column.endswith(suffix) and column[: -len(suffix)] in names:
            return names[column[: -len(suffix)]] + suffix
    return column


def dataset_table(rows: Iterable, out_csv, out_long_csv, out_png, combinations: Sequence | None = None,
                  test_datasets: Sequence[str] | None = None, title: str | None = None, out_tracks_csv=None,
                  n_resamples: int = 1000, note: str | None = None):
    """Write the dataset study's table, long table, tracks table and heatmap.

    Parameters
    ----------
    rows : iterable of dicts, ``metrics.json`` paths, or tuples
        ``(train combination 'a+b', test dataset, micro F1[, in_distribution])``. Without
        an explicit flag a cell is in-distribution when every dataset of the test name
        is part of the training combination.
    out_csv : wide table, micro F1, training combinations × test datasets (display
        names), each column followed by ``_lo``, ``_hi`` (95 % interval over test tracks)
        and, with several seeds, ``_sd`` (sd over seeds).
    out_long_csv : one row per cell (seeds pooled) with machine names, ``in_distribution``,
        ``best_zero_shot`` (best zero-shot cell of its column, or tied for it:
        ``best_tie``), ``p_vs_top``, the interval and seed spread and the other scores.
    out_png : heatmap, each cell with its value, ± sd over seeds and interval;
        in-distribution cells grey and hatched, the best zero-shot cell of each column
        outlined in red (dashed where tied).
    combinations, test_datasets : row and column order (default: order of appearance).
    out_tracks_csv, n_resamples, note : as for :func:`architecture_table`.

    Returns
    -------
    (wide, long) pandas DataFrames.
    """
    wide, long, row_order, col_order, tracks = dataset_frames(rows, combinations, test_datasets, n_resamples)
    fig = _dataset_plot(long, row_order, col_order, title, note)  # computed before anything is written
    _save_csv(wide.round(4), out_csv, float_format="%.4f")
    _save_csv(long, out_long_csv, index=False, float_format="%.6g")
    if out_tracks_csv is not None:
        _save_csv(tracks, out_tracks_csv, index=False)
    _save_png(fig, out_png)
    return wide, long


def _cell_text(r) -> str:
    v = r.micro_f1
    if not np.isfinite(v):
        return "–"
    text = f"{v:.3f}"
    if r.n_seeds > 1 and np.isfinite(r.micro_f1_seed_sd):
        text += f" ± {r.micro_f1_seed_sd:.3f}"
    if np.isfinite(r.micro_f1_lo) and np.isfinite(r.micro_f1_hi):
        text += f"\n[{r.micro_f1_lo:.3f}, {r.micro_f1_hi:.3f}]"
    return text


def _dataset_plot(long, row_order, col_order, title: str | None, note: str | None = None):
    import matplotlib as mpl
    from matplotlib.patches import Patch, Rectangle

    nr, nc = len(row_order), len(col_order)
    val = np.full((nr, nc), np.nan)
    ind = np.zeros((nr, nc), dtype=bool)
    best = np.zeros((nr, nc), dtype=bool)
    tie = np.zeros((nr, nc), dtype=bool)
    text = np.full((nr, nc), "–", dtype=object)
    ri = {d: i for i, d in enumerate(row_order)}
    ci = {d: i for i, d in enumerate(col_order)}
    for r in long.itertuples():
        i, j = ri[r.train_dataset], ci[r.test_dataset]
        val[i, j] = r.micro_f1
        ind[i, j] = r.in_distribution
        best[i, j] = r.best_zero_shot
        tie[i, j] = r.best_tie
        text[i, j] = _cell_text(r)
    fig = _figure(max(5.0, 2.2 + 1.6 * nc), max(3.0, 1.6 + 0.75 * nr))
    ax = fig.add_subplot(1, 1, 1)
    cmap = mpl.colormaps["viridis"]
    zs = np.where(ind, np.nan, val)
    finite = zs[np.isfinite(zs)]
    vmin = float(min(finite.min(), 0.5)) if finite.size else 0.0
    im = ax.imshow(np.ma.masked_invalid(zs), cmap=cmap, vmin=vmin, vmax=1.0, aspect="auto")
    for i in range(nr):
        for j in range(nc):
            v = val[i, j]
            txt = text[i, j]
            if ind[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.88", edgecolor="0.6",
                                       hatch="///", linewidth=0))
                ax.text(j, i, txt, ha="center", va="center", fontsize=8, color="0.35",
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="0.88", edgecolor="none"))
            else:
                color = "black"
                if np.isfinite(v):
                    r, g, b, _ = cmap((v - vmin) / max(1e-9, 1.0 - vmin))
                    color = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
                ax.text(j, i, txt, ha="center", va="center", fontsize=8, color=color,
                        fontweight="bold" if best[i, j] else "normal")
            if best[i, j]:
                ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, edgecolor="red", linewidth=2.5,
                                       linestyle="--" if tie[i, j] else "-"))
    ax.set_xticks(range(nc))
    ax.set_xticklabels([dataset_name(d) for d in col_order])
    ax.set_yticks(range(nr))
    ax.set_yticklabels([dataset_name(d) for d in row_order])
    ax.set_xlabel("tested on (test split)")
    ax.set_ylabel("trained on")
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.set_xlim(-0.5, nc - 0.5)
    ax.set_ylim(nr - 0.5, -0.5)
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.03)
    cb.set_label("zero-shot micro F1")
    handles = [Patch(facecolor="0.88", edgecolor="0.6", hatch="///", label="in-distribution (trained on it)"),
               Patch(facecolor="none", edgecolor="red", linewidth=2.5, label="best zero-shot in column")]
    if tie.any():
        handles.append(Patch(facecolor="none", edgecolor="red", linewidth=2.5, linestyle="--",
                             label="tied for best (no significant difference)"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=len(handles), frameon=False,
              fontsize=8)
    archs = sorted({a for a in long["arch"] if isinstance(a, str) and a})
    default = f"Dataset study ({', '.join(arch_name(a) for a in archs)}): test micro F1" if archs \
        else "Dataset study: test micro F1"
    sub = _subtitle(note, long).replace("pooled;", "pooled (value ± sd over seeds);") \
        if (long["n_seeds"] > 1).any() else _subtitle(note, long)
    ax.set_title((title or default) + "\n" + sub, pad=10, fontsize=10)
    return fig


# --------------------------------------------------------------------------- the rules architecture_study, dataset_study


def architecture_study(metric_paths: Sequence[str | os.PathLike], out_csv, out_long, out_png,
                       datasets: Sequence[str] = (), zero_shot: Sequence[str] = (), out_tracks=None,
                       bootstrap_samples: int = 1000, note: str | None = None) -> None:
    """Architecture study table, long and tracks tables and bar plot (:func:`architecture_table`);
    ``metric_paths`` hold every seed run's evaluations (pooled per cell)."""
    _check_resamples(bootstrap_samples)
    architecture_table(list(metric_paths), out_csv, out_long, out_png, datasets=list(datasets) or None,
                       out_tracks_csv=out_tracks, n_resamples=int(bootstrap_samples), note=note)


def dataset_study(metric_paths: Sequence[str | os.PathLike], out_csv, out_long, out_png,
                  combinations: Sequence[str] = (), test_datasets: Sequence[str] = (), out_tracks=None,
                  bootstrap_samples: int = 1000, note: str | None = None) -> None:
    """Dataset study matrix, long and tracks tables and heatmap (:func:`dataset_table`)."""
    _check_resamples(bootstrap_samples)
    dataset_table(list(metric_paths), out_csv, out_long, out_png,
                  combinations=list(combinations) or None, test_datasets=list(test_datasets) or None,
                  out_tracks_csv=out_tracks, n_resamples=int(bootstrap_samples), note=note)


def _check_resamples(n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < stats.MIN_RESAMPLES:
        raise ConfigError(f"evaluation.bootstrap_samples: {n!r} is less than {stats.MIN_RESAMPLES}")
