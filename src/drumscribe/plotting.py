"""Pictures: a transcription (``drumscribe transcribe --plot``), the datasets (rule
``dataset_summary``: its table too; rule ``dataset_example``) and a search winner's
training curves (rule ``training_curves``). The studies' plots are in :mod:`study_plots`.


:func:`plot_transcription` draws the song in rows ("systems", like a score) of
``seconds_per_row`` seconds. Each row shows the log-filtered spectrogram (low
frequencies at the bottom) and, above it, one lane per class (BD, SD, TT, HH, CY)
with a tick at every onset, its opacity the onset's confidence. Long songs get
longer rows so the figure stays at most ``max_rows`` rows tall.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import CLASSES, DATAPOINT_FRAMES, FPS, WIDEN
from . import cache
from .atomic import atomic_path
from .errors import InputError

#: One colour per class (colour-blind safe, Okabe-Ito).
CLASS_COLOURS = {"BD": "#0072B2", "SD": "#D55E00", "TT": "#009E73", "HH": "#CC79A7", "CY": "#E69F00"}


def row_layout(duration: float, seconds_per_row: float = 20.0, max_rows: int = 24) -> tuple[int, float]:
    """``(rows, seconds per row)`` for a song of ``duration`` s: as few rows of at most
    ``seconds_per_row`` s as cover it (at most ``max_rows``), all of the same length, so
    the last row ends with the song (28.8 s: two rows of 14.4 s, not 20 s and a half-empty
    second row to 40 s).

    >>> row_layout(28.8)
    (2, 14.4)
    >>> row_layout(12.0)
    (1, 12.0)
    """
    n_rows = min(max(1, math.ceil(duration / float(seconds_per_row) - 1e-9)), max_rows)
    return n_rows, duration / n_rows


def plot_transcription(path: str | os.PathLike, spectrogram: np.ndarray | None,
                       onsets: Mapping[str, np.ndarray], confidences: Mapping[str, np.ndarray] | None = None,
                       fps: float = FPS, duration: float | None = None, title: str | None = None,
                       seconds_per_row: float = 20.0, max_rows: int = 24, dpi: int = 100) -> Path:
    """Write a PNG of ``spectrogram`` (frames, bins) with ``onsets`` per class, atomically.

    Parameters
    ----------
    path : output PNG.
    spectrogram : (frames, bins) at ``fps`` frames/s, or None (onset lanes only).
    onsets : ``{class: seconds}``; confidences ``{class: 0..1}`` set each tick's opacity.
    duration : seconds shown (default: the spectrogram's length or the last onset).
    seconds_per_row : seconds per row; raised so at most ``max_rows`` rows are drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if duration is None:
        last = max((float(np.max(v)) for v in onsets.values() if len(v)), default=0.0)
        duration = len(spectrogram) / fps if spectrogram is not None else last + 1.0
    duration = max(float(duration), 1.0 / fps)
    n_rows, seconds_per_row = row_layout(duration, seconds_per_row, max_rows)
    lane_h, spec_h = 0.9, 1.6
    fig_h = n_rows * (lane_h + spec_h + 0.45) + 0.8
    fig = plt.figure(figsize=(14, fig_h), dpi=dpi)
    ratios = []
    for _ in range(n_rows):
        ratios += [lane_h, spec_h, 0.45]
    gs = fig.add_gridspec(3 * n_rows, 1, height_ratios=ratios, hspace=0.0)
    if spectrogram is not None and len(spectrogram):
        spec = np.asarray(spectrogram, dtype=np.float32)
        vmax = float(np.percentile(spec, 99.5)) or 1.0
    for r in range(n_rows):
        t0, t1 = r * seconds_per_row, min((r + 1) * seconds_per_row, duration)
        lanes = fig.add_subplot(gs[3 * r, 0])
        ax = fig.add_subplot(gs[3 * r + 1, 0], sharex=lanes)
        for i, c in enumerate(CLASSES):
            t = np.asarray(onsets.get(c, ()), dtype=np.float64)
            p = np.asarray(confidences.get(c, np.ones(len(t))) if confidences else np.ones(len(t)), dtype=float)
            sel = (t >= t0) & (t < t1)
            y = len(CLASSES) - 1 - i
            if sel.any():
                colours = np.tile(matplotlib.colors.to_rgba(CLASS_COLOURS[c]), (int(sel.sum()), 1))
                colours[:, 3] = np.clip(0.3 + 0.7 * p[sel], 0.3, 1.0)
                lanes.vlines(t[sel], y - 0.4, y + 0.4, colors=colours, linewidth=1.6)
                if spectrogram is not None:
                    ax.vlines(t[sel], 0, 0.06 * spectrogram.shape[1], colors=colours, linewidth=1.0)
        lanes.set_yticks(range(len(CLASSES)))
        lanes.set_yticklabels(list(reversed(CLASSES)), fontsize=7)
        lanes.set_ylim(-0.6, len(CLASSES) - 0.4)
        lanes.tick_params(labelbottom=False, length=0)
        lanes.grid(axis="x", alpha=0.3)
        if spectrogram is not None and len(spectrogram):
            f0, f1 = int(t0 * fps), int(math.ceil(t1 * fps))
            ax.imshow(spec[f0:f1].T, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=vmax,
                      extent=(f0 / fps, f1 / fps, 0, spec.shape[1]), interpolation="nearest")
            ax.set_ylabel("bin", fontsize=7)
        else:
            ax.set_yticks([])
        ax.set_xlim(t0, t0 + seconds_per_row)
        ax.tick_params(labelsize=7)
        if r == n_rows - 1:
            ax.set_xlabel("time (s)")
        fig.add_subplot(gs[3 * r + 2, 0]).axis("off")
    counts = ", ".join(f"{c} {len(onsets.get(c, ()))}" for c in CLASSES)
    fig.suptitle(f"{title or path.stem}: {counts}", fontsize=10, y=1 - 0.25 / fig_h)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight")
    except OSError as exc:
        raise InputError(f"{path}: cannot write PNG ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)
    return path


# --------------------------------------------------------------------------- datasets and training


def summary_table(h5_paths: Sequence[str | os.PathLike], datapoint_frames: int = DATAPOINT_FRAMES):
    """Per dataset and split: tracks, hours, datapoints, frames and onsets per class (a DataFrame)."""
    import h5py
    import pandas as pd

    from .datasets import SPLITS

    rows = []
    for path in h5_paths:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: feature cache not found")
        cache.verify_cache(path)
        with h5py.File(path, "r") as h5:
            name = str(h5.attrs.get("dataset", path.stem))
            acc = {s: {"tracks": 0, "seconds": 0.0, "datapoints": 0, "frames": 0, **{c: 0 for c in CLASSES}}
                   for s in SPLITS}
            for g in h5["tracks"].values():
                a = acc[str(g.attrs["split"])]
                n = int(g["spec"].shape[0])
                a["tracks"] += 1
                a["seconds"] += float(g.attrs.get("duration", n / FPS))
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


def dataset_summary(h5_paths: Sequence[str | os.PathLike], out_csv: str | os.PathLike,
                       out_png: str | os.PathLike, datapoint_frames: int = DATAPOINT_FRAMES) -> None:
    """Write ``summary.csv`` (see :func:`summary_table`) and a class-balance bar plot."""
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


def dataset_example(h5_path: str | os.PathLike, out_png: str | os.PathLike, widen: float = WIDEN,
                 seconds: float = 8.0, track_id: str | None = None) -> None:
    """Plot the first ``seconds`` of one track: spectrogram (train-split normalised) and widened targets."""
    from . import targets

    cache.verify_cache(h5_path)
    tracks = cache.list_tracks(h5_path)
    if not tracks:
        raise InputError(f"{h5_path}: no tracks")
    tid = track_id or tracks[0]
    spec, onsets, attrs = cache.read_track(h5_path, tid)
    fps = int(cache.cache_config(h5_path).fps)
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


def training_curves(best_json: str | os.PathLike, out_png: str | os.PathLike, title: str = "") -> None:
    """Plot the best trial's history: losses per epoch and validation micro F1."""
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

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
    for ax in (a1, a2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if a2.lines:
        a2.legend()
    fig.suptitle(f"{title} (trial {best['trial']}, val micro F1 {best['micro_f1']:.3f})")
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
    import matplotlib.pyplot as plt

    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
