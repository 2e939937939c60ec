"""One trial's training: resume to the same history, early stopping, LR schedule,
best-epoch selection, NaN loss and bad config."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from drumscribe import CLASSES, augment, models, training, training_state
from drumscribe.errors import ConfigError, TrainingError

F = 84
SMALL_CNN = {"num_blocks": 1, "num_fc": 1, "hidden_size": 72}
CFG = {"max_epochs": 2, "batch_size": 4, "learning_rate": 3e-3, "num_workers": 0, "device": "cpu", "seed": 3}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(n=12, frames=48, seed=0):
    """Spectrogram-like inputs with a burst per onset in a class-specific band, and targets."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.1, (n, frames, F)).astype(np.float32)
    y = np.zeros((n, frames, 5), np.float32)
    for i in range(n):
        for c in range(5):
            for f in rng.choice(np.arange(2, frames - 2), 3, replace=False):
                x[i, f:f + 3, 16 * c:16 * c + 12] += 1.5
                y[i, f, c] = 1.0
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


def _without_timing(rows):
    return [{k: v for k, v in r.items() if k not in training.TIMING_COLUMNS} for r in rows]


def _f1_stub(model, data):
    """A real but crude score: 1 - mean |sigmoid - target| on the data (varies with the weights)."""
    x, y = data.tensors
    with torch.no_grad():
        return 1.0 - float((torch.sigmoid(model(x)) - y).abs().mean())


def test_killed_trial_resumes_to_the_same_history_and_model(tmp_path):
    train, val = _data(), _data(n=4, seed=1)
    ev = lambda m: {"micro_f1": _f1_stub(m, val)}  # noqa: E731
    straight = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "a", CFG, progress=False,
                                    pos_weight=[3.0] * 5, validator=training.FunctionValidator(ev), meta={})
    assert straight["finished"] and straight["epochs"] == 2

    # the same trial killed after epoch 1 ...
    part = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "b", CFG, progress=False,
                                pos_weight=[3.0] * 5, validator=training.FunctionValidator(ev), meta={}, stop_after_epochs=1)
    assert not part["finished"] and part["model_path"] is None
    assert not (tmp_path / "b" / "model.pt").exists()
    assert (tmp_path / "b" / "checkpoint.pt").is_file()
    assert len(training.read_history(tmp_path / "b" / "history.csv")) == 1
    # ... and started again: resumes from its checkpoint
    resumed = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "b", CFG, progress=False,
                                   pos_weight=[3.0] * 5, validator=training.FunctionValidator(ev), meta={})
    assert resumed["resumed_from_epoch"] == 1 and resumed["finished"]

    ha = training.read_history(tmp_path / "a" / "history.csv")
    hb = training.read_history(tmp_path / "b" / "history.csv")
    assert list(ha[0]) == list(training.HISTORY_COLUMNS)
    assert [r["epoch"] for r in ha] == [1, 2]
    assert _without_timing(ha) == _without_timing(hb)
    assert ha[0]["train_loss"] != ha[1]["train_loss"]  # it did train
    ma, meta_a = models.load_checkpoint(tmp_path / "a" / "model.pt", arch="cnn")
    mb, _ = models.load_checkpoint(tmp_path / "b" / "model.pt", arch="cnn")
    for (ka, va), (kb, vb) in zip(ma.state_dict().items(), mb.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert meta_a["best_epoch"] == straight["best_epoch"]


class _Preloadable(TensorDataset):
    """A dataset that can be preloaded (as ``targets.DatapointDataset``), float16-exact inputs."""

    def __init__(self, data):
        x, y = data.tensors
        super().__init__(x.half().float(), y)
        self.preloaded = 0

    def nbytes(self):
        return self.tensors[0].numel() * 2 + self.tensors[1].numel() * 4

    def preload(self, device=None, progress=False):
        from drumscribe.targets import PreloadedDatapoints

        self.preloaded += 1
        x, y = self.tensors
        return PreloadedDatapoints(x.half(), y, np.zeros(F), np.ones(F), device)


def test_preloaded_and_dataloader_training_give_the_same_history(tmp_path):
    # the same batches and the same RNG draws (shuffle, dropout) whichever way the data come
    train, val = _Preloadable(_data()), _Preloadable(_data(n=4, seed=1))
    runs = {}
    for preload in (False, True, "auto"):
        out = tmp_path / str(preload)
        training.fit("cnn", SMALL_CNN, train, val, out, {**CFG, "preload": preload,
                             "max_train_datapoints": 9}, progress=False, pos_weight=[3.0] * 5)
        rows = _without_timing(training.read_history(out / "history.csv"))
        runs[preload] = [{k: v for k, v in r.items() if k != "val_micro_f1"} for r in rows]  # NaN: no validator
    assert train.preloaded == 2 and val.preloaded == 2  # True and auto (small data) preload
    assert runs[False] == runs[True] == runs["auto"]
    assert runs[False][0]["train_loss"] != runs[False][1]["train_loss"]
    training.fit("cnn", SMALL_CNN, train, val, tmp_path / "cap", {**CFG, "preload": "auto",
                         "preload_max_gb": 1e-9}, progress=False)
    assert train.preloaded == 2  # over the cap: read through the DataLoader


def test_augmentation_changes_level_and_tilt_under_the_log():
    mean, std = np.full(F, 0.2, np.float32), np.full(F, 0.5, np.float32)
    mag = np.zeros((2, 3, F), np.float32)
    mag[:, :2] = 0.3  # frames 0-1 sound, frame 2 is silence (zero padding)
    x = torch.from_numpy((np.log10(1 + mag) - mean) / std)
    out = augment.augment_spectrograms(x, mean, std, torch.tensor([20.0, 0.0]), torch.tensor([0.0, 6.0]))
    raw = out.numpy() * std + mean
    np.testing.assert_allclose(raw[0, :2], np.log10(1 + 10 * 0.3), rtol=1e-5)  # +20 dB = x10 in magnitude
    assert abs(raw[1, 0, 0] - np.log10(1 + 0.3 * 10 ** (-6 / 20))) < 1e-5  # lowest bin -6 dB
    assert abs(raw[1, 0, -1] - np.log10(1 + 0.3 * 10 ** (6 / 20))) < 1e-5  # highest bin +6 dB
    np.testing.assert_allclose(raw[:, 2], 0.0, atol=1e-6)  # silence stays silence


def _log_spec(mag, mean, std):
    """Normalised log10(1 + mag) spectrograms (as ``logfilt`` features) from magnitudes."""
    return torch.from_numpy(((np.log10(1 + mag) - mean) / std).astype(np.float32))


def _raw(out, mean, std):
    return out.numpy() * std + mean


MEAN, STD = np.linspace(0.1, 0.4, F).astype(np.float32), np.linspace(0.3, 0.8, F).astype(np.float32)
ZERO2 = torch.zeros(2)


def test_pitch_shift_moves_the_peak_by_whole_bins_and_repeats_the_edge():
    rng = np.random.default_rng(0)
    mag = rng.uniform(0.05, 0.2, (2, 4, F)).astype(np.float32)
    mag[:, :, 40] = 3.0  # the peak bin
    s = np.log10(1 + mag)
    out = augment.augment_spectrograms(_log_spec(mag, MEAN, STD), MEAN, STD, ZERO2, ZERO2,
                                       shift=torch.tensor([3, -5]))
    raw = _raw(out, MEAN, STD)
    assert (raw[0].argmax(-1) == 43).all() and (raw[1].argmax(-1) == 35).all()
    np.testing.assert_allclose(raw[0, :, 3:], s[0, :, :-3], atol=1e-5)  # moved up by exactly 3 bins
    np.testing.assert_allclose(raw[0, :, :3], np.repeat(s[0, :, :1], 3, 1), atol=1e-5)  # lowest bin repeated
    np.testing.assert_allclose(raw[1, :, :-5], s[1, :, 5:], atol=1e-5)  # moved down by 5
    np.testing.assert_allclose(raw[1, :, -5:], np.repeat(s[1, :, -1:], 5, 1), atol=1e-5)  # highest bin repeated


def test_zero_shift_and_zero_eq_leave_the_input_unchanged():
    mag = np.random.default_rng(1).uniform(0.0, 2.0, (2, 5, F)).astype(np.float32)
    x = _log_spec(mag, MEAN, STD)
    eq = augment.random_eq_curves(2, F, 0.0, torch.Generator().manual_seed(0))
    assert eq.shape == (2, F) and (eq == 0).all()
    out = augment.augment_spectrograms(x, MEAN, STD, ZERO2, ZERO2, shift=torch.zeros(2, dtype=torch.long),
                                       eq_db_curve=eq)
    torch.testing.assert_close(out, x, atol=1e-5, rtol=1e-5)


def test_random_eq_never_exceeds_its_peak_deviation_and_keeps_silence():
    n, eq_db = 64, 6.0
    mag = np.full((n, 3, F), 0.5, np.float32)
    mag[:, 2] = 0.0  # frame 2 is silence
    mag[-1] = 0.0  # a silent datapoint
    curves = augment.random_eq_curves(n, F, eq_db, torch.Generator().manual_seed(4))
    peak = curves.abs().amax(1)
    assert (peak <= eq_db + 1e-5).all() and peak.max() > 0.8 * eq_db and peak.min() < 0.2 * eq_db  # u in [0, 1]
    assert (curves.std(1) > 0).all()  # a curve, not a constant gain
    shift = torch.randint(-3, 4, (n,), generator=torch.Generator().manual_seed(5))
    for sh in (None, shift):
        out = augment.augment_spectrograms(_log_spec(mag, MEAN, STD), MEAN, STD, torch.zeros(n), torch.zeros(n),
                                           shift=sh, eq_db_curve=curves)
        raw = _raw(out, MEAN, STD)
        np.testing.assert_allclose(raw[:, 2], 0.0, atol=1e-6)  # silence stays silence
        np.testing.assert_allclose(raw[-1], 0.0, atol=1e-6)
    db = 20 * np.log10((10 ** raw[:-1, :2].astype(np.float64) - 1) / 0.5)  # the gain on the magnitudes, dB
    assert np.abs(db).max() <= eq_db + 1e-3
    np.testing.assert_allclose(np.abs(db).max(axis=(1, 2)), peak[:-1].numpy(), atol=1e-3)  # the curve was applied


def _augment_once(seed, cfg, x):
    gen = torch.Generator().manual_seed(seed)
    return next(augment.augmented([(x, None)], cfg, gen, MEAN, STD, 10.0))[0]


def test_augmentation_draws_come_from_the_generator():
    x = _log_spec(np.random.default_rng(2).uniform(0.0, 1.0, (8, 4, F)).astype(np.float32), MEAN, STD)
    cfg = {**training.DEFAULTS, "augment_gain_db": 3.0, "augment_tilt_db": 2.0, "augment_pitch_bins": 2,
           "augment_eq_db": 4.0}
    a, b, c = _augment_once(7, cfg, x), _augment_once(7, cfg, x), _augment_once(8, cfg, x)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    # gain and tilt alone draw as before the pitch shift and EQ existed
    old = {**cfg, "augment_pitch_bins": 0, "augment_eq_db": 0.0}
    gen = torch.Generator().manual_seed(7)
    gain, tilt = (torch.rand(8, generator=gen) * 2 - 1) * 3.0, (torch.rand(8, generator=gen) * 2 - 1) * 2.0
    assert torch.equal(_augment_once(7, old, x), augment.augment_spectrograms(x, MEAN, STD, gain, tilt))


def test_new_augmentation_keys_are_validated_and_fingerprinted():
    cfg = training.training_config({"augment_pitch_bins": 2, "augment_eq_db": 3})
    assert cfg["augment_pitch_bins"] == 2 and cfg["augment_eq_db"] == 3.0
    assert training.DEFAULTS["augment_pitch_bins"] == 0 and training.DEFAULTS["augment_eq_db"] == 0.0
    fp = lambda c: training_state.fingerprint("cnn", {}, training.training_config(c), 1, 1, None, F)  # noqa: E731
    assert fp({}) == fp({"augment_pitch_bins": 0, "augment_eq_db": 0.0})
    assert "augment_pitch_bins" not in fp({})  # off: the checkpoints of older trials still resume
    assert len({fp({}), fp({"augment_pitch_bins": 1}), fp({"augment_pitch_bins": 2}), fp({"augment_eq_db": 1})}) == 4


def test_gradient_clipping_bounds_each_step_and_is_off_by_default():
    torch.manual_seed(0)
    x, y = torch.randn(16, 4) * 100.0, torch.rand(16, 2)  # large inputs: a large gradient

    def one_step(clip):
        model = torch.nn.Linear(4, 2)
        before = [p.detach().clone() for p in model.parameters()]
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        bar = type("Bar", (), {"update": lambda self, n: None})()
        training._train_epoch(model, [(x, y)], torch.nn.BCEWithLogitsLoss(), opt, torch.device("cpu"), bar, clip)
        return torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))

    assert one_step(None) > 10.0  # plain SGD at lr 1 moves by the gradient's norm
    assert one_step(0.5) == pytest.approx(0.5, rel=1e-4)  # clipped: by exactly the clip norm
    assert training.DEFAULTS["grad_clip_norm"] is None
    fp = lambda c: training_state.fingerprint("cnn", {}, training.training_config(c), 1, 1, None, F)  # noqa: E731
    assert fp({}) == fp({"grad_clip_norm": None}) != fp({"grad_clip_norm": 1.0})


def test_augmented_trial_resumes_to_the_same_history(tmp_path):
    train, val = _Preloadable(_data()), _Preloadable(_data(n=4, seed=1))
    train.mean, train.std = np.zeros(F, np.float32), np.ones(F, np.float32)
    aug = {**CFG, "augment_gain_db": 6.0, "augment_tilt_db": 3.0, "augment_pitch_bins": 2, "augment_eq_db": 4.0,
           "preload": False}
    straight = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "a", aug, progress=False)
    part = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "b", aug, progress=False, stop_after_epochs=1)
    resumed = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "b", aug, progress=False)
    plain = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "c", {**aug, "augment_gain_db": 0.0,
                                 "augment_tilt_db": 0.0, "augment_pitch_bins": 0, "augment_eq_db": 0.0},
                                 progress=False)
    old = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "d", {**aug, "augment_pitch_bins": 0,
                               "augment_eq_db": 0.0}, progress=False)
    ha, hb, hc, hd = (_without_timing(training.read_history(tmp_path / k / "history.csv")) for k in "abcd")
    drop = lambda rows: [{k: v for k, v in r.items() if k != "val_micro_f1"} for r in rows]  # noqa: E731
    assert not part["finished"] and resumed["resumed_from_epoch"] == 1
    assert drop(ha) == drop(hb)  # the same draws after a resume
    assert drop(ha) != drop(hc)  # and they do change the training
    assert drop(ha) != drop(hd)  # pitch shift and EQ too
    assert straight["finished"] and plain["finished"] and old["finished"]


def test_finished_checkpoint_without_model_only_writes_the_model(tmp_path):
    train, val = _data(n=4), _data(n=2, seed=1)
    training.fit("cnn", SMALL_CNN, train, val, tmp_path, {**CFG, "max_epochs": 1}, progress=False)
    (tmp_path / "model.pt").unlink()  # killed between the last checkpoint and model.pt
    again = training.fit("cnn", SMALL_CNN, train, val, tmp_path, {**CFG, "max_epochs": 1}, progress=False)
    assert again["resumed_from_epoch"] == 1 and again["epochs"] == 1
    assert (tmp_path / "model.pt").is_file()
    assert len(training.read_history(tmp_path / "history.csv")) == 1


def test_checkpoint_of_other_params_is_not_resumed(tmp_path):
    train, val = _data(n=4), _data(n=2, seed=1)
    training.fit("cnn", SMALL_CNN, train, val, tmp_path, CFG, progress=False, stop_after_epochs=1)
    other = training.fit("cnn", {**SMALL_CNN, "hidden_size": 144}, train, val, tmp_path, CFG, progress=False)
    assert other["resumed_from_epoch"] is None and other["epochs"] == 2
    assert models.load_checkpoint(tmp_path / "model.pt")[1]["params"]["hidden_size"] == 144


def test_best_epoch_by_validation_f1_thresholds_kept(tmp_path):
    train, val = _data(n=8), _data(n=2, seed=1)
    scores = iter([0.2, 0.9, 0.5])
    seen = []

    def evaluate(model):
        assert not model.training
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        score = next(scores)
        return {"micro_f1": score, "macro_f1": score / 2, "thresholds": {c: score for c in CLASSES}}

    cfg = {**CFG, "max_epochs": 3, "patience": 10}
    result = training.fit("rnn", {"num_layers": 2, "hidden_size": 16}, train, val, tmp_path, cfg,
                                  progress=False, validator=training.FunctionValidator(evaluate),
                                  meta={"feature_config": {"kind": "logfilt"}})
    assert result["best_epoch"] == 2 and result["val_micro_f1"] == 0.9
    assert result["val_metrics"]["macro_f1"] == 0.45
    hist = training.read_history(tmp_path / "history.csv")
    assert [r["val_micro_f1"] for r in hist] == [0.2, 0.9, 0.5]
    model, meta = models.load_checkpoint(tmp_path / "model.pt", arch="rnn", feature_config={"kind": "logfilt"})
    for k, v in model.state_dict().items():
        assert torch.equal(v, seen[1][k]), k  # epoch 2's weights, not the last
    assert not torch.equal(seen[1]["out.weight"], seen[2]["out.weight"])
    assert meta["thresholds"] == {c: 0.9 for c in CLASSES}
    assert meta["best_epoch"] == 2


def test_early_stopping_and_lr_on_plateau(tmp_path):
    # validation targets are the training targets of other inputs: fitting the training
    # set makes the validation loss rise, so it stops after `patience` bad epochs
    train = _data(n=8)
    x, y = train.tensors
    val = TensorDataset(x.flip(0)[:4], y[:4])
    cfg = {**CFG, "max_epochs": 30, "patience": 3, "lr_patience": 0, "learning_rate": 1e-2}
    result = training.fit("cnn", SMALL_CNN, train, val, tmp_path, cfg, progress=False)
    hist = training.read_history(tmp_path / "history.csv")
    assert result["stopped_early"] and result["epochs"] == len(hist) < 30
    losses = [r["val_loss"] for r in hist]
    best = int(np.argmin(losses))
    assert len(hist) - 1 - best == 3  # exactly `patience` epochs without improvement
    assert result["best_epoch"] == best + 1  # without a validator: lowest validation loss
    lrs = [r["lr"] for r in hist]
    # lr_patience 0: every epoch without improvement multiplies the LR by 0.2 for the next one
    for i in range(1, len(hist)):
        improved = losses[i - 1] < min(losses[: i - 1], default=math.inf)
        assert lrs[i] == pytest.approx(lrs[i - 1] * (1.0 if improved else 0.2))


def test_time_budget_ends_the_trial_with_its_best_epoch(tmp_path):
    train, val = _data(), _data(n=4, seed=1)
    ev = lambda m: {"micro_f1": _f1_stub(m, val)}  # noqa: E731
    # a budget shorter than one epoch: the first epoch runs, then the trial ends and writes model.pt
    cfg = {**CFG, "max_epochs": 50, "max_seconds": 1e-6}
    result = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "t", cfg, progress=False, validator=training.FunctionValidator(ev))
    assert result["stopped_by_time"] and result["finished"] and not result["stopped_early"]
    assert result["epochs"] == 1 and (tmp_path / "t" / "model.pt").exists()
    # without a budget the same trial runs on (the budget is no part of the resume fingerprint)
    more = training.fit("cnn", SMALL_CNN, train, val, tmp_path / "u", {**CFG, "max_epochs": 3},
                                progress=False, validator=training.FunctionValidator(ev))
    assert more["epochs"] == 3 and not more["stopped_by_time"]
    with pytest.raises(ConfigError, match="training.max_seconds"):
        training.training_config({**CFG, "max_seconds": 0})


def test_nan_loss_raises_and_names_the_trial(tmp_path):
    train = _data(n=4)
    x, y = train.tensors
    x = x.clone()
    x[1, 3, 5] = float("nan")
    with pytest.raises(TrainingError, match=r"t007: loss became NaN in epoch 1") as info:
        training.fit("cnn", SMALL_CNN, TensorDataset(x, y), _data(n=2, seed=1),
                             tmp_path / "t007", CFG, progress=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "t007" / "model.pt").exists()


@pytest.mark.parametrize(
    ("arch", "params", "cfg", "needle"),
    [
        ("cnn", SMALL_CNN, {"batch_size": 0}, "training.batch_size"),
        ("cnn", SMALL_CNN, {"device": "tpu"}, "training.device"),
        ("cnn", SMALL_CNN, {"learning_rate": -1}, "training.learning_rate"),
        ("cnn", SMALL_CNN, {"preload": "yes"}, "training.preload"),
        ("cnn", SMALL_CNN, {"augment_gain_db": -3}, "training.augment_gain_db"),
        ("cnn", SMALL_CNN, {"augment_tilt_db": 3}, r"training.augment_\*: the training data carry no normalisation"),
        ("cnn", SMALL_CNN, {"augment_pitch_bins": -1}, "training.augment_pitch_bins"),
        ("cnn", SMALL_CNN, {"augment_pitch_bins": 1.5}, "training.augment_pitch_bins"),
        ("cnn", SMALL_CNN, {"augment_pitch_bins": 2.0}, "training.augment_pitch_bins"),
        ("cnn", SMALL_CNN, {"augment_pitch_bins": True}, "training.augment_pitch_bins"),
        ("cnn", SMALL_CNN, {"augment_eq_db": -2}, "training.augment_eq_db"),
        ("cnn", SMALL_CNN, {"grad_clip_norm": 0}, "training.grad_clip_norm"),
        ("cnn", SMALL_CNN, {"grad_clip_norm": "1"}, "training.grad_clip_norm"),
        ("cnn", SMALL_CNN, {"cuda_graphs": "yes"}, "training.cuda_graphs"),
        ("cnn", SMALL_CNN, {"cuda_graphs": True}, "training.cuda_graphs: CUDA graphs need a CUDA device"),
        ("cnn", SMALL_CNN, {"augment_eq_db": "3"}, "training.augment_eq_db"),
        ("cnn", SMALL_CNN, {"augment_pitch_bins": 1}, r"training.augment_\*: the training data carry no normalisation"),
        ("cnn", SMALL_CNN, {"augment_eq_db": 3}, r"training.augment_\*: the training data carry no normalisation"),
        ("cnn", {"num_blocks": 9}, {}, r"spaces\.cnn\.num_blocks"),
        ("lstm", {}, {}, "architecture 'lstm'"),
    ],
)
def test_bad_config_fails_before_any_work(tmp_path, arch, params, cfg, needle):
    with pytest.raises(ConfigError, match=needle):
        training.fit(arch, params, _data(n=2), _data(n=2), tmp_path / "t", {**CFG, **cfg}, progress=False)
    assert not (tmp_path / "t").exists()


class _Planted:
    """Unpickles as ``os.system("touch <marker>")``: what a planted checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch '{self.marker}'",))


def test_resume_state_is_read_with_weights_only(tmp_path):
    train, val = _data(), _data(n=4, seed=1)
    training.fit("cnn", SMALL_CNN, train, val, tmp_path, CFG, progress=False, stop_after_epochs=1)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # no other types in it
    assert state["state_version"] == training_state.STATE_VERSION and state["epoch"] == 1


def test_planted_resume_state_is_refused_and_nothing_runs(tmp_path, caplog):
    trial, marker = tmp_path / "trial", tmp_path / "ran"
    trial.mkdir()
    torch.save({"state_version": training_state.STATE_VERSION, "x": _Planted(marker)}, trial / "checkpoint.pt")
    with caplog.at_level("WARNING", logger="drumscribe.training"):
        out = training.fit("cnn", SMALL_CNN, _data(), _data(n=4, seed=1), trial, CFG, progress=False)
    assert not marker.exists()
    assert out["resumed_from_epoch"] is None and out["finished"]  # the trial started afresh
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "checkpoint.pt: not a safely readable resume state" in lines[0]


def test_one_log_line_per_epoch(tmp_path, caplog):
    with caplog.at_level("INFO", logger="drumscribe.training"):
        training.fit("cnn", SMALL_CNN, _data(), _data(n=4, seed=1), tmp_path / "t007", CFG, progress=False,
                             validator=training.FunctionValidator(lambda m: {"micro_f1": 0.5}))
    lines = [r.getMessage() for r in caplog.records if r.name == "drumscribe.training"]
    assert len(lines) == 2 and lines[0].startswith("cnn t007 epoch 1/2: train loss ")
    assert all(k in lines[1] for k in ("val loss", "val micro F1 0.500", "lr 0.003", " s"))


def _record_captured_steps(monkeypatch) -> list:
    """The ``CapturedStep`` objects the next fits make, in a list (``training_graph.CapturedStep``
    patched to record each one)."""
    from drumscribe import training_graph

    made = []

    class Recorded(training_graph.CapturedStep):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(training_graph, "CapturedStep", Recorded)
    return made


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs a CUDA device (run on the GPU machine by benchmarks/gpu/validation_and_graphs.sh)")
@pytest.mark.parametrize("arch, params", [
    ("crnn", {"cell": "gru", "num_layers": 2, "hidden_size": 16, "dropout": 0.0}),
    ("cnn", {**SMALL_CNN, "dropout": 0.0}),
    ("rnn", {"cell": "lstm", "num_layers": 2, "hidden_size": 16, "dropout": 0.0}),
    ("conv_transformer", {"d_model": 16, "num_layers": 1, "num_heads": 2, "dropout": 0.0}),
    ("vit", {"d_model": 16, "num_layers": 1, "num_heads": 2, "patch_size": 14, "dropout": 0.0})])
def test_a_captured_step_trains_as_the_eager_one(tmp_path, monkeypatch, arch, params):
    """training.cuda_graphs: the step is captured and replayed (the last shorter batch of an
    epoch eager), the first epochs' losses are the eager steps' (bf16 rounding aside), and the
    plateau schedule lowers the learning rate the replayed step reads."""
    from drumscribe import training_graph

    made = _record_captured_steps(monkeypatch)
    train, val = _data(n=26), _data(n=6, seed=1)  # 26 = 6 batches of 4 and one of 2
    cfg = {**CFG, "device": "cuda", "max_epochs": 6, "lr_patience": 0, "learning_rate": 3e-2}
    eager = training.fit(arch, params, train, val, tmp_path / "eager", cfg, progress=False)
    graphed = training.fit(arch, params, train, val, tmp_path / "graph", {**cfg, "cuda_graphs": True},
                           progress=False)
    (step,) = made
    assert step.replays == 6 * 7 - step.eager_steps and step.eager_steps == training_graph.WARMUP_STEPS + 6
    he, hg = (training.read_history(r["history_path"]) for r in (eager, graphed))
    for a, b in zip(he[:2], hg[:2]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.05)
    assert min(r["lr"] for r in hg) < cfg["learning_rate"]  # the schedule lowered it
    assert math.isfinite(graphed["best_val_loss"])


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs a CUDA device (run on the GPU machine by benchmarks/gpu/validation_and_graphs.sh)")
@pytest.mark.parametrize("arch, params", [("crnn", {"cell": "gru", "num_layers": 2, "hidden_size": 16, "dropout": 0.3}),
                                          ("vit", {"d_model": 16, "num_layers": 1, "num_heads": 2, "patch_size": 14,
                                                   "dropout": 0.3})])
def test_a_captured_step_with_dropout_replays(tmp_path, monkeypatch, arch, params):
    """The study's models train with dropout: its random masks are drawn anew at every replay
    (PyTorch registers the graph's generator state), so two replays of one batch on the same
    weights give different losses, and the run trains to finite losses."""
    from drumscribe import training_graph

    made = _record_captured_steps(monkeypatch)
    cfg = {**CFG, "device": "cuda", "max_epochs": 2, "cuda_graphs": True}
    result = training.fit(arch, params, _data(n=24), _data(n=6, seed=1), tmp_path, cfg, progress=False)
    (step,) = made
    assert step.replays == 2 * 6 - training_graph.WARMUP_STEPS
    assert all(math.isfinite(r["train_loss"]) for r in training.read_history(result["history_path"]))
    optimizer = step.step.args[2]  # functools.partial(train_step, model, criterion, optimizer, ...)
    optimizer.param_groups[0]["lr"].fill_(0.0)  # the replayed Adam step then leaves the weights as they are
    x, y = step.static_x.clone(), step.static_y.clone()
    a = float(step(x, y))
    b = float(step(x, y))
    assert a != b  # the same weights and batch: only new dropout masks make the loss differ


def test_masked_loss_is_bce_where_every_target_is_known_and_leaves_unknown_entries_out():
    """training.MaskedBCEWithLogits (mixing.pseudo_ignore's loss): with no unknown entry it is
    BCEWithLogitsLoss; an unknown entry (targets.IGNORED_TARGET) adds neither loss nor gradient."""
    from drumscribe.targets import IGNORED_TARGET

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 40, 5, generator=gen)
    y = torch.randint(0, 3, (3, 40, 5), generator=gen).float() / 2
    w = torch.tensor([1.0, 2.0, 4.0, 0.5, 3.0])
    masked = training.MaskedBCEWithLogits(w)
    assert torch.allclose(masked(logits, y), torch.nn.BCEWithLogitsLoss(pos_weight=w)(logits, y), atol=1e-6)

    y[..., 2] = IGNORED_TARGET
    x = logits.clone().requires_grad_(True)
    loss = masked(x, y)
    keep = [0, 1, 3, 4]
    expected = torch.nn.BCEWithLogitsLoss(pos_weight=w[keep])(logits[..., keep], y[..., keep])
    assert torch.allclose(loss, expected, atol=1e-6)
    loss.backward()
    assert torch.all(x.grad[..., 2] == 0) and torch.all(x.grad[..., keep].abs().sum((0, 1)) > 0)


def test_a_class_with_unknown_targets_leaves_its_output_row_as_initialised(tmp_path):
    """fit(masked_targets=True) on data whose TT targets are all unknown: the TT row of the output
    layer gets no gradient, so Adam never moves it, while the other rows learn; without the mask
    the same data would pull TT towards -1 (a loss BCE does not define). The flag is part of the
    resume fingerprint."""
    from drumscribe.targets import IGNORED_TARGET

    base = _data()
    x, y = base.tensors
    y = y.clone()
    y[..., CLASSES.index("TT")] = IGNORED_TARGET
    train = TensorDataset(x, y)
    out = training.fit("cnn", SMALL_CNN, train, _data(n=4, seed=1), tmp_path / "m", CFG, progress=False,
                       pos_weight=[3.0] * 5, meta={}, masked_targets=True)
    assert out["finished"] and math.isfinite(out["best_val_loss"])
    training_state.seed_all(CFG["seed"])
    init = models.build("cnn", F, **SMALL_CNN).state_dict()
    trained, _ = models.load_checkpoint(tmp_path / "m" / "model.pt", map_location="cpu")
    last = trained.state_dict()
    tt = CLASSES.index("TT")
    for name in ("fc.3.weight", "fc.3.bias"):
        assert torch.equal(last[name][tt], init[name][tt])
        assert not torch.equal(last[name][CLASSES.index("SD")], init[name][CLASSES.index("SD")])
    fp = lambda masked: training_state.fingerprint("cnn", SMALL_CNN, training.training_config(CFG), 12, 4,  # noqa: E731
                                                   [3.0] * 5, F, masked_targets=masked)
    assert fp(True) != fp(False) and "masked" not in fp(False)
