"""Training of one trial: weighted BCE, Adam, early stopping, LR on plateau, resume.

The protocol of the thesis (chapter 4) and the brief:

- loss: ``BCEWithLogitsLoss(pos_weight=...)`` with the infrequency weights of the
  training data (``drumscribe.targets.class_weights``);
- Adam with ``training.learning_rate``; at most ``max_epochs`` epochs (and, with
  ``max_seconds``, at most that much time in training and validation);
- early stopping when the validation loss has not improved for ``patience`` epochs;
- ``ReduceLROnPlateau(factor=lr_factor, patience=lr_patience)`` on the validation loss;
- the weights of the epoch with the best validation score (a :class:`Validator`'s
  :class:`ValidationResult`, e.g. micro F1 on whole validation tracks with thresholds
  tuned on them: :class:`drumscribe.trial.CacheValidator`) are kept, with its thresholds;
  without a validator, those of the lowest validation loss;
- bf16 autocast on CUDA, plain float32 on CPU; seeds fixed;
- ``preload`` (``auto``: splits up to ``preload_max_gb``) holds the datapoints as
  tensors on the training device (``DatapointDataset.preload``), so a batch is one
  gather instead of a DataLoader reading HDF5 chunks; the batches (and the RNG draws)
  are the same either way;
- optional augmentation (``augment_gain_db``, ``augment_tilt_db``, ``augment_pitch_bins``,
  ``augment_eq_db``; all off by default; :mod:`drumscribe.augment`): each training
  datapoint's log spectrogram shifted by a random whole number of bins, then a random
  gain, spectral tilt and smooth EQ curve under the log; all drawn from a generator
  seeded per epoch, so a resumed trial draws the same.

Every epoch appends a row to ``out_dir/history.csv`` and writes the full
training state to ``out_dir/checkpoint.pt`` (atomically; :mod:`drumscribe.training_state`),
so a killed trial resumes from its last finished epoch and produces the same history as
an uninterrupted run (on CPU; cuDNN kernels are not bit-deterministic). The trial
ends with ``out_dir/model.pt`` (:func:`drumscribe.models.save_checkpoint`).
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import os
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler
from tqdm.auto import tqdm

import drumscribe
from drumscribe import augment as aug
from drumscribe import models
from drumscribe import training_graph
from drumscribe import training_state as ts
from drumscribe.atomic import write_text
from drumscribe.errors import ConfigError, TrainingError

log = logging.getLogger(__name__)

#: On a GPU the validation loss runs in batches this many times the training batch: no gradients are
#: kept, so it costs little memory, and a recurrent model's pass is bound by its sequential
#: steps, not by the batch (docs/benchmarks.md, "What bounds the slowest trials"); the
#: loss is the same mean over the same datapoints.
VAL_BATCH_FACTOR = 4
#: Columns of ``history.csv``, in order.
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_micro_f1", "lr", "seconds", "datapoints_per_s")
#: Columns that depend on the machine's speed (differ between a resumed and a straight run).
TIMING_COLUMNS = ("seconds", "datapoints_per_s")

#: Defaults of the ``training:`` config section: the schema's (``tests/test_defaults.py``),
#: but for ``num_workers``. The graph's trials get the schema's 2 DataLoader workers (they
#: have ``resources.train_threads`` cores); a caller outside the graph (a notebook, a test,
#: a benchmark) loads in process unless it asks for workers, as torch's DataLoader does.
DEFAULTS: dict[str, Any] = {
    "max_epochs": 100,
    "patience": 10,
    "lr_patience": 3,
    "lr_factor": 0.2,
    "learning_rate": 1e-3,
    "batch_size": 32,
    "num_workers": 0,  # the schema's default is 2: see above
    "seed": 0,
    "device": "auto",
    "max_train_datapoints": None,
    "max_seconds": None,
    "preload": "auto",
    "preload_max_gb": 4.0,
    "augment_gain_db": 0.0,
    "augment_tilt_db": 0.0,
    "augment_pitch_bins": 0,
    "augment_eq_db": 0.0,
    "grad_clip_norm": None,
    "cuda_graphs": False,
}



# --------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class ValidationResult:
    """What a :class:`Validator` says of the model after an epoch.

    score : the number the kept epoch is chosen by (higher is better; the validation micro F1).
    thresholds : per-class peak-picking thresholds tuned on the validation data (they go
        into ``model.pt`` with the kept epoch's weights), or None.
    peak_params : the peak-picking parameters they were tuned with, or None.
    scores : the scores with those thresholds (``metrics.scores``: micro, macro, per class).
    extra : other numbers to keep with the epoch (e.g. the F1 at the default threshold).
    """

    score: float
    thresholds: Mapping[str, float] | None = None
    peak_params: Mapping[str, int] | None = None
    scores: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, as kept in the resume state: ``micro_f1`` is the score."""
        out = {**dict(self.extra), "micro_f1": self.score, "scores": dict(self.scores)}
        for key in ("thresholds", "peak_params"):
            if getattr(self, key) is not None:
                out[key] = dict(getattr(self, key))
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ValidationResult":
        """The inverse of :meth:`to_dict` (``micro_f1`` the score, any other key ``extra``)."""
        known = ("micro_f1", "thresholds", "peak_params", "scores")
        return cls(score=d["micro_f1"], thresholds=d.get("thresholds"), peak_params=d.get("peak_params"),
                   scores=dict(d.get("scores") or {}), extra={k: v for k, v in d.items() if k not in known})


class Validator(Protocol):
    """The per-epoch validation :func:`fit` asks: ``validate(model)`` with the model in
    eval mode (no gradients), returning a :class:`ValidationResult`."""

    def validate(self, model: nn.Module) -> ValidationResult: ...


class FunctionValidator:
    """A :class:`Validator` from a function ``model -> {"micro_f1": ..., "thresholds": ...}``
    (the dict of :meth:`ValidationResult.to_dict`)."""

    def __init__(self, fn: Callable[[nn.Module], Mapping[str, Any]]):
        self.fn = fn

    def validate(self, model: nn.Module) -> ValidationResult:
        result = self.fn(model)
        if not isinstance(result, Mapping) or "micro_f1" not in result:
            raise TrainingError("the validation returned no micro_f1")
        return ValidationResult.from_dict(result)


# --------------------------------------------------------------------------- config
def _int(cfg: Mapping, key: str, low: int, allow_none: bool = False) -> int | None:
    value = cfg[key]
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"training.{key}: {value!r} is not an integer >= {low}")
    return value


def training_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``training:`` section with defaults filled in, validated (``ConfigError``)."""
    if not isinstance(config, Mapping):
        raise ConfigError("training: must be a mapping")
    cfg = {**DEFAULTS, **dict(config)}
    _int(cfg, "max_epochs", 1)
    _int(cfg, "patience", 1)
    _int(cfg, "lr_patience", 0)
    _int(cfg, "batch_size", 1)
    _int(cfg, "num_workers", 0)
    _int(cfg, "seed", 0)
    _int(cfg, "max_train_datapoints", 1, allow_none=True)
    _int(cfg, "augment_pitch_bins", 0)
    v = cfg["max_seconds"]
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
        raise ConfigError(f"training.max_seconds: {v!r} is not a number > 0 (or null)")
    v = cfg["grad_clip_norm"]
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0):
        raise ConfigError(f"training.grad_clip_norm: {v!r} is not a number > 0 (or null)")
    if not isinstance(cfg["cuda_graphs"], bool):
        raise ConfigError(f"training.cuda_graphs: {cfg['cuda_graphs']!r} is not true or false")
    if cfg["preload"] not in ("auto", True, False):
        raise ConfigError(f"training.preload: {cfg['preload']!r} is not auto, true or false")
    for key in ("preload_max_gb", "augment_gain_db", "augment_tilt_db", "augment_eq_db"):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"training.{key}: {v!r} is not a number >= 0")
        cfg[key] = float(v)
    for key, low, high in (("learning_rate", 0.0, 1.0), ("lr_factor", 0.0, 1.0)):
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low < v < high:
            raise ConfigError(f"training.{key}: {v!r} is not a number in ({low}, {high})")
        cfg[key] = float(v)
    if not isinstance(cfg["device"], str) or not (cfg["device"] in ("auto", "cpu") or cfg["device"].startswith("cuda")):
        raise ConfigError(f"training.device: {cfg['device']!r} is not auto, cpu or cuda")
    return cfg


# --------------------------------------------------------------------------- history
def _history_csv(history: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: row[k] for k in HISTORY_COLUMNS})
    return buf.getvalue()


def read_history(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``history.csv`` as dicts of floats (``epoch`` as int, empty cells as NaN)."""
    rows = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            rows.append(
                {k: (int(v) if k == "epoch" else (float(v) if v not in ("", None) else math.nan)) for k, v in row.items()}
            )
    return rows


# --------------------------------------------------------------------------- loops
def _loader(data: Dataset, cfg: Mapping, device: torch.device, sampler=None) -> DataLoader:
    workers = cfg["num_workers"]
    return DataLoader(
        data,
        batch_size=cfg["batch_size"],
        sampler=sampler,
        shuffle=False,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
        drop_last=False,
    )


def _autocast(device: torch.device, cache_enabled: bool = True):
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, cache_enabled=cache_enabled)
    return torch.autocast(device_type="cpu", enabled=False)


class MaskedBCEWithLogits(nn.Module):
    """``BCEWithLogitsLoss(pos_weight)`` averaged over the target entries that are known: an entry
    below 0 (:data:`drumscribe.targets.IGNORED_TARGET`, a class whose labels a datapoint does not
    carry, such as the classes ``mixing.pseudo_ignore`` takes out of a teacher's labels) adds no
    loss and no gradient. Elementwise and of fixed shape, so a step captured in a CUDA graph can
    hold it. :func:`fit` uses it only for data that can hold such entries (``masked_targets``):
    every other run's loss stays ``BCEWithLogitsLoss``'s own."""

    def __init__(self, pos_weight: torch.Tensor | None = None):
        super().__init__()
        self.pos_weight = pos_weight

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        known = (y >= 0).to(logits.dtype)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y.clamp(min=0.0), pos_weight=self.pos_weight,
                                                              reduction="none")
        return (loss * known).sum() / known.sum().clamp(min=1.0)


def train_step(model, criterion, optimizer, x: torch.Tensor, y: torch.Tensor, clip_norm: float | None = None,
               graph_safe: bool = False) -> torch.Tensor:
    """One optimiser step on the batch ``(x, y)``; its loss, detached, on the device.
    ``clip_norm``: the gradients' global L2 norm is scaled down to at most this first
    (``torch.nn.utils.clip_grad_norm_``), None = not. ``graph_safe``: as a step captured in a
    CUDA graph needs it (:class:`drumscribe.training_graph.CapturedStep`): gradients zeroed in
    place, not set to None, and no autocast weight cache (a replay casts the weights anew)."""
    optimizer.zero_grad(set_to_none=not graph_safe)
    with _autocast(x.device, cache_enabled=not graph_safe):
        logits = model(x)
    loss = criterion(logits.float(), y)
    loss.backward()
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.detach()


def _as_float(batch) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = batch[0], batch[1]
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32)
    return x, y


class _Indices(Dataset):
    """``0 .. n-1`` as a Dataset: a DataLoader over it yields index batches in exactly
    the order (and with the same RNG use) as over the data itself."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def _batches(data: Dataset, cfg: Mapping, device: torch.device, sampler=None):
    """``(x, y)`` float32 batches on ``device``: gathered from a preloaded dataset
    (``data.batch``), else read through a DataLoader (and, for a dataset with a
    ``device_transform``, such as audio clips, turned into its inputs on the device)."""
    if hasattr(data, "batch"):
        for idx in _loader(_Indices(len(data)), {**cfg, "num_workers": 0}, torch.device("cpu"), sampler):
            yield data.batch(idx)
        return
    transform = getattr(data, "device_transform", None)
    for batch in _loader(data, cfg, device, sampler):
        x, y = _as_float(batch)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        # audio datasets (drumscribe.mixing.MixDataset) take their spectrograms on the device
        yield (transform(x) if transform is not None else x), y


def _maybe_preload(data: Dataset, cfg: Mapping, device: torch.device, progress: bool) -> Dataset:
    """``data.preload(device)`` when ``training.preload`` asks for it (``auto``: when the
    split takes at most ``preload_max_gb``); the data as is otherwise."""
    if cfg["preload"] is False or not hasattr(data, "preload"):
        return data
    if cfg["preload"] == "auto" and data.nbytes() > cfg["preload_max_gb"] * 1e9:
        return data
    return data.preload(device, progress=progress)


def _train_epoch(model, batches, criterion, optimizer, device, bar,
                 clip_norm: float | None = None, step=None) -> tuple[float, int]:
    """One pass over ``batches`` of :func:`train_step` (``clip_norm`` as there), or of ``step``
    instead: a :class:`drumscribe.training_graph.CapturedStep` (``training.cuda_graphs``)."""
    model.train()
    total = torch.zeros((), dtype=torch.float64, device=device)
    seen = 0
    for x, y in batches:
        loss = step(x, y) if step is not None else train_step(model, criterion, optimizer, x, y, clip_norm)
        total += loss.double() * len(x)
        seen += len(x)
        bar.update(len(x))
    return float(total.item()) / max(1, seen), seen


@torch.no_grad()
def _val_loss(model, batches, criterion, device) -> float:
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    seen = 0
    for x, y in batches:
        with _autocast(device):
            logits = model(x)
        total += criterion(logits.float(), y).double() * len(x)
        seen += len(x)
    return float(total.item()) / max(1, seen)


def _validate(validator: Validator | None, model: nn.Module, out_dir: Path) -> dict[str, Any]:
    """The validator's result on ``model`` (in eval mode, no gradients) as plain values."""
    if validator is None:
        return {}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            result = validator.validate(model)
    except TrainingError as exc:
        raise TrainingError(f"{out_dir}: {exc}") from None
    finally:
        model.train(was_training)
    if not isinstance(result, ValidationResult):
        raise TrainingError(f"{out_dir}: the validator returned {type(result).__name__}, not a ValidationResult")
    if isinstance(result.score, bool) or not isinstance(result.score, (int, float)):
        raise TrainingError(f"{out_dir}: the validator returned no numeric score")
    return result.to_dict()


def _plain(obj: Any) -> Any:
    """Tensors/arrays/numpy scalars → plain Python, recursively (for JSON and checkpoints)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj


# --------------------------------------------------------------------------- trial
def fit(
    arch: str,
    params: Mapping[str, Any],
    train_data: Dataset,
    val_data: Dataset,
    out_dir: str | os.PathLike,
    config: Mapping[str, Any],
    progress: bool = True,
    *,
    pos_weight: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    validator: Validator | None = None,
    meta: Mapping[str, Any] | None = None,
    n_bins: int | None = None,
    threads: int | None = None,
    stop_after_epochs: int | None = None,
    init_state: Mapping[str, Any] | None = None,
    masked_targets: bool = False,
) -> dict[str, Any]:
    """Train one trial of ``arch`` with hyperparameters ``params`` and write its outputs.

    (About 240 lines: the epoch loop, its resume state and the kept epoch are one
    protocol whose parts share the loop's state; tests/test_training.py checks them.)

    Parameters
    ----------
    arch, params : architecture name and hyperparameters (:func:`drumscribe.models.build`).
    train_data, val_data : torch Datasets yielding ``(x (T, F) float32, y (T, 5) float32)``,
        e.g. ``drumscribe.targets.DatapointDataset`` (normalised inputs, widened targets).
    out_dir : the trial folder; gets ``history.csv``, ``checkpoint.pt`` (every
        epoch) and ``model.pt`` (at the end).
    config : the ``training:`` config section (see :data:`DEFAULTS`); may also hold
        ``pos_weight``.
    progress : show a tqdm bar per epoch (datapoints) on a terminal.
    pos_weight : the 5 infrequency weights for ``BCEWithLogitsLoss`` (wins over
        ``config["pos_weight"]``); ``None`` = unweighted.
    validator : a :class:`Validator`, asked after each epoch with the model in eval mode
        (e.g. peak picking on whole validation tracks with thresholds tuned on them:
        ``trial.CacheValidator``). The epoch with the highest ``score`` (ties: the
        earlier) gives the kept weights; its ``thresholds`` / ``peak_params`` go into
        ``model.pt`` unless ``meta`` sets them. ``None``: keep the lowest validation loss.
    meta : checkpoint metadata for ``model.pt`` (``feature_config``, ``norm_mean``,
        ``norm_std``, ``thresholds``, ``peak_params``, ... as in docs/architecture.md).
    n_bins : input bins; default ``train_data.n_bins`` or the first item's width.
    threads : ``torch.set_num_threads`` for CPU work.
    stop_after_epochs : stop (without ``model.pt``) once this many epochs are done,
        as if the job were killed there; for tests of resuming.
    init_state : a ``state_dict`` of the same architecture and parameters to start
        from instead of a random initialisation (fine-tuning a released model); part
        of the resume fingerprint.
    masked_targets : the training targets may hold unknown entries (below 0:
        ``targets.IGNORED_TARGET``), which the loss then leaves out (:class:`MaskedBCEWithLogits`);
        part of the resume fingerprint.

    Returns
    -------
    dict with ``arch``, ``params`` (all, defaults included), ``epochs``,
    ``best_epoch``, ``best_val_loss``, ``val_micro_f1`` (best epoch's score; NaN without
    a validator), ``validation`` (best epoch's :class:`ValidationResult`, or None),
    ``val_metrics`` (the same as plain values, :meth:`ValidationResult.to_dict`),
    ``stopped_early``, ``stopped_by_time`` (``max_seconds`` of training and validation,
    resumed runs included, spent: the trial ends between epochs with the best epoch so
    far), ``resumed_from_epoch``, ``finished``, ``seconds``,
    ``datapoints_per_s``, ``device``, ``model_path``, ``history_path``.

    Raises
    ------
    ConfigError : bad ``training`` values, parameters or architecture (before any work).
    TrainingError : a NaN/inf loss (naming ``out_dir``), empty data, a validator's bad result.
    """
    out_dir = Path(out_dir)
    cfg = training_config(config)
    device = drumscribe.resolve_device(cfg["device"], "training.device")
    if cfg["cuda_graphs"] and device.type != "cuda":
        raise ConfigError(f"training.cuda_graphs: CUDA graphs need a CUDA device (training.device gives {device})")
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads: {threads!r} is not a positive integer")
        torch.set_num_threads(threads)
    models.validate_params(arch, dict(params))  # ConfigError before any work
    n_train, n_val = len(train_data), len(val_data)
    if n_train == 0:
        raise TrainingError(f"{out_dir}: no training datapoints")
    if n_val == 0:
        raise TrainingError(f"{out_dir}: no validation datapoints")
    if n_bins is None:
        n_bins = getattr(train_data, "n_bins", None) or int(np.shape(train_data[0][0])[-1])
    if pos_weight is None:
        pos_weight = cfg.get("pos_weight")
    if pos_weight is not None:
        pos_weight = torch.as_tensor(np.asarray(_plain(pos_weight), dtype=np.float32))
        if pos_weight.shape != (5,) or not torch.isfinite(pos_weight).all() or (pos_weight <= 0).any():
            raise ConfigError(f"pos_weight: {pos_weight.tolist()} is not 5 positive finite weights")

    augment = aug.enabled(cfg)
    if augment and (getattr(train_data, "mean", None) is None or getattr(train_data, "std", None) is None):
        raise ConfigError("training.augment_*: the training data carry no normalisation (mean, std) to undo")
    log_base = aug.log_base(((meta or {}).get("feature_config") or {}).get("kind", "logfilt"))

    ts.seed_all(cfg["seed"])
    model = models.build(arch, int(n_bins), **dict(params)).to(device)
    if init_state is not None:
        try:
            model.load_state_dict(dict(init_state))
        except (RuntimeError, KeyError) as exc:
            raise ConfigError(f"init_state: does not fit {arch} {dict(params)} "
                              f"({str(exc).splitlines()[0]})") from None
    full_params = dict(model.params)
    if cfg["cuda_graphs"]:
        optimizer = training_graph.capturable_adam(model.parameters(), cfg["learning_rate"], device)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg["learning_rate"])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg["lr_factor"], patience=cfg["lr_patience"]
    )
    weight = None if pos_weight is None else pos_weight.to(device)
    criterion = MaskedBCEWithLogits(weight) if masked_targets else nn.BCEWithLogitsLoss(pos_weight=weight)
    fingerprint = ts.fingerprint(arch, full_params, cfg, n_train, n_val, pos_weight, int(n_bins), init_state,
                                 masked_targets=masked_targets)

    state_path = out_dir / "checkpoint.pt"
    history_path = out_dir / "history.csv"
    model_path = out_dir / "model.pt"
    out_dir.mkdir(parents=True, exist_ok=True)

    history: list[dict[str, Any]] = []
    best = {"score": -math.inf, "val_loss": math.inf, "epoch": 0, "state": ts.cpu_state(model), "metrics": {}}
    stop = {"best_val_loss": math.inf, "bad_epochs": 0, "stopped_early": False}
    start_epoch = 0
    resumed = ts.load_state(state_path, fingerprint)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        if cfg["cuda_graphs"]:
            training_graph.lr_on_device(optimizer, device)
        scheduler.load_state_dict(resumed["scheduler"])
        history = list(resumed["history"])
        best = dict(resumed["best"])
        stop = dict(resumed["early_stopping"])
        start_epoch = int(resumed["epoch"])
        ts.set_rng_state(resumed["rng"])
        write_text(history_path, _history_csv(history))

    train_data = _maybe_preload(train_data, cfg, device, progress)
    val_data = _maybe_preload(val_data, cfg, device, progress)
    n_per_epoch = min(n_train, cfg["max_train_datapoints"] or n_train)
    captured = (training_graph.CapturedStep(functools.partial(train_step, model, criterion, optimizer,
                                                              clip_norm=cfg["grad_clip_norm"], graph_safe=True))
                if cfg["cuda_graphs"] else None)
    val_cfg = {**cfg, "batch_size": cfg["batch_size"] * (VAL_BATCH_FACTOR if device.type == "cuda" else 1)}
    epoch = start_epoch
    out_of_time = False
    while epoch < cfg["max_epochs"] and not stop["stopped_early"]:
        if stop_after_epochs is not None and epoch >= stop_after_epochs:
            break
        # the time budget (training + validation, resumed runs included) ends the trial between epochs
        if cfg["max_seconds"] and sum(r["seconds"] for r in history) >= cfg["max_seconds"]:
            out_of_time = True
            log.info("%s %s: time budget of %.0f s spent after epoch %d", arch, out_dir.name, cfg["max_seconds"], epoch)
            break
        epoch += 1
        # the shuffle of each epoch depends only on (seed, epoch): identical after a resume
        gen = torch.Generator().manual_seed(cfg["seed"] * 1_000_003 + epoch)
        sampler = RandomSampler(train_data, num_samples=n_per_epoch, generator=gen)
        batches = _batches(train_data, cfg, device, sampler)
        if augment:
            aug_gen = torch.Generator().manual_seed(cfg["seed"] * 1_000_003 + epoch + 500_009)
            batches = aug.augmented(batches, cfg, aug_gen, train_data.mean, train_data.std, log_base)
        lr = float(optimizer.param_groups[0]["lr"])  # a tensor under cuda_graphs
        t0 = time.perf_counter()
        with tqdm(
            total=n_per_epoch,
            desc=f"{arch} {out_dir.name} epoch {epoch}/{cfg['max_epochs']}",
            unit="dp",
            disable=None if progress else True,
            leave=False,
        ) as bar:
            train_loss, seen = _train_epoch(model, batches, criterion, optimizer, device, bar,
                                            cfg["grad_clip_norm"], captured)
            train_seconds = time.perf_counter() - t0
            val_loss = _val_loss(model, _batches(val_data, val_cfg, device), criterion, device)
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                raise TrainingError(
                    f"{out_dir}: loss became {'NaN' if math.isnan(train_loss) or math.isnan(val_loss) else 'infinite'}"
                    f" in epoch {epoch} (train {train_loss}, validation {val_loss})"
                )
            metrics = _plain(_validate(validator, model, out_dir))
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}", f1=metrics.get("micro_f1", "-"))
        seconds = time.perf_counter() - t0
        score = float(metrics["micro_f1"]) if metrics else math.nan

        # keep the best weights: validation micro F1 (ties: earlier), else validation loss
        better = score > best["score"] if validator is not None else val_loss < best["val_loss"]
        if better:
            best = {
                "score": score if validator is not None else -val_loss,
                "val_loss": val_loss,
                "epoch": epoch,
                "state": ts.cpu_state(model),
                "metrics": metrics,
            }
        # early stopping and learning rate on the validation loss
        if val_loss < stop["best_val_loss"]:
            stop["best_val_loss"], stop["bad_epochs"] = val_loss, 0
        else:
            stop["bad_epochs"] += 1
            if stop["bad_epochs"] >= cfg["patience"]:
                stop["stopped_early"] = True
        scheduler.step(val_loss)

        history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_micro_f1": score,
                "lr": lr,
                "seconds": round(seconds, 3),
                "datapoints_per_s": round(seen / max(train_seconds, 1e-9), 2),
            }
        )
        ts.save_state(state_path, fingerprint, epoch, model, optimizer, scheduler, history, best, stop)
        write_text(history_path, _history_csv(history))
        log.info("%s %s epoch %d/%d: train loss %.4f, val loss %.4f, val micro F1 %.3f, lr %.2g, %.1f s%s",
                 arch, out_dir.name, epoch, cfg["max_epochs"], train_loss, val_loss, score, lr, seconds,
                 " (best)" if better else "")

    finished = stop["stopped_early"] or epoch >= cfg["max_epochs"] or out_of_time
    summary = {
        "arch": arch,
        "params": full_params,
        "epochs": epoch,
        "best_epoch": best["epoch"],
        "best_val_loss": best["val_loss"],
        "val_micro_f1": best["metrics"].get("micro_f1", math.nan) if best["metrics"] else math.nan,
        "val_metrics": best["metrics"],
        "validation": ValidationResult.from_dict(best["metrics"]) if best["metrics"] else None,
        "stopped_early": stop["stopped_early"],
        "stopped_by_time": out_of_time,
        "resumed_from_epoch": start_epoch if resumed is not None else None,
        "finished": finished,
        "seconds": round(sum(r["seconds"] for r in history), 3),
        "datapoints_per_s": round(float(np.mean([r["datapoints_per_s"] for r in history])), 2) if history else math.nan,
        "device": str(device),
        "model_path": str(model_path) if finished else None,
        "history_path": str(history_path),
    }
    if not finished:
        return summary

    final = models.build(arch, int(n_bins), **full_params)
    final.load_state_dict(best["state"])
    final_meta = dict(meta or {})
    for key in ("thresholds", "peak_params"):
        if final_meta.get(key) is None and best["metrics"].get(key) is not None:
            final_meta[key] = best["metrics"][key]
    final_meta.setdefault("best_epoch", best["epoch"])
    final_meta.setdefault("val_micro_f1", summary["val_micro_f1"])
    models.save_checkpoint(model_path, final, final_meta)
    return summary
