"""The resume state of a trial (``checkpoint.pt``): its layout, fingerprint, RNG states.

:func:`drumscribe.training.fit` writes the full training state after every epoch
(:func:`save_state`, atomically) and, when it starts, reads it back (:func:`load_state`)
if it belongs to the same trial (:func:`fingerprint`), so a killed trial resumes from
its last finished epoch with the same RNG states (:func:`rng_state`,
:func:`set_rng_state`) and produces the same history as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from drumscribe.atomic import atomic_path

log = logging.getLogger(__name__)

#: Version of the ``checkpoint.pt`` (resume state) layout.
STATE_VERSION = 2  # 2: RNG states as tensors and plain values (read with weights_only=True)


def rng_state() -> dict[str, Any]:
    """The RNG states as tensors and plain Python values, so that ``torch.load(weights_only=True)``
    reads them back (numpy's key array as an int64 tensor, Python's state as nested tuples)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [str(name), torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """The RNG states of :func:`rng_state` restored."""
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_all(seed: int) -> None:
    """Python's, numpy's and torch's RNGs (every CUDA device's too) seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def cpu_state(module_or_state) -> dict[str, torch.Tensor]:
    """A copy of a module's ``state_dict`` (or of a state dict) on the CPU."""
    sd = module_or_state.state_dict() if hasattr(module_or_state, "state_dict") else module_or_state
    return {k: v.detach().to("cpu", copy=True) for k, v in sd.items()}


def fingerprint(arch, params, cfg, n_train, n_val, pos_weight, n_bins, init_state=None,
                masked_targets: bool = False) -> str:
    """What must not change for a checkpoint to be resumed (max_epochs, device and workers may).

    Keys added later (``augment_pitch_bins``, ``augment_eq_db``, ``grad_clip_norm``, ``cuda_graphs``)
    count only when set, so the checkpoints of trials started before they existed still resume
    (``cuda_graphs`` changes the optimiser's state: a checkpoint made without it is not resumed
    with it, nor the other way round). An
    ``init_state`` (fine-tuning) adds the SHA-1 of its tensors; ``masked_targets`` (a loss that
    leaves unknown targets out) counts only when set, as the later keys do.
    """
    keys = ("patience", "lr_patience", "lr_factor", "learning_rate", "batch_size", "seed", "max_train_datapoints",
            "augment_gain_db", "augment_tilt_db")
    later = ("augment_pitch_bins", "augment_eq_db", "grad_clip_norm", "cuda_graphs")
    out = json.dumps(
        {
            "arch": arch,
            "params": params,
            "training": {**{k: cfg[k] for k in keys}, **{k: cfg[k] for k in later if cfg[k]}},
            "n_train": n_train,
            "n_val": n_val,
            "n_bins": n_bins,
            "pos_weight": None if pos_weight is None else [round(float(w), 6) for w in pos_weight],
        },
        sort_keys=True,
    )
    if init_state is not None:
        digest = hashlib.sha1()
        for k in sorted(init_state):
            digest.update(k.encode())
            digest.update(np.ascontiguousarray(init_state[k].detach().cpu().float().numpy()).tobytes())
        out += "|init:" + digest.hexdigest()
    if masked_targets:
        out += "|masked_targets"
    return out


def save_state(path: Path, fingerprint: str, epoch: int, model, optimizer, scheduler,
               history, best, early_stopping) -> None:
    """The resume state after ``epoch`` written to ``path`` (atomically), with the RNG states."""
    state = {
        "state_version": STATE_VERSION,
        "fingerprint": fingerprint,
        "epoch": epoch,
        "model": cpu_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(),
        "history": history,
        "best": best,
        "early_stopping": early_stopping,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The resume state at ``path`` if it belongs to this trial, else ``None`` (start afresh).

    Read with ``weights_only=True``: tensors and plain Python values only, never code. A
    file that does not load that way (corrupt, or one holding other objects: a planted
    pickle, or a state written before version 2) is discarded with one warning line and
    the trial restarts.
    """
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or unsafe resume state is discarded, the trial restarts
        log.warning("%s: not a safely readable resume state (%s); the trial starts afresh", path, type(exc).__name__)
        return None
    if not isinstance(state, dict) or state.get("state_version") != STATE_VERSION:
        return None
    if state.get("fingerprint") != fingerprint:
        return None
    return state
