"""Rendering the Groove MIDI Dataset through real sampled kits: the offline default.

- :mod:`.kits`: the kit registry (``list_kits()``, ``get_kit()``, ``resolve_kits()``).
- :mod:`.fluid`: FluidSynth in-process (sound-font kits, accompaniment).
- :mod:`.hydrogen`: a numpy sampler for Hydrogen kits (numpy + soundfile + soxr only).
- :mod:`.render`: one performance through one kit, labels on the audible onset.
- :mod:`.accompaniment`: generated bass/chords/lead following the groove's tempo and bars.
- :mod:`.gmd`: GMD splits, kit split and assignment (``assign_kits``), per-kit rendering
  (``render_kit``) with an atomic manifest.

Submodules are imported lazily so that importing :mod:`drumscribe.synth` costs nothing.
"""

from __future__ import annotations

import importlib

__all__ = ["list_kits", "get_kit", "resolve_kits", "assign_kits", "render_kit", "render_gmd"]


def __getattr__(name):
    if name in ("list_kits", "get_kit", "resolve_kits"):
        return getattr(importlib.import_module(".kits", __name__), name)
    if name in ("assign_kits", "render_kit"):
        return getattr(importlib.import_module(".gmd", __name__), name)
    if name == "render_gmd":
        return importlib.import_module(".gmd", __name__).render_kit
    raise AttributeError(name)
