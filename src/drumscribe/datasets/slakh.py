"""Slakh2100 (Manilow et al., WASPAA 2019), redux version: Lakh MIDI songs rendered with sampler patches.

Layout (``slakh2100_flac_redux.tar.gz``; ``root`` may be ``slakh2100_flac_redux`` or
the folder holding it)::

    slakh2100_flac_redux/{train,validation,test,omitted}/TrackNNNNN/
        metadata.yaml      stems: {Sxx: {inst_class, is_drum, plugin_name, audio_rendered, ...}}
        MIDI/Sxx.mid       one MIDI file per stem
        stems/Sxx.flac     one rendered stem each
        mix.flac           the mix (the audio used here)

Split: the official redux split (train 1,289 / validation 270 / test 151 tracks);
``omitted/`` (duplicated songs) is skipped. Group: the track.

Labels: the notes of every rendered drum stem (``is_drum: true`` or ``inst_class:
Drums``), mapped **per kit** (the stem's ``plugin_name``) through :data:`KIT_MAPS`:
Slakh's drum patches are Kontakt kits whose note layouts are not all General
MIDI. Kits not in the table use General MIDI. Tracks without a rendered drum stem
are skipped (``require_drums=False`` keeps them, with no onsets). Some factory kits
play a multi-hit pattern from one note (notes 60–71 of ``funk_kit``/``pop_kit``/
``street_knowledge_kit``): such a note is labelled with the classes of its pattern
at the note's start only. Check a new kit with :func:`count_by_kit`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .. import CLASSES
from ..errors import InputError
from ..labels import GM_TO_CLASS, empty_onsets
from ..references import read_midi
from .base import DatasetSpec, Download, Track
from .download import require_layout

NAME = "slakh"
SPLIT_DIRS = ("train", "validation", "test")

KitMap = Mapping[int, tuple[str, ...]]


def _gm() -> dict[int, tuple[str, ...]]:
    return {note: (cls,) for note, cls in GM_TO_CLASS.items()}


def _layout(spec: Mapping[str, Iterable[int]], base: Mapping[int, tuple[str, ...]] | None = None,
            ignore: Iterable[int] = ()) -> dict[int, tuple[str, ...]]:
    out = dict(base or {})
    for note in ignore:
        out.pop(note, None)
    for classes, notes in spec.items():
        for note in notes:
            out[note] = tuple(classes.split("+"))
    return out


#: Native Instruments "Studio Drummer" layout (garage/session/stadium kits), from NI's default
#: mapping sheets: 22-26 cymbal chokes, 27-35 percussion, claps and stick (33-34 clap -> SD),
#: 36-59 drums and cymbals (48-59 crash/ride/china/splash articulations, not GM toms),
#: 60-100 extra articulations (rimshots, rim-only -> SD as GM's side stick, hi-hat openings).
_STUDIO_DRUMMER = _layout({
    "CY": [22, 23, 24, 25, 26, *range(48, 60)],
    "SD": [33, 34, 37, 38, 39, 40, 61, 62, 63, 64, 72, 73, 74, 75, 81, 83, 84, 86],
    "BD": [36, 60],
    "TT": [41, 43, 45, 47, 65, 67, 69, 71, 88, 89, 91, 93, 95, 96, 98, 100],
    "HH": [42, 44, 46, 66, 68, 70, *range(76, 81), 85, 87, 90, 92, 94, 97],
})
#: Abbey Road Modern Drummer kits: the Studio Drummer layout plus 82 kick half-open and
#: 101-103 snare splash articulations; the "Chopper" stacked cymbal and "Spiral" effect cymbal
#: count as cymbals.
_AR_MODERN = _layout({"BD": [82], "SD": [101, 102, 103]}, base=_STUDIO_DRUMMER)

#: Kontakt factory funk/pop kits: GM-like 35-59 but 52-53 are the high tom, 54 ride bell,
#: 58 a second splash, 56 cowbell; 60-71 trigger kick + hat/tom patterns.
_FACTORY = _layout({
    "TT": [52, 53], "CY": [54, 58],
    "BD+HH": [60, 61, 64, 66, 67, 70], "BD+HH+TT": [68, 69],
}, base=_gm(), ignore=[56])

#: Slakh drum patch (``plugin_name``) -> note -> classes. Unlisted patches use General MIDI.
KIT_MAPS: dict[str, dict[int, tuple[str, ...]]] = {
    "garage_kit_lite.nkm": _layout({}, base=_STUDIO_DRUMMER),
    "session_kit_full.nkm": _layout({}, base=_STUDIO_DRUMMER),
    "stadium_kit_full.nkm": _layout({}, base=_STUDIO_DRUMMER),
    "ar_modern_sparkle_kit_full.nkm": _layout({"CY": [27, 28, 29]}, base=_AR_MODERN),
    "ar_modern_white_kit_full.nkm": _layout({"CY": [17, 19, 21, 31, 32]}, base=_AR_MODERN),
    "funk_kit.nkm": _layout({"SD": list(range(24, 36)), "BD": [63], "BD+TT": [65], "BD+HH": [62, 71]},
                            base=_FACTORY),
    "pop_kit.nkm": _layout({"BD": [62, 63, 71], "HH": [65], "BD+HH": [60, 61]}, base=_FACTORY),
    "street_knowledge_kit.nkm": _layout({
        "BD": [36, 47, 48, 59, 62, 63, 66, 67, 68, 69, 70], "SD": [37, 38, 39, 40, 50, 52],
        "HH": [42, 44, 46], "CY": [57], "BD+HH": [60, 61, 64, 65],
    }),
}
#: Kits known to depart from General MIDI (documented in docs/labels.md).
NON_GM_KITS: tuple[str, ...] = tuple(KIT_MAPS)


def kit_map(plugin_name: str | None) -> dict[int, tuple[str, ...]]:
    """Note -> classes for a Slakh drum patch (General MIDI for unlisted patches)."""
    return KIT_MAPS.get(plugin_name or "", _gm())


def find_root(root: str | Path) -> Path:
    """The ``slakh2100_flac_redux`` folder (``root`` or a child of it) holding train/validation/test."""
    root = require_layout(root, NAME)
    for cand in (root, root / "slakh2100_flac_redux", root / "slakh2100_redux"):
        if any((cand / s).is_dir() for s in SPLIT_DIRS) and any(cand.glob("*/Track*/metadata.yaml")):
            return cand
    raise InputError(f"{root}: not a {NAME} folder (missing {{train,validation,test}}/TrackNNNNN/metadata.yaml)")


def drum_stems(metadata_path: Path) -> list[tuple[str, str | None]]:
    """``(stem id, plugin_name)`` of the rendered drum stems listed in ``metadata.yaml``."""
    import yaml

    try:
        meta = yaml.safe_load(metadata_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{metadata_path}: unreadable metadata ({type(exc).__name__})") from None
    stems = (meta or {}).get("stems") if isinstance(meta, dict) else None
    if not isinstance(stems, dict):
        raise InputError(f"{metadata_path}: no 'stems' mapping")
    out = []
    for sid, s in sorted(stems.items()):
        if not isinstance(s, dict):
            continue
        is_drum = bool(s.get("is_drum")) or str(s.get("inst_class", "")).lower() == "drums"
        if is_drum and s.get("audio_rendered", True) is not False:
            out.append((str(sid), s.get("plugin_name")))
    return out


def load_onsets(track_dir: Path, stems: list[tuple[str, str | None]]) -> dict[str, np.ndarray]:
    """Onsets of a Slakh track: every drum stem's MIDI notes through its kit's map."""
    per_class: dict[str, list[float]] = defaultdict(list)
    for sid, plugin in stems:
        pm = read_midi(track_dir / "MIDI" / f"{sid}.mid", f"MIDI of drum stem {sid}")
        notes = kit_map(plugin)
        for inst in pm.instruments:
            for n in inst.notes:
                for cls in notes.get(n.pitch, ()):
                    per_class[cls].append(float(n.start))
    out = empty_onsets()
    for cls in CLASSES:
        out[cls] = np.unique(np.asarray(per_class[cls], dtype=np.float64))  # sorted, merged duplicates
    return out


def tracks(root: str | Path, require_drums: bool = True) -> list[Track]:
    """List Slakh2100-redux tracks (``mix.flac``) of the official splits under ``root``."""
    base = find_root(root)
    out: list[Track] = []
    for split in SPLIT_DIRS:
        for track_dir in sorted((base / split).glob("Track*")):
            meta_path = track_dir / "metadata.yaml"
            if not meta_path.is_file():
                raise InputError(f"{track_dir}: metadata.yaml missing")
            stems = drum_stems(meta_path)
            if require_drums and not stems:
                continue
            mix = track_dir / "mix.flac"
            if not mix.is_file():
                raise InputError(f"{mix}: mix missing")
            out.append(Track(
                track_id=track_dir.name, split=split, group=track_dir.name, audio=(mix,),
                load_onsets=partial(load_onsets, track_dir, stems), annotation=meta_path,
                meta={"drum_stems": [s for s, _ in stems], "kits": sorted({str(p) for _, p in stems})}))
    return out


def count_by_kit(track_list: Iterable[Track]) -> dict[str, Counter]:
    """Onsets per class for each drum kit (to check a kit's map: e.g. no kit should be all-TT)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for t in track_list:
        onsets = t.load_onsets()
        key = "+".join(t.meta.get("kits", [])) or "-"
        for c in CLASSES:
            out[key][c] += len(onsets[c])
    return dict(out)


SPEC = DatasetSpec(
    name=NAME,
    description="Slakh2100 redux: synthesized multi-instrument songs; mix.flac with drum labels per kit",
    license="CC BY 4.0",
    tracks=tracks,
    label_map=GM_TO_CLASS,
    downloads=(
        Download(url="https://zenodo.org/records/4599666/files/slakh2100_flac_redux.tar.gz?download=1",
                 filename="slakh2100_flac_redux.tar.gz", size=104_322_767_708,
                 md5="f4b71b6c45ac9b506f59788456b3f0c4"),
    ),
    path_key=NAME,
    citation="E. Manilow, G. Wichern, P. Seetharaman, J. Le Roux. Cutting music source separation some "
             "Slakh: a dataset to study the impact of training data quality and quantity. WASPAA 2019.",
)
