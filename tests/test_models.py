"""The five architectures: shapes over the whole default search spaces, learning
(each overfits a small synthetic drum set), and checkpoint I/O."""

from __future__ import annotations

import itertools
from pathlib import Path

import mir_eval
import numpy as np
import pytest
import torch
import yaml

from drumscribe import CLASSES, models
from drumscribe.errors import ConfigError, InputError, ModelError

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
SPACES = yaml.safe_load(CONFIG.read_text())["spaces"]
N_BINS = 84
FPS = 100


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread: the CI machine has 2 cores shared with other jobs; oversubscription is slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _grid(space):
    names = sorted(space)
    return [dict(zip(names, combo)) for combo in itertools.product(*(space[n] for n in names))]


def _walk(arch):
    """Every combination of the default space; for vit every combination of the
    shape-relevant parameters (patch_size, d_model, num_heads) with num_layers
    cycling through its values (every value used), to keep the walk ~2 s."""
    space = SPACES[arch]
    if arch != "vit":
        return _grid(space)
    shape = {k: v for k, v in space.items() if k != "num_layers"}
    layers = space["num_layers"]
    return [{**p, "num_layers": layers[i % len(layers)]} for i, p in enumerate(_grid(shape))]


@pytest.mark.parametrize("arch", sorted(SPACES))
def test_every_default_combination_builds_and_runs(arch):
    torch.manual_seed(0)
    x = torch.randn(1, 16, N_BINS)
    combos = _walk(arch)
    assert len(combos) >= 24
    for params in combos:
        model = models.build(arch, N_BINS, **params).eval()
        with torch.no_grad():
            y = model(x)
        assert y.shape == (1, 16, 5), params
        assert torch.isfinite(y).all(), params
        assert model.params == {**models.default_params(arch), **params}


@pytest.mark.parametrize("arch", sorted(models.REGISTRY))
@pytest.mark.parametrize("frames", [1, 7, 400, 523])
def test_any_number_of_frames(arch, frames):
    model = models.build(arch, N_BINS).eval()
    with torch.no_grad():
        assert model(torch.randn(2, frames, N_BINS)).shape == (2, frames, 5)


def test_vit_frame_spans_and_odd_bins():
    # patches 3 frames wide: tokens map back to one output per frame, T cropped back
    model = models.build("vit", 80, patch_size=21, patch_frames=3, d_model=72, num_heads=4, num_layers=2).eval()
    with torch.no_grad():
        for t in (1, 5, 400):
            assert model(torch.randn(1, t, 80)).shape == (1, t, 5)
    # outputs are per frame: frame t's logits change when frame t's input does (no frame mixing in a token)
    model = models.build("vit", 84, patch_size=7, d_model=72, num_heads=2, num_layers=2).eval()
    x = torch.randn(1, 10, 84)
    with torch.no_grad():
        y = model(x)
        x2 = x.clone()
        x2[0, 4] += 1.0
        assert not torch.allclose(model(x2)[0, 4], y[0, 4])


@pytest.mark.parametrize(
    ("arch", "params", "needle"),
    [
        ("rnn", {"cell": "rnn"}, "rnn.cell"),
        ("rnn", {"hidden": 72}, "unknown parameter 'hidden'"),
        ("rnn", {"num_layers": 2.5}, "not an integer"),
        ("conv_transformer", {"d_model": 72, "num_heads": 5}, "does not divide"),
        ("vit", {"d_model": 100, "num_heads": 8}, "does not divide"),
        ("vit", {"patch_size": 100}, "larger than the 84"),
        ("cnn", {"context": 8}, "must be odd"),
        ("cnn", {"num_blocks": 4}, "above the maximum"),
        ("transformer", {}, "unknown"),
    ],
)
def test_bad_params_raise_config_error(arch, params, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        models.build(arch, N_BINS, **params)
    assert "\n" not in str(info.value)


def test_too_few_bins_for_the_conv_blocks():
    with pytest.raises(ConfigError, match="too few"):
        models.build("cnn", 20, num_blocks=3)


# --------------------------------------------------------------------------- overfitting
#: Each class has its own spectral signature (bins) and decay: BD low, SD mid + noise,
#: TT low-mid, HH high and short, CY high and long.
SIGNATURES = {
    "BD": (range(2, 12), 0.6),
    "SD": (range(20, 45), 0.5),
    "TT": (range(12, 22), 0.7),
    "HH": (range(60, 80), 0.3),
    "CY": (range(50, 84), 0.85),
}


def synthetic_set(n=6, frames=80, seed=0):
    """Spectrogram-like inputs with class-specific decaying bursts at known onset frames.

    Returns ``x (n, frames, 84)``, ``y (n, frames, 5)`` (targets widened by 0.5)
    and the onset frames per sequence and class.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.1, (n, frames, N_BINS)).astype(np.float32)
    y = np.zeros((n, frames, 5), np.float32)
    onsets = []
    for i in range(n):
        per_class = {}
        for c, name in enumerate(CLASSES):
            bins, decay = SIGNATURES[name]
            # onsets at least 8 frames apart, away from the edges
            cand = np.arange(3, frames - 3)
            chosen = []
            for f in rng.permutation(cand):
                if all(abs(f - g) >= 8 for g in chosen):
                    chosen.append(int(f))
                if len(chosen) == 5:
                    break
            chosen.sort()
            for f in chosen:
                env = decay ** np.arange(frames - f)
                x[i, f:, bins.start : bins.stop] += (1.5 * env)[:, None]
                y[i, f, c] = 1.0
                for g in (f - 1, f + 1):
                    y[i, g, c] = max(y[i, g, c], 0.5)
            per_class[name] = np.array(chosen)
        onsets.append(per_class)
    return torch.from_numpy(x), torch.from_numpy(y), onsets


def frame_peaks(act, threshold=0.5, radius=2):
    """Frames where ``act`` is ≥ threshold and the maximum of ±radius frames (first of ties)."""
    peaks = []
    for t in range(len(act)):
        lo, hi = max(0, t - radius), min(len(act), t + radius + 1)
        if act[t] >= threshold and act[t] == act[lo:hi].max() and (t == lo or act[lo:t].max() < act[t]):
            peaks.append(t)
    return np.array(peaks)


def micro_f1(model, x, onsets):
    """Micro F1 of ``model`` on ``x`` with mir_eval matching (50 ms window)."""
    model.eval()
    with torch.no_grad():
        act = torch.sigmoid(model(x)).numpy()
    tp = fp = fn = 0
    for i, per_class in enumerate(onsets):
        for c, name in enumerate(CLASSES):
            ref = per_class[name] / FPS
            est = frame_peaks(act[i, :, c]) / FPS
            matched = len(mir_eval.util.match_events(ref, est, 0.05))
            tp += matched
            fp += len(est) - matched
            fn += len(ref) - matched
    return 2 * tp / max(1, 2 * tp + fp + fn)


SMALL = {
    "rnn": dict(cell="gru", num_layers=2, hidden_size=32),
    "cnn": dict(num_blocks=1, num_fc=1, hidden_size=72),
    "crnn": dict(cell="lstm", num_layers=2, hidden_size=32),
    "conv_transformer": dict(d_model=72, num_layers=2, num_heads=4),
    "vit": dict(patch_size=14, num_heads=4, num_layers=2, d_model=72),
}


@pytest.mark.parametrize("arch", sorted(SMALL))
def test_each_architecture_overfits_a_small_synthetic_set(arch):
    torch.manual_seed(0)
    x, y, onsets = synthetic_set()
    model = models.build(arch, N_BINS, dropout=0.0, **SMALL[arch])
    untrained = micro_f1(model, x, onsets)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.full((5,), 4.0))
    best = 0.0
    for step in range(1, 401):
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if step % 10 == 0:
            best = micro_f1(model, x, onsets)
            if best >= 0.95:
                break
    print(f"{arch}: untrained micro F1 {untrained:.3f}, trained {best:.3f} after {step} steps")
    assert untrained < 0.8
    assert best >= 0.95, f"{arch}: micro F1 {best:.3f} after {step} steps"


# --------------------------------------------------------------------------- checkpoints
META = {
    "feature_config": {"kind": "logfilt", "frame_size": 2048, "fps": 100, "bands_per_octave": 12, "fmin": 20.0},
    "norm_mean": np.zeros(N_BINS, np.float32),
    "norm_std": np.ones(N_BINS, np.float32),
    "thresholds": {c: 0.3 for c in CLASSES},
    "peak_params": {"pre_max": 2, "post_max": 2, "pre_avg": 10, "post_avg": 2, "wait": 2},
}


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = models.build("crnn", N_BINS, cell="lstm", num_layers=2, hidden_size=72).eval()
    path = tmp_path / "model.pt"
    models.save_checkpoint(path, model, {**META, "trial": "t003"})
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temp file left
    loaded, meta = models.load_checkpoint(path, arch="crnn", feature_config=META["feature_config"])
    x = torch.randn(1, 30, N_BINS)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert meta["format_version"] == 1
    assert meta["arch"] == "crnn" and meta["params"]["cell"] == "lstm" and meta["n_bins"] == N_BINS
    assert meta["classes"] == list(CLASSES)
    assert meta["norm_std"] == [1.0] * N_BINS and meta["thresholds"]["HH"] == 0.3
    assert meta["trial"] == "t003" and "state_dict" not in meta
    assert not loaded.training


def test_checkpoint_refuses_mismatches(tmp_path):
    model = models.build("rnn", N_BINS, num_layers=2, hidden_size=72)
    path = tmp_path / "model.pt"
    models.save_checkpoint(path, model, META)
    with pytest.raises(ModelError, match=r"model\.pt: checkpoint of architecture 'rnn', 'cnn' expected"):
        models.load_checkpoint(path, arch="cnn")
    other = {**META["feature_config"], "fmin": 30.0}
    with pytest.raises(ModelError, match=r"model\.pt: feature config differs \(fmin: 20.0"):
        models.load_checkpoint(path, feature_config=other)

    ckpt = torch.load(path, weights_only=True)
    ckpt["format_version"] = 2
    torch.save(ckpt, tmp_path / "v2.pt")
    with pytest.raises(ModelError, match=r"v2\.pt: checkpoint format_version 2"):
        models.load_checkpoint(tmp_path / "v2.pt")

    ckpt["format_version"] = 1
    ckpt["params"]["hidden_size"] = 144  # weights of a 72-wide model
    torch.save(ckpt, tmp_path / "shape.pt")
    with pytest.raises(ModelError, match=r"shape\.pt: weights do not fit 'rnn'"):
        models.load_checkpoint(tmp_path / "shape.pt")

    (tmp_path / "corrupt.pt").write_bytes(path.read_bytes()[:500])
    with pytest.raises(ModelError, match=r"corrupt\.pt: not a readable checkpoint"):
        models.load_checkpoint(tmp_path / "corrupt.pt")
    with pytest.raises(InputError, match="not found"):
        models.load_checkpoint(tmp_path / "absent.pt")


def test_save_needs_a_built_model(tmp_path):
    with pytest.raises(ModelError, match="build it with"):
        models.save_checkpoint(tmp_path / "m.pt", torch.nn.Linear(3, 5), META)
    assert not list(tmp_path.iterdir())
