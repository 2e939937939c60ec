"""One place per fact: the library's defaults are the config schema's, and devices resolve in one function."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import yaml

from drumscribe import DATAPOINT_FRAMES, FPS, ONSET_WINDOW, resolve_device
from drumscribe.errors import ConfigError
from drumscribe.features import FeatureConfig
from drumscribe.peaks import DEFAULT_PEAK_PARAMS, DEFAULT_THRESHOLD_GRID, PEAK_PARAM_KEYS

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def _defaults(section):
    props = yaml.safe_load(SCHEMA.read_text())["properties"][section]["properties"]
    return {k: v["default"] for k, v in props.items() if "default" in v}


def test_library_defaults_are_the_schema_defaults():
    peaks = _defaults("peaks")
    assert {k: peaks[k] for k in PEAK_PARAM_KEYS} == DEFAULT_PEAK_PARAMS
    assert tuple(peaks["threshold_grid"]) == DEFAULT_THRESHOLD_GRID
    assert _defaults("targets")["datapoint_frames"] == DATAPOINT_FRAMES
    assert _defaults("evaluation")["window"] == ONSET_WINDOW
    features = _defaults("features")
    cfg = dataclasses.asdict(FeatureConfig())
    assert {k: features[k] for k in features if k in cfg} == {k: cfg[k] for k in features if k in cfg}
    assert cfg["fps"] == FPS


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(" CPU ")
    assert resolve_device(None).type == resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="--device tpu9: unknown device"):
        resolve_device("tpu9", key="--device")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="training.device cuda: no CUDA GPU"):
            resolve_device("cuda", key="training.device")
