"""Checks of a song that would make a transcription silently worse: clipping and band limits.

Both give one-line warnings (``transcribe.Result.warnings``), never errors:

- **clipping**: in integer formats (WAV/FLAC/AIFF PCM) a clipped recording holds many
  samples at full scale (within one step of it); :func:`clipped_samples` counts them in
  the file's own samples (before any mixing or resampling, which would blur them), and
  :data:`CLIP_MIN_SAMPLES` or more give a warning. A float file is not clipped by its
  format (its level is normalised for models that ask for it).
- **band limits**: the models were trained on 44.1 kHz audio whose cymbals and hi-hats
  reach above 15 kHz. A file at a lower sample rate, or one whose measured bandwidth
  (:class:`BandwidthMeter`) is below :data:`MIN_BANDWIDTH_HZ` (an upsampled file, a
  low-bitrate MP3), loses them: the README's example at 22.05 kHz gives 0 of 54 hi-hats.

The bandwidth is where the long-term power spectrum falls for good below
:data:`CLIFF_DB` under its 200 Hz-5 kHz mean: band-limited audio has a cliff there.
(The frequency below which 99.9 % of the energy lies does not work: the full-band MDB
Drums mixes have 99.9 % of their energy below 7-10 kHz, their cymbals carry so little.)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import SAMPLE_RATE

#: Samples at full scale (within one step) from which an integer-format file counts as clipped.
CLIP_MIN_SAMPLES = 64
#: Bandwidth below which hi-hats and cymbals may be missed, Hz.
MIN_BANDWIDTH_HZ = 15000.0
#: The cliff: dB below the 200 Hz-5 kHz mean of the long-term power spectrum.
CLIFF_DB = 60.0
#: Frame length and spacing of the bandwidth measurement (samples at 44.1 kHz, seconds).
FRAME = 4096
SPACING_S = 0.25

_INT_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def clipped_samples(path: str | os.PathLike, info=None) -> int | None:
    """Samples (over all channels) of an integer-format file within one step of full scale.

    ``info``: ``soundfile.info(path)`` if already known. ``None`` for float and lossy
    formats or files libsndfile cannot read (nothing to count).
    """
    import soundfile as sf

    try:
        info = info or sf.info(os.fsencode(path))
    except Exception:  # noqa: BLE001 - load_audio reports unreadable files
        return None
    bits = _INT_BITS.get(getattr(info, "subtype", ""))
    if bits is None:
        return None
    # read as int32: libsndfile scales every integer format to the full int32 range
    limit = 2**31 - 2 ** (32 - bits)
    count = 0
    try:
        for block in sf.blocks(os.fsencode(path), blocksize=1 << 18, dtype="int32", always_2d=True):
            count += int(np.count_nonzero(block >= limit)) + int(np.count_nonzero(block <= -limit))
    except Exception:  # noqa: BLE001
        return None
    return count


class BandwidthMeter:
    """The bandwidth of a mono 44.1 kHz signal fed in blocks (:meth:`add`), Hz.

    One Hann-windowed frame of :data:`FRAME` samples every :data:`SPACING_S` seconds
    goes into a long-term power spectrum; :meth:`bandwidth_hz` is the highest frequency
    where it is within :data:`CLIFF_DB` of its 200 Hz-5 kHz mean.

    Examples
    --------
    >>> import numpy as np
    >>> m = BandwidthMeter()
    >>> m.add(np.random.default_rng(0).normal(size=44100 * 4).astype(np.float32))
    >>> m.bandwidth_hz() > 20000
    True
    """

    def __init__(self, sr: int = SAMPLE_RATE):
        self.sr = sr
        self.window = np.hanning(FRAME).astype(np.float32)
        self.power = np.zeros(FRAME // 2 + 1, np.float64)
        self.frames = 0
        self._next = 0  # sample index of the next frame's start
        self._seen = 0
        self._spacing = max(FRAME, int(SPACING_S * sr))

    def add(self, block: np.ndarray) -> None:
        n = len(block)
        s = max(self._next - self._seen, 0)  # a frame never spans two blocks
        starts = np.arange(s, n - FRAME + 1, self._spacing)
        if len(starts):
            frames = np.stack([block[i:i + FRAME] for i in starts]) * self.window
            self.power += (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(0)
            self.frames += len(starts)
            self._next = self._seen + int(starts[-1]) + self._spacing
        self._seen += n

    def bandwidth_hz(self) -> float | None:
        """None for fewer than 4 frames or a silent signal."""
        if self.frames < 4:
            return None
        f = np.fft.rfftfreq(FRAME, 1.0 / self.sr)
        p = self.power / self.frames
        mid = p[(f >= 200) & (f <= 5000)].mean()
        if not mid > 0:
            return None
        above = np.nonzero(p >= mid * 10.0 ** (-CLIFF_DB / 10.0))[0]
        return float(f[above[-1]]) if len(above) else None


def warnings_for(path: str | os.PathLike, sample_rate: int | None, bandwidth_hz: float | None,
                 clipped: int | None) -> list[str]:
    """The one-line warnings for a song's native sample rate, measured bandwidth and clipped samples."""
    path = Path(path)
    out = []
    low_rate = sample_rate is not None and sample_rate < SAMPLE_RATE
    narrow = bandwidth_hz is not None and bandwidth_hz < MIN_BANDWIDTH_HZ
    if low_rate or narrow:
        what = (f"sample rate {sample_rate} Hz, below the {SAMPLE_RATE} Hz the model was trained on"
                if low_rate else f"band-limited input (little above {bandwidth_hz / 1000:.1f} kHz, as in a "
                                 f"low-bitrate MP3, an upsampled file or an old recording)")
        out.append(f"{path}: {what}; hi-hats and cymbals may be missed")
    if clipped is not None and clipped >= CLIP_MIN_SAMPLES:
        out.append(f"{path}: clipped input ({clipped} samples at full scale); onsets may be missed or misclassified")
    return out
