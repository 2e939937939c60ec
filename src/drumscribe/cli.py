"""The ``drumscribe`` command: transcribe songs, score transcriptions, inspect models.

Subcommands
-----------
``transcribe INPUT...``   songs (files or folders) → MIDI / JSON / CSV / PNG per song
``evaluate PRED REF``     onset F1 of predictions (or of audio, transcribed first) against references
``info``                  version, model file and its settings, torch threads and devices
``kits``                  the drum kits the renderer can use
``compact-kits OUTDIR``   kits as small sample folders (no FluidSynth needed to render them)

Every problem with the user's input is a :class:`drumscribe.errors.DrumscribeError`,
caught here once and printed as one line ``drumscribe: error: <file>: <cause>`` on
stderr. In a batch the other songs are still done; the exit code is 1 if any song
failed, 2 for a usage error, 0 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from . import AUDIO_EXTENSIONS, CLASSES, ONSET_WINDOW, __version__
from .errors import ConfigError, DrumscribeError, InputError, ModelError

PROG = "drumscribe"
FORMATS = ("midi", "json", "csv", "png")
FORMAT_SUFFIX = {"midi": ".mid", "json": ".json", "csv": ".csv", "png": ".png"}
#: ``--format`` when not given (and ``-o`` names no output file)
DEFAULT_FORMATS = "midi,json,csv"
#: ``-o`` ending in one of these names an output file of one song (``-o drums.mid``), not a folder.
FILE_SUFFIX_FORMAT = {".mid": "midi", ".midi": "midi", ".json": "json", ".csv": "csv", ".png": "png"}
PRED_EXTENSIONS = (".json", ".mid", ".midi", ".csv", ".txt")
REF_EXTENSIONS = (".txt", ".mid", ".midi", ".json", ".csv")
#: Suffixes dropped from a file stem to pair predictions with references
#: (MDB Drums: MusicDelta_X_MIX / _Drum / _REMIX audio, MusicDelta_X_class.txt).
PAIR_SUFFIXES = ("_mix", "_remix", "_drum", "_class", "_subclass", "_drums", "_midi")


class _Failures:
    """Counts failed items and prints each as one line."""

    def __init__(self):
        self.n = 0

    def __call__(self, msg: str) -> None:
        self.n += 1
        _err(msg)


def _err(msg: str) -> None:
    print(f"{PROG}: error: {_one_line(msg)}", file=sys.stderr, flush=True)


def _warn(msg: str) -> None:
    print(f"{PROG}: warning: {_one_line(msg)}", file=sys.stderr, flush=True)


def _one_line(msg) -> str:
    return _printable(" ".join(str(msg).split()))


def _printable(text: str) -> str:
    """``text`` with the bytes of a non-UTF-8 file name (surrogate escapes) shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# --------------------------------------------------------------------------- parser
TRANSCRIBE_EPILOG = """\
outputs (per song, named after the audio file's stem):
  <stem>.mid   General MIDI drum file, channel 10: BD 35, SD 38, TT 47, HH 42, CY 49;
               velocity = 1 + round(126 x activation peak)
  <stem>.json  {"onsets": {class: [s]}, "confidences": {...}, "events": [...], duration, counts}
  <stem>.csv   time,class,confidence (one row per onset, sorted by time)
  <stem>.png   spectrogram with the onsets of each class

examples:
  drumscribe transcribe song.wav                   # song.mid/.json/.csv beside song.wav
  drumscribe transcribe song.mp3 -o drums.mid      # only drums.mid
  drumscribe transcribe album/ -o out/ --format midi,png --threads 2
  drumscribe transcribe a.mp3 b.flac --model results/release/model.pt --device cuda
"""

EVALUATE_EPILOG = """\
predictions: drumscribe JSON or CSV, a MIDI file, a time-label text file, or audio (wav/flac/mp3/ogg/opus/m4a/aac/aiff,
transcribed first with --model). References: MDB Drums / ENST-Drums text files (time label),
MIDI (any channel; GM notes reduced to 5 classes), or JSON ({class: [s]}).
Folders are paired by file stem, ignoring _MIX/_REMIX/_Drum/_class/_subclass suffixes,
so MDB Drums' audio/drum_only/MusicDelta_X_Drum.wav pairs with
annotations/class/MusicDelta_X_class.txt.

examples:
  drumscribe evaluate song.json song_class.txt
  drumscribe evaluate "MDB Drums/audio/drum_only" "MDB Drums/annotations/class"
  drumscribe evaluate preds/ "MDB Drums/annotations/midi_pp" --window 0.03 -o scores.json
"""

MAIN_EPILOG = """\
examples:
  drumscribe transcribe song.wav -o out/
  drumscribe evaluate out/song.json song_annotations.txt
  drumscribe info
run `drumscribe <command> --help` for each command's options.
"""


def _positive(kind):
    """An argparse type: a ``kind`` (int or float) > 0, else a usage error (exit 2)."""
    def check(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not > 0")
        return value
    check.__name__ = f"positive {kind.__name__}"
    return check


def _formats(text: str) -> str:
    """An argparse type: a valid ``--format`` list (checked by :func:`parse_formats`), kept as text."""
    try:
        parse_formats(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--format: ")) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``drumscribe`` command."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=fmt, epilog=MAIN_EPILOG,
        description="drumscribe: automatic drum transcription (5 classes: bass drum, snare, "
                    "toms, hi-hat, cymbals) from audio to MIDI.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("transcribe", formatter_class=fmt, epilog=TRANSCRIBE_EPILOG,
                       help="transcribe songs to drum MIDI, JSON, CSV and PNG",
                       description="Transcribe the drums of songs (wav, flac, mp3, ogg, opus, m4a, aac, aiff; "
                                   "any rate and channel count) with a trained model.")
    t.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="audio files or folders (searched recursively for wav/flac/mp3/ogg/opus/m4a/aac/aif/aiff)")
    t.add_argument("-o", "--output-dir", metavar="OUTDIR", type=Path, default=None,
                   help="folder for the outputs (default: beside each input file); folder inputs keep their "
                        "subfolders. For one song, a file name ending in .mid, .json, .csv or .png is that "
                        "output (-o drums.mid: only the MIDI file, unless --format asks for more, which go "
                        "beside it under the same name)")
    t.add_argument("--format", default=None, metavar="LIST", type=_formats,
                   help=f"comma-separated outputs among {','.join(FORMATS)}, or 'all' (default: {DEFAULT_FORMATS})")
    _model_args(t)
    t.add_argument("--chunk-seconds", dest="chunk", type=_positive(float), default=None, metavar="S",
                   help="the model's window: seconds of audio one forward pass sees (default: the model's "
                        "training datapoints, 4 s); songs are processed chunk by chunk")
    # the old name of --chunk-seconds, hidden: `window` is the onset tolerance (drumscribe evaluate)
    t.add_argument("--window", dest="chunk", type=_positive(float), help=argparse.SUPPRESS)
    t.add_argument("--context", type=float, default=None, metavar="S",
                   help="context dropped at each side of a chunk when stitching, seconds (default 0.5)")
    t.add_argument("--batch-size", type=_positive(int), default=None, metavar="N",
                   help="chunks per forward pass (default on the CPU: 32 for a CRNN's recurrent "
                        "head, 16 otherwise; 128 on a GPU)")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary lines")

    e = sub.add_parser("evaluate", formatter_class=fmt, epilog=EVALUATE_EPILOG,
                       help="score transcriptions against reference annotations (onset F1)",
                       description="Onset precision, recall and F1 per class, micro and macro "
                                   "(mir_eval matching), of predictions against references.")
    e.add_argument("pred", metavar="PRED_OR_AUDIO", help="predictions or audio: a file or a folder")
    e.add_argument("ref", metavar="REF", help="reference annotations: a file or a folder")
    e.add_argument("--window", type=_positive(float), default=ONSET_WINDOW, metavar="S",
                   help=f"onset tolerance in seconds (default {ONSET_WINDOW})")
    e.add_argument("--reference-format", choices=("auto", "mdb", "midi", "json"), default="auto",
                   help="reference format (default auto: by extension, .txt = MDB/ENST text)")
    e.add_argument("--ignore-unknown-labels", action="store_true",
                   help="drop text labels that are not MDB Drums / ENST-Drums ones (and say how many) "
                        "instead of stopping; labels match case-insensitively")
    e.add_argument("-o", "--output", type=Path, metavar="JSON", default=None,
                   help="also write the scores (pooled and per file) to this JSON file")
    _model_args(e)

    i = sub.add_parser("info", formatter_class=fmt, help="version, model and devices",
                       description="Show drumscribe's version, the model it would use and its settings, "
                                   "and the torch devices.",
                       epilog="example:\n  drumscribe info --model results/release/model.pt\n")
    i.add_argument("--model", metavar="PATH", default=None, help="model file (default: the released model)")

    sub.add_parser("kits", formatter_class=fmt, help="list the drum kits available for rendering",
                   description="List the drum kits (SoundFonts, Hydrogen kits) the renderer finds here.",
                   epilog="example:\n  drumscribe kits\n")

    c = sub.add_parser(
        "compact-kits", formatter_class=fmt, help="write kits as small sample folders (for GPU/cluster nodes)",
        description="Write each kit as a compact Hydrogen-format folder OUTDIR/<kit id>/: one mono Ogg Vorbis "
                    "one-shot per drum sound and velocity layer, silent tails cut (0.5-2 MB a kit). With "
                    "DRUMSCRIBE_COMPACT_KITS=OUTDIR the renderer uses them under the same kit ids, without "
                    "FluidSynth or the original sound fonts (docs/gmd_synth.md).",
        epilog="example:\n  drumscribe compact-kits /tmp/kits --kits fluidr3_standard hydrogen_colombo\n"
               "  DRUMSCRIBE_COMPACT_KITS=/tmp/kits snakemake --cores 16 ...\n")
    c.add_argument("outdir", metavar="OUTDIR", help="folder to write the kit folders into")
    c.add_argument("--kits", nargs="+", default=["all"], metavar="KIT",
                   help="kit ids (see `drumscribe kits`) or 'all' (default: all installed, usable kits)")
    c.add_argument("--layers", type=_positive(int), default=4, help="velocity layers per drum sound (default 4)")
    c.add_argument("--max-seconds", type=_positive(float), default=2.0, help="longest one-shot in seconds (default 2.0)")
    return parser


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="PATH", default=None,
                   help="model file (default: the released model shipped with drumscribe)")
    p.add_argument("--device", default="cpu", metavar="cpu|cuda", help="device for the model (default cpu)")
    p.add_argument("--threads", type=_positive(int), default=None, metavar="N", help="CPU threads for torch")


# --------------------------------------------------------------------------- inputs
def collect_audio(inputs: Sequence[str], fail) -> list[tuple[Path, Path]]:
    """Expand files and folders into ``(audio file, path relative to its input root)``.

    Missing paths and folders without audio are reported through ``fail``.
    """
    out: list[tuple[Path, Path]] = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            fail(f"{p}: file not found")
        elif p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
                           and not f.name.startswith("."))
            if not files:
                fail(f"{p}: no audio files ({', '.join(e[1:] for e in AUDIO_EXTENSIONS)}) in this folder")
            out += [(f, f.relative_to(p)) for f in files]
        else:
            out.append((p, Path(p.name)))
    return out


def parse_formats(text: str) -> list[str]:
    """``"midi,png"`` → ``["midi", "png"]``; ConfigError for unknown names."""
    names = [s.strip().lower() for s in text.split(",") if s.strip()]
    if names == ["all"]:
        return list(FORMATS)
    names = ["midi" if n in ("mid", "midi") else n for n in names]
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise ConfigError(f"--format: {','.join(bad) or text!r} is not among {','.join(FORMATS)}")
    return list(dict.fromkeys(names))


def _check_writable(folder: Path) -> None:
    """InputError unless ``folder`` exists (or can be made) and takes new files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".drumscribe-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{folder}: output folder is not writable ({exc.strerror or type(exc).__name__})") from None


# --------------------------------------------------------------------------- outputs
def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def _csv_text(result) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["time", "class", "confidence"])
    for t, c, p in result.events():
        w.writerow([f"{t:.3f}", c, f"{p:.4f}"])
    return buf.getvalue()


def write_outputs(result, out_base: Path, formats: Sequence[str], model_path: Path | None = None,
                  named: Path | None = None) -> list[Path]:
    """Write the chosen outputs of one song as a group: every file is written to a
    temporary sibling first and all are renamed only once all were written, so a
    failure leaves none of them. ``named``: the file the user named for its format
    (``-o drums.midi``), the others ``out_base`` + their suffix."""
    from .atomic import atomic_path
    from .midi import write_midi

    named_fmt = FILE_SUFFIX_FORMAT.get(named.suffix.lower()) if named is not None else None
    targets = [named if f == named_fmt else out_base.with_name(out_base.name + FORMAT_SUFFIX[f]) for f in formats]
    try:
        with contextlib.ExitStack() as stack:
            for fmt, target in zip(formats, targets):
                tmp = stack.enter_context(atomic_path(target))
                if fmt == "midi":
                    write_midi(tmp, result.onsets, result.confidences)
                elif fmt == "json":
                    obj = result.to_json()
                    obj["model"] = str(model_path) if model_path else None
                    obj["drumscribe_version"] = __version__
                    tmp.write_text(json.dumps(obj, indent=1) + "\n")
                elif fmt == "csv":
                    tmp.write_text(_csv_text(result))
                elif fmt == "png":
                    from .plotting import plot_transcription

                    plot_transcription(tmp, result.spectrogram, result.onsets, result.confidences,
                                       fps=result.fps, duration=result.duration, title=out_base.name)
                os.chmod(tmp, _FILE_MODE)  # temporaries are 0600; outputs get the usual umask mode
    except OSError as exc:
        raise InputError(f"{out_base.parent}: cannot write outputs ({exc.strerror or type(exc).__name__})") from None
    return targets


def _summary(result, targets: Sequence[Path]) -> str:
    counts = " ".join(f"{c} {n}" for c, n in result.counts().items())
    speed = result.duration / result.seconds if result.seconds > 0 else float("inf")
    names = ",".join(p.suffix.lstrip(".") for p in targets)
    base = targets[0].with_suffix("") if targets else ""
    return (f"{result.path.name}: {result.duration:.1f} s, {sum(result.counts().values())} onsets "
            f"({counts}), {result.seconds:.1f} s ({_speed(speed)}x real time) -> {base}.{{{names}}}")


def _speed(x: float) -> str:
    """A real-time factor with the digits it needs: 164, 7.5, 0.42 (never "0")."""
    if x != x or x == float("inf"):
        return "inf"
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}" if x >= 1 else f"{x:.2g}"


# --------------------------------------------------------------------------- commands
def cmd_transcribe(args) -> int:
    from tqdm import tqdm

    from .transcribe import Transcriber

    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads: {args.threads} is not a positive integer")
    out_file = _output_file(args)
    if out_file is None:
        formats = parse_formats(args.format or DEFAULT_FORMATS)
    else:
        named_fmt = FILE_SUFFIX_FORMAT[out_file.suffix.lower()]
        formats = [named_fmt] if args.format is None else parse_formats(args.format)
        if named_fmt not in formats:
            raise ConfigError(f"-o {out_file}: names a {named_fmt} file, but --format {args.format} does not "
                              f"ask for {named_fmt}")
    fail = _Failures()
    songs = collect_audio(args.inputs, fail)
    if not songs:
        return 1
    transcriber = Transcriber(args.model, device=args.device, threads=args.threads, chunk=args.chunk,
                              context=args.context, batch_size=args.batch_size)
    writable: dict[Path, str | None] = {}
    produced: dict[Path, Path] = {}  # output base -> the song that wrote it in this run
    done = 0
    bar = tqdm(songs, unit="song", disable=True if args.quiet else None, file=sys.stderr, leave=False)
    for path, rel in bar:
        bar.set_postfix_str(path.name[-40:])
        if out_file is not None:
            out_dir = out_file.parent
        else:
            out_dir = (args.output_dir / rel.parent) if args.output_dir is not None else path.parent
        try:
            if out_dir not in writable:
                try:
                    _check_writable(out_dir)
                    writable[out_dir] = None
                except InputError as exc:
                    writable[out_dir] = str(exc)
            if writable[out_dir] is not None:
                raise InputError(f"{path}: {writable[out_dir]}")
            base = out_dir / (out_file.stem if out_file is not None else path.stem)
            if base.resolve() in produced:
                raise InputError(f"{path}: its outputs {base}.* would overwrite those of "
                                 f"{produced[base.resolve()]}; transcribe it on its own or with another -o")
            result = transcriber.transcribe(path, keep_spectrogram="png" in formats, keep_activations=False)
            for w in result.warnings:
                tqdm.write(f"{PROG}: warning: {_one_line(w)}", file=sys.stderr)
            targets = write_outputs(result, base, formats, transcriber.model_path, named=out_file)
            produced[base.resolve()] = path
            done += 1
            if not args.quiet:
                tqdm.write(_printable(_summary(result, targets)), file=sys.stdout)
        except DrumscribeError as exc:
            fail(str(exc))
        except (MemoryError, ValueError, RuntimeError, OSError) as exc:  # a bug or the machine, not the input
            fail(f"{path}: unexpected {type(exc).__name__} ({_one_line(exc)[:200]}); "
                 f"the other songs go on, please report this")
    bar.close()
    if done + fail.n > 1 and not args.quiet:
        print(f"{done} of {done + fail.n} inputs transcribed" + (f", {fail.n} failed" if fail.n else ""))
    return 1 if fail.n else 0


def _output_file(args) -> Path | None:
    """``-o`` as one song's output file (it ends in .mid, .json, .csv or .png and is no
    existing folder), or None for an output folder. ConfigError when it names a file
    but the inputs are a folder or several songs."""
    o = args.output_dir
    if o is None or o.suffix.lower() not in FILE_SUFFIX_FORMAT or o.is_dir():
        return None
    files = [p for p in args.inputs if not Path(p).is_dir()]
    if len(args.inputs) != 1 or len(files) != 1:
        raise ConfigError(f"-o {o}: names one output file, but the inputs are "
                          f"{'a folder' if not files else f'{len(args.inputs)} songs'}; give a folder to -o")
    return o


def _pair_key(path: Path) -> str:
    stem = path.stem
    low = stem.lower()
    for suf in PAIR_SUFFIXES:
        if low.endswith(suf) and len(stem) > len(suf):
            return stem[: -len(suf)].lower()
    return low


def read_predictions(path: Path, transcriber_factory, ignore_unknown: bool = False, unknown: dict | None = None) -> dict:
    """Onsets from a drumscribe JSON/CSV, a MIDI file, a time-label text file, or audio (transcribed)."""
    from .references import read_onsets

    ext = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if ext in AUDIO_EXTENSIONS:
        return transcriber_factory().transcribe(path, keep_activations=False).onsets
    if ext not in PRED_EXTENSIONS:
        raise InputError(f"{path}: not a prediction file (expected {', '.join(PRED_EXTENSIONS)} or audio)")
    return read_onsets(path, ignore_unknown=ignore_unknown, unknown=unknown)


#: ``--reference-format`` name → :mod:`drumscribe.references` format (``mdb``: MDB Drums / ENST-Drums text).
REFERENCE_FORMATS = {"mdb": "text", "midi": "midi", "json": "json", "csv": "csv"}


def read_reference(path: Path, fmt: str = "auto", ignore_unknown: bool = False, unknown: dict | None = None) -> dict:
    """Reference onsets from MDB/ENST text, MIDI, JSON or CSV (``fmt`` auto: by extension).

    Text labels match case-insensitively; unknown ones are an ``InputError`` listing them,
    or with ``ignore_unknown`` are dropped and counted in ``unknown``. Read by
    :func:`drumscribe.references.read_onsets` (a file without onsets is allowed here).
    """
    from .references import format_of, read_onsets

    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if fmt == "auto" and format_of(path) is None:
        raise InputError(f"{path}: unknown reference format (use --reference-format mdb|midi|json)")
    fmt = REFERENCE_FORMATS.get(fmt, fmt)
    return read_onsets(path, fmt, ignore_unknown=ignore_unknown, unknown=unknown)


def _files(root: Path, exts: Sequence[str]) -> list[Path]:
    return sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in exts
                  and not f.name.startswith("."))


def pair_files(pred: Path, ref: Path, fail) -> list[tuple[Path, Path]]:
    """Pair prediction/audio files with reference files (single files or folders, by stem)."""
    if not pred.exists():
        raise InputError(f"{pred}: file not found")
    if not ref.exists():
        raise InputError(f"{ref}: file not found")
    if pred.is_file() and ref.is_file():
        return [(pred, ref)]
    preds = _files(pred, AUDIO_EXTENSIONS + PRED_EXTENSIONS) if pred.is_dir() else [pred]
    refs = _files(ref, REF_EXTENSIONS) if ref.is_dir() else [ref]
    if not preds:
        raise InputError(f"{pred}: no predictions or audio files in this folder")
    if not refs:
        raise InputError(f"{ref}: no reference files ({', '.join(REF_EXTENSIONS)}) in this folder")
    by_key: dict[str, list[Path]] = {}
    for r in refs:
        by_key.setdefault(_pair_key(r), []).append(r)
    pairs = []
    for p in preds:
        cands = by_key.get(_pair_key(p), [])
        if len(refs) == 1 and ref.is_file():
            cands = refs
        if not cands:
            fail(f"{p}: no reference in {ref} with a matching name")
        elif len(cands) > 1:
            fail(f"{p}: several references match ({', '.join(c.name for c in cands)}); pass one folder")
        else:
            pairs.append((p, cands[0]))
    return pairs


def _fmt(x) -> str:
    return "    -" if x is None else f"{x:.3f}"


def score_table(s: dict, window: float) -> str:
    """Text table: one row per class (TP FP FN P R F), then micro and macro."""
    lines = [f"{'class':<7}{'TP':>6}{'FP':>6}{'FN':>6}{'P':>8}{'R':>8}{'F':>8}"]
    for c in CLASSES:
        lines.append(f"{c:<7}{s[f'tp_{c}']:>6}{s[f'fp_{c}']:>6}{s[f'fn_{c}']:>6}"
                     f"{_fmt(s[f'precision_{c}']):>8}{_fmt(s[f'recall_{c}']):>8}{_fmt(s[f'f1_{c}']):>8}")
    lines.append(f"{'micro':<7}{s['tp']:>6}{s['fp']:>6}{s['fn']:>6}"
                 f"{_fmt(s['micro_precision']):>8}{_fmt(s['micro_recall']):>8}{_fmt(s['micro_f1']):>8}")
    lines.append(f"{'macro':<7}{'':>6}{'':>6}{'':>6}{'':>8}{'':>8}{_fmt(s['macro_f1']):>8}")
    lines.append(f"(onset tolerance {window * 1000:.0f} ms; micro = pooled counts, macro = mean of class F1)")
    return "\n".join(lines)


def cmd_evaluate(args) -> int:
    from .metrics import class_counts, scores, sum_counts

    if not (args.window > 0):
        raise ConfigError(f"--window: {args.window} must be > 0 seconds")
    fail = _Failures()
    pairs = pair_files(Path(args.pred), Path(args.ref), fail)
    cache = {}

    def transcriber():
        if "t" not in cache:
            from .transcribe import Transcriber

            cache["t"] = Transcriber(args.model, device=args.device, threads=args.threads)
        return cache["t"]

    per_file = {}
    all_counts = []
    for pred, ref in pairs:
        try:
            unknown: dict[str, int] = {}
            est = read_predictions(pred, transcriber, args.ignore_unknown_labels, unknown)
            refs = read_reference(ref, args.reference_format, args.ignore_unknown_labels, unknown)
            if unknown:
                _warn(f"{ref}: ignored {sum(unknown.values())} onset(s) with unknown labels "
                      f"({', '.join(sorted(unknown))})")
            counts = class_counts(refs, est, args.window)
        except (ModelError, ConfigError):
            raise  # the model or an option: the same for every file, so stop once
        except DrumscribeError as exc:
            fail(str(exc))
            continue
        all_counts.append(counts)
        s = scores(counts)
        per_file[str(pred)] = {"reference": str(ref), **s}
        if len(pairs) > 1:
            print(f"{pred.name}: micro F1 {_fmt(s['micro_f1'])}, macro F1 {_fmt(s['macro_f1'])}")
    if not all_counts:
        if not fail.n:
            _err(f"{args.pred}: nothing to evaluate")
        return 1
    pooled = scores(sum_counts(all_counts))
    print(f"{len(all_counts)} file(s), pooled:" if len(pairs) > 1 else f"{pairs[0][0].name} vs {pairs[0][1].name}:")
    print(score_table(pooled, args.window))
    if args.output is not None:
        from .atomic import write_json

        try:
            write_json(args.output, {"window": args.window, "n_files": len(all_counts), "pooled": pooled,
                                     "files": per_file})
        except OSError as exc:
            raise InputError(f"{args.output}: cannot write ({exc.strerror or type(exc).__name__})") from None
    return 1 if fail.n else 0


def cmd_info(args) -> int:
    import torch

    from .transcribe import Transcriber, default_model_path

    print(f"drumscribe {__version__}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"CUDA {'available (' + torch.cuda.get_device_name(0) + ')' if torch.cuda.is_available() else 'not available'}")
    path = Path(args.model) if args.model else default_model_path()
    print(f"model: {path}{'' if path.is_file() else ' (absent)'}")
    if not path.is_file() and args.model is None:
        return 0
    t = Transcriber(path)
    n_params = sum(p.numel() for p in t.model.parameters())
    print(f"  architecture: {t.arch} {json.dumps(t.meta.get('params'))} ({n_params:,} parameters)")
    print(f"  trained with drumscribe {t.meta.get('drumscribe_version')}, checkpoint format {t.meta.get('format_version')}")
    print(f"  features: {json.dumps(t.meta.get('feature_config'))}")
    print(f"  thresholds: {json.dumps(t.thresholds)}")
    print(f"  peak picking: {json.dumps(t.peak_params)}")
    return 0


def cmd_kits(args) -> int:
    from .synth.kits import list_kits

    kits = list_kits()
    if not kits:
        _warn("no drum kits found (install fluid-soundfont-gm, avldrums.lv2-soundfont, hydrogen-drumkits)")
        return 1
    keys = [k for k in ("id", "name", "source", "classes", "license") if k in kits[0]] or list(kits[0])[:4]
    for k in kits:
        print("  ".join(str(k.get(x, "")) if not isinstance(k.get(x), (list, tuple)) else "/".join(map(str, k[x]))
                        for x in keys))
    return 0


def cmd_compact_kits(args) -> int:
    import warnings

    from .synth.compact import compact_kits
    from .synth.kits import resolve_kits

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = resolve_kits("all" if args.kits == ["all"] else args.kits)
    out = Path(args.outdir)
    _check_writable(out)
    for folder in compact_kits(ids, out, layers=args.layers, max_seconds=args.max_seconds, progress=True):
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"{folder.name}: {size / 1e6:.2f} MB  {folder}")
    return 0


COMMANDS = {"transcribe": cmd_transcribe, "evaluate": cmd_evaluate, "info": cmd_info, "kits": cmd_kits,
            "compact-kits": cmd_compact_kits}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``drumscribe`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except DrumscribeError as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
