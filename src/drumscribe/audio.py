"""Audio in and out: any file to 44.1 kHz mono float32, mixing stems, writing wav.

Every audio file drumscribe reads goes through :func:`load_audio`: it decodes
wav/flac/ogg/mp3 (and anything else libsndfile reads) with ``soundfile``, falls back
to ``librosa``/``audioread`` for formats libsndfile lacks (m4a, aac, old mp3
builds), mixes the channels by their mean and resamples with ``soxr`` at high
quality (``'HQ'``, the quality librosa calls ``soxr_hq``).

Bad input raises :class:`drumscribe.errors.InputError` with a one-line message
``"<file>: <cause>"``: a missing or empty file, a file that is not audio (a text
file named ``.wav``), a corrupt or truncated file, and a file with no samples.
Silence is valid input (it decodes to zeros); use :func:`is_silent` to test it.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from . import SAMPLE_RATE
from .atomic import atomic_path
from .errors import InputError

#: Extensions that libsndfile decodes itself; a soundfile failure on them is final.
_SNDFILE_EXTS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc",
                 ".au", ".snd", ".caf", ".w64", ".rf64", ".mp3"}
#: Extensions worth a second try through librosa/audioread (ffmpeg, gstreamer).
FALLBACK_EXTS = {".mp3", ".m4a", ".mp4", ".aac", ".wma", ".webm", ".mka", ".opus"}
#: Extensions libsndfile opens but may fail to decode part-way: its Ogg Opus reader (1.2.2)
#: stops with "file is malformed" after a few seconds of ffmpeg/libopus files (yt-dlp's
#: downloads among them). ``drumscribe.transcribe`` decodes them with ffmpeg
#: (:func:`ffmpeg_blocks`); :func:`load_audio` falls back to it when libsndfile fails.
SNDFILE_UNRELIABLE_EXTS = {".opus"}


def _riff_truncation(path: Path) -> str | None:
    """Return a cause if a RIFF/WAVE file's ``data`` chunk is longer than the file.

    libsndfile silently reads what is there when a wav file was cut short; the
    header still declares the full length, so comparing the two finds truncation.
    Streamed files that declare 0 or 0xFFFFFFFF bytes are not judged.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                break
            cid, clen = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
            if cid == b"data":
                if clen in (0, 0xFFFFFFFF):
                    return None
                have = size - pos - 8
                if clen > have:
                    return f"truncated wav (header declares {clen} bytes of audio, file holds {have})"
                return None
            pos += 8 + clen + (clen & 1)
        return "corrupt wav (no data chunk)"


def _looks_like_text(path: Path, n: int = 512) -> bool:
    """True when the file starts with plain text (no audio container starts so)."""
    with open(path, "rb") as fh:
        head = fh.read(n)
    if not head or b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


@contextlib.contextmanager
def quiet_decoder(path: Path):
    """Silence what libmpg123 prints to the process's stderr (file descriptor 2) while an
    MP3 is decoded: on a bad MP3 the one-line error is enough. Other files: no change."""
    if Path(path).suffix.lower() != ".mp3":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def sndfile_message(exc: BaseException) -> str:
    """libsndfile's error on one line, without soundfile's "Error opening <name>: " (the
    caller names the file; for a path given as bytes it would show b'...')."""
    msg = " ".join(str(exc).split())
    return re.sub(r"^Error opening (b?'.*?'|b?\".*?\"): ", "", msg)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    """Decode with libsndfile to (samples, channels) float32; raises its own errors."""
    import soundfile as sf

    with quiet_decoder(path), sf.SoundFile(os.fsencode(path)) as f:
        declared = f.frames
        sr = f.samplerate
        data = f.read(dtype="float32", always_2d=True)
    # mp3/ogg decoders report the header's length; fewer decoded frames = cut short
    if declared > 0 and 0 < len(data) < declared * 0.99 and path.suffix.lower() in (".mp3", ".ogg", ".oga"):
        raise InputError(f"{path}: truncated audio (header declares {declared} frames, decoded {len(data)})")
    return data, sr


@dataclass(frozen=True)
class FfmpegInfo:
    """ffprobe's view of a file's first audio stream (``soundfile.info``'s names)."""
    samplerate: int
    channels: int
    duration: float


def _ffmpeg_input(path: Path) -> str:
    """``path`` as ffmpeg's input: through its ``file:`` protocol and absolute, so that a name
    that starts with ``-`` or holds ``:`` is read as a file, not an option or a protocol."""
    return "file:" + os.path.abspath(os.fspath(path))


def ffmpeg_info(path: Path) -> FfmpegInfo | None:
    """ffprobe's rate, channels and duration of ``path``'s first audio stream; None without
    ffprobe. InputError naming the file when ffprobe cannot read it or finds no audio stream."""
    import json
    import shutil
    import subprocess

    probe = shutil.which("ffprobe")
    if probe is None:
        return None
    cmd = [probe, "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels:format=duration", "-of", "json", _ffmpeg_input(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"{path}: not a readable audio file (ffprobe: {exc})") from None
    try:
        out = json.loads(proc.stdout or "{}")
        stream = out["streams"][0]
        return FfmpegInfo(int(stream["sample_rate"]), int(stream["channels"]),
                          float(out.get("format", {}).get("duration", "nan")))
    except (ValueError, KeyError, IndexError, TypeError):
        lines = proc.stderr.strip().splitlines()
        cause = lines[-1].removeprefix(f"{_ffmpeg_input(path)}: ") if lines else "no audio stream"
        raise InputError(f"{path}: not a readable audio file (ffprobe: {cause})") from None


def ffmpeg_blocks(path: Path, info: FfmpegInfo, frames: int) -> Iterator[tuple[np.ndarray, bool]]:
    """Yield ``(samples, last)``: ``path``'s first audio stream decoded by ffmpeg in blocks of
    ``frames`` frames, float32 ``(frames, channels)`` at the stream's own rate (no
    quantisation, no resampling, no downmix by ffmpeg). The one decoder of the formats
    libsndfile cannot read (m4a, aac) or not to the end (:data:`SNDFILE_UNRELIABLE_EXTS`),
    whole (:func:`load_audio`) or streamed (``drumscribe.transcribe``). InputError naming the
    file when ffmpeg fails, or for non-finite samples or none at all."""
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise InputError(f"{path}: needs ffmpeg to decode (install Debian's ffmpeg)")
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", _ffmpeg_input(path), "-map", "0:a:0", "-f", "f32le",
           "-acodec", "pcm_f32le", "-"]
    frame = 4 * info.channels
    want = max(1, int(frames)) * frame
    total = 0
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while True:
            data = proc.stdout.read(want)
            last = len(data) < want
            data = data[:len(data) - len(data) % frame]
            samples = np.frombuffer(data, np.float32).reshape(-1, info.channels)
            total += len(samples)
            if not np.all(np.isfinite(samples)):
                raise InputError(f"{path}: audio holds NaN or infinite samples")
            if last:
                err = proc.stderr.read().decode(errors="replace").strip()
                if proc.wait() != 0:
                    raise InputError(f"{path}: corrupt audio (ffmpeg: {(err.splitlines() or ['no message'])[-1]})")
                if total == 0:
                    raise InputError(f"{path}: no audio samples (zero-length or truncated)")
            yield samples, last
            if last:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _read_fallback(path: Path, info: FfmpegInfo | None = None) -> tuple[np.ndarray, int]:
    """Decode with ffmpeg (:func:`ffmpeg_blocks`) at the native rate to (samples, channels),
    probing the file first unless ``info`` holds ffprobe's view already; without ffmpeg through
    librosa/audioread (gstreamer, Core Audio)."""
    import warnings

    info = info if info is not None else ffmpeg_info(path)
    if info is not None:
        parts = [b for b, _ in ffmpeg_blocks(path, info, 1 << 20)]
        return np.ascontiguousarray(np.concatenate(parts)), info.samplerate
    import librosa

    with warnings.catch_warnings(), quiet_decoder(path):
        warnings.simplefilter("ignore")
        y, sr = librosa.load(str(path), sr=None, mono=False, dtype=np.float32)
    y = np.atleast_2d(y)  # librosa gives (channels, samples)
    return np.ascontiguousarray(y.T), int(sr)


def load_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE, *, probed: FfmpegInfo | None = None) -> np.ndarray:
    """Load an audio file as mono float32 at ``sr`` Hz (default 44.1 kHz).

    Any rate, bit depth (8/16/24/32-bit integer, float) and channel count is accepted;
    channels are mixed by their mean and the result is resampled with soxr (HQ).

    Parameters
    ----------
    path : path of a wav/flac/ogg/mp3 (or other libsndfile/audioread) file.
    sr : target sample rate in Hz.
    probed : :func:`ffmpeg_info`'s view of ``path`` when the caller has probed it already
        (``drumscribe.transcribe`` for m4a, aac and Opus): the file goes to ffmpeg at once,
        without a try through libsndfile and a second probe.

    Returns
    -------
    np.ndarray, float32, shape (samples,), nominally in [-1, 1].

    Raises
    ------
    InputError
        Missing or empty file, not an audio file, corrupt or truncated audio,
        no samples, non-finite samples.

    Examples
    --------
    >>> y = load_audio("song.flac")  # doctest: +SKIP
    >>> y.dtype, y.ndim
    (dtype('float32'), 1)
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    ext = path.suffix.lower()
    if _looks_like_text(path):
        raise InputError(f"{path}: not an audio file (it holds text)")
    cause = _riff_truncation(path)
    if cause:
        raise InputError(f"{path}: {cause}")
    if probed is not None:  # ffmpeg's file: decoded once, its failure the file's error
        try:
            data, native_sr = _read_fallback(path, probed)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{path}: not a readable audio file ({type(exc).__name__}: {exc})") from None
    else:
        data, native_sr = _read_any(path, ext)
    return _finish(path, data, native_sr, sr)


def _read_any(path: Path, ext: str) -> tuple[np.ndarray, int]:
    """libsndfile first, then (for the formats it lacks, or a file it cannot read) ffmpeg."""
    import soundfile as sf

    try:
        return _read_soundfile(path)
    except InputError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
        msg = sndfile_message(exc)
        if ext in FALLBACK_EXTS or ext not in _SNDFILE_EXTS:
            try:
                return _read_fallback(path)
            except InputError:  # ffmpeg's own error, naming the file
                raise
            except Exception as exc2:  # audioread raises many kinds
                raise InputError(f"{path}: not a readable audio file ({msg}; "
                                 f"fallback: {type(exc2).__name__})") from None
        elif "not recognised" in msg.lower() or "format not recognized" in msg.lower():
            raise InputError(f"{path}: not an audio file (format not recognised)") from None
        else:
            raise InputError(f"{path}: corrupt audio ({msg})") from None


def _finish(path: Path, data: np.ndarray, native_sr: int, sr: int) -> np.ndarray:
    """Decoded frames (frames, channels) checked, downmixed to mono and resampled to ``sr``."""
    import soxr

    if data.size == 0 or len(data) == 0:
        raise InputError(f"{path}: no audio samples (zero-length or truncated)")
    if not np.all(np.isfinite(data)):
        raise InputError(f"{path}: audio holds NaN or infinite samples")
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if native_sr != sr:
        y = soxr.resample(y, native_sr, sr, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32)


def is_silent(y: np.ndarray, threshold_db: float = -80.0) -> bool:
    """Return True if the peak of ``y`` is below ``threshold_db`` dBFS (all-zero counts as silent).

    >>> is_silent(np.zeros(100)), is_silent(np.full(100, 0.5))
    (True, False)
    """
    y = np.asarray(y)
    if y.size == 0:
        return True
    peak = float(np.max(np.abs(y)))
    return peak <= 10.0 ** (threshold_db / 20.0)


def mix(signals: Sequence[np.ndarray], gains: Sequence[float] | None = None) -> np.ndarray:
    """Sum mono signals, each times its linear gain, zero-padding to the longest.

    Parameters
    ----------
    signals : 1-D arrays (same sample rate), e.g. drums and accompaniment stems.
    gains : one linear gain per signal; default 1.0 each.

    Returns
    -------
    float32 array as long as the longest signal.

    >>> mix([np.ones(3), np.ones(2)], gains=[1.0, 0.5]).tolist()
    [1.5, 1.5, 1.0]
    """
    if len(signals) == 0:
        raise ValueError("mix: no signals given")
    if gains is None:
        gains = [1.0] * len(signals)
    if len(gains) != len(signals):
        raise ValueError(f"mix: {len(signals)} signals but {len(gains)} gains")
    arrays = [np.asarray(s, dtype=np.float32) for s in signals]
    for a in arrays:
        if a.ndim != 1:
            raise ValueError(f"mix: signals must be 1-D (mono), got shape {a.shape}")
    out = np.zeros(max(len(a) for a in arrays), dtype=np.float32)
    for a, g in zip(arrays, gains):
        out[: len(a)] += np.float32(g) * a
    return out


def write_wav(path: str | os.PathLike, y: np.ndarray, sr: int = SAMPLE_RATE, subtype: str = "PCM_16") -> Path:
    """Write mono or (samples, channels) audio to a wav file atomically.

    ``subtype`` is ``"PCM_16"`` (default; samples are clipped to [-1, 1]),
    ``"PCM_24"``, or ``"FLOAT"`` (32-bit float, written unclipped).
    Returns the path written.
    """
    import soundfile as sf

    y = np.asarray(y, dtype=np.float32)
    if y.ndim not in (1, 2):
        raise ValueError(f"write_wav: audio must be 1-D or (samples, channels), got {y.shape}")
    if subtype.upper().startswith("PCM"):
        y = np.clip(y, -1.0, 1.0)
    path = Path(path)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), y, int(sr), subtype=subtype.upper(), format="WAV")
    return path


# --------------------------------------------------------------------------- input level
#: Gated RMS level (dBFS) every signal is brought to before its spectrogram, in training
#: and in transcription, for models whose checkpoint carries ``input_level_db``.
INPUT_LEVEL_DB: float = -20.0
#: Block length (s) of :class:`LevelMeter`: non-overlapping blocks, so a stream cut into
#: any blocks measures exactly as the whole signal.
LEVEL_BLOCK_S: float = 0.4
#: Absolute gate (dBFS): blocks quieter than this do not count (silence, fades).
LEVEL_ABS_GATE_DB: float = -70.0
#: Relative gate (dB): blocks this far below the mean of the blocks above the absolute
#: gate do not count (quiet intros, breaks), as in ITU-R BS.1770's gating.
LEVEL_REL_GATE_DB: float = -10.0


class LevelMeter:
    """Gated RMS level of a signal fed in any number of consecutive blocks.

    The signal is cut into non-overlapping :data:`LEVEL_BLOCK_S` blocks (a partial last
    block counts with its own length); blocks below :data:`LEVEL_ABS_GATE_DB` are
    dropped, then those below the remaining blocks' mean power plus
    :data:`LEVEL_REL_GATE_DB`; the level is the mean power of the rest, in dBFS. This is
    BS.1770's two-stage gating without its K-weighting filter: a level statistic for
    input normalisation, fast enough for transcription (about 10 ms a 3-minute song;
    pyloudnorm's meter takes 0.4 s), not a loudness meter (the robustness suite's
    mastering measures LUFS with pyloudnorm). ``-inf`` for silence.

    >>> m = LevelMeter(); m.add(np.full(44100, 0.1, np.float32)); round(m.level_db(), 3)
    -20.0
    """

    def __init__(self, sr: int = SAMPLE_RATE):
        self.block = max(1, int(round(LEVEL_BLOCK_S * sr)))
        self._rest = np.zeros(0, np.float32)
        self._powers: list[np.ndarray] = []

    def add(self, y: np.ndarray) -> None:
        y = np.asarray(y, np.float32).ravel()
        if len(self._rest):
            y = np.concatenate([self._rest, y])
        n = len(y) // self.block * self.block
        if n:
            b = y[:n].reshape(-1, self.block)
            self._powers.append(np.einsum("ij,ij->i", b, b, dtype=np.float64) / self.block)
        self._rest = y[n:].copy()

    def level_db(self) -> float:
        powers = list(self._powers)
        if len(self._rest):
            powers.append(np.array([np.mean(np.square(self._rest, dtype=np.float64))]))
        if not powers:
            return -math.inf
        p = np.concatenate(powers)
        p = p[p > 10.0 ** (LEVEL_ABS_GATE_DB / 10.0)]
        if not len(p):
            return -math.inf
        p = p[p > np.mean(p) * 10.0 ** (LEVEL_REL_GATE_DB / 10.0)]
        return float(10.0 * np.log10(np.mean(p)))


def level_db(y: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Gated RMS level of ``y`` in dBFS (:class:`LevelMeter`); ``-inf`` for silence."""
    meter = LevelMeter(sr)
    meter.add(y)
    return meter.level_db()


def level_gain(level: float, target_db: float = INPUT_LEVEL_DB) -> float:
    """Linear gain that brings a signal of gated level ``level`` dBFS to ``target_db``
    (1.0 for silence: nothing to scale)."""
    if not math.isfinite(level):
        return 1.0
    return float(10.0 ** ((target_db - level) / 20.0))


def normalize_level(y: np.ndarray, target_db: float = INPUT_LEVEL_DB, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``y`` scaled to a gated RMS level of ``target_db`` dBFS (float32; silence as is).

    The result does not depend on the input's level: ``normalize_level(g * y)`` equals
    ``normalize_level(y)`` for any ``g > 0`` (up to float rounding).
    """
    y = np.asarray(y, np.float32)
    return (y * np.float32(level_gain(level_db(y, sr), target_db))).astype(np.float32, copy=False)
