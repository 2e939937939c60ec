"""The one inference path: the study path (a cached spectrogram through
``drumscribe.inference``, as validation, ``evaluation.evaluate`` and the model card
compute it) and the CLI path (``drumscribe transcribe``: audio through ``Transcriber``)
give the same activations and the same F1 on a real track."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from drumscribe import features, inference, models
from drumscribe.audio import load_audio
from drumscribe.evaluation import evaluate_activations
from drumscribe.labels import onsets_from_json
from drumscribe.transcribe import Transcriber, default_model_path

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example"
needs_release = pytest.mark.skipif(not default_model_path().is_file(), reason="the released model is not built")

#: Activations of a spectrogram stored as float32 (study path) vs the CLI's: the CLI's
#: traced CPU model (batch norm folded) differs from the eager one by float rounding only.
ATOL_EXACT = 1e-4
#: The same with the spectrogram stored as float16, as the HDF5 feature cache keeps it
#: (measured on the example: max |difference| 1.1e-3; the F1 the same).
ATOL_CACHE = 0.03


@needs_release
def test_study_path_equals_cli_path_on_the_example_track():
    t = Transcriber(threads=1)
    result = t.transcribe(EXAMPLE / "groove.ogg")
    y = t.level_normalised(load_audio(EXAMPLE / "groove.ogg"))
    spec = features.spectrogram(y, t.feature_config)
    model, meta = models.load_checkpoint(default_model_path(), map_location="cpu")
    kw = dict(mean=meta["norm_mean"], std=meta["norm_std"], chunk_frames=int(meta.get("datapoint_frames") or 400),
              context_frames=int(round(inference.CONTEXT_S * t.fps)))
    study = inference.activations(model, spec, **kw)
    cached = inference.activations(model, spec.astype(np.float16).astype(np.float32), **kw)
    assert study.shape == cached.shape == result.activations.shape
    np.testing.assert_allclose(study, result.activations, atol=ATOL_EXACT)
    np.testing.assert_allclose(cached, result.activations, atol=ATOL_CACHE)

    ref = onsets_from_json(json.loads((EXAMPLE / "groove_reference.json").read_text())["onsets"])
    f1 = {}
    for name, acts in (("cli", result.activations), ("study", study), ("cache", cached)):
        s, _ = evaluate_activations([acts], [ref], t.thresholds, t.peak_params, t.fps, 0.05)
        f1[name] = s["micro_f1"]
    assert f1["cli"] == f1["study"], f1
    assert abs(f1["cli"] - f1["cache"]) <= 0.01, f1
    assert f1["cli"] > 0.5, f1


@pytest.mark.parametrize("arch, params", [
    ("crnn", dict(cell="gru", num_layers=1, hidden_size=8, num_blocks=2)),
    ("cnn", dict(num_blocks=1, num_fc=1, hidden_size=8, context=5)),
    ("rnn", dict(cell="gru", num_layers=1, hidden_size=8)),
])
def test_activations_equal_the_transcriber_on_a_spectrogram(tmp_path, arch, params):
    """inference.activations of a model in memory = Transcriber.stitched_activations of its file."""
    cfg = features.FeatureConfig()
    torch.manual_seed(0)
    net = models.build(arch, 84, **params)
    rng = np.random.default_rng(0)
    mean, std = rng.normal(0, 1, 84), rng.uniform(0.5, 2, 84)
    models.save_checkpoint(tmp_path / "m.pt", net, {"feature_config": cfg, "norm_mean": mean, "norm_std": std,
                                                    "thresholds": {c: 0.5 for c in "BD SD TT HH CY".split()},
                                                    "peak_params": {}, "datapoint_frames": 300})
    spec = rng.standard_normal((1234, 84)).astype(np.float32)
    cli = Transcriber(tmp_path / "m.pt", threads=1).stitched_activations(spec)
    study = inference.batch_activations(net, [spec, spec[:77]], mean=mean, std=std, chunk_frames=300)
    np.testing.assert_allclose(study[0], cli, atol=1e-5)
    np.testing.assert_allclose(study[1], Transcriber(tmp_path / "m.pt").stitched_activations(spec[:77]), atol=1e-5)


class _Counting(torch.nn.Module):
    """A model that counts its forward passes and the chunks they held."""

    def __init__(self, net):
        super().__init__()
        self.net, self.calls, self.chunks = net, 0, 0

    def forward(self, x):
        self.calls += 1
        self.chunks += x.shape[0]
        return self.net(x)


@pytest.mark.parametrize("arch, params", [
    ("rnn", dict(cell="gru", num_layers=1, hidden_size=8)),
    ("crnn", dict(cell="gru", num_layers=1, hidden_size=8, num_blocks=2)),
    ("conv_transformer", dict(d_model=16, num_layers=1, num_heads=2, num_blocks=1)),
])
def test_many_tracks_share_batches_and_give_each_track_its_own_result(arch, params):
    """batch_activations runs the chunks of all tracks in shared batches (far fewer forward
    passes than track by track) and gives each track what the streaming path gives it alone:
    tracks shorter than a chunk, exactly one chunk, one frame more, and long ones."""
    torch.manual_seed(0)
    net = models.build(arch, 84, **params).eval()
    rng = np.random.default_rng(1)
    lengths = (7, 120, 121, 333, 950, 0, 1, 2000)
    specs = [rng.standard_normal((n, 84)).astype(np.float32) for n in lengths]
    mean, std = rng.normal(0, 1, 84), rng.uniform(0.5, 2, 84)
    kw = dict(mean=mean, std=std, chunk_frames=120, context_frames=30, device="cpu", batch_size=8)
    counting = _Counting(net)  # hides the CRNN's frame-local split: the whole model on chunks
    inference.batch_activations(counting, specs, **kw)
    n_chunks = sum(len(inference.chunk_plan(n, 120, 30)) for n in lengths)
    assert counting.chunks == n_chunks
    # the full chunks of every track share batches of 8; the two tracks shorter than a
    # chunk (7 and 1 frames; the empty one has none) run alone
    assert counting.calls == -(-(n_chunks - 2) // 8) + 2, counting.calls
    many = inference.batch_activations(net, specs, **kw)  # the CRNN's conv blocks once per frame
    engine = inference.ChunkedInference(net, 84, mean, std, 120, 30, "cpu", batch_size=1)
    for spec, act in zip(specs, many):
        alone = engine.stitch([spec[:50], spec[50:]])  # streamed in two pieces
        assert act.shape == (len(spec), 5)
        np.testing.assert_allclose(act, alone, atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 59, 60, 61, 119, 120, 121, 179, 180, 181, 1000, 1001])
def test_chunk_plan_tiles_the_track_with_context_on_both_sides(n):
    plan = inference.chunk_plan(n, 120, 30)
    kept = [k for _, _, k0, k1 in plan for k in range(k0, k1)]
    assert kept == list(range(n))
    for s, e, k0, k1 in plan:
        assert 0 <= s <= k0 < k1 <= e <= n
        assert e - s == min(120, n)
        assert k0 - s >= 30 or s == 0
        assert e - k1 >= 30 or e == n


def test_the_validation_benchmark_finds_both_ways_equal(capsys):
    """benchmarks/bench_validation.py (per track against shared batches) on the CPU: one row a
    configuration, the two ways' activations equal to float rounding."""
    import runpy

    bench = runpy.run_path(str(Path(__file__).resolve().parents[1] / "benchmarks" / "bench_validation.py"))
    bench["main"](["--tracks", "3", "--seconds", "5", "--repeat", "1", "--config", "rnn_lstm_144x3", "crnn_gru_144x3"])
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines() if ln.startswith(("rnn_", "crnn_"))]
    assert [r[0] for r in rows] == ["rnn_lstm_144x3", "crnn_gru_144x3"]
    assert all(float(r[-1]) <= 1e-5 for r in rows), rows
