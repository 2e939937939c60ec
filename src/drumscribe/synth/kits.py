"""The registry of real sampled drum kits that render the offline default ``gmd_synth``.

Five kinds of kit:

- ``soundfont``: a drum preset (bank 128) of a General MIDI sound font, rendered by
  FluidSynth on MIDI channel 10: FluidR3 GM, MuseScore General (Full), TimGM6mb and
  Csound's GM bank (``csound-soundfont``).
  The acoustic-ish presets are used (Standard 0, Room 8, Power 16, Jazz 32,
  Brush 40); Electronic/TR-808/Orchestra are left out.
- ``soundfont_bank0``: the AVL Drumkits (Black Pearl, Red Zeppelin), whose only
  preset is bank 0 program 0. Channel 10 would select bank 128 and render silence,
  so they are played on a melodic channel (0) with bank 0 / program 0.
- ``hydrogen``: the kits of Debian's ``hydrogen-drumkits`` and ``hydrogen-data``
  (GMRockKit, TR808EmulationKit) (``drumkit.xml`` + samples),
  rendered by the numpy sampler in :mod:`drumscribe.synth.hydrogen`.
- ``oneshot``: a folder of single-velocity one-shots rendered by the same numpy sampler as a
  one-layer-per-instrument Hydrogen kit (velocity scales the gain): Debian ``lmms-common``'s
  ``samples/drums``, mapped to GM slots by file name (:data:`ONESHOT_RULES`; a kit is the
  ``preset``-th file of every slot, :func:`oneshot_picks`), and eXaDrums' kit (Debian
  ``exadrums``), whose ``Default.xml`` names each instrument's file and volume
  (:func:`exadrums_picks`, slots by :data:`EXADRUMS_SLOTS`).
- ``timidity``: a GUS-patch drum set (Debian ``freepats``' ``Drum_000``) rendered by
  TiMidity++ on MIDI channel 10 with the set's own configuration (:mod:`drumscribe.synth.timidity`).

Every kit plays GM *sound slots* (a GM drum note: 36 kick, 38 snare, 42 closed hat…).
A GMD (Roland TD-11) note is played on the first slot of :data:`NOTE_PREFERENCES` that
the kit has; a note whose class the kit has no slot for is not played and not labelled,
so labels only hold audible hits.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, InputError
from ..labels import GM_TO_CLASS, ROLAND_TO_CLASS

SF2_DIR = Path("/usr/share/sounds/sf2")
SF3_DIR = Path("/usr/share/sounds/sf3")
#: Debian lmms-common's drum one-shots; override with $DRUMSCRIBE_LMMS_DRUMS_DIR.
LMMS_DRUMS_DIR = Path(os.environ.get("DRUMSCRIBE_LMMS_DRUMS_DIR", "/usr/share/lmms/samples/drums"))
#: Debian exadrums' kit folder (Default.xml + WAVs; setup.sh unpacks it); override with $DRUMSCRIBE_EXADRUMS_DIR.
EXADRUMS_DIR = Path(os.environ.get("DRUMSCRIBE_EXADRUMS_DIR", "/usr/share/exadrums"))
#: Debian freepats' TiMidity++ configuration; override with $DRUMSCRIBE_FREEPATS_CFG.
FREEPATS_CFG = Path(os.environ.get("DRUMSCRIBE_FREEPATS_CFG", "/etc/timidity/freepats.cfg"))
#: Where Debian's hydrogen-drumkits live; override with $DRUMSCRIBE_HYDROGEN_DIR.
HYDROGEN_DIR = Path(os.environ.get("DRUMSCRIBE_HYDROGEN_DIR", "/usr/share/hydrogen/data/drumkits"))
#: Environment variable naming a folder of compact kits (``drumscribe compact-kits``):
#: a kit id with a folder there is served by that compact copy (same id and family).
COMPACT_ENV = "DRUMSCRIBE_COMPACT_KITS"

#: GMD/Roland note -> GM sound slots to try, in order (all of the same class).
#: Roland's edge/rim articulations have no GM slot of their own (22, 26 are not GM
#: drum notes; 58 is GM's vibraslap; 52/55 are GM's China/Splash while Roland means
#: crash edges), so they play the nearest GM sound.
NOTE_PREFERENCES: dict[int, tuple[int, ...]] = {
    35: (35, 36), 36: (36, 35),
    38: (38, 40), 40: (40, 38), 37: (37, 38), 39: (39, 38),
    42: (42, 44, 46), 22: (42, 44, 46), 44: (44, 42, 46), 46: (46, 42, 44), 26: (46, 42, 44),
    50: (50, 48, 47, 45, 43, 41), 48: (48, 50, 47, 45, 43, 41),
    47: (47, 45, 48, 43, 50, 41), 45: (45, 47, 43, 48, 41, 50),
    43: (43, 41, 45, 47, 48, 50), 58: (43, 41, 45, 47, 48, 50), 41: (41, 43, 45, 47, 48, 50),
    49: (49, 57, 55, 52, 51), 55: (49, 57, 55, 52, 51),
    57: (57, 49, 55, 52, 51), 52: (57, 49, 52, 55, 51),
    51: (51, 59, 57, 49, 53), 59: (59, 51, 57, 49, 53), 53: (53, 51, 59, 57, 49),
}
assert all(ROLAND_TO_CLASS[n] == GM_TO_CLASS[s] for n, prefs in NOTE_PREFERENCES.items() for s in prefs)
assert set(NOTE_PREFERENCES) >= set(ROLAND_TO_CLASS)
#: every GM slot any GMD note may play
SLOTS: tuple[int, ...] = tuple(sorted({s for p in NOTE_PREFERENCES.values() for s in p}))

#: acoustic-ish drum presets of the GM fonts: suffix -> preset number on bank 128
GM_DRUM_PRESETS = {"standard": 0, "room": 8, "power": 16, "jazz": 32, "brush": 40}
#: TimGM6mb's Jazz kit (32) renders sample-identical to its Standard kit (0): left out
_TIMGM_PRESETS = {"standard": 0, "room": 8, "power": 16, "brush": 40}

#: Csound's GM bank (sf_GMbank.sf2, bank 128). Its Jazz kit (32) renders sample-identical to
#: its Standard kit (all 22 slots): left out, as TimGM6mb's is.
_CSOUND_PRESETS = {"standard": 0, "room": 8, "power": 16, "brush": 40}

#: Kits that share samples form a *family*; a kit split must keep a family in one pool.
#: Measured (benchmarks/bench_render.py --families): a hit per slot at velocity 100 on
#: every pair of kits, normalised cross-correlation > 0.9 counts as the same sample.
#: The presets of one font share 8-22 of 22 slots; MuseScore General's drum kits are
#: FluidR3's samples (18/22 slots of Standard alike); AVL Black Pearl and Red Zeppelin
#: share 6/21 slots. Hydrogen's "The Black Pearl 1.0" is by the AVL kits' author (Glen
#: MacArthur) and its pedal hi-hat matches AVL's at 0.85: it joins the ``avl`` family.
#: No two other Hydrogen kits share a sample (Millo's three kits are grouped anyway: one
#: drummer's Ludwig set), nor do Hydrogen and GM sound-font kits.
#: Csound's GM bank is mostly TimGM6mb's samples (csound_standard vs timgm6mb_standard: 17/22
#: slots alike at 0.97-1.0): the ``timgm6mb`` family. LMMS's drum folder holds six of them too
#: (its three named toms, side stick, acoustic kick and snare: :data:`LMMS_SHARED_FILES`); the
#: lmms kits leave those out and share no sample with any other kit: their own family.
#: FreePats' Drum_000 (TiMidity++) and eXaDrums' kit share none either (each slot against every
#: slot of every kit: at most 0.82 and 0.79, both toms; their cymbals at most 0.15; FreePats
#: against TimGM6mb and Csound 0/22 slots, at most 0.26): their own families.
FAMILIES = {"fluidr3": "fluidr3", "musescore": "fluidr3", "timgm6mb": "timgm6mb", "avl": "avl",
            "csound": "timgm6mb", "lmms": "lmms", "exadrums": "exadrums", "freepats": "freepats"}


@dataclass(frozen=True)
class Kit:
    """One drum kit: ``kind`` is ``soundfont``, ``soundfont_bank0``, ``hydrogen``, ``oneshot`` or ``timidity``.

    For sound fonts, ``source`` is the .sf2/.sf3 file and ``bank``/``preset`` the kit;
    for Hydrogen kits, ``source`` is the kit folder (with ``drumkit.xml``); for one-shot
    kits, ``source`` is the folder of one-shots and ``preset`` the pick (:func:`oneshot_picks`),
    or ``meta["xml"]`` the eXaDrums kit file in it that names them (:func:`exadrums_picks`);
    for TiMidity kits, ``source`` is the TiMidity configuration and ``preset`` the drum set.
    """

    kit_id: str
    kind: str
    source: Path
    name: str
    license: str
    bank: int = 128
    preset: int = 0
    channel: int = 9
    family: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def installed(self) -> bool:
        """The kit's files are there (and, for sound fonts, libfluidsynth loads; for TiMidity kits,
        ``timidity`` is found)."""
        if self.kind == "hydrogen":
            return (self.source / "drumkit.xml").is_file()
        if self.kind == "oneshot" and "xml" in self.meta:
            return (self.source / self.meta["xml"]).is_file()
        if self.kind == "oneshot":
            return self.source.is_dir() and bool(oneshot_picks(self))
        if self.kind == "timidity":
            from .timidity import available as timidity_available

            return self.source.is_file() and timidity_available()
        from .fluid import available

        return self.source.is_file() and available()

    def as_row(self) -> dict:
        return {"id": self.kit_id, "kit": self.kit_id, "kind": self.kind, "family": self.family, "source": str(self.source),
                "name": self.name,
                "bank": self.bank if self.kind not in ("hydrogen", "oneshot") else None,
                "preset": self.preset if self.kind not in ("hydrogen", "oneshot") else None,
                "license": self.license, "installed": self.installed}


_FLUIDR3 = "MIT (FluidR3_GM, Frank Wen; Debian fluid-soundfont-gm)"
_MUSESCORE = "MIT (MuseScore General, S. Christian Collins; Debian musescore-general-soundfont)"
_TIMGM = "GPL-2 (TimGM6mb, Tim Brechbill; Debian timgm6mb-soundfont)"
_AVL = "CC BY-SA 4.0 (AVL Drumkits, Glen MacArthur; Debian avldrums.lv2-soundfont)"
_CSOUND = ("public domain (sf_GMbank.sf2: 'Public Domain in its license field', Csound; "
           "Debian csound-soundfont)")
_LMMS = "GPL-2+ (LMMS samples/drums, Debian lmms-common; upstream licence question: LMMS issue 2752)"
_EXADRUMS = "BSD-3-Clause (eXaDrums' Default kit, samples recorded by Phill Mason; Debian exadrums)"
_FREEPATS = "GPL-2+ with a composition exception (FreePats Drum_000; Debian freepats)"


def _soundfont_kits() -> list[Kit]:
    kits = []
    fonts = [("fluidr3", SF2_DIR / "FluidR3_GM.sf2", "FluidR3 GM", _FLUIDR3, GM_DRUM_PRESETS),
             ("musescore", SF3_DIR / "MuseScore_General_Full.sf3", "MuseScore General", _MUSESCORE, GM_DRUM_PRESETS),
             ("timgm6mb", SF2_DIR / "TimGM6mb.sf2", "TimGM6mb", _TIMGM, _TIMGM_PRESETS),
             ("csound", SF2_DIR / "sf_GMbank.sf2", "Csound GM bank", _CSOUND, _CSOUND_PRESETS)]
    for prefix, path, label, lic, presets in fonts:
        for suffix, preset in presets.items():
            kits.append(Kit(f"{prefix}_{suffix}", "soundfont", path, f"{label} {suffix.title()} (128:{preset})",
                            lic, bank=128, preset=preset, channel=9, family=FAMILIES[prefix]))
    kits.append(Kit("avl_black_pearl", "soundfont_bank0", SF2_DIR / "Black_Pearl_4_LV2.sf2",
                    "AVL Black Pearl 4pc (0:0)", _AVL, bank=0, preset=0, channel=0, family="avl"))
    kits.append(Kit("avl_red_zeppelin", "soundfont_bank0", SF2_DIR / "Red_Zeppelin_4_LV2.sf2",
                    "AVL Red Zeppelin 4pc (0:0)", _AVL, bank=0, preset=0, channel=0, family="avl"))
    return kits


#: folder name of a hydrogen-drumkits kit -> short id suffix
HYDROGEN_SLUGS = {
    "Audiophob": "audiophob",
    "BJA_Pacific": "bja_pacific",
    "ColomboAcousticDrumkit": "colombo",
    "ElectricEmpireKit": "electric_empire",
    "ForzeeStereo": "forzee_stereo",
    "Gimme A Hand 1.0": "gimme_a_hand",
    "HardElectro1": "hard_electro",
    "Millo-Drums_v.1": "millo_drums",
    "Millo_MultiLayered2": "millo_multilayered2",
    "Millo_MultiLayered3": "millo_multilayered3",
    "The Black Pearl 1.0": "black_pearl",
    "VariBreaks": "varibreaks",
    "circAfrique v4": "circafrique",
    "rumpf_kit_z01_h2": "rumpf",
    # Debian hydrogen-data (Hydrogen's own kits, not in hydrogen-drumkits)
    "GMRockKit": "gmrock",
    "TR808EmulationKit": "tr808",
}

#: kits of Debian's hydrogen-data (the rest are hydrogen-drumkits): their licence
HYDROGEN_DATA_KITS = {"GMRockKit": "GPL-2+ (Hydrogen; Debian hydrogen-data)",
                      "TR808EmulationKit": "GPL-2+ (Hydrogen; Debian hydrogen-data)"}

#: Kits that are (nearly) another kit's samples: registered, rendered and compacted when
#: named, but left out of ``render.kits: all`` (as TimGM6mb's Jazz preset is). GMRockKit
#: (Glen MacArthur / Sebastian Moors) is "The Black Pearl 1.0": 11 of its 14 slots match
#: hydrogen_black_pearl at normalised cross-correlation 1.0 (bench_render.py --families);
#: only Tom 1, Crash and Ride 2 differ. It is in the ``avl`` family, a test family.
#: Csound's Room kit (8) is its Standard kit with retuned toms and other envelopes of the hat
#: and cymbals: all 22 slots alike at 0.95-1.0, 12 of them sample-identical.
DUPLICATE_KITS = {"hydrogen_gmrock": "hydrogen_black_pearl", "csound_room": "csound_standard"}


def slugify(name: str) -> str:
    """``"Gimme A Hand 1.0"`` -> ``"gimme_a_hand_1_0"`` (for kits not in :data:`HYDROGEN_SLUGS`)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _hydrogen_license(xml: Path) -> str:
    try:
        text = xml.read_text(errors="replace")
    except OSError:
        return "unknown"
    m = re.search(r"<licen[cs]e>(.*?)</licen[cs]e>", text, re.S)
    return m.group(1).strip() if m else "unknown (see the kit's drumkit.xml)"


def _hydrogen_kits(root: Path) -> list[Kit]:
    kits = []
    names = set(HYDROGEN_SLUGS)
    if root.is_dir():
        names |= {p.parent.name for p in root.glob("*/drumkit.xml")}
    for folder in sorted(names, key=str.lower):
        slug = HYDROGEN_SLUGS.get(folder) or slugify(folder)
        src = root / folder
        lic = HYDROGEN_DATA_KITS.get(folder) or _hydrogen_license(src / "drumkit.xml") + " (hydrogen-drumkits)"
        family = {"black_pearl": "avl", "gmrock": "avl"}.get(
            slug, "hydrogen_millo" if slug.startswith("millo") else f"hydrogen_{slug}")
        kits.append(Kit(f"hydrogen_{slug}", "hydrogen", src, f"Hydrogen {folder}", lic, bank=-1, preset=-1,
                        channel=-1, family=family))
    return kits


#: One-shot file name -> GM slot: regexes on the lower-case file stem with ``_``/``-`` as
#: spaces and digits removed (``hihat_closed03.ogg`` -> ``"hihat closed"``); the first match
#: wins. Only names that say which sound they are map: a bare ``tom`` (which tom?), a bare
#: or ``nasty`` rim (rim shot or side stick?), ``nasty bass``, claps, shakers, clave, wood
#: block and zaps are left out.
ONESHOT_RULES: tuple[tuple[str, int], ...] = (
    (r"^(hi ?hat|hh)\b.*\b(foot|pedal)", 44),
    (r"^(hi ?hat|hh)\b.*\bopen", 46),
    (r"^(hi ?hat|hh)\b.*\bclosed", 42),
    (r"^snare rim$|^rim ?shot$", 40),
    (r"^(side ?stick|cross ?stick)$", 37),
    (r"^(kick|bass ?drum)\b", 36),
    (r"^snare\b", 38),
    (r"^tom (hi|high)$", 48),
    (r"^tom mid$", 45),
    (r"^tom (low|floor)$", 43),
    (r"^ride bell$", 53),
    (r"^ride$", 51),
    (r"^crash$", 49),
    (r"^china$", 52),
    (r"^splash$", 55),
)
_ONESHOT_RULES = tuple((re.compile(rx), slot) for rx, slot in ONESHOT_RULES)
#: audio files a one-shot folder may hold
ONESHOT_SUFFIXES = (".ogg", ".wav", ".flac")


def oneshot_slot(filename: str) -> int | None:
    """GM slot of a one-shot file by its name (:data:`ONESHOT_RULES`), None when unmapped.

    Examples
    --------
    >>> oneshot_slot("hihat_closed03.ogg"), oneshot_slot("snare_rim01.ogg"), oneshot_slot("tom04.ogg")
    (42, 40, None)
    """
    stem = Path(filename).stem.lower()
    name = re.sub(r"\s+", " ", re.sub(r"[\d_\-]+", " ", stem)).strip()
    for rx, slot in _ONESHOT_RULES:
        if rx.search(name):
            return slot
    return None


def oneshot_candidates(folder: str | Path, exclude=()) -> dict[int, tuple[str, ...]]:
    """``{GM slot: file names in name order}`` of a one-shot folder (unmapped files and the
    names in ``exclude`` left out)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    out: dict[int, list[str]] = {}
    for f in sorted(p.name for p in folder.iterdir() if p.suffix.lower() in ONESHOT_SUFFIXES):
        slot = oneshot_slot(f)
        if slot is not None and f not in exclude:
            out.setdefault(slot, []).append(f)
    return {s: tuple(v) for s, v in sorted(out.items())}


def oneshot_picks(kit: Kit) -> dict[int, Path]:
    """``{GM slot: file}`` a ``oneshot`` kit plays: the ``kit.preset``-th file of each slot in
    name order (files of ``kit.meta["exclude"]`` left out), wrapping round when a slot has
    fewer files: deterministic; for an eXaDrums kit (``kit.meta["xml"]``), the files its XML
    names (:func:`exadrums_picks`)."""
    if "xml" in kit.meta:
        return {s: f for s, (f, _) in exadrums_picks(kit.source / kit.meta["xml"]).items()}
    cands = oneshot_candidates(kit.source, kit.meta.get("exclude", ()))
    return {s: kit.source / names[kit.preset % len(names)] for s, names in cands.items()}


def oneshot_volumes(kit: Kit) -> dict[int, float]:
    """``{GM slot: linear gain}`` of a ``oneshot`` kit's instruments: the eXaDrums kit's ``volume``
    (percent) / 100; empty for the other one-shot kits, whose every slot plays at 1
    (:func:`drumscribe.synth.hydrogen.oneshot_drumkit`'s default)."""
    if "xml" in kit.meta:
        return {s: v for s, (_, v) in exadrums_picks(kit.source / kit.meta["xml"]).items()}
    return {}


#: eXaDrums instrument (``<instrumentName>``) and sound ``type`` -> GM slot, for the kit files of
#: Debian's exadrums (its one kit, ``Default.xml``); the files and volumes are the XML's. One
#: hi-hat sample (a closed hat: 0.49 s, -40 dB re its peak after 0.17 s) is slot 42 only: GMD's
#: pedal and open hi-hats play it too (:data:`NOTE_PREFERENCES`: 44 and 46 fall back to 42),
#: labelled HH, and nothing chokes it. The Ride pad's head zone (``RideEdge.wav``) is the ride 51,
#: its rim zone (``RideBell.wav``) the bell 53. "Tom" (``Tom01``) is the high tom 48.
EXADRUMS_SLOTS: dict[tuple[str, str], int] = {
    ("Kick", "DrumHead"): 36, ("Snare", "DrumHead"): 38, ("HiHat", "DrumHead"): 42,
    ("Tom", "DrumHead"): 48, ("Floor Tom", "DrumHead"): 43, ("Crash", "DrumHead"): 49,
    ("Ride", "DrumHead"): 51, ("Ride", "RimShot"): 53,
}


@functools.lru_cache(maxsize=8)
def _exadrums_xml(xml_path: str, stamp: tuple[int, int]) -> dict[int, tuple[Path, float]]:
    """:func:`exadrums_picks` of one version (``stamp``: mtime and size) of the file, cached."""
    path = Path(xml_path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"{path}: not a readable eXaDrums kit ({type(exc).__name__}: {exc})") from None
    out: dict[int, tuple[Path, float]] = {}
    for inst in root.iter("Instrument"):
        name = (inst.findtext("instrumentName") or "").strip()
        try:
            volume = float(inst.get("volume", "100")) / 100.0
        except ValueError:
            raise InputError(f"{path}: instrument {name!r} has volume {inst.get('volume')!r}, not a number") from None
        for sound in inst.iter("sound"):
            slot = EXADRUMS_SLOTS.get((name, (sound.get("type") or "").strip()))
            rel = (sound.text or "").strip()
            if slot is None or not rel or slot in out:
                continue
            # the XML names "Kit/Folder/file.wav"; Debian's package puts every file beside the XML
            f = path.parent / rel
            out[slot] = (f if f.is_file() else path.parent / Path(rel).name, volume)
    return dict(sorted(out.items()))


def exadrums_picks(xml: str | Path) -> dict[int, tuple[Path, float]]:
    """``{GM slot: (sample file, linear volume)}`` of an eXaDrums kit file (:data:`EXADRUMS_SLOTS`).

    Read with the standard library's XML parser: each ``<Instrument volume="...">`` with its
    ``<instrumentName>`` and ``<sound type="...">`` files; a file is looked up where the XML
    says, else beside the XML (Debian's layout). ``InputError`` names an unreadable file.
    """
    path = Path(xml)
    try:
        st = path.stat()
    except OSError:
        raise InputError(f"{path}: eXaDrums kit not found (bash setup.sh unpacks Debian's exadrums)") from None
    return _exadrums_xml(str(path), (st.st_mtime_ns, st.st_size))


#: one-shot kits from lmms-common's drum folder: id suffix -> pick (see :func:`oneshot_picks`).
#: Three, as the folder has three open hi-hats: each kit has its own kick, snare, closed and
#: open hat; they share the pedal hat and the snare rim and alternate crash and ride, so they
#: are one family (``lmms``).
LMMS_PICKS = {"a": 0, "b": 1, "c": 2}
#: files of lmms-common's drum folder that are TimGM6mb's (and Csound's GM bank's) samples,
#: measured (normalised cross-correlation 0.90-0.99 with their slots): left out of the lmms
#: kits, so that these are a sample set of their own (and have no toms: the folder's other
#: toms, ``tom01``-``tom05``, do not say which tom they are).
LMMS_SHARED_FILES = frozenset({"tom_hi01.ogg", "tom_mid01.ogg", "tom_low01.ogg", "sidestick01.ogg",
                               "snare_acoustic01.ogg", "bassdrum_acoustic01.ogg"})


def _oneshot_kits() -> list[Kit]:
    lmms = [Kit(f"lmms_{suffix}", "oneshot", LMMS_DRUMS_DIR, f"LMMS drums, pick {pick + 1}", _LMMS, bank=-1,
                preset=pick, channel=-1, family=FAMILIES["lmms"], meta={"exclude": LMMS_SHARED_FILES})
            for suffix, pick in LMMS_PICKS.items()]
    exadrums = Kit("exadrums_default", "oneshot", EXADRUMS_DIR, "eXaDrums Default kit", _EXADRUMS, bank=-1,
                   preset=0, channel=-1, family=FAMILIES["exadrums"], meta={"xml": "Default.xml"})
    return lmms + [exadrums]


def _timidity_kits() -> list[Kit]:
    return [Kit("freepats_standard", "timidity", FREEPATS_CFG, "FreePats Drum_000 (TiMidity++, drum set 0)",
                _FREEPATS, bank=128, preset=0, channel=9, family=FAMILIES["freepats"])]


def _compact(kit: Kit, compact_dir: str) -> Kit:
    """``kit`` served by its compact copy under ``compact_dir``, if there is one."""
    folder = Path(compact_dir) / kit.kit_id if compact_dir else None
    if folder is None or not (folder / "drumkit.xml").is_file():
        return kit
    return Kit(kit.kit_id, "hydrogen", folder, f"{kit.name} (compact)", kit.license, bank=-1, preset=-1,
               channel=-1, family=kit.family, meta={"compact_of": str(kit.source)})


@functools.lru_cache(maxsize=4)
def _registry(hydrogen_dir: str) -> dict[str, Kit]:
    kits = _soundfont_kits() + _hydrogen_kits(Path(hydrogen_dir)) + _oneshot_kits() + _timidity_kits()
    return {k.kit_id: k for k in kits}


def _reg(hydrogen_dir: str | Path | None = None) -> dict[str, Kit]:
    """The registry, with compact copies looked up now (not cached: kits may be compacted meanwhile)."""
    compact_dir = os.environ.get(COMPACT_ENV, "")
    reg = _registry(str(hydrogen_dir or HYDROGEN_DIR))
    return {kid: _compact(k, compact_dir) for kid, k in reg.items()} if compact_dir else reg


def all_kits(hydrogen_dir: str | Path | None = None) -> list[Kit]:
    """Every known kit, installed or not (compact copies under ``$DRUMSCRIBE_COMPACT_KITS`` replace originals)."""
    return list(_reg(hydrogen_dir).values())


def kit_slots(kit: Kit) -> frozenset[int] | None:
    """GM sound slots a Hydrogen kit fills (from its instrument names) or a one-shot kit (from its
    file names or eXaDrums XML); None for sound fonts and TiMidity kits (their slots are measured by
    rendering, see :func:`drumscribe.synth.render.kit_note_map`)."""
    if kit.kind == "oneshot":
        return frozenset(oneshot_picks(kit))
    if kit.kind != "hydrogen":
        return None
    from .hydrogen import load_drumkit

    return frozenset(load_drumkit(kit.source).slots)


def load_kit_drumkit(kit: Kit):
    """The :class:`~drumscribe.synth.hydrogen.Drumkit` the numpy sampler plays for a
    ``hydrogen`` or ``oneshot`` kit (``ConfigError`` for sound-font kits)."""
    from . import hydrogen

    if kit.kind == "hydrogen":
        return hydrogen.load_drumkit(kit.source)
    if kit.kind == "oneshot":
        return hydrogen.oneshot_drumkit(kit.source, oneshot_picks(kit), kit.name, oneshot_volumes(kit))
    raise ConfigError(f"kit {kit.kit_id}: a {kit.kind} kit has no sample folder")


def kit_classes(kit: Kit) -> tuple[str, ...]:
    """Classes a kit can play (for sound fonts and TiMidity kits: every class of GM; measured at render time)."""
    slots = kit_slots(kit)
    if slots is None:
        return ("BD", "SD", "TT", "HH", "CY")
    have = {GM_TO_CLASS[s] for s in slots}
    return tuple(c for c in ("BD", "SD", "TT", "HH", "CY") if c in have)


#: a kit must play at least these classes to be used (hand-percussion kits do not)
REQUIRED_CLASSES = ("BD", "SD", "HH")


def usable(kit: Kit) -> bool:
    """Installed and plays bass drum, snare and hi-hat."""
    return kit.installed and all(c in kit_classes(kit) for c in REQUIRED_CLASSES)


def list_kits(include_unusable: bool = False, hydrogen_dir: str | Path | None = None) -> list[dict]:
    """Rows (kit, kind, source, name, bank, preset, license, installed, classes) of the registry.

    Kits whose files are not installed are skipped with a warning (or listed with
    ``installed=False`` when ``include_unusable``); so are Hydrogen kits without a bass
    drum, snare and hi-hat (``Gimme A Hand``, ``circAfrique``: hand percussion).
    """
    rows = []
    for kit in all_kits(hydrogen_dir):
        row = kit.as_row()
        if not kit.installed:
            if include_unusable:
                rows.append({**row, "classes": "", "usable": False})
            else:
                warnings.warn(f"{kit.source}: kit {kit.kit_id} not installed, skipped", stacklevel=2)
            continue
        classes = kit_classes(kit)
        ok = all(c in classes for c in REQUIRED_CLASSES)
        if ok or include_unusable:
            rows.append({**row, "classes": "/".join(classes), "usable": ok})
    return rows


def families(hydrogen_dir: str | Path | None = None) -> dict[str, str]:
    """``{kit id: family}`` for every known kit (see :data:`FAMILIES`)."""
    return {k.kit_id: k.family or k.kit_id for k in all_kits(hydrogen_dir)}


def get_kit(kit_id: str, hydrogen_dir: str | Path | None = None) -> Kit:
    """The kit called ``kit_id``; ``ConfigError`` for unknown ids."""
    reg = _reg(hydrogen_dir)
    if kit_id not in reg:
        raise ConfigError(f"render.kits: unknown kit {kit_id!r} (known: {', '.join(reg)})")
    return reg[kit_id]


def _missing(kit: Kit) -> str:
    """What a kit that is not installed lacks, in a few words."""
    if kit.kind == "timidity" and kit.source.is_file():
        return "timidity missing: apt-get install timidity"
    if kit.kind == "oneshot" and "xml" in kit.meta:
        return f"{kit.source / kit.meta['xml']} missing"
    return f"{kit.source} missing"


def resolve_kits(spec, hydrogen_dir: str | Path | None = None) -> list[str]:
    """Kit ids from the config value ``render.kits`` (``"all"`` or a list of ids).

    ``"all"`` means every installed, usable kit (others are skipped with a warning) but
    the :data:`DUPLICATE_KITS`;
    a listed kit that is unknown, not installed or unusable is a ``ConfigError``.
    """
    if spec in (None, "all"):
        out = []
        for kit in all_kits(hydrogen_dir):
            if not kit.installed:
                warnings.warn(f"{kit.source}: kit {kit.kit_id} not installed, skipped", stacklevel=2)
            elif not usable(kit):
                warnings.warn(f"{kit.source}: kit {kit.kit_id} lacks {'/'.join(REQUIRED_CLASSES)}, skipped",
                              stacklevel=2)
            elif kit.kit_id in DUPLICATE_KITS:
                pass  # the same samples as another kit: only when named
            else:
                out.append(kit.kit_id)
        return out
    if isinstance(spec, str) or not all(isinstance(k, str) for k in spec):
        raise ConfigError(f"render.kits: expected 'all' or a list of kit ids, not {spec!r}")
    out = []
    for kid in spec:
        kit = get_kit(kid, hydrogen_dir)
        if not kit.installed:
            raise ConfigError(f"render.kits: kit {kid} is not installed ({_missing(kit)})")
        if not usable(kit):
            raise ConfigError(f"render.kits: kit {kid} lacks one of {'/'.join(REQUIRED_CLASSES)}")
        out.append(kid)
    return out
