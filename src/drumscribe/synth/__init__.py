"""Rendering the Groove MIDI Dataset through real sampled kits: the offline default.

- :mod:`.kits`: the kit registry (``list_kits()``, ``get_kit()``, ``resolve_kits()``).
- :mod:`.fluid`: FluidSynth in-process (sound-font kits, accompaniment).
- :mod:`.hydrogen`: a numpy sampler for Hydrogen kits and one-shot folders (numpy + soundfile + soxr only).
- :mod:`.timidity`: TiMidity++ as a subprocess (GUS-patch drum sets: FreePats).
- :mod:`.render`: one performance through one kit, labels on the audible onset.
- :mod:`.accompaniment`: generated bass/chords/lead following the groove's tempo and bars.
- :mod:`.gmd`: GMD splits, kit split and assignment (``gmd.assign_kits``), per-kit rendering
  (``gmd.render_kit``) with an atomic manifest.

:func:`assign_kits` and :func:`render_kit` here are the rules ``assign_kits`` and
``render_kit``: the same on files (the GMD folder, the assignment table).

Submodules are imported lazily so that importing :mod:`drumscribe.synth` costs nothing.
"""

from __future__ import annotations

import importlib

import os
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["list_kits", "get_kit", "resolve_kits", "assign_kits", "render_kit", "render_gmd"]


def __getattr__(name):
    if name in ("list_kits", "get_kit", "resolve_kits"):
        return getattr(importlib.import_module(".kits", __name__), name)
    if name == "render_gmd":
        return importlib.import_module(".gmd", __name__).render_kit
    raise AttributeError(name)


ASSIGNMENT_DTYPES = {"track_id": str, "gmd_id": str, "split": str, "kit": str, "group": str, "drummer": str,
                     "midi_filename": str, "time_signature": str, "beat_type": str}


def assign_kits(gmd_root: str | os.PathLike, kits: Sequence[str], render: Mapping,
                out_csv: str | os.PathLike) -> Path:
    """Assign every GMD performance to kits of its split's pool (``synth.gmd.assign_kits``)
    and write the table once, so every render job (on any host) reads the same assignment."""
    from ..atomic import atomic_path
    from . import gmd

    render = dict(render)  # the validated section: the schema filled in its defaults
    table = gmd.assign_kits(
        gmd.read_info(gmd_root), list(kits), render["kit_split"],
        kits_per_track=int(render["kits_per_track"]), seed=int(render["seed"]),
        max_tracks=render["max_tracks"], max_seconds=render["max_seconds"], split_by=render["split_by"],
    )
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    return Path(out_csv)


def render_kit(kit: str, assignments: str | os.PathLike, gmd_root: str | os.PathLike,
               out_dir: str | os.PathLike, mix: bool, render: Mapping) -> Path:
    """Render every GMD performance the ``assignments`` table (:func:`assign_kits`) gives
    ``kit`` into ``out_dir/<kit>/`` (+ ``manifest.csv``); ``mix`` adds the generated
    accompaniment (``gmd_synth_mix``)."""
    import pandas as pd

    from ..errors import InputError
    from . import gmd

    path = Path(assignments)
    try:
        table = pd.read_csv(path, dtype=ASSIGNMENT_DTYPES, keep_default_na=False)
        table["bpm"] = table["bpm"].astype(float)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a kit assignment table ({type(exc).__name__}: {exc})") from None
    return gmd.render_kit(kit, table, gmd_root, out_dir, mix, dict(render))
