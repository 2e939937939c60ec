"""The released model: its Markdown model card and the copy of its checkpoint.

:func:`release_card` (rule ``release_card``) copies the trained release model and
writes ``MODEL_CARD.md`` from its checkpoint, its training metrics and its test
metrics (:func:`drumscribe.evaluation.evaluate` on each test set: the activations of
:mod:`drumscribe.inference`, the path ``drumscribe transcribe`` runs).
:func:`card_header` is shared with the cross-validated release's card (``crossval``).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from . import CLASSES, models
from .atomic import atomic_path, write_text


def _git_commit() -> str:
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


def release_card(model: str | os.PathLike, train_metrics: str | os.PathLike,
                  test_metrics: Mapping[str, str | os.PathLike], out_model: str | os.PathLike,
                  out_card: str | os.PathLike, config: Mapping, command: str | None = None) -> None:
    """Copy the trained release model to ``out_model`` and write its ``MODEL_CARD.md``."""
    _, meta = models.load_checkpoint(model)
    train = json.loads(Path(train_metrics).read_text())
    tests = {name: json.loads(Path(p).read_text()) for name, p in test_metrics.items()}
    command = command or "snakemake --cores all release"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    card = model_card(meta, train, tests, config, command, _git_commit(), date)
    with atomic_path(out_model) as tmp:
        shutil.copyfile(model, tmp)
    write_text(out_card, card)
