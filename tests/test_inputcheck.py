"""Warnings on input that makes a transcription silently worse: clipping, low sample rate, band limits."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from drumscribe import SAMPLE_RATE
from drumscribe.inputcheck import BandwidthMeter, clipped_samples, warnings_for

sys.path.insert(0, str(Path(__file__).parent))
from test_transcribe import untrained_checkpoint  # noqa: E402


def _noise(seconds=4.0, sr=SAMPLE_RATE, seed=0, level=0.1):
    return (np.random.default_rng(seed).normal(size=int(seconds * sr)) * level).astype(np.float32)


def test_clipped_integer_file_is_counted_float_and_clean_ones_are_not(tmp_path):
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    loud = np.clip(2.0 * np.sin(2 * np.pi * 220 * t), -1, 1)
    sf.write(str(tmp_path / "clipped.wav"), loud, SAMPLE_RATE, subtype="PCM_16")
    sf.write(str(tmp_path / "clipped24.flac"), loud, SAMPLE_RATE, subtype="PCM_24")
    sf.write(str(tmp_path / "clean.wav"), 0.5 * np.sin(2 * np.pi * 220 * t), SAMPLE_RATE, subtype="PCM_16")
    sf.write(str(tmp_path / "float.wav"), 3.0 * np.sin(2 * np.pi * 220 * t), SAMPLE_RATE, subtype="FLOAT")
    assert clipped_samples(tmp_path / "clipped.wav") > 10_000
    assert clipped_samples(tmp_path / "clipped24.flac") > 10_000
    assert clipped_samples(tmp_path / "clean.wav") == 0
    assert clipped_samples(tmp_path / "float.wav") is None


def test_bandwidth_of_full_band_and_band_limited_noise():
    full, narrow = BandwidthMeter(), BandwidthMeter()
    y = _noise(8.0)
    low = soxr.resample(soxr.resample(y, SAMPLE_RATE, 22050), 22050, SAMPLE_RATE)
    for i in range(0, len(y), 30_000):  # blocks of any size
        full.add(y[i:i + 30_000])
        narrow.add(low[i:i + 30_000])
    assert full.bandwidth_hz() > 21000
    assert 10000 < narrow.bandwidth_hz() < 11500
    assert BandwidthMeter().bandwidth_hz() is None  # nothing seen


def test_warning_lines():
    assert warnings_for("a.wav", 44100, 19000.0, 0) == []
    (line,) = warnings_for("a.wav", 22050, 10800.0, None)
    assert line == "a.wav: sample rate 22050 Hz, below the 44100 Hz the model was trained on; hi-hats and cymbals may be missed"
    (line,) = warnings_for("a.mp3", 44100, 11000.0, None)
    assert "band-limited input (little above 11.0 kHz" in line and line.endswith("hi-hats and cymbals may be missed")
    (line,) = warnings_for("a.wav", 48000, 20000.0, 5000)
    assert line.startswith("a.wav: clipped input (5000 samples at full scale)")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return untrained_checkpoint(tmp_path_factory.mktemp("ic") / "m.pt", "crnn", seed=1,
                                cell="gru", num_layers=1, hidden_size=16, num_blocks=1)


def test_transcribe_warns_on_low_rate_band_limits_and_clipping(model, tmp_path):
    from drumscribe.transcribe import Transcriber

    t = Transcriber(model)
    y = _noise(4.0)
    sf.write(str(tmp_path / "full.wav"), y, SAMPLE_RATE, subtype="PCM_16")
    sf.write(str(tmp_path / "low.wav"), soxr.resample(y, SAMPLE_RATE, 16000), 16000, subtype="PCM_16")
    up = soxr.resample(soxr.resample(y, SAMPLE_RATE, 22050), 22050, SAMPLE_RATE)
    sf.write(str(tmp_path / "upsampled.wav"), up, SAMPLE_RATE, subtype="PCM_16")
    sf.write(str(tmp_path / "clipped.wav"), np.clip(y * 30, -1, 1), SAMPLE_RATE, subtype="PCM_16")
    assert t.transcribe(tmp_path / "full.wav").warnings == []
    (w,) = t.transcribe(tmp_path / "low.wav").warnings
    assert "sample rate 16000 Hz" in w and "hi-hats and cymbals may be missed" in w
    (w,) = t.transcribe(tmp_path / "upsampled.wav").warnings
    assert "band-limited input" in w
    (w,) = t.transcribe(tmp_path / "clipped.wav").warnings
    assert "clipped input" in w
