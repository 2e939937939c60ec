"""audio.py: real files of many formats written by soundfile, bad input, mixing, writing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumscribe.audio import is_silent, load_audio, mix, write_wav
from drumscribe.errors import InputError

from conftest import REPO, ffmpeg_encode

SR = 44100
EXAMPLE_SONG = REPO / "docs" / "example" / "groove.ogg"


def sine(freq, seconds, sr, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(y, sr):
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.argmax(spec) * sr / len(y)


def test_wav16_roundtrip_exact(tmp_path):
    y = sine(1000, 0.5, SR)
    sf.write(tmp_path / "a.wav", y, SR, subtype="PCM_16")
    out = load_audio(tmp_path / "a.wav")
    assert out.dtype == np.float32 and out.ndim == 1 and len(out) == len(y)
    assert np.max(np.abs(out - y)) < 1.0 / 32768 + 1e-7


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_bit_depths(tmp_path, subtype):
    y = sine(440, 0.5, SR)
    sf.write(tmp_path / "b.wav", y, SR, subtype=subtype)
    out = load_audio(tmp_path / "b.wav")
    tol = 1.0 / 64 if subtype == "PCM_U8" else 1e-4
    assert len(out) == len(y)
    assert np.max(np.abs(out - y)) < tol


def test_96k_is_resampled_to_44k1(tmp_path):
    y = sine(1000, 1.0, 96000)
    sf.write(tmp_path / "hi.wav", y, 96000, subtype="PCM_24")
    out = load_audio(tmp_path / "hi.wav")
    assert len(out) == SR
    assert abs(peak_hz(out, SR) - 1000) < 2
    assert abs(np.sqrt(np.mean(out[1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_resample_to_other_rate(tmp_path):
    sf.write(tmp_path / "a.wav", sine(500, 1.0, SR), SR)
    out = load_audio(tmp_path / "a.wav", sr=22050)
    assert len(out) == 22050 and abs(peak_hz(out, 22050) - 500) < 2


def test_six_channels_mixed_by_mean(tmp_path):
    base = sine(300, 0.3, SR, amp=0.1)
    gains = np.array([1, 2, 3, -1, 0, 1], dtype=np.float32)
    data = base[:, None] * gains[None, :]
    sf.write(tmp_path / "six.wav", data, SR, subtype="FLOAT")
    out = load_audio(tmp_path / "six.wav")
    np.testing.assert_allclose(out, base * gains.mean(), atol=1e-6)


@pytest.mark.parametrize("fmt", ["flac", "ogg", "mp3"])
def test_compressed_formats(tmp_path, fmt):
    y = sine(800, 1.0, 48000, amp=0.4)
    path = tmp_path / f"c.{fmt}"
    sf.write(path, y, 48000)
    out = load_audio(path)
    assert abs(len(out) - SR) < 0.06 * SR  # mp3 encoder delay/padding
    assert abs(peak_hz(out[4410:-4410], SR) - 800) < 3
    if fmt == "flac":
        np.testing.assert_allclose(out, load_audio_ref(y, 48000), atol=2e-4)


@pytest.mark.parametrize("fmt,codec", [("opus", "libopus"), ("m4a", "aac")])
def test_ffmpeg_encoded_formats(tmp_path, fmt, codec):
    """Files as downloaders and phones make them, encoded by ffmpeg (setup.sh installs it)
    from the example song: libsndfile stops part-way through such an Ogg Opus ("file is
    malformed") and cannot open m4a; both decode whole through the fallback, and the
    transcriber reads them whole."""
    from drumscribe.audio import ffmpeg_info
    from drumscribe.transcribe import _audio_info

    path = ffmpeg_encode(EXAMPLE_SONG, tmp_path / f"groove.{fmt}", "-c:a", codec, "-b:a", "96k")
    ref = load_audio(EXAMPLE_SONG)
    out = load_audio(path)
    assert abs(len(out) - len(ref)) < 0.05 * SR  # 12 s, whole (encoder delay and padding aside)
    rms = [20 * np.log10(np.sqrt(np.mean(np.square(a, dtype=np.float64)))) for a in (out, ref)]
    assert abs(rms[0] - rms[1]) < 1.0  # the same music, not silence or noise
    assert _audio_info(path) is None  # never streamed through libsndfile
    # probed by the caller already (the transcriber): the same samples, straight from ffmpeg
    np.testing.assert_array_equal(load_audio(path, probed=ffmpeg_info(path)), out)


def test_a_probed_file_that_fails_to_decode_is_decoded_once(tmp_path, monkeypatch):
    """A file the caller probed goes to ffmpeg alone: a decoder failure of another kind than
    ffmpeg's own error (audioread raises many) is the file's one-line error, not a second decode
    through the libsndfile-then-ffmpeg chain."""
    from drumscribe import audio
    from drumscribe.audio import ffmpeg_info

    path = ffmpeg_encode(EXAMPLE_SONG, tmp_path / "groove.m4a", "-c:a", "aac", "-b:a", "96k")
    probed = ffmpeg_info(path)
    calls = []

    def failing(p, probed=None):
        calls.append(p)
        raise RuntimeError("decoder died")

    monkeypatch.setattr(audio, "_read_fallback", failing)
    with pytest.raises(InputError) as err:
        load_audio(path, probed=probed)
    assert len(calls) == 1 and str(path) in str(err.value) and "decoder died" in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_ffmpeg_reads_names_that_look_like_options_or_protocols(tmp_path, monkeypatch):
    """Through ffmpeg a file is a file: a relative name (as the command line gives it) that
    starts with '-' or holds ':' (failed as an option and a protocol before)."""
    made = ffmpeg_encode(EXAMPLE_SONG, tmp_path / "made.m4a", "-c:a", "aac")
    ref = load_audio(made)
    monkeypatch.chdir(tmp_path)
    for name in ("-live.m4a", "song: live.m4a"):
        shutil.copy(made, name)
        np.testing.assert_array_equal(load_audio(Path(name)), ref)


def load_audio_ref(y, sr):
    import soxr

    q = np.round(y * 32767) / 32768  # flac default is 16-bit
    return soxr.resample(q.astype(np.float32), sr, SR, quality="HQ")


def test_silence_is_valid(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(4410, np.float32), SR)
    out = load_audio(tmp_path / "silent.wav")
    assert len(out) == 4410 and not out.any()
    assert is_silent(out)
    assert not is_silent(sine(100, 0.1, SR, amp=0.01))
    assert is_silent(np.full(10, 1e-6)) and not is_silent(np.full(10, 1e-3))


def _bad(path, match):
    with pytest.raises(InputError) as err:
        load_audio(path)
    msg = str(err.value)
    assert path.name in msg and "\n" not in msg
    assert match in msg, msg
    return msg


def test_missing_file(tmp_path):
    _bad(tmp_path / "nope.wav", "not found")


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    _bad(tmp_path / "empty.wav", "empty")


def test_text_file_named_wav(tmp_path):
    (tmp_path / "notes.wav").write_text("this is not audio\n" * 20)
    _bad(tmp_path / "notes.wav", "not an audio file")


def test_truncated_wav(tmp_path):
    sf.write(tmp_path / "full.wav", sine(440, 1.0, SR), SR, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 3])
    _bad(tmp_path / "cut.wav", "truncated")


def test_truncated_flac(tmp_path):
    sf.write(tmp_path / "full.flac", np.random.default_rng(0).uniform(-0.5, 0.5, SR).astype(np.float32), SR)
    data = (tmp_path / "full.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[: len(data) // 2])
    _bad(tmp_path / "cut.flac", "corrupt")


def test_corrupt_header(tmp_path):
    sf.write(tmp_path / "ok.wav", sine(440, 0.2, SR), SR)
    data = bytearray((tmp_path / "ok.wav").read_bytes())
    data[20:36] = b"\xff" * 16  # smash the fmt chunk
    (tmp_path / "bad.wav").write_bytes(bytes(data))
    with pytest.raises(InputError, match="bad.wav"):
        load_audio(tmp_path / "bad.wav")


def test_zero_length_audio(tmp_path):
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), SR)
    _bad(tmp_path / "zero.wav", "no audio samples")


def test_folder_is_not_a_file(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    _bad(tmp_path / "dir.wav", "not a file")


def test_mix_pads_and_applies_gains():
    a = np.ones(4, np.float32)
    b = np.full(2, 2.0, np.float32)
    np.testing.assert_allclose(mix([a, b]), [3, 3, 1, 1])
    np.testing.assert_allclose(mix([a, b], gains=[0.5, -1.0]), [-1.5, -1.5, 0.5, 0.5])
    assert mix([a]).dtype == np.float32
    with pytest.raises(ValueError):
        mix([a, b], gains=[1.0])
    with pytest.raises(ValueError):
        mix([])
    with pytest.raises(ValueError):
        mix([np.ones((3, 2))])


def test_write_wav_pcm16_float_and_atomic(tmp_path):
    y = np.array([0.0, 0.5, -0.5, 1.5, -2.0], np.float32)
    p = write_wav(tmp_path / "sub" / "o.wav", y, SR)
    info = sf.info(p)
    assert info.subtype == "PCM_16" and info.samplerate == SR
    back, _ = sf.read(p, dtype="float32")
    np.testing.assert_allclose(back, np.clip(y, -1, 1), atol=1 / 32767)
    p2 = write_wav(tmp_path / "f.wav", y, 22050, subtype="FLOAT")
    back2, sr2 = sf.read(p2, dtype="float32")
    assert sr2 == 22050 and sf.info(p2).subtype == "FLOAT"
    np.testing.assert_array_equal(back2, y)
    # no temporary siblings remain
    assert sorted(x.name for x in tmp_path.rglob("*") if x.is_file()) == ["f.wav", "o.wav"]


def test_write_wav_failure_leaves_nothing(tmp_path):
    with pytest.raises(Exception):
        write_wav(tmp_path / "x.wav", np.zeros(10), SR, subtype="NOT_A_SUBTYPE")
    assert list(tmp_path.iterdir()) == []
