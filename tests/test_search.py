"""Hyperparameter search: deterministic trial lists, space validation, best-trial pick."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from drumscribe import search
from drumscribe.errors import ConfigError, InputError

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
SPACES = CONFIG["spaces"]


def test_random_trials_are_deterministic_distinct_and_in_space():
    space = SPACES["vit"]
    a = search.sample_trials(space, "random", 8, seed=0)
    b = search.sample_trials(space, "random", 8, seed=0)
    c = search.sample_trials(space, "random", 8, seed=1)
    assert a == b and a != c
    assert len(a) == 8
    assert len({json.dumps(t, sort_keys=True) for t in a}) == 8  # without replacement
    for t in a:
        assert set(t) == set(space)
        assert all(t[k] in space[k] for k in t)
        assert all(type(v) in (int, str) for v in t.values())  # plain Python, JSON-ready
    json.dumps(a)


def test_a_bigger_random_search_keeps_the_trials_of_a_smaller_one():
    # raising search.n_trials must not change (and so rerun) the finished trials
    for arch, space in SPACES.items():
        four = search.sample_trials(space, "random", 4, seed=3)
        eight = search.sample_trials(space, "random", 8, seed=3)
        assert eight[:4] == four, arch
        assert len({json.dumps(t, sort_keys=True) for t in eight}) == 8


def test_random_on_a_small_space_gives_every_combination_once():
    space = {"cell": ["gru", "lstm"], "num_layers": [2, 3], "hidden_size": [72]}
    trials = search.sample_trials(space, "random", 10, seed=0)
    assert len(trials) == 4
    assert sorted((t["cell"], t["num_layers"]) for t in trials) == [("gru", 2), ("gru", 3), ("lstm", 2), ("lstm", 3)]


def test_grid_lists_every_combination_in_a_fixed_order():
    trials = search.sample_trials(SPACES["rnn"], "grid", None, seed=0)
    assert len(trials) == 2 * 5 * 3
    assert trials == search.sample_trials(SPACES["rnn"], "grid", None, seed=99)
    assert len({json.dumps(t, sort_keys=True) for t in trials}) == 30
    assert search.sample_trials(SPACES["rnn"], "grid", 4, seed=0) == trials[:4]


@pytest.mark.parametrize(
    ("space", "method", "n", "needle"),
    [
        ({"cell": ["gru"]}, "bayes", 3, "search.method"),
        ({"cell": ["gru"]}, "random", 0, "n_trials"),
        ({"cell": "gru"}, "random", 3, "non-empty list"),
        ({"cell": []}, "random", 3, "non-empty list"),
        ({}, "grid", None, "non-empty mapping"),
    ],
)
def test_sample_trials_rejects_bad_input(space, method, n, needle):
    with pytest.raises(ConfigError, match=needle):
        search.sample_trials(space, method, n, seed=0)


def test_trial_ids():
    assert [search.trial_id(i) for i in (0, 7, 123)] == ["t000", "t007", "t123"]
    assert search.trial_index("t042") == 42
    with pytest.raises(ConfigError):
        search.trial_id(-1)


def test_default_spaces_are_valid():
    search.validate_config_spaces(CONFIG)
    for arch, space in SPACES.items():
        search.validate_space(arch, space)


@pytest.mark.parametrize(
    ("arch", "space", "needle"),
    [
        ("rnn", {"cell": ["gru", "transformer"]}, r"spaces\.rnn\.cell: 'transformer' is not one of gru, lstm"),
        ("rnn", {"layers": [2]}, r"spaces\.rnn: unknown parameter 'layers'"),
        ("conv_transformer", {"d_model": [72, 144], "num_heads": [2, 5]}, "num_heads 5 does not divide d_model 72"),
        ("cnn", {"num_blocks": [1, 2, 3, 4]}, r"spaces\.cnn\.num_blocks: 4 is above the maximum"),
        ("cnn", {"hidden_size": [72, "big"]}, "not an integer"),
        ("cnn", {"hidden_size": [72, 72]}, "repeated values"),
        ("mamba", {"d_model": [72]}, "architecture 'mamba': unknown"),
    ],
)
def test_validate_space_rejects(arch, space, needle):
    with pytest.raises(ConfigError, match=needle) as info:
        search.validate_space(arch, space)
    assert "\n" not in str(info.value)


def test_validate_config_spaces_rejects():
    bad = copy.deepcopy(CONFIG)
    bad["architectures"] = ["rnn", "lstm_net"]
    with pytest.raises(ConfigError, match="architectures: unknown architecture 'lstm_net'"):
        search.validate_config_spaces(bad)
    bad = copy.deepcopy(CONFIG)
    del bad["spaces"]["vit"]
    with pytest.raises(ConfigError, match=r"spaces\.vit: missing"):
        search.validate_config_spaces(bad)
    bad = copy.deepcopy(CONFIG)
    bad["spaces"]["vit"]["num_heads"] = [2, 7]
    with pytest.raises(ConfigError, match="num_heads 7 does not divide d_model 72"):
        search.validate_config_spaces(bad)
    bad = copy.deepcopy(CONFIG)
    bad["release"]["params"]["hidden"] = 3
    with pytest.raises(ConfigError, match="release.params"):
        search.validate_config_spaces(bad)


def _metrics(tmp_path, trial, f1):
    path = tmp_path / trial / "metrics.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"micro_f1": f1, "macro_f1": f1 / 2, "params": {"hidden_size": 72}}))
    return path


def test_select_best_picks_highest_micro_f1_and_breaks_ties_by_trial(tmp_path):
    paths = [
        _metrics(tmp_path, "t002", 0.81),
        _metrics(tmp_path, "t000", 0.70),
        _metrics(tmp_path, "t003", float("nan")),
        _metrics(tmp_path, "t001", 0.81),
    ]
    best = search.select_best(paths)
    assert best["trial"] == "t001"
    assert best["micro_f1"] == 0.81
    assert best["trial_dir"] == str(tmp_path / "t001")
    assert best["metrics"]["params"] == {"hidden_size": 72}
    assert search.select_best(paths[:2])["trial"] == "t002"
    assert search.select_best([paths[2], paths[1]])["trial"] == "t000"  # NaN ranks last


def test_select_best_rejects_bad_files(tmp_path):
    with pytest.raises(InputError, match="no trial metrics"):
        search.select_best([])
    (tmp_path / "t000").mkdir()
    (tmp_path / "t000" / "metrics.json").write_text('{"macro_f1": 0.5}')
    with pytest.raises(InputError, match=r"t000/metrics\.json: no numeric micro_f1"):
        search.select_best([tmp_path / "t000" / "metrics.json"])
    with pytest.raises(InputError, match="not found"):
        search.select_best([tmp_path / "t009" / "metrics.json"])
