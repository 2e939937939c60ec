"""A small numpy sampler for Hydrogen drum kits (``drumkit.xml`` + samples).

Depends only on numpy, soundfile and soxr, so a machine without FluidSynth (a GPU
node) can render the Hydrogen part of ``gmd_synth``.

Parsing (Hydrogen 0.9/1.x formats, with or without the XML namespace): every
``<instrument>`` has a ``<name>``, a ``<volume>`` and either one ``<filename>``
(old format: one layer over the full velocity range) or several ``<layer>`` elements
(``<filename>``, ``<min>``/``<max>`` velocity in 0..1, ``<gain>``), also inside
``<instrumentComponent>``. Muted instruments are skipped.

Instrument names are mapped to General MIDI sound slots by the keyword rules of
:data:`NAME_RULES` (first rule that matches wins; the first instrument in the file
takes a slot, later ones of the same kind take the rule's next slot or are unused).
Unmatched instruments are not used. The table per kit is in ``docs/gmd_synth.md``.
A compact kit (:mod:`drumscribe.synth.compact`, marked by a ``<drumscribeCompact>``
element) stores each instrument's slot in ``<midiOutNote>`` instead.

Rendering (Hydrogen's own semantics where it has them): the layer whose
``[min, max]`` holds ``velocity/127`` is played (nearest layer if it falls in a gap),
at amplitude ``velocity/127 × layer gain × instrument volume``; stereo samples are
mixed to mono; samples of other rates are resampled to 44.1 kHz (soxr, HQ). Leading
silence (below −50 dB re the sample's peak) is trimmed from each sample, keeping 1 ms
before it, and the remaining distance to the audible onset (−30 dB re peak, see
:mod:`drumscribe.synth.onset`) is added to the label. An open hi-hat (slot 46) is
choked (10 ms fade) by the next closed or pedal hi-hat hit, as a real hi-hat is.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import SAMPLE_RATE
from ..errors import InputError
from .onset import ONSET_REL_DB, TRIM_REL_DB, first_crossing

#: names that are never drum-kit classes (checked first)
EXCLUDE = re.compile(
    r"cowbell|clap|tamb|conga|bongo|agogo|whistle|cajon|djembe|sangban|dununba|kenkeni|maraca|"
    r"snap|clave|wood ?block|waterglass|zap|\bfx\b|click|shaker|choke|swish|roll|semi|free|"
    r"^\s*drum \d|\bsample:|^\s*\d+\s*$")

#: (regex on the lower-case name without parentheses, GM slots in order of use)
NAME_RULES: tuple[tuple[str, tuple[int, ...]], ...] = (
    (r"kick|bass ?drum|\bbd\b", (36, 35)),
    (r"rim ?shot", (40,)),
    (r"side ?stick|cross ?stick|rim ?click|\bstick\b|\brim\b", (37,)),
    (r"snare|\bsd\b|\bsn\b", (38,)),
    (r"(hi-?hat|hihat|\bhh\b|\bhat\b|\bohh\b|\bchh\b).*(pedal|\bpd\b|foot)|(pedal|foot).*(hat|\bhh\b)", (44,)),
    (r"(hi-?hat|hihat|\bhh\b|\bhat\b).*(open|\bop\b)|\bohh\b|open ?(hh|hat|hi-?hat)", (46,)),
    (r"hi-?hat|hihat|\bhh\b|\bhat\b|\bchh\b", (42,)),
    (r"tom.*(floor|low|\blo\b|\b3\b)|floor ?tom|low ?tom", (43, 41)),
    (r"tom.*(mid|middle|\b2\b)|mid(dle)? ?tom", (45, 47)),
    (r"tom.*(high|\bhi|\b1\b)|hi(gh)? ?tom|tomhi", (48, 50)),
    (r"\btom", (45, 47, 48, 43)),
    (r"(ride|crash|cymbal).*(bell|cup)|(bell|cup).*(ride|crash)", (53,)),
    (r"ride.*crash|crash.*ride", (57, 59)),
    (r"ride", (51, 59)),
    (r"china", (52,)),
    (r"splash", (55,)),
    (r"crash|cymbal", (49, 57)),
)
_RULES = tuple((re.compile(rx), slots) for rx, slots in NAME_RULES)


def classify_names(names: list[str]) -> dict[int, int]:
    """Map instrument names (in kit order) to GM slots: ``{slot: index into names}``.

    Examples
    --------
    >>> classify_names(["Kick", "Snare Rimshot", "Hat Closed", "Tom Hi", "Crash", "Ride", "Cowbell"])
    {36: 0, 40: 1, 42: 2, 48: 3, 49: 4, 51: 5}
    """
    taken: dict[int, int] = {}
    for i, raw in enumerate(names):
        name = re.sub(r"\([^)]*\)", " ", raw.lower()).strip()
        if not name or EXCLUDE.search(name):
            continue
        for rx, slots in _RULES:
            if rx.search(name):
                for s in slots:
                    if s not in taken:
                        taken[s] = i
                        break
                break
    return dict(sorted(taken.items()))


@dataclass
class Layer:
    path: Path
    vmin: float
    vmax: float
    gain: float


@dataclass
class Instrument:
    name: str
    volume: float
    layers: list[Layer]


@dataclass
class Drumkit:
    """A parsed Hydrogen kit: instruments and the GM slot -> instrument index map."""

    folder: Path
    name: str
    license: str
    instruments: list[Instrument]
    slot_map: dict[int, int]
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def slots(self) -> tuple[int, ...]:
        return tuple(self.slot_map)

    def slot_names(self) -> dict[int, str]:
        """``{GM slot: instrument name}`` (for documentation)."""
        return {s: self.instruments[i].name for s, i in self.slot_map.items()}

    def _sample(self, layer: Layer) -> tuple[np.ndarray, float]:
        """(trimmed mono 44.1 kHz float32 sample, audible-onset offset in s), cached."""
        key = str(layer.path)
        if key not in self._cache:
            self._cache[key] = load_sample(layer.path)
        return self._cache[key]

    def layer_for(self, slot: int, velocity: int) -> tuple[Layer, float]:
        """The layer played for ``velocity`` (1..127) and its amplitude factor."""
        inst = self.instruments[self.slot_map[slot]]
        v = min(max(velocity, 0), 127) / 127.0
        inside = [ly for ly in inst.layers if ly.vmin - 1e-9 <= v <= ly.vmax + 1e-9]
        if inside:
            layer = inside[0]
        else:
            layer = min(inst.layers, key=lambda ly: min(abs(v - ly.vmin), abs(v - ly.vmax)))
        return layer, v * layer.gain * inst.volume

    def render(self, times, slots, velocities, duration: float, sr: int = SAMPLE_RATE
               ) -> tuple[np.ndarray, np.ndarray]:
        """Render hits (``times`` s, GM ``slots``, ``velocities`` 1..127) into ``duration`` s mono.

        Returns ``(audio float32, labels)``: ``labels[i]`` is the audible onset (s) of hit
        ``i`` (NaN for hits at or after ``duration``). Slots the kit lacks raise ``KeyError``.
        """
        times = np.asarray(times, dtype=np.float64)
        slots = np.asarray(slots, dtype=np.int64)
        vels = np.asarray(velocities, dtype=np.int64)
        n = int(round(duration * sr))
        out = np.zeros(n, dtype=np.float32)
        labels = np.full(len(times), np.nan)
        # choke: an open hat ends at the next closed/pedal hat hit
        closers = np.sort(times[np.isin(slots, (42, 44))])
        fade = int(0.010 * sr)
        for i in np.argsort(times, kind="stable"):
            start = int(round(times[i] * sr))
            if start >= n or start < 0:
                continue
            layer, amp = self.layer_for(int(slots[i]), int(vels[i]))
            y, offset = self._sample(layer)
            end = min(n, start + len(y))
            seg = y[: end - start] * np.float32(amp)
            if slots[i] == 46 and closers.size:
                j = np.searchsorted(closers, times[i], side="right")
                if j < closers.size:
                    cut = int(round(closers[j] * sr)) - start
                    if 0 < cut < len(seg):
                        seg = seg.copy()
                        k = min(fade, len(seg) - cut)
                        seg[cut:cut + k] *= np.linspace(1.0, 0.0, k, dtype=np.float32)
                        seg[cut + k:] = 0.0
            out[start:end] += seg
            labels[i] = start / sr + offset
        return out, labels


def oneshot_drumkit(folder: str | Path, picks, name: str = "", volumes=None) -> Drumkit:
    """A :class:`Drumkit` of single-velocity one-shots: ``picks`` is ``{GM slot: file}``
    (a ``oneshot`` kit of :mod:`drumscribe.synth.kits`). Each file is one instrument with one
    layer over the whole velocity range (gain 1, volume ``volumes[slot]``, default 1), so a hit
    plays at ``velocity/127 × volume``, as a one-layer Hydrogen instrument does. Every sample is
    read now: a missing or unreadable file is an ``InputError`` naming it."""
    folder = Path(folder)
    volumes = dict(volumes or {})
    items = sorted((int(s), Path(f)) for s, f in dict(picks).items())
    instruments = [Instrument(f.stem, float(volumes.get(s, 1.0)), [Layer(f, 0.0, 1.0, 1.0)]) for s, f in items]
    kit = Drumkit(folder, name or folder.name, "", instruments, {s: i for i, (s, _) in enumerate(items)})
    for inst in instruments:
        kit._sample(inst.layers[0])
    return kit


def load_sample(path: Path, sr: int = SAMPLE_RATE) -> tuple[np.ndarray, float]:
    """Load a kit sample as mono float32 at ``sr``, trim leading silence.

    Returns ``(y, offset)``: ``offset`` (s) from the start of ``y`` to its audible onset.
    """
    import soundfile as sf
    import soxr

    if not Path(path).is_file():
        raise InputError(f"{path}: kit sample not found")
    try:
        y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise InputError(f"{path}: cannot read kit sample ({type(exc).__name__}: {exc})") from None
    y = y.mean(axis=1)
    if file_sr != sr and y.size:
        y = soxr.resample(y, file_sr, sr, quality="HQ").astype(np.float32)
    start = first_crossing(y, TRIM_REL_DB)
    if start is None:
        return np.zeros(1, dtype=np.float32), 0.0
    start = max(0, start - int(0.001 * sr))
    y = np.ascontiguousarray(y[start:], dtype=np.float32)
    onset = first_crossing(y, ONSET_REL_DB)
    return y, (onset or 0) / sr


def _strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _float(el: ET.Element, tag: str, default: float) -> float:
    sub = el.find(tag)
    try:
        return float(sub.text) if sub is not None and sub.text and sub.text.strip() else default
    except ValueError:
        return default


@functools.lru_cache(maxsize=32)
def load_drumkit(folder: str | Path) -> Drumkit:
    """Parse ``<folder>/drumkit.xml``; ``InputError`` names the file when it is missing or broken."""
    folder = Path(folder)
    xml = folder / "drumkit.xml"
    if not xml.is_file():
        raise InputError(f"{xml}: drumkit.xml not found")
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{xml}: not valid XML ({exc})") from None
    _strip_ns(root)
    name = (root.findtext("name") or folder.name).strip()
    lic = (root.findtext("license") or root.findtext("licence") or "").strip()
    instruments: list[Instrument] = []
    out_notes: list[str] = []  # <midiOutNote> per instrument: the slot, in a compact kit
    for inst in root.iter("instrument"):
        out_notes.append((inst.findtext("midiOutNote") or "").strip())
        iname = (inst.findtext("name") or "").strip()
        if (inst.findtext("isMuted") or "false").strip().lower() == "true":
            iname = ""  # never used
        volume = _float(inst, "volume", 1.0) * _float(inst, "gain", 1.0)
        layers = []
        for ly in inst.iter("layer"):
            fn = (ly.findtext("filename") or "").strip()
            if fn:
                layers.append(Layer(folder / fn, _float(ly, "min", 0.0), _float(ly, "max", 1.0), _float(ly, "gain", 1.0)))
        if not layers:
            fn = (inst.findtext("filename") or "").strip()
            if fn:
                layers.append(Layer(folder / fn, 0.0, 1.0, 1.0))
        layers = [ly for ly in layers if ly.path.is_file()]
        instruments.append(Instrument(iname if layers else "", volume, layers))
    if root.find("drumscribeCompact") is not None:  # a compact kit (synth.compact): slots stored explicitly
        slot_map = {}
        for i, note in enumerate(out_notes):
            if instruments[i].layers and note.isdigit() and int(note) not in slot_map:
                slot_map[int(note)] = i
        slot_map = dict(sorted(slot_map.items()))
    else:
        slot_map = classify_names([i.name for i in instruments])
    return Drumkit(folder, name, lic, instruments, slot_map)
