"""One place per fact: the library's defaults are the config schema's, and devices resolve in one function."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import torch
import yaml

from drumscribe import DATAPOINT_FRAMES, FPS, ONSET_WINDOW, WIDEN, resolve_device
from drumscribe import crossval, mixing, peaks, pool, robustness, training
from drumscribe.errors import ConfigError
from drumscribe.features import FeatureConfig
from drumscribe.peaks import DEFAULT_PEAK_PARAMS, DEFAULT_THRESHOLD, DEFAULT_THRESHOLD_GRID, PEAK_PARAM_KEYS
from drumscribe.synth import gmd

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def _properties(section):
    return yaml.safe_load(SCHEMA.read_text())["properties"][section]["properties"]


def _defaults(section):
    return {k: v["default"] for k, v in _properties(section).items() if "default" in v}


def _signature_defaults(fn, names):
    params = inspect.signature(fn).parameters
    return {k: params[k].default for k in names}


def test_library_defaults_are_the_schema_defaults():
    peaks_ = _defaults("peaks")
    assert {k: peaks_[k] for k in PEAK_PARAM_KEYS} == DEFAULT_PEAK_PARAMS
    assert tuple(peaks_["threshold_grid"]) == DEFAULT_THRESHOLD_GRID
    assert peaks_["default_threshold"] == DEFAULT_THRESHOLD == peaks.default_threshold({})
    assert _defaults("targets")["datapoint_frames"] == DATAPOINT_FRAMES
    assert _defaults("targets")["widen"] == WIDEN
    assert _defaults("evaluation")["window"] == ONSET_WINDOW
    features = _defaults("features")
    cfg = dataclasses.asdict(FeatureConfig())
    assert {k: features[k] for k in features if k in cfg} == {k: cfg[k] for k in features if k in cfg}
    assert cfg["fps"] == FPS


def test_section_tables_are_the_schema_defaults():
    """Each library table of a config section has the section's keys and the schema's defaults."""
    # mixing: the one table of the section's keys and defaults (mixing_config refuses other keys)
    assert set(_properties("mixing")) == set(mixing.DEFAULTS)
    assert _defaults("mixing") == mixing.DEFAULTS
    # pool: PoolConfig's fields (its other fields are roots the workflow passes, not pool: keys)
    fields = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
              for f in dataclasses.fields(pool.PoolConfig)}
    assert set(_properties("pool")) <= set(fields)
    assert _defaults("pool") == {k: fields[k] for k in _properties("pool")}
    # render: the keys render_track falls back on; assign_kits' defaults but split_by, whose
    # library default is GMD's own split (synth/gmd.py's docstring) and the graph's session-disjoint
    render = _defaults("render")
    assert gmd.RENDER_DEFAULTS == {k: render[k] for k in gmd.RENDER_DEFAULTS}
    keys = ("kits_per_track", "seed", "max_tracks", "max_seconds", "split_by")
    assert {**{k: render[k] for k in keys}, "split_by": "official"} == _signature_defaults(gmd.assign_kits, keys)
    assert render["split_by"] == "session"
    # crossval folds and the robustness suite's threads
    cv = _defaults("crossval")
    assert _signature_defaults(crossval.make_folds, ("n_folds", "n_validation")) == {
        "n_folds": cv["folds"], "n_validation": cv["validation_songs"]}
    assert _signature_defaults(robustness.robustness, ("threads",)) == {"threads": _defaults("robustness")["threads"]}


def test_training_defaults_are_the_schema_defaults_but_workers():
    """training.DEFAULTS has the schema's keys and defaults, except num_workers on purpose: the
    library, called outside the graph, loads in process; the graph's trials use 2 workers."""
    schema = _defaults("training")
    assert set(_properties("training")) == set(training.DEFAULTS)
    assert {k: v for k, v in training.DEFAULTS.items() if schema[k] != v} == {"num_workers": 0}
    assert schema["num_workers"] == 2


def test_default_threshold_of_a_peaks_section():
    assert peaks.default_threshold(None) == peaks.default_threshold({"pre_max": 3}) == DEFAULT_THRESHOLD
    assert peaks.default_threshold({"default_threshold": 0.3}) == 0.3
    for bad in (1.5, "0.5", True):
        with pytest.raises(ConfigError, match="peaks.default_threshold"):
            peaks.default_threshold({"default_threshold": bad})


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(" CPU ")
    assert resolve_device(None).type == resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="--device tpu9: unknown device"):
        resolve_device("tpu9", key="--device")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="training.device cuda: no CUDA GPU"):
            resolve_device("cuda", key="training.device")
