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
``train_dataset`` (or ``dataset``), ``test_dataset``, ``arch``, ``trial``, ``params``,
``zero_shot`` and the scores of :func:`drumscribe.metrics.scores` (flat, or under
``scores``). Every output is written atomically; plots use matplotlib's Agg canvas
(no display needed).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import CLASSES
from .atomic import atomic_path
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
}

SCORE_KEYS = ("micro_f1", "macro_f1", "micro_precision", "micro_recall") + tuple(f"f1_{c}" for c in CLASSES)


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


def normalize_rows(rows: Iterable) -> list[dict]:
    """Rows of the studies in one shape (see the module docstring for what is read).

    Each returned dict has ``dataset`` (training dataset or combination),
    ``test_dataset``, ``in_distribution``, ``arch``, ``trial``, ``params`` (JSON text),
    ``n_tracks`` and the :data:`SCORE_KEYS` (NaN where absent; ``micro_f1`` required).
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
        rec = {
            "dataset": dataset,
            "test_dataset": str(test),
            "in_distribution": in_dist,
            "arch": str(row.get("arch") or ""),
            "trial": "" if row.get("trial") is None else str(row.get("trial")),
            "params": json.dumps(params, sort_keys=True) if params is not None else "",
            "n_tracks": row.get("n_tracks"),
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


# --------------------------------------------------------------------------- architecture study

def _column_label(dataset: str, test: str, in_dist: bool) -> str:
    if in_dist and dataset == test:
        return dataset_name(dataset)
    return f"{dataset_name(dataset)} → {dataset_name(test)}"


def architecture_frames(rows: Iterable, datasets: Sequence[str] | None = None):
    """(wide, long) DataFrames of the architecture study (see :func:`architecture_table`)."""
    import pandas as pd

    recs = normalize_rows(rows)
    long = pd.DataFrame(recs)
    dup = long.duplicated(["dataset", "test_dataset", "arch"], keep=False)
    if dup.any():
        r = long[dup].iloc[0]
        raise InputError(f"rows: more than one result for dataset {r.dataset}, test {r.test_dataset}, arch {r.arch}")
    if (long["arch"] == "").any():
        raise InputError("rows: a result without 'arch'")
    long["architecture"] = long["arch"].map(arch_name)
    long["zero_shot"] = ~long["in_distribution"]
    long["column"] = [_column_label(d, t, i) for d, t, i in zip(long.dataset, long.test_dataset, long.in_distribution)]
    # best architecture per (dataset, test dataset): highest micro F1 (ties: all marked)
    best = long.groupby(["dataset", "test_dataset"])["micro_f1"].transform("max")
    long["best"] = long["micro_f1"] == best
    arch_order = _order(long["arch"], list(ARCH_NAMES))
    ds_order = _order(long["dataset"], datasets)
    long["_a"] = long["arch"].map({a: i for i, a in enumerate(arch_order)})
    long["_d"] = long["dataset"].map({d: i for i, d in enumerate(ds_order)})
    long = long.sort_values(["zero_shot", "_d", "test_dataset", "_a"]).drop(columns=["_a", "_d"])
    columns = list(dict.fromkeys(long["column"]))
    wide = long.pivot(index="architecture", columns="column", values="micro_f1")
    wide = wide.reindex(index=[arch_name(a) for a in arch_order], columns=columns)
    in_cols = list(dict.fromkeys(long.loc[long.in_distribution & (long.dataset == long.test_dataset), "column"]))
    if in_cols:
        wide["Mean"] = wide[in_cols].mean(axis=1)
    wide.index.name = "architecture"
    wide.columns.name = None
    cols = ["dataset", "test_dataset", "zero_shot", "arch", "architecture", "trial", "best",
            *SCORE_KEYS, "n_tracks", "params"]
    return wide, long[cols].reset_index(drop=True)


def architecture_table(rows: Iterable, out_csv, out_long_csv, out_png,
                       datasets: Sequence[str] | None = None, title: str | None = None):
    """Write the architecture study's table, long table and bar plot.

    Parameters
    ----------
    rows : iterable of dicts or ``metrics.json`` paths
        One test result per (training dataset, test dataset, architecture).
    out_csv : wide table, micro F1 (3 decimals), architectures × datasets, display names;
        test sets other than the training set appear as ``"A → B"`` columns after the
        in-distribution ones; ``Mean`` = mean over the in-distribution datasets.
    out_long_csv : one row per result, machine names, per-class / macro F1, trial, params
        (JSON), ``best`` = best architecture of its column.
    out_png : grouped bar plot (x = dataset, hue = architecture), values annotated, the
        best bar of each dataset outlined and starred.
    datasets : column order (default: order of appearance).

    Returns
    -------
    (wide, long) pandas DataFrames.
    """
    wide, long = architecture_frames(rows, datasets)
    fig = _architecture_plot(long, title)  # everything is computed before anything is written
    _save_csv(wide.round(4), out_csv, float_format="%.4f")
    _save_csv(long, out_long_csv, index=False, float_format="%.6g")
    _save_png(fig, out_png)
    return wide, long


def _architecture_plot(long, title: str | None):
    import seaborn as sns
    from matplotlib.lines import Line2D

    long = long.assign(column=[_column_label(d, t, not z) for d, t, z in
                               zip(long.dataset, long.test_dataset, long.zero_shot)])
    columns = list(dict.fromkeys(long["column"]))
    archs = list(dict.fromkeys(long["architecture"]))
    n_bars = len(columns) * len(archs)
    fig = _figure(max(6.0, 1.0 + 0.42 * n_bars + 0.6 * len(columns)), 4.6)
    ax = fig.add_subplot(1, 1, 1)
    palette = sns.color_palette("colorblind", n_colors=max(len(archs), 1))
    sns.barplot(data=long, x="column", y="micro_f1", hue="architecture", order=columns, hue_order=archs,
                palette=palette, ax=ax, errorbar=None, saturation=0.9)
    best = {(r.column, r.architecture) for r in long.itertuples() if r.best}
    for container, arch in zip(ax.containers, archs):
        for bar, col in zip(container.patches, columns):
            h = bar.get_height()
            if h is None or not np.isfinite(h):
                continue
            is_best = (col, arch) in best
            ax.annotate(f"{h:.3f}", (bar.get_x() + bar.get_width() / 2, h / 2), ha="center", va="center",
                        rotation=90, fontsize=7.5, color="white", fontweight="bold" if is_best else "normal")
            if is_best:
                bar.set_edgecolor("black")
                bar.set_linewidth(2.0)
                ax.annotate("★", (bar.get_x() + bar.get_width() / 2, h + 0.01), ha="center", va="bottom",
                            fontsize=11, color="black")
    ax.set_ylim(0, 1.1)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel("")
    ax.set_ylabel("test micro F1")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title(title or "Architecture study: test micro F1 per dataset")
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="*", color="black", linestyle="", markersize=10))
    labels.append("best on the dataset")
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


def dataset_frames(rows: Iterable, combinations: Sequence | None = None, test_datasets: Sequence[str] | None = None):
    """(wide, long) DataFrames of the dataset study (see :func:`dataset_table`)."""
    import pandas as pd

    long = pd.DataFrame(_dataset_records(rows))
    dup = long.duplicated(["dataset", "test_dataset"], keep=False)
    if dup.any():
        r = long[dup].iloc[0]
        raise InputError(f"rows: more than one result for training on {r.dataset}, testing on {r.test_dataset}")
    long = long.rename(columns={"dataset": "train_dataset"})
    combos = ["+".join(c) if isinstance(c, (list, tuple)) else str(c) for c in (combinations or [])]
    row_order = _order(long["train_dataset"], combos)
    col_order = _order(long["test_dataset"], test_datasets)
    zs = long[~long["in_distribution"]]
    best = zs.groupby("test_dataset")["micro_f1"].transform("max")
    long["best_zero_shot"] = False
    long.loc[zs.index, "best_zero_shot"] = zs["micro_f1"] == best
    long["_r"] = long["train_dataset"].map({d: i for i, d in enumerate(row_order)})
    long["_c"] = long["test_dataset"].map({d: i for i, d in enumerate(col_order)})
    long = long.sort_values(["_r", "_c"]).drop(columns=["_r", "_c"]).reset_index(drop=True)
    wide = long.pivot(index="train_dataset", columns="test_dataset", values="micro_f1")
    wide = wide.reindex(index=row_order, columns=col_order)
    wide.index = [dataset_name(d) for d in wide.index]
    wide.columns = [dataset_name(d) for d in wide.columns]
    wide.index.name = "trained on"
    cols = ["train_dataset", "test_dataset", "in_distribution", "best_zero_shot", "arch", "trial",
            *SCORE_KEYS, "n_tracks", "params"]
    return wide, long[cols], row_order, col_order


def dataset_table(rows: Iterable, out_csv, out_long_csv, out_png, combinations: Sequence | None = None,
                  test_datasets: Sequence[str] | None = None, title: str | None = None):
    """Write the dataset study's table, long table and heatmap.

    Parameters
    ----------
    rows : iterable of dicts, ``metrics.json`` paths, or tuples
        ``(train combination 'a+b', test dataset, micro F1[, in_distribution])``. Without
        an explicit flag a cell is in-distribution when every dataset of the test name
        is part of the training combination.
    out_csv : wide table, micro F1, training combinations × test datasets (display names).
    out_long_csv : one row per cell with machine names, ``in_distribution`` and
        ``best_zero_shot`` flags and the other scores where known.
    out_png : heatmap; in-distribution cells grey and hatched, the best zero-shot cell of
        each column outlined in bold.
    combinations, test_datasets : row and column order (default: order of appearance).

    Returns
    -------
    (wide, long) pandas DataFrames.
    """
    wide, long, row_order, col_order = dataset_frames(rows, combinations, test_datasets)
    fig = _dataset_plot(long, row_order, col_order, title)  # computed before anything is written
    _save_csv(wide.round(4), out_csv, float_format="%.4f")
    _save_csv(long, out_long_csv, index=False, float_format="%.6g")
    _save_png(fig, out_png)
    return wide, long


def _dataset_plot(long, row_order, col_order, title: str | None):
    import matplotlib as mpl
    from matplotlib.patches import Patch, Rectangle

    nr, nc = len(row_order), len(col_order)
    val = np.full((nr, nc), np.nan)
    ind = np.zeros((nr, nc), dtype=bool)
    best = np.zeros((nr, nc), dtype=bool)
    ri = {d: i for i, d in enumerate(row_order)}
    ci = {d: i for i, d in enumerate(col_order)}
    for r in long.itertuples():
        i, j = ri[r.train_dataset], ci[r.test_dataset]
        val[i, j] = r.micro_f1
        ind[i, j] = r.in_distribution
        best[i, j] = r.best_zero_shot
    fig = _figure(max(5.0, 2.2 + 1.45 * nc), max(3.0, 1.4 + 0.55 * nr))
    ax = fig.add_subplot(1, 1, 1)
    cmap = mpl.colormaps["viridis"]
    zs = np.where(ind, np.nan, val)
    finite = zs[np.isfinite(zs)]
    vmin = float(min(finite.min(), 0.5)) if finite.size else 0.0
    im = ax.imshow(np.ma.masked_invalid(zs), cmap=cmap, vmin=vmin, vmax=1.0, aspect="auto")
    for i in range(nr):
        for j in range(nc):
            v = val[i, j]
            txt = "–" if not np.isfinite(v) else f"{v:.3f}"
            if ind[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.88", edgecolor="0.6",
                                       hatch="///", linewidth=0))
                ax.text(j, i, txt, ha="center", va="center", fontsize=9, color="0.35",
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="0.88", edgecolor="none"))
            else:
                color = "black"
                if np.isfinite(v):
                    r, g, b, _ = cmap((v - vmin) / max(1e-9, 1.0 - vmin))
                    color = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
                ax.text(j, i, txt, ha="center", va="center", fontsize=9, color=color,
                        fontweight="bold" if best[i, j] else "normal")
            if best[i, j]:
                ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, edgecolor="red", linewidth=2.5))
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
    ax.legend(handles=[Patch(facecolor="0.88", edgecolor="0.6", hatch="///", label="in-distribution (trained on it)"),
                       Patch(facecolor="none", edgecolor="red", linewidth=2.5, label="best zero-shot in column")],
              loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=2, frameon=False, fontsize=8)
    archs = sorted({a for a in long["arch"] if isinstance(a, str) and a})
    default = f"Dataset study ({', '.join(arch_name(a) for a in archs)}): test micro F1" if archs \
        else "Dataset study: test micro F1"
    ax.set_title(title or default, pad=10)
    return fig
