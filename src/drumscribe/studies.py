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

Inputs are the ``metrics.json`` files of the evaluation rule (or the same dicts); the
seed runs of a cell are pooled, with a 95 % interval over test tracks and significance-aware
best marks (:mod:`drumscribe.study_cells`, which says what is read and how). The tracks CSV
(``*_tracks.csv``) keeps every seed's and every track's counts, so :func:`rows_from_tracks`
and the table functions recompute every table without models. The plots are drawn by
:mod:`drumscribe.study_plots`.

Every output is written atomically; plots use matplotlib's Agg canvas (no display
needed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from . import CLASSES
from . import stats
from .atomic import atomic_path
from .errors import ConfigError, InputError
from .study_cells import (ARCH_NAMES, CI_KEYS, COUNT_KEYS, SCORE_KEYS, arch_name, column_label, dataset_name,
                          _micro_counts, mark_best, normalize_rows, ordered, pool_cells)
from .study_plots import architecture_plot, dataset_plot, save_png

#: Name of the wide tables' mean column (over the in-distribution datasets only).
MEAN_COLUMN = "Mean (in-distribution)"


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


def _save_csv(df, out_csv, **kw) -> None:
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, **kw)


# --------------------------------------------------------------------------- architecture study

LONG_ARCH_COLUMNS = ["dataset", "test_dataset", "zero_shot", "arch", "architecture", "trial", "best", "best_tie",
                     "p_vs_top", *SCORE_KEYS, *CI_KEYS, "n_tracks", "params"]


def architecture_frames(rows: Iterable, datasets: Sequence[str] | None = None, n_resamples: int = 1000):
    """(wide, long, tracks) DataFrames of the architecture study (see :func:`architecture_table`)."""
    import pandas as pd

    recs = normalize_rows(rows)
    if any(r["arch"] == "" for r in recs):
        raise InputError("rows: a result without 'arch'")
    cells, track_rows = pool_cells(recs, ("dataset", "test_dataset", "arch"), n_resamples)
    # best architecture per (dataset, test dataset), significance-aware (ties: all marked)
    mark_best(cells, ("dataset", "test_dataset"), "best", lambda c: True, n_resamples)
    long = pd.DataFrame(cells)
    long["architecture"] = long["arch"].map(arch_name)
    long["zero_shot"] = ~long["in_distribution"]
    long["column"] = [column_label(d, t, i) for d, t, i in zip(long.dataset, long.test_dataset, long.in_distribution)]
    arch_order = ordered(long["arch"], list(ARCH_NAMES))
    ds_order = ordered(long["dataset"], datasets)
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
    fig = architecture_plot(long, title, note)  # everything is computed before anything is written
    _save_csv(wide.round(4), out_csv, float_format="%.4f")
    _save_csv(long, out_long_csv, index=False, float_format="%.6g")
    if out_tracks_csv is not None:
        _save_csv(tracks, out_tracks_csv, index=False)
    save_png(fig, out_png)
    return wide, long


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
    order = {a: i for i, a in enumerate(ordered(stats.index, list(ARCH_NAMES)))}
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
    cells, track_rows = pool_cells(recs, ("dataset", "test_dataset"), n_resamples)
    # per test column, the best among the zero-shot cells only, significance-aware
    mark_best(cells, ("test_dataset",), "best_zero_shot", lambda c: not c["in_distribution"], n_resamples)
    long = pd.DataFrame(cells).rename(columns={"dataset": "train_dataset"})
    combos = ["+".join(c) if isinstance(c, (list, tuple)) else str(c) for c in (combinations or [])]
    row_order = ordered(long["train_dataset"], combos)
    col_order = ordered(long["test_dataset"], test_datasets)
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


PAIR_COLUMNS = ["test_dataset", "train_a", "train_b", "n_tracks", "micro_f1_a", "micro_f1_b", "difference",
                "difference_lo", "difference_hi", "p_value"]


def pairs_frame(tracks, row_order: Sequence[str] | None = None, col_order: Sequence[str] | None = None,
                n_resamples: int = 1000, rows: Sequence[str] | None = None):
    """Every two training sets of a study compared on each test column, on the same tracks.

    The table marks the best zero-shot cell of a column; this answers "is training set A
    better than B on this test set" for any two rows, in-distribution cells included (the real
    songs of a row trained in song folds are scored by the fold that never heard them).
    ``tracks`` is the study's tracks frame (or CSV: ``train_dataset``, ``test_dataset``,
    ``seed``, ``track_id`` and the per-class counts); each row's seed runs are pooled per track
    (as the table's cells), and A − B is :func:`drumscribe.stats.paired_test` (micro F1
    difference, paired bootstrap interval over tracks, permutation p-value). ``rows`` limits
    the comparison to those rows (default all, in ``row_order``); one row per test column and
    pair (A before B in row order), columns :data:`PAIR_COLUMNS`.
    """
    import pandas as pd

    if not isinstance(tracks, pd.DataFrame):
        tracks = pd.read_csv(tracks, dtype={"seed": str, "track_id": str})
    names = ordered(tracks["train_dataset"], row_order)
    if rows is not None:
        unknown = [r for r in rows if r not in names]
        if unknown:
            raise InputError(f"no training set {', '.join(map(repr, unknown))} in the study "
                             f"(its rows: {', '.join(names)})")
        names = [r for r in names if r in rows]
    out = []
    for test in ordered(tracks["test_dataset"], col_order):
        sel = tracks[tracks["test_dataset"] == test]
        per_row = {}  # each row's counts per track, seed runs summed (as pool_cells pools a cell)
        for name in names:
            t = sel[sel["train_dataset"] == name]
            if len(t):
                per_row[name] = t.groupby("track_id")[list(COUNT_KEYS)].sum()
        present = [n for n in names if n in per_row]
        for i, a in enumerate(present):
            for b in present[i + 1:]:
                common = per_row[a].index.intersection(per_row[b].index)
                xa, xb = (_micro_counts(per_row[r].loc[common].to_numpy()) for r in (a, b))
                res = stats.paired_test(xa, xb, n_resamples=n_resamples)
                out.append({"test_dataset": test, "train_a": a, "train_b": b, "n_tracks": len(common),
                            "micro_f1_a": stats.pooled_f1(xa), "micro_f1_b": stats.pooled_f1(xb),
                            "difference": res.difference, "difference_lo": res.low, "difference_hi": res.high,
                            "p_value": res.p_value})
    return pd.DataFrame(out, columns=PAIR_COLUMNS)


def _rename_suffixed(column: str, names: Mapping[str, str]) -> str:
    for suffix in ("_lo", "_hi", "_sd"):
        if column.endswith(suffix) and column[: -len(suffix)] in names:
            return names[column[: -len(suffix)]] + suffix
    return column


def dataset_table(rows: Iterable, out_csv, out_long_csv, out_png, combinations: Sequence | None = None,
                  test_datasets: Sequence[str] | None = None, title: str | None = None, out_tracks_csv=None,
                  n_resamples: int = 1000, note: str | None = None, out_pairs_csv=None):
    """Write the dataset study's table, long table, tracks table, pairs table and heatmap.

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
    out_pairs_csv : optional; every two rows compared on each test column (:func:`pairs_frame`).

    Returns
    -------
    (wide, long) pandas DataFrames.
    """
    wide, long, row_order, col_order, tracks = dataset_frames(rows, combinations, test_datasets, n_resamples)
    pairs = pairs_frame(tracks, row_order, col_order, n_resamples) if out_pairs_csv is not None else None
    fig = dataset_plot(long, row_order, col_order, title, note)  # computed before anything is written
    _save_csv(wide.round(4), out_csv, float_format="%.4f")
    _save_csv(long, out_long_csv, index=False, float_format="%.6g")
    if out_tracks_csv is not None:
        _save_csv(tracks, out_tracks_csv, index=False)
    if pairs is not None:
        _save_csv(pairs, out_pairs_csv, index=False, float_format="%.6g")
    save_png(fig, out_png)
    return wide, long


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
                  bootstrap_samples: int = 1000, note: str | None = None, out_pairs=None) -> None:
    """Dataset study matrix, long, tracks and pairs tables and heatmap (:func:`dataset_table`)."""
    _check_resamples(bootstrap_samples)
    dataset_table(list(metric_paths), out_csv, out_long, out_png,
                  combinations=list(combinations) or None, test_datasets=list(test_datasets) or None,
                  out_tracks_csv=out_tracks, n_resamples=int(bootstrap_samples), note=note, out_pairs_csv=out_pairs)


def _check_resamples(n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < stats.MIN_RESAMPLES:
        raise ConfigError(f"evaluation.bootstrap_samples: {n!r} is less than {stats.MIN_RESAMPLES}")
