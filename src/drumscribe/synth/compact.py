"""Compact kits: any kit of the registry as a small Hydrogen-format kit (mono Ogg Vorbis one-shots).

Why: a GPU or cluster node often has no FluidSynth (nor TiMidity++) and no room for the sound fonts
(FluidR3 GM is 142 MB, MuseScore General 82 MB, Hydrogen's ForzeeStereo 156 MB), while
what ``gmd_synth`` plays from a kit is a few dozen one-shots. :func:`compact_kit` keeps
just those: for each GM sound slot the kit plays (:data:`drumscribe.synth.kits.SLOTS`)
and each of ``layers`` velocity layers, one mono 44.1 kHz sample, its silent tail cut
(below :data:`TAIL_REL_DB` re its peak, at most ``max_seconds``, a short fade-out), as
Ogg Vorbis. The result is rendered by the numpy sampler of
:mod:`drumscribe.synth.hydrogen`, needs neither FluidSynth, TiMidity++ nor the original files, and
takes 0.5-2 MB a kit.

- **Sound-font and TiMidity kits** (FluidSynth, TiMidity++ for FreePats): every slot the kit
  really plays (the renderer's probe) is rendered alone at the top velocity of each layer; the
  layer's ``gain`` is ``127 / velocity``, so the sampler plays the rendered sample unchanged at
  that velocity and scales it linearly below it (the synthesizer's own velocity curve is
  approximated by ``layers`` steps).
- **Hydrogen and one-shot kits**: the samples of the instruments mapped to a slot, mixed to mono and
  resampled like the sampler does; an instrument with more than ``layers`` layers keeps
  ``layers`` of them spread over its velocity range (each widened to cover the dropped
  ones), with their gains and the instrument's volume.

The kit folder is ``<out_dir>/<kit id>/`` with a ``drumkit.xml`` whose instruments carry
their slot in ``<midiOutNote>`` and a ``<drumscribeCompact>`` element (the sampler then
takes slots from there, not from instrument names). With ``$DRUMSCRIBE_COMPACT_KITS``
pointing at ``out_dir``, the registry (:func:`drumscribe.synth.kits.get_kit`) serves the
compact kit under the original id and family, so kit assignments and splits are the same.

The labels of a compact kit are its sampler's (audible onset of the stored one-shot), the
audio differs from the original by the velocity steps, the cut tails and Vorbis coding;
``benchmarks/bench_render.py --compact`` measures how much.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import SAMPLE_RATE
from ..atomic import atomic_dir
from ..errors import ConfigError, InputError
from .kits import Kit, get_kit

#: the tail of a one-shot is cut where it stays below this level re its peak (dB)
TAIL_REL_DB = -60.0
#: fade-out at the cut (s)
FADE_SECONDS = 0.05
#: XML element marking a compact kit (its value: the kit id it was made from)
MARKER = "drumscribeCompact"
#: Vorbis quality in 0..1 (libsndfile's compression level is 1 - quality)
VORBIS_QUALITY = 0.6


def layer_velocities(layers: int) -> list[int]:
    """Top velocity of each of ``layers`` equal-width velocity layers over 1..127.

    Examples
    --------
    >>> layer_velocities(4)
    [32, 64, 95, 127]
    """
    if not isinstance(layers, int) or isinstance(layers, bool) or not 1 <= layers <= 16:
        raise ConfigError(f"compact kits: layers must be an integer in 1..16, not {layers!r}")
    return [int(round(127 * (i + 1) / layers)) for i in range(layers)]


def trim_tail(y: np.ndarray, max_seconds: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``y`` cut where it stays below :data:`TAIL_REL_DB` re its peak, at most ``max_seconds``
    long, with a :data:`FADE_SECONDS` linear fade-out ending at the cut (float32)."""
    y = np.asarray(y, dtype=np.float32)
    if y.size == 0:
        return y
    peak = float(np.abs(y).max())
    if peak <= 0:
        return y[:1] * 0
    loud = np.flatnonzero(np.abs(y) >= peak * 10 ** (TAIL_REL_DB / 20))
    end = min(int(loud[-1]) + 1, int(round(max_seconds * sr)))
    out = y[:end].copy()
    k = min(int(FADE_SECONDS * sr), end)
    out[end - k:] *= np.linspace(1.0, 0.0, k, dtype=np.float32)
    return out


def _pick_layers(layers, n: int):
    """At most ``n`` of an instrument's layers, spread over its velocity range, widened to cover 0..1."""
    ordered = sorted(layers, key=lambda ly: (ly.vmax, ly.vmin))
    if len(ordered) > n:
        idx = np.unique(np.round(np.linspace(0, len(ordered) - 1, n)).astype(int))
        ordered = [ordered[i] for i in idx]
    out, low = [], 0.0
    for i, ly in enumerate(ordered):
        high = 1.0 if i == len(ordered) - 1 else ly.vmax
        out.append((ly, low, high))
        low = high
    return out


def _one_shots(kit: Kit, layers: int, max_seconds: float):
    """``{slot: [(sample, vmin, vmax, gain), ...]}`` and ``{slot: instrument volume}`` of a kit."""
    shots: dict[int, list] = {}
    volumes: dict[int, float] = {}
    if kit.kind in ("hydrogen", "oneshot"):
        from .hydrogen import load_sample
        from .kits import load_kit_drumkit

        drumkit = load_kit_drumkit(kit)
        for slot, i in drumkit.slot_map.items():
            inst = drumkit.instruments[i]
            volumes[slot] = float(inst.volume)
            shots[slot] = [(trim_tail(load_sample(ly.path)[0], max_seconds), lo, hi, float(ly.gain))
                           for ly, lo, hi in _pick_layers(inst.layers, layers)]
        return shots, volumes
    from .render import open_kit

    renderer = open_kit(kit, cached=False)
    try:
        vels = layer_velocities(layers)
        for slot in renderer.slots:
            volumes[slot] = 1.0
            shots[slot] = []
            for j, v in enumerate(vels):
                y, _ = renderer.render([0.0], [slot], [v], max_seconds + 0.5)
                lo = 0.0 if j == 0 else vels[j - 1] / 127
                shots[slot].append((trim_tail(y, max_seconds), lo, v / 127 if j < layers - 1 else 1.0, 127 / v))
    finally:
        renderer.close()
    return shots, volumes


def _sub(parent: ET.Element, tag: str, text) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = str(text)
    return el


def compact_kit(kit: str | Kit, out_dir: str | os.PathLike, layers: int = 4, max_seconds: float = 2.0,
                quality: float = VORBIS_QUALITY) -> Path:
    """Write the compact copy of kit ``kit`` (a registry id or a :class:`Kit`) to
    ``<out_dir>/<kit id>/`` (see the module).

    The folder appears whole or not at all (:func:`drumscribe.atomic.atomic_dir`). Returns it.
    ``ConfigError`` for unknown kits or bad parameters, ``InputError`` for unreadable kit files.
    """
    import soundfile as sf

    if not (isinstance(max_seconds, (int, float)) and 0.05 <= max_seconds <= 30):
        raise ConfigError(f"compact kits: max_seconds must be in 0.05..30 s, not {max_seconds!r}")
    if not 0.0 <= quality <= 1.0:
        raise ConfigError(f"compact kits: quality must be in 0..1, not {quality!r}")
    kit = get_kit(kit) if isinstance(kit, str) else kit
    kit_id = kit.kit_id
    if not kit.installed:
        raise InputError(f"{kit.source}: kit {kit_id} is not installed")
    layer_velocities(layers)
    shots, volumes = _one_shots(kit, layers, max_seconds)
    if not shots:
        raise InputError(f"{kit.source}: kit {kit_id} plays none of the GM drum slots")

    final = Path(out_dir) / kit_id
    root = ET.Element("drumkit_info")
    _sub(root, "name", f"{kit.name} (compact)")
    _sub(root, "author", "drumscribe compact_kit")
    _sub(root, "info", f"one-shots of {kit.kit_id} ({kit.source}), {layers} velocity layers, "
                       f"tails <= {max_seconds} s, Ogg Vorbis")
    _sub(root, "license", kit.license)
    _sub(root, MARKER, kit.kit_id)
    insts = ET.SubElement(root, "instrumentList")
    with atomic_dir(final) as tmp:
        for n, slot in enumerate(sorted(shots)):
            inst = ET.SubElement(insts, "instrument")
            _sub(inst, "id", n)
            _sub(inst, "name", f"GM {slot}")
            _sub(inst, "volume", f"{volumes[slot]:.6g}")
            _sub(inst, "midiOutNote", slot)
            for j, (y, lo, hi, gain) in enumerate(shots[slot]):
                name = f"{slot}_{j}.ogg"
                sf.write(tmp / name, np.clip(y, -1.0, 1.0), SAMPLE_RATE, format="OGG", subtype="VORBIS",
                         compression_level=1.0 - quality)
                layer = ET.SubElement(inst, "layer")
                _sub(layer, "filename", name)
                _sub(layer, "min", f"{lo:.6g}")
                _sub(layer, "max", f"{hi:.6g}")
                _sub(layer, "gain", f"{gain:.6g}")
        ET.indent(root)
        ET.ElementTree(root).write(tmp / "drumkit.xml", encoding="utf-8", xml_declaration=True)
    return final


def compact_kits(kit_ids: Sequence[str | Kit], out_dir: str | os.PathLike, layers: int = 4, max_seconds: float = 2.0,
                 progress: bool = False) -> list[Path]:
    """:func:`compact_kit` for each of ``kit_ids`` (a tqdm bar with ``progress``)."""
    from tqdm.auto import tqdm

    return [compact_kit(k, out_dir, layers, max_seconds)
            for k in tqdm(list(kit_ids), desc="compact kits", unit="kit", disable=not progress)]
