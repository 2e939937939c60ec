"""The studies' figures: the architecture study's grouped bar plot and the dataset study's heatmap.

Drawn from the long tables of :mod:`drumscribe.studies` (one row per cell, with its
interval, seed spread and best marks) on matplotlib's Agg canvas (no display needed);
written atomically.
"""

from __future__ import annotations

import textwrap

import numpy as np

from .atomic import atomic_path
from .study_cells import ALPHA, arch_name, column_label, dataset_name


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, out_png) -> None:
    """Write ``fig`` to ``out_png`` atomically."""
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")


def _subtitle(note: str | None, long) -> str:
    """The plot's second title line: what the intervals are, and the run's note (e.g. smoke run)."""
    n_seeds = sorted(set(int(n) for n in long["n_seeds"]))
    seeds = "1 seed (the winning trial)" if n_seeds == [1] else f"{n_seeds[0]} seeds pooled" \
        if len(n_seeds) == 1 else f"{n_seeds[0]}–{n_seeds[-1]} seeds pooled"
    has_ci = bool(np.isfinite(long["micro_f1_lo"].to_numpy(dtype=float)).any())
    what = f"{seeds}; {100 * (1 - ALPHA):.0f} % bootstrap CI over test tracks" if has_ci else seeds
    return f"{what}\n{note}" if note else what


# --------------------------------------------------------------------------- architecture study

def architecture_plot(long, title: str | None, note: str | None = None):
    """The architecture study's grouped bar plot of ``long``, a Figure
    (:func:`drumscribe.studies.architecture_table`)."""
    import seaborn as sns
    from matplotlib.lines import Line2D

    long = long.assign(column=[column_label(d, t, not z) for d, t, z in
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
    # "train → test (kind)" on two or three lines: long labels of neighbouring groups would overlap
    ax.set_xticks(range(len(columns)), [c.replace(" → ", "\n→ ").replace(" (", "\n(") for c in columns])
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


# --------------------------------------------------------------------------- dataset study

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


def dataset_plot(long, row_order, col_order, title: str | None, note: str | None = None):
    """The dataset study's heatmap of ``long``, ``row_order`` × ``col_order``, a Figure
    (:func:`drumscribe.studies.dataset_table`)."""
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
    # long names (the real songs' conditions) wrapped, so that neighbours do not overlap
    ax.set_xticklabels([textwrap.fill(dataset_name(d), 16) for d in col_order], fontsize=8)
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
