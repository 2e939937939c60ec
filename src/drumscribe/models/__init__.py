"""The five architectures of the thesis (chapter 3), their registry and checkpoint I/O.

Every model maps a normalised spectrogram ``(batch, frames, bins)`` float32 to
onset logits ``(batch, frames, 5)`` (classes ``drumscribe.CLASSES``), for any
number of frames. See ``docs/models.md`` for each architecture and its
hyperparameters.

Examples
--------
>>> import torch
>>> from drumscribe import models
>>> net = models.build("crnn", 84, cell="gru", num_layers=2, hidden_size=72)
>>> net(torch.zeros(1, 50, 84)).shape
torch.Size([1, 50, 5])
"""

from __future__ import annotations

import inspect
import pickle
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

import drumscribe
from drumscribe.atomic import atomic_path
from drumscribe.errors import ConfigError, InputError, ModelError
from drumscribe.models.cnn import CNN
from drumscribe.models.common import ParamSpec, check_params
from drumscribe.models.conv_transformer import ConvTransformer
from drumscribe.models.crnn import CRNN
from drumscribe.models.rnn import RNN
from drumscribe.models.vit import ViT

#: Architecture name (config key, ``{arch}`` wildcard, module name) → model class.
REGISTRY: dict[str, type] = {
    "rnn": RNN,
    "cnn": CNN,
    "crnn": CRNN,
    "conv_transformer": ConvTransformer,
    "vit": ViT,
}

#: Version of the checkpoint dictionary layout (docs/architecture.md).
FORMAT_VERSION = 1

#: Keys of a checkpoint besides the ones the model itself gives (arch, params, n_bins, state_dict).
META_KEYS = ("feature_config", "norm_mean", "norm_std", "thresholds", "peak_params", "classes")

__all__ = [
    "REGISTRY",
    "FORMAT_VERSION",
    "build",
    "validate_params",
    "param_specs",
    "default_params",
    "save_checkpoint",
    "load_checkpoint",
]


def _cls(arch: str) -> type:
    if arch not in REGISTRY:
        raise ConfigError(f"architecture {arch!r}: unknown (known: {', '.join(REGISTRY)})")
    return REGISTRY[arch]


def param_specs(arch: str) -> dict[str, ParamSpec]:
    """Allowed values of every hyperparameter of ``arch`` (name → :class:`ParamSpec`)."""
    return dict(_cls(arch).SPECS)


def default_params(arch: str) -> dict[str, Any]:
    """The keyword defaults of ``arch`` (every hyperparameter except ``n_bins``)."""
    sig = inspect.signature(_cls(arch).__init__)
    return {n: p.default for n, p in sig.parameters.items() if n not in ("self", "n_bins")}


def validate_params(arch: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` of ``arch`` (names, values, joint constraints such as heads
    dividing the width) and return them converted; ``ConfigError`` otherwise."""
    cls = _cls(arch)
    return check_params(arch, cls.SPECS, dict(params), cls.CONSTRAINTS)


def build(arch: str, n_bins: int, **params: Any) -> nn.Module:
    """Build architecture ``arch`` for ``n_bins`` frequency bins.

    Missing hyperparameters take the class defaults (``default_params``). The
    model carries ``.arch``, ``.n_bins`` and ``.params`` (every hyperparameter,
    defaults included) for :func:`save_checkpoint`.

    Raises ``ConfigError`` for an unknown architecture, parameter or value.
    """
    cls = _cls(arch)
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ConfigError(f"n_bins: {n_bins!r} is not a positive integer")
    checked = validate_params(arch, params)
    full = {**default_params(arch), **checked}
    model = cls(n_bins, **full)
    model.arch = arch
    model.n_bins = n_bins
    model.params = full
    return model


def _plain(obj: Any) -> Any:
    """Lists/dicts/tuples/numpy scalars/tensors → plain Python (for comparison and torch.load(weights_only))."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        obj = obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    return obj


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: dict[str, Any]) -> None:
    """Write ``model`` and ``meta`` as a drumscribe checkpoint (``torch.save`` dict), atomically.

    ``model`` must come from :func:`build` (it carries ``arch``, ``params``,
    ``n_bins``). ``meta`` gives ``feature_config`` (dict or ``FeatureConfig``),
    ``norm_mean``, ``norm_std`` (per bin), ``thresholds`` (``{class: float}``),
    ``peak_params`` and optionally ``classes`` (default ``drumscribe.CLASSES``);
    missing ones are stored as ``None``. Extra keys are kept as they are
    (plain Python values). Layout: docs/architecture.md ("Checkpoint").
    """
    for attr in ("arch", "params", "n_bins"):
        if not hasattr(model, attr):
            raise ModelError(f"{path}: the model has no .{attr} (build it with drumscribe.models.build)")
    reserved = {"format_version", "drumscribe_version", "arch", "params", "n_bins", "state_dict"}
    clash = sorted(k for k in meta if k in reserved and _plain(meta[k]) != _plain(getattr(model, k, meta[k])))
    if clash:
        raise ModelError(f"{path}: meta key {clash[0]!r} contradicts the model")
    ckpt: dict[str, Any] = {k: _plain(v) for k, v in meta.items() if k not in reserved}
    for key in META_KEYS:
        ckpt.setdefault(key, None)
    if ckpt["classes"] is None:
        ckpt["classes"] = list(drumscribe.CLASSES)
    ckpt.update(
        format_version=FORMAT_VERSION,
        drumscribe_version=drumscribe.__version__,
        arch=model.arch,
        params=_plain(model.params),
        n_bins=int(model.n_bins),
        state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    )
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def _diff(a: Any, b: Any) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k, "<absent>") != b.get(k, "<absent>"):
                return f"{k}: {a.get(k, '<absent>')!r} in the checkpoint, {b.get(k, '<absent>')!r} expected"
    return f"{a!r} in the checkpoint, {b!r} expected"


def load_checkpoint(
    path: str | os.PathLike,
    arch: str | None = None,
    feature_config: Any = None,
    map_location: str | torch.device = "cpu",
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Returns ``(model, meta)``: the model in eval mode on ``map_location`` and the
    checkpoint dict without ``state_dict``. ``arch`` and ``feature_config`` (dict
    or ``FeatureConfig``), when given, must match the checkpoint's.

    Raises ``InputError`` if ``path`` does not exist and ``ModelError`` (naming
    the file) for a corrupt file, another ``format_version``, another
    architecture or feature config, or weights that do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused an object: never run code from a checkpoint
        raise ModelError(f"{path}: refused, the file holds objects other than tensors and plain values "
                         "(checkpoints are read with weights_only=True)") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling/zip error means a bad file
        raise ModelError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise ModelError(f"{path}: not a drumscribe checkpoint (no format_version)")
    if ckpt["format_version"] != FORMAT_VERSION:
        raise ModelError(f"{path}: checkpoint format_version {ckpt['format_version']!r}, this drumscribe reads {FORMAT_VERSION}")
    missing = [k for k in ("arch", "params", "n_bins", "state_dict") if k not in ckpt]
    if missing:
        raise ModelError(f"{path}: checkpoint lacks {missing[0]!r}")
    if arch is not None and ckpt["arch"] != arch:
        raise ModelError(f"{path}: checkpoint of architecture {ckpt['arch']!r}, {arch!r} expected")
    if feature_config is not None:
        want, have = _plain(feature_config), _plain(ckpt.get("feature_config"))
        if want != have:
            raise ModelError(f"{path}: feature config differs ({_diff(have, want)})")
    try:
        model = build(ckpt["arch"], int(ckpt["n_bins"]), **ckpt["params"])
        model.load_state_dict(ckpt["state_dict"])
    except (ConfigError, RuntimeError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: weights do not fit {ckpt['arch']!r} ({first})") from None
    model.to(map_location).eval()
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model, meta


def checkpoint_thresholds(path: str | os.PathLike, meta: dict[str, Any]) -> dict[str, float]:
    """The per-class peak-picking thresholds of a checkpoint's ``meta``, ``{class: float}``.

    A checkpoint that lacks them (``None``, or a class missing) or holds a value outside
    [0, 1] is a ``ModelError``: peak picking with a made-up 0.5 would score silently wrong.
    """
    thr = meta.get("thresholds")
    if not isinstance(thr, dict) or not thr:
        raise ModelError(f"{path}: the checkpoint has no peak-picking thresholds (tuned on validation; "
                         f"a model.pt of an unfinished or foreign training)")
    missing = [c for c in drumscribe.CLASSES if c not in thr]
    if missing:
        raise ModelError(f"{path}: the checkpoint has no threshold for {', '.join(missing)}")
    out = {}
    for c in drumscribe.CLASSES:
        v = thr[c]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
            raise ModelError(f"{path}: threshold of {c} is {v!r}, not a number in [0, 1]")
        out[c] = float(v)
    return out
