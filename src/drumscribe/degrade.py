"""Deterministic degradations of real recordings: the conditions of the robustness suite.

Each function takes a mono float32 signal at 44.1 kHz (:data:`drumscribe.SAMPLE_RATE`)
and returns one of the same length, sample-aligned with the input, built with real
tools and explicit parameters (no hand-written codec, compressor or reverb):

- :func:`lowpass`: scipy Butterworth (second-order sections) run forwards and
  backwards (``sosfiltfilt``: zero phase, the magnitude response squared), as the
  peer's figures in ``../shared/README.md`` were made;
- :func:`resample_through`: down to a lower rate and back with soxr (HQ), as a
  low-rate recording or rip is;
- :func:`codec_roundtrip`: a lossy round trip through a real encoder binary: MP3
  with Debian's ``lame`` (CBR mono) or ffmpeg's libmp3lame, Ogg Vorbis with
  ``oggenc`` or ffmpeg's libvorbis, decoded back with libsndfile (mpg123 / libvorbis);
- :func:`master`: bus compression + makeup gain + a limiter (pedalboard), the makeup
  found so the result has a given integrated loudness (pyloudnorm, ITU-R BS.1770-4);
- :func:`reverb`: convolution with a real impulse response (pedalboard
  ``Convolution``), a wet/dry mix with the reverberant path at unit energy gain;
- :func:`gain_db`, :func:`peak_normalize`, :func:`rms_db`, :func:`peak_db`: levels.

Alignment of the codec round trips: LAME writes the encoder delay and padding into
the LAME/Xing header of the first frame, and libsndfile's mpg123 decoder (like
ffmpeg's) honours it (gapless decoding); Vorbis is gapless by construction (granule
positions). So the known offset of every supported encoder/decoder pair is 0
samples (:data:`CODEC_OFFSETS`, measured on a click train with lame 3.100,
vorbis-tools 1.4.2, ffmpeg 5.1 and libsndfile 1.2.2); the decoded signal is then
trimmed or zero-padded to the input's length. ``tests/test_robustness.py`` checks
that the round trips stay within 1 ms of the input by cross-correlation.

Missing binaries raise :class:`drumscribe.errors.ConfigError` naming the binary and
the Debian package that provides it; parameters out of range raise ``ConfigError``
naming the parameter.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import SAMPLE_RATE
from .errors import ConfigError, InputError

#: Codecs and the encoders that can make them (the first is the default).
CODECS: dict[str, tuple[str, ...]] = {"mp3": ("lame", "ffmpeg"), "vorbis": ("oggenc", "ffmpeg")}
#: Encoder binary → Debian package that provides it.
ENCODER_PACKAGES: dict[str, str] = {"lame": "lame", "oggenc": "vorbis-tools", "ffmpeg": "ffmpeg"}
#: Samples the decoded signal lags the input, per (codec, encoder) (see the module docstring).
CODEC_OFFSETS: dict[tuple[str, str], int] = {("mp3", "lame"): 0, ("mp3", "ffmpeg"): 0,
                                             ("vorbis", "oggenc"): 0, ("vorbis", "ffmpeg"): 0}
#: The real impulse response the suite's reverb uses (Debian ``guitarix-common``: a hall).
DEFAULT_IR = Path("/usr/share/gx_head/sounds/greathall.wav")
#: Debian package of :data:`DEFAULT_IR`.
DEFAULT_IR_PACKAGE = "guitarix-common"


# --------------------------------------------------------------------------- helpers
def _signal(y, name: str = "y") -> np.ndarray:
    """``y`` as a 1-D float32 array of finite samples (ValueError-free: ConfigError/InputError)."""
    arr = np.asarray(y, dtype=np.float32)
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a mono 1-D signal, got shape {arr.shape}")
    if arr.size and not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: contains NaN or infinite samples")
    return arr


def fit_length(y: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """Drop ``offset`` leading samples, then trim or zero-pad to ``n`` samples."""
    y = y[offset:] if offset >= 0 else np.concatenate([np.zeros(-offset, y.dtype), y])
    if len(y) >= n:
        return y[:n]
    return np.concatenate([y, np.zeros(n - len(y), y.dtype)])


def peak_db(y) -> float:
    """Sample peak in dBFS (``-inf`` for silence)."""
    y = _signal(y)
    p = float(np.max(np.abs(y))) if y.size else 0.0
    return 20.0 * math.log10(p) if p > 0 else -math.inf


def rms_db(y) -> float:
    """RMS level in dBFS (``-inf`` for silence)."""
    y = _signal(y).astype(np.float64)
    r = float(np.sqrt(np.mean(y ** 2))) if y.size else 0.0
    return 20.0 * math.log10(r) if r > 0 else -math.inf


def gain_db(y, db: float) -> np.ndarray:
    """``y`` scaled by ``db`` decibels.

    Examples
    --------
    >>> float(gain_db(np.ones(4, np.float32), -20.0)[0])
    0.1
    """
    y = _signal(y)
    if not math.isfinite(db):
        raise ConfigError(f"gain_db: {db!r} dB is not a finite number")
    return (y * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def peak_normalize(y, peak: float = -1.0) -> np.ndarray:
    """``y`` scaled so its sample peak is ``peak`` dBFS (may exceed 0 dBFS: float audio).

    Silence is returned unchanged.
    """
    y = _signal(y)
    p = float(np.max(np.abs(y))) if y.size else 0.0
    if p == 0.0:
        return y.copy()
    return gain_db(y, peak - 20.0 * math.log10(p))


def _check_rate(sr: int) -> int:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ConfigError(f"sr: {sr!r} is not a positive sample rate in Hz")
    return int(sr)


# --------------------------------------------------------------------------- band limits
def lowpass(y, cutoff_hz: float, order: int = 8, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Butterworth low-pass of ``order`` at ``cutoff_hz`` (−3 dB per pass), run forwards
    and backwards (``scipy.signal.sosfiltfilt``: zero phase, −6 dB at the cut-off, twice
    the slope in dB).

    Examples
    --------
    >>> t = np.arange(44100) / 44100
    >>> y = (np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 15000 * t)).astype(np.float32)
    >>> z = lowpass(y, 8000)
    >>> bool(rms_db(z) < rms_db(y) - 2.5)       # the 15 kHz half of the power is gone
    True
    """
    from scipy.signal import butter, sosfiltfilt

    y = _signal(y)
    sr = _check_rate(sr)
    if not (0 < float(cutoff_hz) < sr / 2):
        raise ConfigError(f"lowpass.cutoff_hz: {cutoff_hz!r} Hz is not between 0 and the Nyquist "
                          f"frequency {sr / 2:g} Hz")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ConfigError(f"lowpass.order: {order!r} is not a positive integer")
    if y.size == 0:
        return y.copy()
    sos = butter(int(order), float(cutoff_hz), btype="lowpass", fs=sr, output="sos")
    padlen = min(3 * (2 * len(sos) + 1), y.size - 1)
    return sosfiltfilt(sos, y.astype(np.float64), padlen=max(padlen, 0)).astype(np.float32)


def resample_through(y, rate: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``y`` resampled down to ``rate`` Hz and back to ``sr`` with soxr (HQ), same length."""
    import soxr

    y = _signal(y)
    sr = _check_rate(sr)
    rate = _check_rate(rate)
    if rate >= sr:
        raise ConfigError(f"resample_through.rate: {rate} Hz is not below the signal's rate {sr} Hz")
    if y.size == 0:
        return y.copy()
    low = soxr.resample(y, sr, rate, quality="HQ")
    back = soxr.resample(low, rate, sr, quality="HQ").astype(np.float32)
    return fit_length(back, len(y))


# --------------------------------------------------------------------------- codecs
def encoder_binary(name: str) -> str:
    """Full path of encoder binary ``name``; ConfigError naming its Debian package if absent."""
    path = shutil.which(name)
    if path is None:
        pkg = ENCODER_PACKAGES.get(name, name)
        raise ConfigError(f"{name}: encoder binary not found on PATH (install the Debian package "
                          f"'{pkg}': apt-get install {pkg})")
    return path


def _encode_command(codec: str, encoder: str, src: Path, dst: Path, bitrate_kbps, quality) -> list[str]:
    binary = encoder_binary(encoder)
    if codec == "mp3":
        kbps = int(bitrate_kbps)
        if encoder == "lame":
            return [binary, "--quiet", "--cbr", "-b", str(kbps), "-m", "m", str(src), str(dst)]
        return [binary, "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-c:a", "libmp3lame",
                "-b:a", f"{kbps}k", "-ac", "1", str(dst)]
    q = float(quality)
    if encoder == "oggenc":
        return [binary, "--quiet", "-q", f"{q:g}", "-o", str(dst), str(src)]
    return [binary, "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-c:a", "libvorbis",
            "-q:a", f"{q:g}", "-ac", "1", str(dst)]


def codec_roundtrip(y, codec: str, bitrate_kbps: int | None = None, quality: float | None = None,
                    encoder: str | None = None, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``y`` encoded with a real lossy encoder and decoded back, aligned and of the same length.

    Parameters
    ----------
    codec : ``"mp3"`` (needs ``bitrate_kbps``, CBR mono, 8–320) or ``"vorbis"`` (needs
        ``quality``, oggenc's ``-q`` scale −1..10).
    encoder : ``"lame"`` / ``"oggenc"`` (default for mp3 / vorbis) or ``"ffmpeg"``.

    The signal is handed to the encoder as 16-bit PCM (what an encoder reads from a CD
    rip), so samples beyond ±1 are clipped: scale the input to a peak below 0 dBFS.
    The decoded signal is resampled back to ``sr`` if the encoder changed the rate.

    Raises
    ------
    ConfigError : unknown codec or encoder, bit rate/quality missing or out of range, or the
        encoder binary is not installed (the message names its Debian package).
    InputError : the encoder or decoder failed (its first line of stderr).
    """
    import soundfile as sf
    import soxr

    y = _signal(y)
    sr = _check_rate(sr)
    if codec not in CODECS:
        raise ConfigError(f"codec: {codec!r} is not one of {', '.join(CODECS)}")
    encoder = encoder or CODECS[codec][0]
    if encoder not in CODECS[codec]:
        raise ConfigError(f"encoder: {encoder!r} cannot make {codec} (use one of {', '.join(CODECS[codec])})")
    if codec == "mp3":
        if bitrate_kbps is None or not (8 <= int(bitrate_kbps) <= 320):
            raise ConfigError(f"bitrate_kbps: {bitrate_kbps!r} is not an MP3 bit rate of 8..320 kbit/s")
    elif quality is None or not (-1.0 <= float(quality) <= 10.0):
        raise ConfigError(f"quality: {quality!r} is not a Vorbis quality of -1..10")
    if y.size == 0:
        return y.copy()
    ext = ".mp3" if codec == "mp3" else ".ogg"
    with tempfile.TemporaryDirectory(prefix="drumscribe-codec-") as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / f"out{ext}"
        sf.write(src, np.clip(y, -1.0, 1.0), sr, subtype="PCM_16")
        cmd = _encode_command(codec, encoder, src, dst, bitrate_kbps, quality)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not dst.is_file():
            first = (proc.stderr.strip().splitlines() or ["no output"])[0]
            raise InputError(f"{cmd[0]}: {codec} encoding failed (exit {proc.returncode}: {first})")
        try:
            out, out_sr = sf.read(dst, dtype="float32", always_2d=True)
        except Exception as exc:  # noqa: BLE001 - libsndfile's errors are plain RuntimeErrors
            raise InputError(f"{dst.name}: decoding the {codec} round trip failed ({exc})") from None
    out = out.mean(axis=1).astype(np.float32)
    if out_sr != sr:
        out = soxr.resample(out, out_sr, sr, quality="HQ").astype(np.float32)
    return fit_length(out, len(y), CODEC_OFFSETS[(codec, encoder)])


# --------------------------------------------------------------------------- mastering
def loudness_lufs(y, sr: int = SAMPLE_RATE) -> float:
    """Integrated loudness (LUFS, ITU-R BS.1770-4 with gating) measured with pyloudnorm."""
    import pyloudnorm

    y = _signal(y)
    if y.size < int(0.4 * sr):
        raise InputError(f"y: {y.size} samples is shorter than one 400 ms loudness block")
    return float(pyloudnorm.Meter(sr).integrated_loudness(y.astype(np.float64)))


def master(y, target_lufs: float = -10.0, threshold_db: float = -24.0, ratio: float = 3.0,
           attack_ms: float = 10.0, release_ms: float = 150.0, limiter_db: float = -1.0,
           iterations: int = 6, tolerance_lu: float = 0.1, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Bus compression + makeup gain + limiter to ``target_lufs`` integrated (pedalboard).

    The chain is ``Compressor(threshold_db, ratio, attack_ms, release_ms)`` → ``Gain(makeup)``
    → ``Limiter(limiter_db)``; the makeup starts at the difference between the target and the
    compressed signal's loudness and is corrected by the measured miss (pyloudnorm) until
    the result is within ``tolerance_lu`` of the target (at most ``iterations`` passes;
    the limiter makes the loudness grow less than the makeup, so each pass corrects by
    the remaining miss). The input should peak near 0 dBFS (the suite's mixes peak at −1).
    """
    from pedalboard import Compressor, Gain, Limiter, Pedalboard

    y = _signal(y)
    sr = _check_rate(sr)
    if not math.isfinite(target_lufs) or target_lufs >= 0:
        raise ConfigError(f"master.target_lufs: {target_lufs!r} is not a loudness below 0 LUFS")
    comp = Pedalboard([Compressor(threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms,
                                  release_ms=release_ms)])
    compressed = comp(y[None, :], sr)[0]
    current = loudness_lufs(compressed, sr)
    if not math.isfinite(current):
        raise InputError("y: silent signal, it has no loudness to master")
    makeup = target_lufs - current
    out = compressed
    for _ in range(max(1, int(iterations))):
        board = Pedalboard([Gain(gain_db=makeup), Limiter(threshold_db=limiter_db)])
        out = board(compressed[None, :], sr)[0]
        miss = target_lufs - loudness_lufs(out, sr)
        if abs(miss) <= tolerance_lu:
            break
        makeup += miss
    return fit_length(out.astype(np.float32), len(y))


# --------------------------------------------------------------------------- reverb
def load_impulse_response(ir_path: str | os.PathLike = DEFAULT_IR, sr: int = SAMPLE_RATE) -> np.ndarray:
    """An impulse response file as mono float32 at ``sr`` (channel mean, soxr HQ)."""
    from .audio import load_audio

    path = Path(ir_path)
    if not path.is_file():
        hint = (f" (install the Debian package '{DEFAULT_IR_PACKAGE}': apt-get install "
                f"{DEFAULT_IR_PACKAGE})" if path == DEFAULT_IR else "")
        raise ConfigError(f"{path}: impulse response not found{hint}")
    return load_audio(path, sr)


def _wet_path(ir: np.ndarray, sr: int):
    """A pedalboard board that convolves with ``ir`` (fully wet) and its linear gain that gives
    the wet path unit energy: JUCE's convolution normalises every IR (to an energy of 1/64),
    so the gain is measured on a unit impulse rather than assumed."""
    from pedalboard import Convolution, Pedalboard

    board = Pedalboard([Convolution(ir[None, :].astype(np.float32), mix=1.0, sample_rate=float(sr))])
    imp = np.zeros(len(ir) + sr // 10, np.float32)
    imp[0] = 1.0
    energy = float(np.sum(board(imp[None, :], sr)[0].astype(np.float64) ** 2))
    board.reset()
    return board, (1.0 / math.sqrt(energy) if energy > 0 else 1.0)


def reverb(y, ir_path: str | os.PathLike = DEFAULT_IR, wet: float = 0.3, sr: int = SAMPLE_RATE) -> np.ndarray:
    """``y`` convolved with a real impulse response (pedalboard ``Convolution``), mixed
    ``(1 - wet) * dry + wet * reverberant``; same length as ``y``.

    The reverberant path is scaled to unit energy gain (an impulse's reverb carries the
    impulse's energy), so ``wet`` sets the direct-to-reverberant ratio whatever the IR's
    own scale: ``20 log10((1 - wet) / wet)`` dB, 7.4 dB at the default 0.3. pedalboard
    compensates the convolution engine's latency, so an impulse comes out where the IR
    has its own onset (its pre-delay) and nowhere later; the tail beyond the input's
    length is cut.
    """
    y = _signal(y)
    sr = _check_rate(sr)
    if not (0.0 <= float(wet) <= 1.0):
        raise ConfigError(f"reverb.wet: {wet!r} is not a mix between 0 and 1")
    if y.size == 0:
        return y.copy()
    ir = load_impulse_response(ir_path, sr)
    board, gain = _wet_path(ir, sr)
    wet_sig = fit_length(board(y[None, :], sr)[0].astype(np.float32), len(y))
    return ((1.0 - float(wet)) * y + float(wet) * gain * wet_sig).astype(np.float32)
