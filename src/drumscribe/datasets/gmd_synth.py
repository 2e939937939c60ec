"""``gmd_synth`` and ``gmd_synth_mix``: the offline default.

The Groove MIDI Dataset (Magenta, CC BY 4.0; MIDI only) rendered through real sampled
kits (see :mod:`drumscribe.synth`): ``gmd_synth`` is the drums alone, ``gmd_synth_mix``
the same drums with a generated, tempo-aligned accompaniment. Rendered tracks live in
``results/audio/gmd_synth/<kit>/`` and ``results/audio/gmd_synth_mix/<kit>/``, each kit
folder with a ``manifest.csv``; :func:`tracks` reads every ``<root>/*/manifest.csv``.

Splits: GMD's own ``info.csv`` split of performances (not session-disjoint: see
:mod:`drumscribe.synth.gmd`), and on top a kit split (``render.kit_split``) so that
validation and test kits are never heard in training. ``group`` is the GMD session
(``drummer/session``). Labels: GMD's Roland TD-11 notes through
:data:`drumscribe.labels.ROLAND_TO_CLASS` (22/26 hi-hat edges → HH, 58 tom-3 rim → TT),
only for hits the kit made audible, placed on each hit's audible onset.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..labels import ROLAND_TO_CLASS
from ..references import read_json
from .base import SPLITS, DatasetSpec, Download, Track

GMD_MIDI_ZIP = Download(
    url="https://storage.googleapis.com/magentadata/datasets/groove/groove-v1.0.0-midionly.zip",
    filename="groove-v1.0.0-midionly.zip",
    size=3_260_318,
    sha256="651cbc524ffb891be1a3e46d89dc82a1cecb09a57c748c7b45b844c4841dcc1e",
    extract=True,
)

_LICENSE = ("CC BY 4.0 (Groove MIDI Dataset, Magenta) for the performances; the audio also carries the "
            "kits' licenses: FluidR3 GM and MuseScore General MIT, TimGM6mb GPL-2, AVL Drumkits CC BY-SA 4.0, "
            "hydrogen-drumkits GPL / CC0 / CC BY(-SA) 3.0 per kit (see `drumscribe kits`)")

_CITATION = ("Gillick, Roberts, Engel, Eck, Bamman (2019): Learning to Groove with Inverse Sequence "
             "Transformations. ICML.")


def _load_json_onsets(path: Path):
    """The loader of a rendered track's onsets (:func:`drumscribe.references.read_json`)."""
    def load():
        if not path.is_file():
            raise InputError(f"{path}: onset file not found")
        try:
            return read_json(path)[0]
        except InputError as exc:  # the same one line, as "not an onset JSON file (<cause>)"
            raise InputError(f"{path}: not an onset JSON file ({str(exc).removeprefix(f'{path}: ')})") from None
    return load


def read_manifest(manifest: Path) -> list[Track]:
    """Tracks of one kit folder's ``manifest.csv`` (paths relative to its folder)."""
    try:
        df = pd.read_csv(manifest, dtype={"track_id": str, "split": str, "group": str, "kit": str})
    except Exception as exc:
        raise InputError(f"{manifest}: not a readable manifest ({type(exc).__name__}: {exc})") from None
    need = {"track_id", "split", "group", "kit", "audio", "onsets", "duration"}
    if not need <= set(df.columns):
        raise InputError(f"{manifest}: missing columns {', '.join(sorted(need - set(df.columns)))}")
    folder = manifest.parent
    out = []
    for r in df.itertuples(index=False):
        if r.split not in SPLITS:
            raise InputError(f"{manifest}: track {r.track_id} has unknown split {r.split!r}")
        ann = folder / r.onsets
        meta = {"kit": r.kit, "duration": float(r.duration)}
        if "gmd_id" in df.columns:
            meta["gmd_id"] = r.gmd_id
        if "accompaniment_db" in df.columns:
            meta["accompaniment_db"] = float(r.accompaniment_db)
        out.append(Track(track_id=str(r.track_id), split=r.split, group=str(r.group), audio=(folder / r.audio,),
                         load_onsets=_load_json_onsets(ann), annotation=ann, meta=meta))
    return out


def tracks(root: str | Path) -> list[Track]:
    """All rendered tracks under ``root`` (``<root>/<kit>/manifest.csv``), sorted by track id.

    ``InputError`` names ``root`` when it holds no manifest (not rendered yet).
    """
    root = Path(root)
    manifests = sorted(root.glob("*/manifest.csv"))
    if not manifests:
        raise InputError(f"{root}: no rendered kit (no */manifest.csv); render it first")
    out = [t for m in manifests for t in read_manifest(m)]
    return sorted(out, key=lambda t: t.track_id)


SPECS = {
    "gmd_synth": DatasetSpec(
        name="gmd_synth",
        description="Groove MIDI Dataset rendered through real sampled kits (FluidSynth GM drum presets, "
                    "AVL Drumkits, Hydrogen kits), drums only; kit-disjoint validation/test",
        license=_LICENSE,
        tracks=tracks,
        label_map=ROLAND_TO_CLASS,
        downloads=(GMD_MIDI_ZIP,),
        path_key=None,
        citation=_CITATION,
    ),
    "gmd_synth_mix": DatasetSpec(
        name="gmd_synth_mix",
        description="gmd_synth's drums with a generated, tempo-aligned accompaniment (bass, chords, lead on "
                    "General MIDI instruments) at a random level around ENST's 2:1 drums:accompaniment",
        license=_LICENSE,
        tracks=tracks,
        label_map=ROLAND_TO_CLASS,
        downloads=(GMD_MIDI_ZIP,),
        path_key=None,
        citation=_CITATION,
    ),
}
