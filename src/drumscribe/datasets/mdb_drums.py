"""MDB Drums (Southall et al., ISMIR 2017): 23 MedleyDB tracks with drum annotations.

Layout (the official repository ``CarlSouthall/MDBDrums``, folder ``MDB Drums/``)::

    audio/full_mix/MusicDelta_<song>_MIX.wav       stereo full mix
    audio/drum_only/MusicDelta_<song>_Drum.wav     mono drums
    audio/remix/MusicDelta_<song>_REMIX.wav        (shared dev subset only: multitracks summed)
    annotations/class/MusicDelta_<song>_class.txt        time \\t KD|SD|TT|HH|CY|OT
    annotations/subclass/MusicDelta_<song>_subclass.txt  time \\t KD|SD|SST|CHH|...
    annotations/midi_pp/MusicDelta_<song>_Drum.mid       MDB Drums++ (optional)

``root`` may be the ``MDB Drums`` folder itself, the repository clone holding it,
or the download folder holding the clone (``MDBDrums/MDB Drums``). MDB Drums++
MIDI annotations are read from ``annotations/midi_pp/`` or from a clone of
``xavriley/MDBDrumsPlusPlus`` beside it (``annotations/midi/``, where ``Bebop`` is
BebopJazz and ``Country`` is Country1).

Variants: the dataset for DTM is the **mix** (``variant="mix"``, track id
``MusicDelta_<song>``): ``audio/full_mix`` when present, else ``audio/remix``
(recorded in ``meta["mix_source"]``). ``variant="drum_only"`` gives the drum stems
(track id ``MusicDelta_<song>_drum_only``) and ``variant="both"`` both; a song's
versions always share one split and one group (the song).

Splits: the MIREX 2017 split (12 train / 11 test songs) from the repository's
``MIREX2017.md`` (or the same lists built in when it is absent), with two fixed
training songs (:data:`VALIDATION`) held out for validation. When ``audio/full_mix``
is absent (the 9-track dev subset in ``../shared``), every track is ``test``: the
subset is an evaluation-only set. ``split_mode`` forces either behaviour.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from ..errors import ConfigError, InputError
from ..labels import GM_TO_CLASS, MDB_CLASS_LABELS, MDB_SUBCLASS_TO_GM
from ..references import onsets_from_midi, read_annotation_txt
from .base import DatasetSpec, Download, Track
from .download import require_layout
from .splits import grouped_split

NAME = "mdb_drums"

#: Pinned commit of CarlSouthall/MDBDrums (see ../shared/README.md).
MDB_COMMIT = "b29e2d63c3a023506f4bf353c5b2e8a558eed135"
#: Commit of xavriley/MDBDrumsPlusPlus as stored in a public code index (2025); verify when online.
MDBPP_COMMIT = "0676b6cbbc0001b6aa43273dc468cb3ecb2cec54"

#: ``annotations/class`` and ``annotations/subclass`` label tables (kept in :mod:`drumscribe.labels`).
CLASS_LABELS, SUBCLASS_TO_GM = MDB_CLASS_LABELS, MDB_SUBCLASS_TO_GM

#: MIREX 2017 drum transcription split (MIREX2017.md of the repository; it spells Zeppelin "Zepplin").
MIREX2017: dict[str, tuple[str, ...]] = {
    "train": ("80sRock", "BebopJazz", "Britpop", "CoolJazz", "Disco", "FunkJazz", "FusionJazz",
              "Reggae", "Rock", "Rockabilly", "Shadows", "Zeppelin"),
    "test": ("Beatles", "Country1", "FreeJazz", "Gospel", "Grunge", "Hendrix", "LatinJazz",
             "ModalJazz", "Punk", "SpeedMetal", "SwingJazz"),
}
#: Training songs held out for validation (MIREX has no validation set): one jazz, one pop song.
VALIDATION: tuple[str, ...] = ("CoolJazz", "Disco")

#: MDB Drums++ file names that differ from the audio's song names.
MDBPP_ALIASES: dict[str, str] = {"Bebop": "BebopJazz", "Country": "Country1"}

VARIANTS = ("mix", "drum_only", "both")
ANNOTATIONS = ("class", "subclass", "midi_pp")
SPLIT_MODES = ("auto", "mirex", "test")


def find_root(root: str | Path) -> Path:
    """The ``MDB Drums`` folder under ``root`` (itself, ``root/MDB Drums`` or ``root/MDBDrums/MDB Drums``)."""
    root = Path(root)
    require_layout(root, NAME)
    for cand in (root, root / "MDB Drums", root / "MDBDrums" / "MDB Drums"):
        if (cand / "annotations" / "class").is_dir() and (cand / "audio").is_dir():
            return cand
    raise InputError(f"{root}: not a {NAME} folder (missing audio/ and annotations/class/; "
                     "expected the official 'MDB Drums' layout)")


def parse_mirex_md(path: str | Path) -> dict[str, str]:
    """Song → ``"train"``/``"test"`` from ``MIREX2017.md`` ("### Training Set" / "### Test Set" lists)."""
    path = Path(path)
    out: dict[str, str] = {}
    section = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.strip()
        if text.startswith("#"):
            low = text.lower()
            section = "train" if "train" in low else "test" if "test" in low else None
            continue
        m = re.fullmatch(r"MusicDelta_(\w+)", text)
        if m and section:
            song = m.group(1).replace("Zepplin", "Zeppelin")
            out[song] = section
    if not out:
        raise InputError(f"{path}: no 'MusicDelta_<song>' entries under Training/Test headings")
    return out


def _mirex_split(mdb_root: Path) -> dict[str, str]:
    for cand in (mdb_root / "MIREX2017.md", mdb_root.parent / "MIREX2017.md"):
        if cand.is_file():
            return parse_mirex_md(cand)
    return {song: split for split, songs in MIREX2017.items() for song in songs}


def _midi_pp_path(mdb_root: Path, song: str) -> Path | None:
    own = mdb_root / "annotations" / "midi_pp" / f"MusicDelta_{song}_Drum.mid"
    if own.is_file():
        return own
    reverse = {v: k for k, v in MDBPP_ALIASES.items()}
    for repo in (mdb_root.parent / "MDBDrumsPlusPlus", mdb_root.parent.parent / "MDBDrumsPlusPlus",
                 mdb_root / "MDBDrumsPlusPlus"):
        for name in (song, reverse.get(song, song)):
            cand = repo / "annotations" / "midi" / f"MusicDelta_{name}_Drum.mid"
            if cand.is_file():
                return cand
    return None


def _load(kind: str, paths: dict[str, Path | None]):
    path = paths[kind]
    if path is None:
        raise InputError(f"{paths['class']}: no {kind} annotation for this track")
    if kind == "class":
        return read_annotation_txt(path, CLASS_LABELS)
    if kind == "subclass":
        return read_annotation_txt(path, SUBCLASS_TO_GM, to_class=GM_TO_CLASS)
    return onsets_from_midi(path, GM_TO_CLASS)


def tracks(root: str | Path, variant: str = "mix", annotations: str = "class",
           split_mode: str = "auto") -> list[Track]:
    """List MDB Drums tracks under ``root`` (see the module docstring for layout and splits).

    Parameters
    ----------
    variant : ``"mix"`` (DTM, default), ``"drum_only"`` or ``"both"``.
    annotations : ``"class"`` (default), ``"subclass"`` or ``"midi_pp"`` (MDB Drums++).
    split_mode : ``"auto"`` (MIREX 2017 when full mixes exist, else all test),
        ``"mirex"`` or ``"test"``.

    Raises
    ------
    InputError
        ``root`` missing or not the MDB layout, or a song without audio.
    ConfigError
        Unknown ``variant``, ``annotations`` or ``split_mode``.
    """
    for value, allowed, key in ((variant, VARIANTS, "variant"), (annotations, ANNOTATIONS, "annotations"),
                                (split_mode, SPLIT_MODES, "split_mode")):
        if value not in allowed:
            raise ConfigError(f"{NAME}.{key}: {value!r} is not one of {', '.join(allowed)}")
    mdb = find_root(root)
    songs = sorted(p.name[len("MusicDelta_"):-len("_class.txt")]
                   for p in (mdb / "annotations" / "class").glob("MusicDelta_*_class.txt"))
    if not songs:
        raise InputError(f"{mdb / 'annotations' / 'class'}: no MusicDelta_<song>_class.txt files")
    has_full_mix = (mdb / "audio" / "full_mix").is_dir()
    mode = split_mode if split_mode != "auto" else ("mirex" if has_full_mix else "test")
    if mode == "test":
        splits = {s: "test" for s in songs}
    else:
        mirex = _mirex_split(mdb)
        splits = {s: ("validation" if s in VALIDATION and mirex.get(s) == "train" else mirex[s])
                  for s in songs if s in mirex}
        unknown = [s for s in songs if s not in splits]  # songs outside MIREX 2017: seeded grouped split
        splits.update(zip(unknown, grouped_split(unknown, seed=0)))

    out: list[Track] = []
    for song in songs:
        name = f"MusicDelta_{song}"
        ann = {
            "class": mdb / "annotations" / "class" / f"{name}_class.txt",
            "subclass": (mdb / "annotations" / "subclass" / f"{name}_subclass.txt"),
            "midi_pp": _midi_pp_path(mdb, song),
        }
        if not ann["subclass"].is_file():
            ann["subclass"] = None
        if ann[annotations] is None:
            raise InputError(f"{mdb}: {name} has no {annotations} annotation "
                             f"(expected under annotations/{'midi_pp' if annotations == 'midi_pp' else annotations}/)")
        drum = mdb / "audio" / "drum_only" / f"{name}_Drum.wav"
        full = mdb / "audio" / "full_mix" / f"{name}_MIX.wav"
        remix = mdb / "audio" / "remix" / f"{name}_REMIX.wav"
        mix, mix_source = (full, "full_mix") if full.is_file() else (remix, "remix") if remix.is_file() else (None, None)
        meta = {"song": name, "mix_source": mix_source, "drum_only": str(drum),
                "mix": str(mix) if mix else None,
                **{f"annotation_{k}": (str(v) if v else None) for k, v in ann.items()}}
        load = partial(_load, annotations, ann)
        wanted = ("mix", "drum_only") if variant == "both" else (variant,)
        for kind in wanted:
            audio = mix if kind == "mix" else drum
            if audio is None or not audio.is_file():
                expected = (f"audio/full_mix/{name}_MIX.wav or audio/remix/{name}_REMIX.wav"
                            if kind == "mix" else f"audio/drum_only/{name}_Drum.wav")
                raise InputError(f"{mdb}: {name} has no {kind} audio (expected {expected})")
            out.append(Track(
                track_id=name if kind == "mix" else f"{name}_drum_only",
                split=splits[song], group=name, audio=(audio,), load_onsets=load,
                annotation=ann[annotations], meta={**meta, "variant": kind}))
    return out


SPEC = DatasetSpec(
    name=NAME,
    description="MDB Drums: 23 MedleyDB songs (full mix + drum stem), class/subclass annotations; "
                "mix variant for DTM, MIREX 2017 split (+2 validation songs)",
    license="CC BY-NC-SA 4.0",
    tracks=tracks,
    label_map=CLASS_LABELS,
    downloads=(
        Download(url="https://github.com/CarlSouthall/MDBDrums.git", filename="MDBDrums",
                 git_commit=MDB_COMMIT, extract=False),
        Download(url="https://github.com/xavriley/MDBDrumsPlusPlus.git", filename="MDBDrumsPlusPlus",
                 git_commit=MDBPP_COMMIT, extract=False),
    ),
    path_key=NAME,
    citation="C. Southall, C. Wu, A. Lerch, J. Hockman. MDB Drums: An annotated subset of MedleyDB "
             "for automatic drum transcription. ISMIR 2017 (late-breaking).",
)

#: The drum stems alone (DTD): the same songs, splits and labels as ``mdb_drums``,
#: read from ``audio/drum_only``. Registered so the drum-only check of how far
#: training carries to real recordings is a dataset of the graph like any other.
SPEC_DRUM_ONLY = DatasetSpec(
    name=f"{NAME}_drum_only",
    description="MDB Drums, drum stems only (audio/drum_only): the DTD counterpart of mdb_drums",
    license=SPEC.license,
    tracks=partial(tracks, variant="drum_only"),
    label_map=CLASS_LABELS,
    downloads=SPEC.downloads,
    path_key=NAME,
    citation=SPEC.citation,
)

SPECS = {SPEC.name: SPEC, SPEC_DRUM_ONLY.name: SPEC_DRUM_ONLY}
