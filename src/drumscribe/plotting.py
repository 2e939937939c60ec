"""A picture of a transcription: spectrogram with the detected onsets per class.

:func:`plot_transcription` draws the song in rows ("systems", like a score) of
``seconds_per_row`` seconds. Each row shows the log-filtered spectrogram (low
frequencies at the bottom) and, above it, one lane per class (BD, SD, TT, HH, CY)
with a tick at every onset, its opacity the onset's confidence. Long songs get
longer rows so the figure stays at most ``max_rows`` rows tall.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from . import CLASSES, FPS
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
