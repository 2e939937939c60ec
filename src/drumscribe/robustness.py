"""The robustness suite: real drum stems under real accompaniment, in the conditions real records have.

Material: the MDB Drums songs that have their raw multi-tracks (the 9 dev songs in
``../shared/data/mdb_drums_dev``): the drum stem ``audio/drum_only/<T>_Drum.wav``
and the song's non-drum raw stems ``audio/multi-tracks/<T>/<T>_RAW/*.flac`` (bass,
guitars, vocals), whose instruments ``<T>_METADATA.yaml`` names (:func:`song_stems`).
All stems of a song are sample-aligned, so any drum-to-accompaniment ratio can be
mixed with exact labels (``annotations/class/<T>_class.txt``).

:data:`CONDITIONS` are the suite's columns (issue 11): the drums alone, mixes at the
song's natural level and at fixed accompaniment-to-drums ratios, the natural mix
band-limited, resampled, through lossy codecs, mastered, with reverb, and at extreme
input levels. Each is built by :mod:`drumscribe.degrade` with real tools;
:func:`render_condition` renders one. :func:`robustness` transcribes every (song,
condition) with :class:`drumscribe.transcribe.Transcriber` from a float WAV file (the
path ``drumscribe transcribe`` runs) and scores it with :mod:`drumscribe.metrics`
(mir_eval matching, 50 ms; ``OT`` ignored).

Levels: a mix is the drum stem plus the accompaniment (the sum of the non-drum stems)
times a gain: 1 at the natural level (the raw sum, as recorded), else the gain that
puts the accompaniment's RMS ``acc_db`` over the drum stem's. Every mix is then
scaled to a −1 dBFS sample peak before further processing (as the peer's figures in
``../shared/README.md`` were made), except the two level conditions (the natural
mix with its peak at −30 dBFS and at +20 dBFS, float). The drums-alone conditions
use the drum stem as recorded.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import CLASSES, ONSET_WINDOW, SAMPLE_RATE
from . import degrade
from .errors import ConfigError, InputError

log = logging.getLogger(__name__)

PREFIX = "MusicDelta_"
#: MedleyDB instrument names that are the drum set (the drum stem covers them; never accompaniment).
DRUM_INSTRUMENTS = frozenset({"drum set", "drum machine", "kick drum", "snare drum", "bass drum",
                              "toms", "cymbal", "high hat"})


# --------------------------------------------------------------------------- stems
@dataclass
class SongStems:
    """One song's drum stem and accompaniment (mono float32 at ``sr``, equal lengths).

    ``stems``: the non-drum raw stems by file stem (``<T>_RAW_02_01``), ``instruments``
    their METADATA instrument names; ``accompaniment`` is their sum.
    """

    track: str
    drums: np.ndarray
    accompaniment: np.ndarray
    stems: dict[str, np.ndarray]
    sr: int = SAMPLE_RATE
    instruments: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.drums) / self.sr

    def cropped(self, seconds: float) -> "SongStems":
        """The first ``seconds`` of every stem (fast tests)."""
        n = int(round(seconds * self.sr))
        return SongStems(self.track, self.drums[:n].copy(), self.accompaniment[:n].copy(),
                         {k: v[:n].copy() for k, v in self.stems.items()}, self.sr, dict(self.instruments))


def track_name(track: str) -> str:
    """``"80sRock"`` or ``"MusicDelta_80sRock"`` → ``"MusicDelta_80sRock"``."""
    track = str(track)
    return track if track.startswith(PREFIX) else PREFIX + track


def _mdb(mdb_root) -> Path:
    from .datasets import mdb_drums

    return mdb_drums.find_root(mdb_root)


def mdb_tracks(mdb_root) -> list[str]:
    """Songs (``MusicDelta_<song>``) under ``mdb_root`` that have multi-tracks
    (``audio/multi-tracks/<T>/``), sorted; InputError when there are none."""
    mdb = _mdb(mdb_root)
    base = mdb / "audio" / "multi-tracks"
    names = sorted(p.name for p in base.glob(f"{PREFIX}*") if p.is_dir()) if base.is_dir() else []
    if not names:
        raise InputError(f"{base}: no multi-track folders ({PREFIX}<song>/); the robustness suite "
                         "needs each song's raw stems")
    return names


def _metadata_raws(meta_path: Path) -> list[tuple[str, str]]:
    """``[(raw file stem, instrument)]`` of every raw file the METADATA names."""
    import yaml

    if not meta_path.is_file():
        raise InputError(f"{meta_path}: METADATA file not found (it names each raw stem's instrument)")
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{meta_path}: unreadable METADATA ({type(exc).__name__})") from None
    stems = meta.get("stems") if isinstance(meta, dict) else None
    if not isinstance(stems, dict):
        raise InputError(f"{meta_path}: METADATA has no 'stems' mapping")
    out = []
    for sid, stem in stems.items():
        raws = stem.get("raw") if isinstance(stem, dict) else None
        if not isinstance(raws, dict):
            raise InputError(f"{meta_path}: stem {sid} has no 'raw' mapping")
        for rid, raw in raws.items():
            if not isinstance(raw, dict) or not raw.get("filename"):
                raise InputError(f"{meta_path}: raw {sid}/{rid} has no filename")
            out.append((Path(str(raw["filename"])).stem,
                        str(raw.get("instrument") or stem.get("instrument") or "").strip().lower()))
    return out


def _stem_file(raw_dir: Path, stem: str) -> Path | None:
    """The file of a raw stem: the METADATA says ``.wav``, the shared copy is ``.flac``."""
    for ext in (".flac", ".wav"):
        if (raw_dir / f"{stem}{ext}").is_file():
            return raw_dir / f"{stem}{ext}"
    return None


def song_stems(mdb_root, track: str) -> SongStems:
    """Load one song's drum stem and non-drum raw stems (see the module docstring).

    Raises
    ------
    InputError (one line naming the file) when the song has no drum stem, its METADATA
    is missing or unreadable, a stem it names is missing or unreadable, a stem's sample
    rate or length differs from the drum stem's, or the song has no non-drum stem.
    """
    import soundfile as sf

    from .audio import load_audio

    mdb = _mdb(mdb_root)
    name = track_name(track)
    drum_path = mdb / "audio" / "drum_only" / f"{name}_Drum.wav"
    if not drum_path.is_file():
        raise InputError(f"{drum_path}: no drum stem for {name}")
    song_dir = mdb / "audio" / "multi-tracks" / name
    raw_dir = song_dir / f"{name}_RAW"
    raws = _metadata_raws(song_dir / f"{name}_METADATA.yaml")

    def info(path: Path):
        try:
            return sf.info(str(path))
        except Exception as exc:  # noqa: BLE001 - libsndfile raises RuntimeError subclasses
            raise InputError(f"{path}: unreadable audio ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None

    ref = info(drum_path)
    files: dict[str, Path] = {}
    instruments: dict[str, str] = {}
    for stem, instrument in raws:
        if instrument in DRUM_INSTRUMENTS:
            continue  # the drum raw is the drum_only file
        path = _stem_file(raw_dir, stem)
        if path is None:
            raise InputError(f"{raw_dir / (stem + '.flac')}: raw stem named in the METADATA "
                             f"({instrument or 'no instrument'}) not found")
        i = info(path)
        if i.samplerate != ref.samplerate:
            raise InputError(f"{path}: {i.samplerate} Hz, but the drum stem {drum_path.name} is "
                             f"{ref.samplerate} Hz (a song's stems must share one rate)")
        if i.frames != ref.frames:
            raise InputError(f"{path}: {i.frames} samples, but the drum stem {drum_path.name} has "
                             f"{ref.frames} (a song's stems must be sample-aligned, of one length)")
        files[stem] = path
        instruments[stem] = instrument
    if not files:
        raise InputError(f"{song_dir / (name + '_METADATA.yaml')}: no non-drum stems for {name} "
                         "(nothing to mix under the drums)")
    drums = load_audio(drum_path)
    stems = {stem: load_audio(path) for stem, path in files.items()}
    n = len(drums)
    for stem, y in stems.items():  # mono/resampling keeps equal lengths; guard against off-by-one
        if len(y) != n:
            stems[stem] = degrade.fit_length(y, n)
    acc = np.sum(np.stack(list(stems.values())), axis=0).astype(np.float32)
    return SongStems(track=name, drums=drums, accompaniment=acc, stems=stems, sr=SAMPLE_RATE,
                     instruments=instruments)


def natural_ratio_db(s: SongStems) -> float:
    """RMS of the accompaniment (the raw sum of the non-drum stems) over the drum stem, in dB."""
    return degrade.rms_db(s.accompaniment) - degrade.rms_db(s.drums)


# --------------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class Condition:
    """One column of the suite.

    ``base``: ``"drums"`` (the drum stem as recorded) or ``"mix"``; ``acc_db``: the
    accompaniment's RMS over the drums' in dB, None = the natural level; ``peak``: the
    mix's sample peak in dBFS before ``steps``; ``steps``: ``(operation, params)``
    applied in order (operations of :data:`STEP_FUNCTIONS`).
    """

    name: str
    label: str
    base: str = "mix"
    acc_db: float | None = None
    peak: float | None = -1.0
    steps: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()


def _step(op: str, **params) -> tuple[str, tuple[tuple[str, object], ...]]:
    return op, tuple(params.items())


def _cond(name, label, base="mix", acc_db=None, peak=-1.0, steps=()):
    return name, Condition(name, label, base, acc_db, peak if base == "mix" else None, tuple(steps))


#: The suite's conditions in table order (name → spec). ``drums_lp11k``, ``lp11k`` and
#: ``master_natural`` are extras: the peer's own conditions (``../shared/README.md``).
CONDITIONS: dict[str, Condition] = dict([
    _cond("drums", "drums alone", base="drums"),
    _cond("drums_lp11k", "drums alone, low-pass 11 kHz", base="drums", steps=[_step("lowpass", cutoff_hz=11000)]),
    _cond("mix_natural", "mix, natural level"),
    _cond("mix_m6", "mix, accompaniment -6 dB", acc_db=-6.0),
    _cond("mix_0", "mix, accompaniment 0 dB", acc_db=0.0),
    _cond("mix_p6", "mix, accompaniment +6 dB", acc_db=6.0),
    _cond("mix_p12", "mix, accompaniment +12 dB", acc_db=12.0),
    _cond("lp16k", "natural, low-pass 16 kHz", steps=[_step("lowpass", cutoff_hz=16000)]),
    _cond("lp12k", "natural, low-pass 12 kHz", steps=[_step("lowpass", cutoff_hz=12000)]),
    _cond("lp11k", "natural, low-pass 11 kHz", steps=[_step("lowpass", cutoff_hz=11000)]),
    _cond("lp10k", "natural, low-pass 10 kHz", steps=[_step("lowpass", cutoff_hz=10000)]),
    _cond("lp8k", "natural, low-pass 8 kHz", steps=[_step("lowpass", cutoff_hz=8000)]),
    _cond("lp6k", "natural, low-pass 6 kHz", steps=[_step("lowpass", cutoff_hz=6000)]),
    _cond("rs22k", "natural, resampled through 22.05 kHz", steps=[_step("resample", rate=22050)]),
    _cond("rs16k", "natural, resampled through 16 kHz", steps=[_step("resample", rate=16000)]),
    _cond("mp3_128", "natural, MP3 128 kbit/s (lame CBR mono)",
          steps=[_step("codec", codec="mp3", bitrate_kbps=128)]),
    _cond("mp3_64", "natural, MP3 64 kbit/s (lame CBR mono)",
          steps=[_step("codec", codec="mp3", bitrate_kbps=64)]),
    _cond("ogg_q0", "natural, Ogg Vorbis -q 0 (oggenc)", steps=[_step("codec", codec="vorbis", quality=0)]),
    _cond("master", "natural, compressed + limited to -10 LUFS", steps=[_step("master", target_lufs=-10.0)]),
    _cond("master_natural", "the same, turned back down to the natural mix's loudness",
          steps=[_step("master", target_lufs=-10.0), _step("match_loudness")]),
    _cond("reverb", "natural, hall reverb (greathall IR, 30 % wet)", steps=[_step("reverb", wet=0.3)]),
    _cond("level_m30", "natural, peak at -30 dBFS", peak=-30.0),
    _cond("level_p20", "natural, peak at +20 dBFS (float)", peak=20.0),
])


def _match_loudness(y: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``y`` scaled to the integrated loudness of ``before`` (the signal before the steps)."""
    return degrade.gain_db(y, degrade.loudness_lufs(before) - degrade.loudness_lufs(y))


#: Step operation → function of (signal, signal before the steps, **params).
STEP_FUNCTIONS = {
    "lowpass": lambda y, _b, **p: degrade.lowpass(y, **p),
    "resample": lambda y, _b, **p: degrade.resample_through(y, **p),
    "codec": lambda y, _b, **p: degrade.codec_roundtrip(y, **p),
    "master": lambda y, _b, **p: degrade.master(y, **p),
    "reverb": lambda y, _b, **p: degrade.reverb(y, **p),
    "gain": lambda y, _b, **p: degrade.gain_db(y, **p),
    "match_loudness": lambda y, b, **p: _match_loudness(y, b),
}


def check_conditions(names: Sequence[str] | str | None, key: str = "robustness.conditions") -> list[str]:
    """Condition names in table order (``None`` / ``"all"`` = every condition); ConfigError
    naming the key and the unknown names otherwise."""
    if names is None or names == "all":
        return list(CONDITIONS)
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        raise ConfigError(f"{key}: unknown condition(s) {', '.join(map(str, unknown))} "
                          f"(known: all, {', '.join(CONDITIONS)})")
    if not names:
        raise ConfigError(f"{key}: no condition given (use 'all' or a list of names)")
    return list(dict.fromkeys(names))


def check_config(section: Mapping, mdb_root=None) -> None:
    """The ``robustness:`` config section's checks beyond the schema (run at DAG build):
    unknown conditions, ``in_all`` naming no model, songs absent from ``mdb_root`` (when it
    has multi-tracks) or from a per-song model mapping; ConfigError naming the key."""
    check_conditions(section.get("conditions", "all"), key="robustness.conditions")
    models = dict(section.get("models") or {})
    for i, name in enumerate(section.get("in_all") or []):
        if name not in models:
            raise ConfigError(f"robustness.in_all[{i}]: {name!r} is not a name of robustness.models "
                              f"({', '.join(models) or 'none'})")
    tracks = section.get("tracks", "all")
    songs = None
    available = None
    if mdb_root is not None and Path(mdb_root).exists():
        try:  # a dataset without multi-tracks stops only the suite's own job, not the whole graph
            available = mdb_tracks(mdb_root)
        except InputError:
            available = None
    if available is not None:
        if tracks != "all":
            missing = [t for t in tracks if track_name(t) not in available]
            if missing:
                raise ConfigError(f"robustness.tracks: {', '.join(map(str, missing))} not among the songs "
                                  f"with multi-tracks ({', '.join(available)})")
        songs = available if tracks == "all" else [track_name(t) for t in tracks]
    elif tracks != "all":
        songs = [track_name(t) for t in tracks]
    for name, spec in models.items():
        if isinstance(spec, Mapping) and songs is not None:
            for song in songs:
                try:
                    song_model(spec, song)
                except ConfigError:
                    raise ConfigError(f"robustness.models.{name}: no model for song {song} (a per-song "
                                      "mapping must name every song of robustness.tracks)") from None


def model_files(spec) -> list[str]:
    """The checkpoint files a ``robustness.models`` entry reads (``package`` → the shipped
    model's path), unique, in order: the inputs of its graph job."""
    from .transcribe import default_model_path

    values = list(spec.values()) if isinstance(spec, Mapping) else [spec]
    out = [str(default_model_path()) if v is None or str(v) == PACKAGE_MODEL else str(v) for v in values]
    return list(dict.fromkeys(out))


def mix(s: SongStems, acc_db: float | None = None) -> np.ndarray:
    """Drums + accompaniment, the accompaniment at its natural level (None) or with its
    RMS ``acc_db`` dB over the drums' (unscaled: apply the peak afterwards)."""
    if acc_db is None:
        gain = 1.0
    else:
        gain = 10.0 ** ((acc_db - natural_ratio_db(s)) / 20.0)
    return (s.drums + np.float32(gain) * s.accompaniment).astype(np.float32)


def render_condition(stems: SongStems, name: str) -> np.ndarray:
    """The audio of condition ``name`` for one song (mono float32 at 44.1 kHz, the song's length)."""
    check_conditions([name], key="condition")
    cond = CONDITIONS[name]
    if cond.base == "drums":
        y = stems.drums.astype(np.float32).copy()
    else:
        y = mix(stems, cond.acc_db)
        if cond.peak is not None:
            y = degrade.peak_normalize(y, cond.peak)
    before = y
    for op, params in cond.steps:
        y = STEP_FUNCTIONS[op](y, before, **dict(params))
    return y


# --------------------------------------------------------------------------- evaluation
#: How the model shipped in the package is named in the tables (``models: None`` or ``"package"``).
PACKAGE_MODEL = "package"


def song_model(models, song: str) -> tuple[Path, str]:
    """(model file, its name in the tables) for ``song``: one path for all, None or
    ``"package"`` (the shipped model), or a mapping song → one of those."""
    from .transcribe import default_model_path

    def resolve(value):
        if value is None or str(value) == PACKAGE_MODEL:
            return default_model_path(), PACKAGE_MODEL
        return Path(value), str(value)

    if models is None or isinstance(models, (str, os.PathLike)):
        return resolve(models)
    if isinstance(models, Mapping):
        short = song[len(PREFIX):] if song.startswith(PREFIX) else song
        for key in (song, short):
            if key in models:
                return resolve(models[key])
        raise ConfigError(f"models: no model given for song {song} (the mapping names "
                          f"{', '.join(map(str, models)) or 'no song'})")
    raise ConfigError(f"models: expected a model path or a mapping song -> model path, got {type(models).__name__}")


def song_references(mdb_root) -> dict[str, object]:
    """Song name → MDB track (drum_only variant; its ``load_onsets`` reads annotations/class)."""
    from .datasets import mdb_drums

    return {t.meta["song"]: t for t in mdb_drums.tracks(mdb_root, variant="drum_only", annotations="class")}


def _crop_onsets(onsets: Mapping, seconds: float | None) -> dict[str, np.ndarray]:
    if seconds is None:
        return {c: np.asarray(onsets[c], np.float64) for c in CLASSES}
    return {c: np.asarray(onsets[c], np.float64)[np.asarray(onsets[c]) < seconds] for c in CLASSES}


def heard_songs(meta) -> set[str]:
    """The real songs a checkpoint trained or was validated on (its ``fold``'s training and
    validation songs; none for a model trained on synthetic data only)."""
    fold = (meta or {}).get("fold") or {}
    return set(fold.get("train") or ()) | set(fold.get("validation") or ())


def song_transcriptions(models, mdb_root, conditions=None, tracks=None, threads: int = 2,
                        crop_s: float | None = None, progress: bool = True):
    """Transcribe every (song, condition) on the path ``drumscribe transcribe`` runs, each song by
    the model of ``models`` that never heard it; yield ``(song, model_name, natural_ratio_db,
    condition, reference onsets, estimated onsets)``, a song's conditions one after another."""
    import soundfile as sf
    from tqdm import tqdm

    from .transcribe import Transcriber

    names = check_conditions(conditions, key="conditions")
    available = mdb_tracks(mdb_root)
    if tracks is None or tracks == "all":
        songs = available
    else:
        songs = [track_name(t) for t in ([tracks] if isinstance(tracks, str) else tracks)]
        missing = [s for s in songs if s not in available]
        if missing:
            raise ConfigError(f"tracks: {', '.join(missing)} not among the songs with multi-tracks "
                              f"({', '.join(available)})")
    refs = song_references(mdb_root)
    no_ref = [s for s in songs if s not in refs]
    if no_ref:
        raise InputError(f"{_mdb(mdb_root) / 'annotations' / 'class'}: no annotation for {', '.join(no_ref)}")
    song_models = {s: song_model(models, s) for s in songs}
    transcribers: dict[str, Transcriber] = {}
    bar = tqdm(total=len(songs) * len(names), desc="robustness", unit="cond", disable=None if progress else True)
    with tempfile.TemporaryDirectory(prefix="drumscribe-robustness-") as tmp:
        for song in songs:
            model_path, model_name = song_models[song]
            key = str(model_path)
            if key not in transcribers:
                transcribers[key] = Transcriber(model_path, threads=threads)
            tr = transcribers[key]
            heard = heard_songs(tr.meta)
            if song in heard:
                raise ConfigError(f"models: {model_path} was trained or validated on {song} (its fold: "
                                  f"{', '.join(sorted(heard))}): its figure there would not be a real-music "
                                  f"figure; give the fold model that never heard it")
            stems = song_stems(mdb_root, song)
            if crop_s is not None:
                stems = stems.cropped(crop_s)
            ratio = natural_ratio_db(stems)
            ref = _crop_onsets(refs[song].load_onsets(), crop_s)
            for name in names:
                y = render_condition(stems, name)
                wav = Path(tmp) / f"{song}_{name}.wav"
                sf.write(wav, y, SAMPLE_RATE, subtype="FLOAT")  # float: a +20 dBFS peak is not clipped
                result = tr.transcribe(wav, keep_activations=False)
                wav.unlink()
                yield song, model_name, ratio, name, ref, result.onsets
                bar.update(1)
    bar.close()


def run_suite(models, mdb_root, conditions=None, tracks=None, threads: int = 2, window: float = ONSET_WINDOW,
              crop_s: float | None = None, progress: bool = True):
    """Transcribe and score every (song, condition); return the long table (a DataFrame:
    model, song, natural_ratio_db, condition, class, tp, fp, fn)."""
    import pandas as pd

    from .metrics import class_counts, validate_window

    window = validate_window(window)
    n_conditions = len(check_conditions(conditions, key="conditions"))
    rows = []
    per_song: dict[str, list] = {}
    for song, model_name, ratio, name, ref, onsets in song_transcriptions(
            models, mdb_root, conditions, tracks, threads=threads, crop_s=crop_s, progress=progress):
        counts = class_counts(ref, onsets, window)
        for c in CLASSES:
            tp, fp, fn = counts[c]
            rows.append({"model": model_name, "song": song, "natural_ratio_db": round(ratio, 2),
                         "condition": name, "class": c, "tp": tp, "fp": fp, "fn": fn})
        song_counts = per_song.setdefault(song, [])
        song_counts.append(counts)
        if len(song_counts) == n_conditions:
            tp = sum(sum(cn[c][0] for c in CLASSES) for cn in song_counts)
            tot = sum(sum(2 * cn[c][0] + cn[c][1] + cn[c][2] for c in CLASSES) for cn in song_counts)
            log.info("robustness: %s (natural ratio %+.1f dB, model %s): micro F1 %.3f over %d conditions",
                     song, ratio, model_name, 2 * tp / tot if tot else float("nan"), len(song_counts))
    return pd.DataFrame(rows, columns=["model", "song", "natural_ratio_db", "condition", "class", "tp", "fp", "fn"])


def wide_table(long_df):
    """One row per condition (table order): micro/macro F1, per-class F1, micro precision and
    recall from counts summed over songs; then rows ``worst`` (column minimum) and ``mean``."""
    import pandas as pd

    from .metrics import scores

    rows = []
    order = [c for c in CONDITIONS if c in set(long_df["condition"])]
    for name in order:
        sub = long_df[long_df["condition"] == name]
        summed = sub.groupby("class")[["tp", "fp", "fn"]].sum()
        counts = {c: tuple(int(v) for v in summed.loc[c]) if c in summed.index else (0, 0, 0) for c in CLASSES}
        s = scores(counts)
        rows.append({"condition": name, "micro_f1": s["micro_f1"], "macro_f1": s["macro_f1"],
                     **{f"f1_{c}": s[f"f1_{c}"] for c in CLASSES},
                     "micro_precision": s["micro_precision"], "micro_recall": s["micro_recall"],
                     "songs": int(sub["song"].nunique())})
    wide = pd.DataFrame(rows)
    num = [c for c in wide.columns if c not in ("condition", "songs")]
    wide[num] = wide[num].astype(float)
    worst = {"condition": "worst", **wide[num].min().to_dict(), "songs": wide["songs"].min()}
    mean = {"condition": "mean", **wide[num].mean().to_dict(), "songs": wide["songs"].min()}
    return pd.concat([wide, pd.DataFrame([worst, mean])], ignore_index=True)


def plot_heatmap(wide_df, out_png, title: str) -> None:
    """Conditions × (classes + micro) heatmap of F1, values in the cells (atomic write)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .atomic import atomic_path

    cols = [f"f1_{c}" for c in CLASSES] + ["micro_f1"]
    data = wide_df[cols].to_numpy(dtype=float)
    labels = list(wide_df["condition"])
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(labels) + 1.6))
    cmap = matplotlib.colormaps["viridis"]
    im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(cols)), list(CLASSES) + ["micro"])
    ax.set_yticks(range(len(labels)), labels)
    ax.axvline(len(CLASSES) - 0.5, color="white", lw=2)
    n_cond = len(labels) - 2 if labels[-2:] == ["worst", "mean"] else len(labels)
    if n_cond < len(labels):
        ax.axhline(n_cond - 0.5, color="white", lw=2)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = data[i, j]
            if not math.isfinite(v):
                ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="black")
                continue
            r, g, b, _ = cmap(v)
            ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color=ink,
                    fontweight="bold" if j == len(cols) - 1 else "normal")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="F1 (50 ms)")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def model_label(models) -> str:
    """A short name of the model(s) for titles."""
    if models is None or str(models) == PACKAGE_MODEL:
        return "the model shipped in the package (drumscribe-default.pt)"
    if isinstance(models, Mapping):
        names = sorted({Path(str(v)).name if v is not None else "shipped" for v in models.values()})
        return f"per-song models ({len(set(map(str, models.values())))}: {', '.join(names)[:60]})"
    return Path(models).name


def robustness(models, mdb_root, out_long_csv, out_wide_csv, out_png, conditions=None, tracks=None,
               threads: int = 2, window: float = ONSET_WINDOW, crop_s: float | None = None, title: str | None = None,
               progress: bool = True):
    """Run the suite (rule ``robustness``) and write the long CSV (song × condition × class
    counts), the wide CSV (one row per condition + ``worst`` and ``mean``) and the heatmap, atomically.

    Parameters
    ----------
    models : a model file, None (the model shipped in the package), or a mapping song →
        model file (song-level cross-validation: each song by a model that never trained on it).
    mdb_root : the MDB Drums folder (with ``audio/multi-tracks``).
    conditions, tracks : lists of names, or None / ``"all"``.
    threads : torch CPU threads; window : onset tolerance in seconds (50 ms).
    crop_s : only the first seconds of each song (tests).

    Returns the wide table (a DataFrame).
    """
    from .atomic import atomic_path

    long_df = run_suite(models, mdb_root, conditions, tracks, threads, window, crop_s, progress)
    wide = wide_table(long_df)
    with atomic_path(out_long_csv) as tmp:
        long_df.to_csv(tmp, index=False)
    with atomic_path(out_wide_csv) as tmp:
        wide.to_csv(tmp, index=False, float_format="%.4f")
    n_songs = long_df["song"].nunique()
    plot_heatmap(wide, out_png, title or f"Robustness suite: {model_label(models)}\n"
                                         f"F1 at {window * 1000:.0f} ms, {n_songs} MDB songs, counts summed")
    return wide
