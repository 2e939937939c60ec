"""transcribe.Transcriber: chunked streaming inference, stitching, bad models.

The models here are real drumscribe checkpoints: an untrained CRNN of the release
configuration (plumbing, chunked == unchunked) and a tiny CNN whose output layer is
fitted in a few seconds (logistic regression on its random conv features) to
FluidSynth renderings, so a transcription of an unheard groove has a known F1.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from drumscribe import CLASSES, SAMPLE_RATE, features, inference, models
from drumscribe.errors import ConfigError, InputError, ModelError
from drumscribe.references import onsets_from_midi
from drumscribe.metrics import class_counts, scores
import drumscribe.transcribe as tr
from drumscribe.transcribe import Transcriber

SF2 = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
FLUIDSYNTH = Path("/usr/bin/fluidsynth")
PEAKS = {"pre_max": 2, "post_max": 2, "pre_avg": 10, "post_avg": 2, "wait": 2}
GROOVE_NOTES = {"BD": 36, "SD": 38, "HH": 42}
needs_fluidsynth = pytest.mark.skipif(not (SF2.is_file() and FLUIDSYNTH.is_file()),
                                      reason="needs fluidsynth and timgm6mb-soundfont (setup.sh installs them)")


# --------------------------------------------------------------------------- helpers (also used by test_cli)
def make_groove(stem: Path, seed: int, seconds: float = 16.0, bpm: float = 120.0) -> dict:
    """Render a random 8th-note BD/SD/HH groove with FluidSynth; return its onsets."""
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    drums = pretty_midi.Instrument(0, is_drum=True)
    step = 60.0 / bpm / 2
    t = 0.2
    while t < seconds - 0.5:
        for cls, p in (("HH", 0.7), ("BD", 0.4), ("SD", 0.35)):
            if rng.random() < p:
                drums.notes.append(pretty_midi.Note(int(rng.integers(70, 127)), GROOVE_NOTES[cls], t, t + 0.1))
        t += step
    pm.instruments.append(drums)
    mid = Path(f"{stem}.mid")
    pm.write(str(mid))
    subprocess.run([str(FLUIDSYNTH), "-ni", "-q", "-F", f"{stem}.wav", "-r", str(SAMPLE_RATE), str(SF2), str(mid)],
                   check=True, capture_output=True)
    return onsets_from_midi(mid)


def untrained_checkpoint(path: Path, arch="crnn", seed=0, **params) -> Path:
    """Save a freshly initialised model (release configuration by default)."""
    cfg = features.FeatureConfig()
    torch.manual_seed(seed)
    params = params or {"cell": "gru", "num_layers": 3, "hidden_size": 144}
    model = models.build(arch, features.n_bins(cfg), **params)
    models.save_checkpoint(path, model, {"feature_config": cfg, "norm_mean": np.zeros(84), "norm_std": np.ones(84),
                                         "thresholds": {c: 0.5 for c in CLASSES}, "peak_params": PEAKS})
    return path


def fit_tiny_model(folder: Path) -> Path:
    """A tiny CNN fitted to three rendered grooves in a few seconds; returns its checkpoint."""
    from drumscribe.audio import load_audio
    from drumscribe.targets import frame_targets

    cfg = features.FeatureConfig()
    xs, ys = [], []
    for seed in range(3):
        onsets = make_groove(folder / f"train{seed}", seed)
        spec = features.spectrogram(load_audio(folder / f"train{seed}.wav"), cfg)
        xs.append(spec)
        ys.append(frame_targets(onsets, len(spec), widen=0.0))
    x, y = np.concatenate(xs), np.concatenate(ys)
    mean, std = x.mean(0), x.std(0) + 1e-5
    torch.manual_seed(0)
    model = models.build("cnn", features.n_bins(cfg), num_blocks=1, num_fc=1, hidden_size=256, context=5,
                         dropout=0.0).eval()
    with torch.no_grad():
        h = model.fc[:-1](model.conv(torch.from_numpy((x - mean) / std).float()[None]).transpose(1, 2))[0].T
    yt = torch.from_numpy(y)
    pos = yt.mean(0).clamp(min=1e-3)
    weight = ((1 - pos) / pos).clamp(max=30)
    W = torch.zeros(h.shape[1], len(CLASSES), requires_grad=True)
    b = torch.zeros(len(CLASSES), requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=60, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(h @ W + b, yt, pos_weight=weight)
        loss = loss + 1e-4 * (W ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        model.fc[-1].weight.copy_(W.T[:, :, None])
        model.fc[-1].bias.copy_(b)
    path = folder / "tiny.pt"
    models.save_checkpoint(path, model, {"feature_config": cfg, "norm_mean": mean, "norm_std": std,
                                         "thresholds": {c: 0.5 for c in CLASSES}, "peak_params": PEAKS})
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if not (SF2.is_file() and FLUIDSYNTH.is_file()):
        pytest.skip("needs fluidsynth and timgm6mb-soundfont (setup.sh installs them)")
    folder = tmp_path_factory.mktemp("tiny")
    model = fit_tiny_model(folder)
    test_onsets = make_groove(folder / "test", 99)
    return model, folder / "test.wav", test_onsets


@pytest.fixture(scope="module")
def crnn(tmp_path_factory):
    return untrained_checkpoint(tmp_path_factory.mktemp("crnn") / "crnn.pt")


@pytest.fixture(scope="module")
def small_crnn(tmp_path_factory):
    return untrained_checkpoint(tmp_path_factory.mktemp("small") / "small.pt", "crnn", seed=1,
                                cell="gru", num_layers=1, hidden_size=16, num_blocks=1)


def _noise_bursts(seconds: float, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    y = rng.standard_normal(n + 2000).astype(np.float32) * 0.01
    for t in rng.uniform(0, seconds, int(seconds * 4) + 1):
        i = int(t * SAMPLE_RATE)
        y[i:i + 2000] += rng.standard_normal(2000).astype(np.float32) * np.exp(-np.arange(2000) / 300) * 0.5
    return y[:n]


# --------------------------------------------------------------------------- chunking
@pytest.mark.parametrize("n_samples", [441 * 700, 441 * 700 + 17, 441 * 1000 - 1, 441 * 300, 5000])
def test_spectrogram_chunks_equal_whole_signal(crnn, monkeypatch, n_samples):
    monkeypatch.setattr(tr, "SPEC_CHUNK_FRAMES", 300)
    t = Transcriber(crnn)
    y = np.random.default_rng(1).standard_normal(n_samples).astype(np.float32) * 0.1
    whole = features.spectrogram(y, t.feature_config)
    blocks = tr._blocks_of(y, 12345)  # block size unrelated to hop and chunk size
    chunked = np.concatenate(list(t.spectrogram_chunks(blocks)))
    assert chunked.shape == whole.shape
    # equal up to float32 rounding: the filterbank is a BLAS product, whose blocking (and so the
    # order of a row's sums) may depend on how many frames it gets (seen on an AVX-512 VM:
    # 1.8e-7 apart); a frame off by one or a wrong context would be off by far more
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-6)


def test_chunked_equals_unchunked_cnn_exact(tiny):
    model, wav, _ = tiny
    from drumscribe.audio import load_audio

    y = load_audio(wav)
    t = Transcriber(model, chunk=2.0, context=0.5, batch_size=3)  # 16 s -> 16 windows, 6 batches
    a_chunk, a_whole = t.activations(y), t.activations(y, chunked=False)
    assert a_chunk.shape == a_whole.shape == (features.n_frames(len(y), t.feature_config), 5)
    np.testing.assert_allclose(a_chunk, a_whole, atol=1e-5)
    on_chunk, _ = t.onsets(a_chunk)
    on_whole, _ = t.onsets(a_whole)
    assert sum(len(v) for v in on_whole.values()) > 20
    for c in CLASSES:
        np.testing.assert_array_equal(on_chunk[c], on_whole[c])


@pytest.mark.parametrize("window, context", [(3.0, 1.0), (None, None)])  # None: the defaults
def test_chunked_matches_unchunked_crnn(crnn, window, context):
    kw = {"chunk": window, "context": context} if window else {}
    t = Transcriber(crnn, batch_size=4, **kw)
    y = _noise_bursts(8.3)
    a_chunk, a_whole = t.activations(y), t.activations(y, chunked=False)
    assert a_chunk.shape == a_whole.shape
    # a BiGRU sees only its window, so equality is up to the recurrence's fading memory
    np.testing.assert_allclose(a_chunk, a_whole, atol=1e-4)
    t.thresholds = {c: float(np.quantile(a_whole[:, i], 0.9) - np.median(a_whole[:, i]))
                    for i, c in enumerate(CLASSES)}
    on_chunk, _ = t.onsets(a_chunk)
    on_whole, _ = t.onsets(a_whole)
    assert sum(len(v) for v in on_whole.values()) > 5
    for c in CLASSES:
        np.testing.assert_array_equal(on_chunk[c], on_whole[c])


def test_window_edges_short_and_exact_lengths(small_crnn):
    t = Transcriber(small_crnn, chunk=2.0, context=0.5, batch_size=2)
    for frames in (1, 37, 199, 200, 201, 350, 351, 500):
        y = _noise_bursts(frames / 100 + 0.0001, seed=frames)[: frames * 441]
        a = t.activations(y)
        assert a.shape == (frames, 5)
        assert np.all((a >= 0) & (a <= 1))


# --------------------------------------------------------------------------- songs
def test_transcribes_unheard_groove_with_high_f1(tiny):
    model, wav, ref = tiny
    r = Transcriber(model).transcribe(wav)
    s = scores(class_counts(ref, r.onsets, 0.05))
    assert s["micro_f1"] >= 0.8, s
    assert r.duration == pytest.approx(sf.info(str(wav)).duration, abs=0.01)
    assert r.activations.shape == (int(np.ceil(r.duration * 100 - 1e-9)), 5)
    for c in CLASSES:  # a confidence per onset, the activation at its frame
        assert len(r.confidences[c]) == len(r.onsets[c])
        np.testing.assert_allclose(r.confidences[c], r.activations[np.rint(r.onsets[c] * 100).astype(int), CLASSES.index(c)], rtol=1e-6)
    assert not r.warnings


def test_streamed_file_equals_loaded_file(tiny, tmp_path, monkeypatch):
    """Files above STREAM_ABOVE_S are read block by block; results match load_audio's path."""
    model, wav, _ = tiny
    y, sr = sf.read(str(wav), dtype="float32")
    stereo48 = tmp_path / "g48.flac"
    import soxr

    sf.write(str(stereo48), soxr.resample(y, sr, 48000), 48000)
    t = Transcriber(model)
    for path in (wav, stereo48):
        loaded = t.transcribe(path)
        monkeypatch.setattr(tr, "STREAM_ABOVE_S", 1.0)
        monkeypatch.setattr(tr, "BLOCK_SECONDS", 2.7)
        streamed = t.transcribe(path)
        monkeypatch.undo()
        assert streamed.activations.shape == loaded.activations.shape
        np.testing.assert_allclose(streamed.activations, loaded.activations, atol=2e-3)
        for c in CLASSES:
            np.testing.assert_array_equal(streamed.onsets[c], loaded.onsets[c])


@pytest.mark.parametrize("fmt,codec", [("m4a", "aac"), ("opus", "libopus")])
def test_ffmpeg_streamed_file_equals_loaded_file(tiny, tmp_path, monkeypatch, fmt, codec):
    """m4a and Opus (what libsndfile cannot read, or not to the end) above STREAM_ABOVE_S
    are decoded by ffmpeg block by block in bounded memory; the same activations and onsets
    as the whole file through load_audio's fallback (the same decoder). A file ffmpeg cannot
    open is one error naming it."""
    from conftest import ffmpeg_encode
    from drumscribe.audio import ffmpeg_info

    model, wav, _ = tiny
    path = ffmpeg_encode(wav, tmp_path / f"song.{fmt}", "-ac", "2", "-c:a", codec, "-b:a", "128k")
    assert tr._audio_info(path) is None and ffmpeg_info(path).channels == 2
    t = Transcriber(model)
    loaded = t.transcribe(path)
    monkeypatch.setattr(tr, "STREAM_ABOVE_S", 1.0)
    monkeypatch.setattr(tr, "BLOCK_SECONDS", 2.7)
    streamed = t.transcribe(path)
    assert streamed.activations.shape == loaded.activations.shape
    np.testing.assert_allclose(streamed.activations, loaded.activations, atol=2e-3)
    for c in CLASSES:
        np.testing.assert_array_equal(streamed.onsets[c], loaded.onsets[c])
    if fmt == "m4a":  # cut before its index (ffmpeg writes it last): ffmpeg's one line, naming the file
        cut = tmp_path / "cut.m4a"
        cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(InputError, match=r"cut\.m4a: not a readable audio file \(ffprobe: [^/]*\)$"):
            t.transcribe(cut)


def test_silence_gives_warning_and_empty_transcription(crnn, tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(3 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    t = Transcriber(crnn)
    t.thresholds = {c: 0.0 for c in CLASSES}  # would pick every bump, were it not silent
    r = t.transcribe(path)
    assert r.counts() == {c: 0 for c in CLASSES}
    assert len(r.warnings) == 1 and "silence.wav" in r.warnings[0] and "silent" in r.warnings[0]
    assert r.duration == pytest.approx(3.0)


def test_one_second_clip_and_multichannel_96k(crnn, tmp_path):
    short = tmp_path / "short.wav"
    sf.write(str(short), _noise_bursts(1.0), SAMPLE_RATE)
    six = tmp_path / "six.wav"
    sf.write(str(six), np.tile(_noise_bursts(2.0)[::1, None], (1, 6))[: 2 * SAMPLE_RATE], 96000, subtype="PCM_24")
    t = Transcriber(crnn)
    assert t.transcribe(short).activations.shape == (100, 5)
    r = t.transcribe(six)
    assert r.duration == pytest.approx(2 * SAMPLE_RATE / 96000, abs=1e-3)


def test_bad_audio_raises_input_error_naming_file(crnn, tmp_path):
    t = Transcriber(crnn)
    fake = tmp_path / "notes.mp3"
    fake.write_text("these are not sounds\n" * 50)
    with pytest.raises(InputError, match="notes.mp3"):
        t.transcribe(fake)
    with pytest.raises(InputError, match="missing.wav: file not found"):
        t.transcribe(tmp_path / "missing.wav")


# --------------------------------------------------------------------------- models and devices
def test_default_model_absent_is_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(tr, "default_model_path", lambda: tmp_path / "drumscribe-default.pt")
    with pytest.raises(ModelError, match="released model is not installed.*--model"):
        Transcriber()


def test_model_from_other_version_or_arch_or_corrupt(crnn, tmp_path):
    ckpt = torch.load(crnn, weights_only=True)
    other_version = tmp_path / "v99.pt"
    torch.save({**ckpt, "format_version": 99}, other_version)
    with pytest.raises(ModelError, match="v99.pt.*format_version"):
        Transcriber(other_version)
    other_arch = tmp_path / "arch.pt"
    torch.save({**ckpt, "arch": "rnn"}, other_arch)
    with pytest.raises(ModelError, match="arch.pt.*weights do not fit"):
        Transcriber(other_arch)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(crnn.read_bytes()[:5000])
    with pytest.raises(ModelError, match="corrupt.pt"):
        Transcriber(corrupt)
    with pytest.raises(ModelError, match="nothing.pt: model file not found"):
        Transcriber(tmp_path / "nothing.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_config_error(crnn):
    with pytest.raises(ConfigError, match="--device cuda: no CUDA GPU"):
        Transcriber(crnn, device="cuda")
    with pytest.raises(ConfigError, match="unknown device"):
        Transcriber(crnn, device="tpu")


def test_threads_and_window_validation(crnn):
    before = torch.get_num_threads()
    try:
        Transcriber(crnn, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="threads"):
        Transcriber(crnn, threads=0)
    with pytest.raises(ConfigError, match="window"):
        Transcriber(crnn, chunk=2.0, context=1.0)


# --------------------------------------------------------------------------- the released model
@needs_fluidsynth
@pytest.mark.skipif(not tr.default_model_path().is_file(),
                    reason="the released model (src/drumscribe/assets/drumscribe-default.pt) is not built yet")
def test_released_model_transcribes_rendered_groove(tmp_path):
    """The default model loads without --model and transcribes an unheard groove well."""
    ref = make_groove(tmp_path / "groove", 1234, seconds=12.0, bpm=100)
    r = Transcriber().transcribe(tmp_path / "groove.wav")
    s = scores(class_counts(ref, r.onsets, 0.05))
    assert s["micro_f1"] >= 0.85, s


# --------------------------------------------------------------------------- the traced CPU path
@pytest.mark.parametrize("arch,params", [
    ("rnn", dict(cell="lstm", num_layers=2, hidden_size=72)),
    ("cnn", dict(num_blocks=2, num_fc=2, hidden_size=72)),
    ("crnn", dict(cell="gru", num_layers=2, hidden_size=72)),
    ("conv_transformer", dict(d_model=72, num_layers=2, num_heads=4)),
    ("vit", dict(patch_size=14, num_heads=2, num_layers=2, d_model=72)),
])
def test_traced_cpu_model_equals_eager_for_every_batch_size(tmp_path, arch, params):
    """Windows run through the frozen TorchScript trace give the eager model's output,
    whatever the batch size (the trace is made on the first batch and reused)."""
    t = Transcriber(untrained_checkpoint(tmp_path / "m.pt", arch, **params), chunk=1.5, context=0.25,
                    batch_size=4, threads=1)
    rng = np.random.default_rng(0)
    frames = t.chunk_frames + 2 * t.context_frames
    for batch in (4, 3, 5):
        windows = [rng.standard_normal((frames, 84)).astype(np.float32) for _ in range(batch)]
        fast = t._forward(windows)
        with torch.inference_mode():
            eager = torch.sigmoid(t.model(torch.from_numpy(np.stack(windows)))).numpy()
        assert fast.shape == (batch, frames, len(CLASSES))
        np.testing.assert_allclose(fast, eager, atol=1e-5)
    assert list(t._traced) == [frames] and t._traced[frames] is not t.model


# --------------------------------------------------------------------------- the front end run once per frame
def test_split_model_front_halo_and_back(tmp_path):
    """CRNN: conv blocks (2 frames of halo per block) + recurrent head; CNN: all frame-local;
    RNN and transformers: windows over the whole model."""
    def split(arch, **params):
        t = Transcriber(untrained_checkpoint(tmp_path / f"{arch}.pt", arch, **params))
        return t, t._front, t._halo, t._back

    t, front, halo, back = split("crnn", cell="gru", num_layers=1, hidden_size=8, num_blocks=2)
    assert front is t.model.conv and halo == 4 and back is not None and t.batch_size == tr.CPU_BATCH_RECURRENT
    t, front, halo, back = split("cnn", num_blocks=1, num_fc=1, hidden_size=8, context=5)
    assert front is t.model and halo == 2 + 2 and back is None and t.batch_size == tr.CPU_BATCH
    for arch, params in (("rnn", dict(cell="gru", num_layers=1, hidden_size=8)),
                         ("conv_transformer", dict(d_model=8, num_layers=1, num_heads=2))):
        t, front, halo, back = split(arch, **params)
        assert front is None and back is t.model


@pytest.mark.parametrize("frames", [1, 4, 5, 36, 37, 38, 100, 333])
def test_front_chunks_equal_whole_front(small_crnn, monkeypatch, frames):
    """The conv blocks run in pieces with their halo give the whole-spectrogram result."""
    monkeypatch.setattr(inference, "FRONT_FRAMES", 37)
    t = Transcriber(small_crnn)
    x = np.random.default_rng(frames).standard_normal((frames, 84)).astype(np.float32)
    chunks = [x[i:i + 29] for i in range(0, frames, 29)]  # chunk size unrelated to FRONT_FRAMES
    got = np.concatenate(list(t._front_chunks(chunks)))
    with torch.inference_mode():
        whole = t._front(torch.from_numpy(x)[None])[0].numpy()
    assert got.shape == whole.shape
    np.testing.assert_allclose(got, whole, atol=1e-5)


def test_default_window_is_the_training_length(tmp_path):
    ckpt = untrained_checkpoint(tmp_path / "c.pt", "crnn", cell="gru", num_layers=1, hidden_size=8)
    assert Transcriber(ckpt).chunk_frames == 400  # no datapoint_frames: 4 s
    torch.save({**torch.load(ckpt, weights_only=True), "datapoint_frames": 300}, tmp_path / "d.pt")
    t = Transcriber(tmp_path / "d.pt")
    assert t.chunk_frames == 300 and t.context_frames == 50
    assert Transcriber(tmp_path / "d.pt", chunk=8.0, context=1.0).chunk_frames == 800


def test_one_blas_thread_inside_and_restored_after():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def openblas_threads():
        return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["internal_api"] == "openblas"]

    before = openblas_threads()
    if not before:
        pytest.skip("numpy has no OpenBLAS here")
    with tr._OneBlasThread():
        assert openblas_threads() == [1] * len(before)
    assert openblas_threads() == before


@needs_fluidsynth
@pytest.mark.skipif(not tr.default_model_path().is_file(),
                    reason="the released model (src/drumscribe/assets/drumscribe-default.pt) is not built yet")
def test_released_model_front_once_matches_whole_model_windows(tmp_path):
    """The release CRNN with its conv blocks run once per frame gives the onsets of the
    whole model run on windows (the earlier path), up to the conv features at the window
    edges, which now see the neighbouring frames instead of zero padding."""
    make_groove(tmp_path / "groove", 4321, seconds=14.0, bpm=110)
    t = Transcriber(threads=2)
    assert t._front is not None
    fast = t.transcribe(tmp_path / "groove.wav")
    t._front, t._back, t.batch_size = None, t.model, tr.CPU_BATCH  # the whole model on windows
    slow = t.transcribe(tmp_path / "groove.wav")
    assert fast.activations.shape == slow.activations.shape
    np.testing.assert_allclose(fast.activations, slow.activations, atol=0.05)
    s = scores(class_counts(slow.onsets, fast.onsets, 0.02))
    assert s["micro_f1"] >= 0.98, s


@pytest.mark.parametrize("thresholds, needle", [
    (None, "has no peak-picking thresholds"),
    ({"BD": 0.3}, "has no threshold for SD, TT, HH, CY"),
    ({c: 0.4 for c in CLASSES} | {"HH": 1.5}, "threshold of HH is 1.5"),
])
def test_checkpoint_without_thresholds_is_a_model_error(crnn, tmp_path, thresholds, needle):
    ckpt = torch.load(crnn, weights_only=True)
    bad = tmp_path / "nothr.pt"
    torch.save({**ckpt, "thresholds": thresholds}, bad)
    with pytest.raises(ModelError, match=f"nothr.pt: .*{re.escape(needle)}"):
        Transcriber(bad)


def test_traces_are_made_once_and_kept_on_disk(tmp_path, monkeypatch, small_crnn):
    """The CPU traces of a model file are saved (TorchScript, keyed by the file's sha256):
    a second process loads them instead of tracing again, with the same activations."""
    monkeypatch.setenv("DRUMSCRIBE_CACHE_DIR", str(tmp_path / "cache"))
    song = tmp_path / "song.wav"
    sf.write(str(song), np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE * 25).astype(np.float32), SAMPLE_RATE)
    first = Transcriber(small_crnn, threads=1).transcribe(song).activations
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*.pt"))
    assert len(files) == 2 and files[0].startswith("back-400x") and files[1] == "front-1004x84.pt", files

    def no_trace(*a, **k):
        raise AssertionError("traced again")

    monkeypatch.setattr(torch.jit, "trace", no_trace)
    again = Transcriber(small_crnn, threads=1)
    np.testing.assert_allclose(again.transcribe(song).activations, first, atol=1e-5)
    assert again._front_fast is not again._front and list(again._traced_back)
    # a broken cache file is traced anew (here: not at all, so the eager module runs)
    for p in (tmp_path / "cache").rglob("*.pt"):
        p.write_bytes(b"junk")
    monkeypatch.undo()
    monkeypatch.setenv("DRUMSCRIBE_CACHE_DIR", str(tmp_path / "cache"))
    np.testing.assert_allclose(Transcriber(small_crnn, threads=1).transcribe(song).activations, first, atol=1e-5)
    assert all(p.stat().st_size > 100 for p in (tmp_path / "cache").rglob("*.pt"))  # rewritten
