"""The Snakemake graph: planning (dry runs), up-front config errors, and the quick DAG end to end."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from drumscribe import CLASSES, evaluation, inference, plotting, search, trial as trial_mod
from drumscribe import config as ds_config
from drumscribe.errors import ConfigError

from conftest import REPO, snakemake_cmd

DEFAULT_CONFIG = REPO / "config" / "config.yaml"


def _dry_run(workdir: Path, *args: str, targets: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    # targets first: --configfile takes every following word
    return subprocess.run(snakemake_cmd(*targets, "-n", "--quiet", "rules", "--directory", str(workdir), *args),
                          cwd=REPO, capture_output=True, text=True, timeout=240)


def _job_counts(output: str) -> dict[str, int]:
    """{rule: jobs} from the first 'Job stats' table of a dry run."""
    table = output.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


def _loaded_config(*overlays: dict) -> dict:
    """The default config with overlays applied and the schema's defaults filled, as the Snakefile sees it."""
    from snakemake.utils import validate

    from drumscribe.config import overlay

    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for over in overlays:
        config = overlay(config, over)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def test_load_config_overlays_presets_as_snakemake_does(tmp_path):
    """benchmarks/ read presets with drumscribe.config.load_config: the config the graph sees."""
    import copy

    from snakemake.utils import update_config

    from drumscribe.config import load_config

    presets = [REPO / "config" / "presets" / p for p in
               ("gpu.yaml", "gpu_study.yaml", "dataset_study_kinds.yaml", "dataset_study_kinds_gpu.yaml")]
    expected = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for p in presets:
        update_config(expected, yaml.safe_load(p.read_text()))
    got = load_config(presets, base=DEFAULT_CONFIG)
    assert got == expected
    # nested keys merge (kinds.training of the GPU preset beside the base's kinds keys) ...
    assert got["dataset_study"]["kinds"]["training"]["max_seconds"] == 600
    assert got["dataset_study"]["kinds"]["mixing"]["p_codec"] == 0.0  # dataset_study_kinds.yaml's, kept
    assert "params_from" in got["dataset_study"]["kinds"]
    # ... and the files are not changed by reading
    assert copy.deepcopy(got) == load_config(presets, base=DEFAULT_CONFIG)
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ds_config.ConfigError, match="list.yaml: not a YAML mapping"):
        load_config([bad])
    with pytest.raises(ds_config.ConfigError, match="missing.yaml: not a readable YAML file"):
        load_config([tmp_path / "missing.yaml"])


@pytest.mark.parametrize("preset", sorted(p.name for p in (REPO / "config" / "presets").glob("*.yaml")))
def test_every_preset_is_a_valid_overlay(preset):
    """Each preset, overlaid on the default as `--configfile config/presets/<preset>` does,
    passes the schema and the DAG-build checks (a renamed key in a preset fails here, not on
    the GPU machine)."""
    from drumscribe.config import load_config

    config = load_config([REPO / "config" / "presets" / preset])
    config = _loaded_config(config)
    ds_config.check_config(config)


def test_study_note_says_the_scale_and_marks_smoke_runs():
    note = ds_config.study_note
    search = {"method": "random", "n_trials": 8}
    assert note({"search": search, "training": {"max_epochs": 100, "max_train_datapoints": 2048,
                                                 "max_seconds": 120}}) == \
        "8 trials per search, at most 100 epochs of 2048 datapoints or 120 s"
    assert note({"search": {"method": "grid", "n_trials": 8}, "training": {"max_epochs": 100}}) == \
        "grid per search, at most 100 epochs"
    assert note({"search": {"method": "random", "n_trials": 1}, "training": {"max_epochs": 1}}).startswith(
        "SMOKE RUN (1 trial per search, at most 1 epoch)")
    # the dataset study's named architecture with a one-point space (dataset_study_kinds_gpu.yaml)
    # trains one configuration, not 8 trials; its mixed kinds' own time cap is named
    kinds = {"search": {**search, "seed": 0}, "training": {"max_epochs": 100, "max_seconds": 120},
             "spaces": {"crnn": {"cell": ["gru"], "num_layers": [2]}, "cnn": {"num_blocks": [2, 3]}},
             "dataset_study": {"kinds": {"training": {"max_seconds": 600}}}}
    assert note(kinds, "crnn") == "one configuration, at most 100 epochs or 120 s (mixed kinds 600 s)"
    assert note(kinds, "cnn") == "8 trials per search, at most 100 epochs or 120 s (mixed kinds 600 s)"
    assert note(kinds) == "8 trials per search, at most 100 epochs or 120 s"


def test_crossval_params_of_a_switched_architecture(tmp_path):
    """A preset that switches crossval.architecture (crossval_gpu_cnn.yaml) leaves the base's CRNN
    keys beside its own after the overlay: the graph passes only the CNN's; a key of no
    architecture or a bad value is a one-line error at DAG build."""
    from drumscribe.config import arch_params, load_config

    presets = [REPO / "config" / "presets" / p for p in
               ("gpu.yaml", "release_gpu.yaml", "crossval_gpu.yaml", "crossval_gpu_cnn.yaml")]
    cv = load_config(presets, base=DEFAULT_CONFIG)["crossval"]
    assert {"cell", "num_layers"} <= set(cv["params"])  # the base's CRNN keys, merged in
    got = arch_params(cv["architecture"], cv["params"], "crossval.params")
    assert got == {"num_blocks": 3, "num_fc": 2, "hidden_size": 144, "context": 9, "dropout": 0.1}
    # the preset's start checkpoint is that CNN: crossval.load_init accepts it for a fold
    from drumscribe import crossval

    fold = crossval.make_folds(sorted(cv["songs"]), cv["folds"], cv["validation_songs"])[0]
    state, mean, std = crossval.load_init(cv["init_from"], "cnn", got, fold)
    assert state and mean is not None
    # the CRNN's own keys pass unchanged
    assert arch_params("crnn", {"cell": "gru", "num_layers": 2, "hidden_size": 144}, "crossval.params") == \
        {"cell": "gru", "num_layers": 2, "hidden_size": 144}
    with pytest.raises(ds_config.ConfigError, match=r"crossval.params: 'num_layer' is no parameter of any architecture"):
        ds_config.check_config(_loaded_config({"crossval": {"params": {"num_layer": 2}}}))
    with pytest.raises(ds_config.ConfigError, match=r"crossval.params: spaces.crnn.cell"):
        ds_config.check_config(_loaded_config({"crossval": {"params": {"cell": "xyz"}}}))


# --------------------------------------------------------------------------- planning

def test_dry_run_default_config_lists_every_trial_and_study_job(tmp_path):
    config = _loaded_config()
    proc = _dry_run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout)
    n_datasets, n_archs = len(config["datasets"]), len(config["architectures"])
    n_trials = config["search"]["n_trials"]
    extra = [d for d in config["evaluation"]["extra_test_datasets"] if d not in config["datasets"]]
    assert counts["train_trial"] == n_datasets * n_archs * n_trials
    assert counts["select_best"] == n_datasets * n_archs
    assert counts["training_curves"] == n_datasets * n_archs
    assert counts["evaluate"] == n_datasets * n_archs * (1 + len(extra))
    assert counts["architecture_study"] == 1 and counts["dataset_study"] == 1
    assert counts["features"] == len(ds_config.used_datasets(config))
    assert counts["render_kit"] == 2 * len(ds_config.render_kits(config))
    assert counts["dataset_summary"] == 1


def test_dry_run_named_study_architecture_adds_the_combination_search(tmp_path):
    """With dataset_study.architecture named, the dataset study's jobs are known before any run:
    single-dataset combinations reuse the architecture study's trials, a+b gets its own search.
    The `release` target adds one training, one test per test set and the model card."""
    overlay = {"dataset_study": {"architecture": "crnn", "n_trials": 3}}
    (tmp_path / "over.yaml").write_text(yaml.safe_dump(overlay))
    config = _loaded_config(overlay)
    proc = _dry_run(tmp_path / "work", "--configfile", str(tmp_path / "over.yaml"), targets=("all", "release"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout)
    assert counts["release_train"] == 1 and counts["release_card"] == 1
    assert counts["release_evaluate"] == len(ds_config.release_test_datasets(config))
    arch_study = config["datasets"], config["architectures"], config["search"]["n_trials"]
    new_combos = ["+".join(c) for c in config["dataset_study"]["train_combinations"] if "+".join(c) not in config["datasets"]]
    assert new_combos == ["gmd_synth+gmd_synth_mix"]
    assert counts["train_trial"] == len(arch_study[0]) * len(arch_study[1]) * arch_study[2] + 3 * len(new_combos)
    evals = {(d, a, t) for d in config["datasets"] for a in config["architectures"]
             for t in [d] + config["evaluation"]["extra_test_datasets"]}
    evals |= {("+".join(c), "crnn", t) for c in config["dataset_study"]["train_combinations"]
              for t in config["dataset_study"]["test_datasets"]}
    assert counts["evaluate"] == len(evals)


def test_dry_run_thesis_preset_lists_every_trial_seed_run_and_evaluation(tmp_path):
    """The thesis preset plans its searches, the seed runs of every winner and their tests
    (raw datasets absent here: their downloads are planned too)."""
    preset = yaml.safe_load((REPO / "config/presets/thesis.yaml").read_text())
    config = _loaded_config(preset)
    proc = _dry_run(tmp_path, "--configfile", str(REPO / "config/presets/thesis.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout)
    searches = len(config["datasets"]) * len(config["architectures"])
    extra_seeds = config["evaluation"]["seeds"] - 1
    tests_per_search = 1 + len(config["evaluation"]["extra_test_datasets"])
    assert extra_seeds == 2
    assert counts["train_trial"] == searches * config["search"]["n_trials"]
    assert counts["select_best"] == counts["training_curves"] == searches
    assert counts["train_seed"] == searches * extra_seeds
    assert counts["evaluate"] == searches * tests_per_search
    assert counts["evaluate_seed"] == searches * tests_per_search * extra_seeds
    assert counts["features"] == len(ds_config.used_datasets(config))
    assert counts["architecture_study"] == counts["dataset_study"] == 1
    assert "render_kit" not in counts


def test_dry_run_quick_preset_with_one_seed_has_no_seed_jobs_and_with_two_one_per_search(tmp_path):
    quick = REPO / "config/presets/quick.yaml"
    proc = _dry_run(tmp_path / "a", "--configfile", str(quick))
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout)
    assert "train_seed" not in counts and "evaluate_seed" not in counts
    (tmp_path / "two.yaml").write_text(yaml.safe_dump({"evaluation": {"seeds": 2}}))
    proc = _dry_run(tmp_path / "b", "--configfile", str(quick), str(tmp_path / "two.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = _job_counts(proc.stdout)
    assert two["train_seed"] == counts["select_best"]  # one seed run of each search's winner
    assert two["evaluate_seed"] == counts["evaluate"]  # tested on the same test sets


def test_trials_are_deterministic_and_shared_between_studies():
    config = _loaded_config()
    a = ds_config.trials(config, "gmd_synth", "crnn")
    b = ds_config.trials(config, "gmd_synth", "crnn")
    assert a == b and list(a) == [f"t{i:03d}" for i in range(8)]
    assert len({json.dumps(p, sort_keys=True) for p in a.values()}) == 8  # distinct points of the space
    capped = ds_config.trials(_loaded_config({"dataset_study": {"n_trials": 2}}), "gmd_synth+gmd_synth_mix", "crnn")
    assert capped == dict(list(a.items())[:2])


# --------------------------------------------------------------------------- config errors

@pytest.mark.parametrize("overlay, message", [
    ({"architectures": ["rnn", "transformerz"]}, "architectures[1]: unknown architecture 'transformerz'"),
    ({"datasets": ["gmd_synth", "nosuchset"]}, "datasets[1]: unknown dataset 'nosuchset'"),
    ({"dataset_study": {"train_combinations": [["gmd_synth", "egmd"]]}},
     "dataset_study.train_combinations[0]: dataset 'egmd' is not configured"),
    ({"spaces": {"rnn": {"cell": ["gru", "tcn"]}}}, "spaces.rnn.cell"),
    ({"spaces": {"cnn": {"widgets": [3]}}}, "spaces.cnn"),
    ({"dataset_study": {"architecture": "vit2"}}, "dataset_study.architecture"),
    ({"render": {"kits": ["no_such_kit"]}}, "render.kits"),
    # a combination tested on the songs it is trained on
    ({"datasets": ["gmd_synth"], "evaluation": {"extra_test_datasets": ["sadtp"],
                                                "test_splits": {"sadtp": ["train", "validation", "test"]}},
      "dataset_study": {"train_combinations": [["gmd_synth", "sadtp"]], "test_datasets": ["sadtp"]}},
     "dataset_study.train_combinations[0]: trained on 'sadtp' and tested on 'sadtp', the same songs"),
    ({"datasets": ["mdb_drums"], "evaluation": {"extra_test_datasets": ["mdb_drums_drum_only"],
                                                "test_splits": {"mdb_drums_drum_only": ["train", "test"]}},
      "dataset_study": {"train_combinations": [["mdb_drums"]], "test_datasets": ["mdb_drums"]}},
     "datasets[0]: trained on 'mdb_drums' and tested on 'mdb_drums_drum_only', the same songs"),
])
def test_semantic_errors_are_caught_before_any_job(overlay, message):
    with pytest.raises(ConfigError) as err:
        ds_config.check_config(_loaded_config(overlay))
    text = str(err.value)
    assert message in text and "\n" not in text


def _one_line_failure(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("drumscribe:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_schema_violation_exits_with_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"search": {"n_trials": 0}, "training": {"device": "tpu"}}))
    proc = _dry_run(tmp_path / "work", "--configfile", str(tmp_path / "bad.yaml"))
    line = _one_line_failure(proc)
    assert line.startswith("drumscribe: config: ")
    assert ("search.n_trials" in line) or ("training.device" in line)
    assert not (tmp_path / "work" / "results").exists()


@pytest.mark.parametrize("overlay, key", [
    ({"evaluation": {"seeds": 0}}, "evaluation.seeds: 0 is less than the minimum of 1"),
    ({"evaluation": {"bootstrap_samples": 50}}, "evaluation.bootstrap_samples: 50 is less than the minimum of 100"),
])
def test_seed_and_bootstrap_counts_are_checked_at_dag_build(tmp_path, overlay, key):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(overlay))
    proc = _dry_run(tmp_path / "work", "--configfile", str(tmp_path / "bad.yaml"))
    assert _one_line_failure(proc) == f"drumscribe: config: {key}"


def test_study_tested_on_its_training_songs_exits_with_one_line(tmp_path):
    overlay = {"evaluation": {"test_splits": {"mdb_drums": ["train", "validation", "test"]}},
               "dataset_study": {"train_combinations": [["gmd_synth"], ["mdb_drums"]]}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(overlay))
    proc = _dry_run(tmp_path / "work", "--configfile", str(tmp_path / "bad.yaml"))
    line = _one_line_failure(proc)
    assert line.startswith("drumscribe: dataset_study.train_combinations[1]: trained on 'mdb_drums' and tested on "
                           "'mdb_drums', the same songs")


def test_song_overlap_allows_held_out_splits_of_the_same_songs():
    """Training on MDB's train split and testing on the test split of its mixes or drum stems is no overlap
    (one split of the songs); testing a split it trains on, or another split of the songs, is."""
    base = {"datasets": ["mdb_drums"], "evaluation": {"extra_test_datasets": ["mdb_drums_drum_only"]},
            "dataset_study": {"train_combinations": [["mdb_drums"]], "test_datasets": ["mdb_drums_drum_only"]}}
    ds_config.check_song_overlap(_loaded_config(base))
    import dataclasses

    from drumscribe import datasets

    remix = dataclasses.replace(datasets.get("egmd"), songs="mdb_drums")  # egmd posing as MDB songs in folds
    original = datasets.get
    try:
        datasets.get = lambda name: remix if name == "egmd" else original(name)
        with pytest.raises(ConfigError, match="the songs of 'mdb_drums', split another way"):
            ds_config.check_song_overlap(_loaded_config({**base, "dataset_study": {
                "train_combinations": [["egmd"]], "test_datasets": ["mdb_drums"]}, "evaluation": {
                "extra_test_datasets": ["mdb_drums_drum_only", "egmd"]}}))
    finally:
        datasets.get = original


def test_semantic_error_exits_with_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"architectures": ["rnn", "lstm_plus"]}))
    proc = _dry_run(tmp_path / "work", "--configfile", str(tmp_path / "bad.yaml"))
    line = _one_line_failure(proc)
    assert line == "drumscribe: architectures[1]: unknown architecture 'lstm_plus' (known: rnn, cnn, crnn, conv_transformer, vit)"


def test_schema_error_message_names_the_key():
    import jsonschema
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["peaks"]["threshold_grid"] = [0.2, 1.5]
    with pytest.raises(WorkflowError) as err:
        validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    msg = ds_config.schema_error_message(err.value)
    assert msg == "config: peaks.threshold_grid.1: 1.5 is greater than the maximum of 1"
    assert isinstance(jsonschema.ValidationError("x"), Exception)


def test_every_schema_key_has_a_description_and_a_default():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    missing = []

    def walk(node, path):
        for key, sub in (node.get("properties") or {}).items():
            if "description" not in sub:
                missing.append(f"{path}{key}: description")
            if "default" not in sub:
                missing.append(f"{path}{key}: default")
            walk(sub, f"{path}{key}.")

    walk(schema, "")
    assert not missing, missing
    readme = (REPO / "config" / "README.md").read_text()
    undocumented = [k for k in schema["properties"] if f"`{k}" not in readme]
    assert not undocumented, f"config/README.md does not explain {undocumented}"


# --------------------------------------------------------------------------- the quick DAG

@pytest.mark.slow
def test_quick_dag_builds_both_tables_and_plots(quick_dag_results):
    import pandas as pd

    res = quick_dag_results
    config = _loaded_config(yaml.safe_load((REPO / "config/presets/quick.yaml").read_text()))
    archs, datasets = config["architectures"], config["datasets"]
    extra = config["evaluation"]["extra_test_datasets"]

    table = pd.read_csv(res / "architecture_table.csv", index_col=0)
    n_seeds = config["evaluation"]["seeds"]
    per_cell = 3 + (n_seeds > 1)  # value, _lo, _hi (and _sd over seeds)
    assert table.shape == (len(archs), per_cell * len(datasets) * (1 + len(extra)) + 1)  # + Mean (in-distribution)
    long = pd.read_csv(res / "architecture_long.csv")
    assert len(long) == len(archs) * len(datasets) * (1 + len(extra))
    assert set(long["arch"]) == set(archs)
    assert set(long.loc[long["zero_shot"], "test_dataset"]) == set(extra)
    assert not long.loc[~long["zero_shot"]].query("dataset != test_dataset").shape[0]

    dtable = pd.read_csv(res / "dataset_table.csv", index_col=0)
    combos = config["dataset_study"]["train_combinations"]
    tests = config["dataset_study"]["test_datasets"]
    assert dtable.shape == (len(combos), per_cell * len(tests))
    tracks = pd.read_csv(res / "architecture_tracks.csv")
    assert len(tracks) == long["n_tracks"].sum() * n_seeds  # every seed's and track's counts
    dlong = pd.read_csv(res / "dataset_long.csv")
    assert dlong["arch"].nunique() == 1 and dlong["arch"].iloc[0] in archs

    for frame in (table, dtable, long[["micro_f1", "macro_f1"]], dlong[["micro_f1"]]):
        values = frame.to_numpy(dtype=float).ravel()
        assert all(0.0 <= v <= 1.0 for v in values if not math.isnan(v))
        assert not any(math.isnan(v) for v in frame.to_numpy(dtype=float)[:, :1].ravel())

    for png in ["architecture_study", "dataset_study", "class_balance", "mdb_drums_example"]:
        path = res / "plots" / f"{png}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    for d in datasets:
        for a in archs:
            assert (res / "plots" / "curves" / f"{d}_{a}.png").is_file()

    summary = pd.read_csv(res / "datasets" / "summary.csv")
    assert set(summary["dataset"]) == set(ds_config.used_datasets(config))
    assert {f"onsets_{c}" for c in CLASSES} <= set(summary.columns)
    assert (summary.query("dataset == 'gmd_synth'")["tracks"] > 0).all()


@pytest.mark.slow
def test_quick_dag_thresholds_come_from_validation_and_predictions_are_kept(quick_dag_results):
    res = quick_dag_results
    best = json.loads((res / "search" / "gmd_synth" / "crnn" / "best.json").read_text())
    trial = json.loads((Path(best["metrics_path"]) if Path(best["metrics_path"]).is_absolute()
                        else res.parent / best["metrics_path"]).read_text())
    assert set(trial["thresholds"]) == set(CLASSES)
    assert 0.0 <= trial["micro_f1"] <= 1.0
    ev = json.loads((res / "eval" / "gmd_synth" / "crnn" / "gmd_synth" / "metrics.json").read_text())
    assert ev["thresholds"] == trial["thresholds"]  # the test used the validation-tuned thresholds
    assert ev["splits"] == ["test"] and ev["zero_shot"] is False
    preds = sorted((res / "eval" / "gmd_synth" / "crnn" / "gmd_synth" / "predictions").glob("*.json"))
    assert len(preds) == ev["n_tracks"] > 0
    one = json.loads(preds[0].read_text())
    assert set(one["onsets"]) == set(CLASSES)
    mdb = json.loads((res / "eval" / "gmd_synth" / "crnn" / "mdb_drums" / "metrics.json").read_text())
    assert mdb["zero_shot"] is True and mdb["n_tracks"] == 9


# --------------------------------------------------------------------------- the stages on a tiny cache

def _tiny_cache(tmp_path: Path, name: str = "mdb_drums") -> Path:
    """A real HDF5 feature cache of 3 short click tracks (one per split) with known onsets."""
    import numpy as np
    import soundfile as sf

    from drumscribe import SAMPLE_RATE, cache
    from drumscribe.datasets import Track
    from drumscribe.labels import empty_onsets

    tracks = []
    for split, seconds, hits in (("train", 5.0, {"BD": [0.5, 1.5, 2.5], "HH": [1.0]}),
                                 ("validation", 2.0, {"SD": [0.5]}),
                                 ("test", 4.5, {"BD": [1.0], "CY": [2.0, 3.0]})):
        y = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
        onsets = empty_onsets()
        for cls, times in hits.items():
            onsets[cls] = np.asarray(times)
            for t in times:
                i = int(t * SAMPLE_RATE)
                y[i:i + 400] += np.hanning(400).astype(np.float32) * 0.5
        path = tmp_path / f"{split}.wav"
        sf.write(path, y, SAMPLE_RATE)
        tracks.append(Track(track_id=f"t_{split}", split=split, group=split, audio=(path,),
                            load_onsets=lambda o=onsets: o))
    return cache.build_cache(tracks, tmp_path / f"{name}.h5", name=name, progress=False)


def test_summary_table_counts_tracks_datapoints_and_onsets(tmp_path):
    h5 = _tiny_cache(tmp_path)
    table = plotting.summary_table([h5], datapoint_frames=400).set_index("split")
    assert list(table.index) == ["train", "validation", "test"]
    assert table["tracks"].tolist() == [1, 1, 1]
    assert table["datapoints"].tolist() == [2, 1, 2]  # 500, 200 and 450 frames in 400-frame datapoints
    assert table.loc["train", ["onsets_BD", "onsets_HH", "onsets_SD"]].tolist() == [3, 1, 0]
    assert table.loc["test", ["onsets_BD", "onsets_CY"]].tolist() == [1, 2]
    assert abs(table.loc["test", "hours"] - 4.5 / 3600) < 1e-4
    plotting.dataset_summary([h5], tmp_path / "s.csv", tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_model_refuses_a_cache_of_another_feature_config(tmp_path):
    from drumscribe import models
    from drumscribe.errors import InputError

    h5 = _tiny_cache(tmp_path)
    net = models.build("cnn", 84, num_blocks=1, num_fc=1, hidden_size=72)
    meta = {"feature_config": {"kind": "mel", "n_mels": 84}, "norm_mean": [0.0] * 84, "norm_std": [1.0] * 84,
            "thresholds": {c: 0.5 for c in CLASSES}, "peak_params": ds_config.peak_params_of(
                yaml.safe_load(DEFAULT_CONFIG.read_text())["peaks"])}
    models.save_checkpoint(tmp_path / "model.pt", net, meta)
    with pytest.raises(InputError, match="feature config"):
        evaluation.evaluate(tmp_path / "model.pt", [h5], ["test"], tmp_path / "m.json", tmp_path / "pred",
                                  device="cpu")
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "pred").exists()


def test_batched_activations_equal_track_by_track():
    import numpy as np
    import torch

    from drumscribe import models

    torch.manual_seed(0)
    net = models.build("crnn", 84, cell="gru", num_layers=2, hidden_size=72).eval()
    specs = [np.random.default_rng(i).standard_normal((n, 84)).astype(np.float32) for i, n in enumerate((7, 400, 401, 950))]
    batched = inference.batch_activations(net, specs, chunk_frames=400, batch_size=3)
    for spec, act in zip(specs, batched):
        alone = inference.activations(net, spec, chunk_frames=400, batch_size=1)
        assert act.shape == (len(spec), 5)
        np.testing.assert_allclose(act, alone, atol=1e-5)
        assert ((act >= 0) & (act <= 1)).all()


@pytest.mark.parametrize("presets", [["quick"], ["thesis"], ["gpu"], ["release"], ["gpu", "release_gpu"]],
                         ids=lambda p: "+".join(p))
def test_presets_pass_the_checks_and_keep_kit_families_in_one_pool(presets):
    """Every preset (and release_gpu over gpu, as documented) passes the schema and the config checks,
    names known kits, and keeps kit families (kits sharing samples) out of two pools."""
    from drumscribe.synth import gmd, kits

    config = _loaded_config(*[yaml.safe_load((REPO / f"config/presets/{p}.yaml").read_text()) for p in presets])
    ds_config.check_config(config)
    render = config["render"]
    ids = kits.resolve_kits("all") if render["kits"] == "all" else render["kits"]
    for kid in ids:
        kits.get_kit(kid)  # ConfigError for an unknown id
    pools = gmd.kit_pools(list(ids), render["kit_split"], kits.families(), strict_families=True)
    assert pools["train"] and pools["validation"] and pools["test"]


def test_seed_run_retrains_the_winner_and_the_table_pools_it(tmp_path):
    """run_trial (the search's trial, seed 0) -> select_best -> run_seed (seed 1, training.seed + 1) ->
    evaluate_model of both -> one architecture-table cell of two seeds, on the same tracks."""
    from drumscribe import studies

    h5 = _tiny_cache(tmp_path)
    config = _loaded_config({"training": {"max_epochs": 1, "batch_size": 2, "num_workers": 0, "device": "cpu"}})
    parts = {k: config[k] for k in ("training", "targets", "peaks", "evaluation")}
    params = {"num_blocks": 1, "num_fc": 1, "hidden_size": 72}
    trial = tmp_path / "trials" / "t000"
    trial_mod.train_trial("cnn", params, [h5], trial / "model.pt", trial / "history.csv", trial / "metrics.json",
                         **parts, threads=1, progress=False)
    search.select_best([trial / "metrics.json"], tmp_path / "best.json")
    seed = tmp_path / "seeds" / "s1"
    result = trial_mod.train_seed(tmp_path / "best.json", 1, [h5], seed / "model.pt", seed / "history.csv",
                                 seed / "metrics.json", **parts, threads=1, progress=False)
    assert result["seed"] == 1 and result["trial"] == "t000" and result["params"]["hidden_size"] == 72
    from drumscribe import models

    (net0, meta0), (net1, meta1) = (models.load_checkpoint(p / "model.pt") for p in (trial, seed))
    assert (meta0["seed"], meta1["seed"]) == (0, 1) and meta1["params"] == meta0["params"]
    # trained on a levelled cache, the checkpoint says so: transcription levels its input the same way
    from drumscribe.audio import INPUT_LEVEL_DB

    assert meta0["input_level_db"] == meta1["input_level_db"] == INPUT_LEVEL_DB
    w0, w1 = (next(iter(n.state_dict().values())) for n in (net0, net1))
    assert not (w0 == w1).all()  # another seed: other weights
    evals = []
    for i, model in enumerate((trial / "model.pt", seed / "model.pt")):
        out = tmp_path / "eval" / str(i)
        evals.append(evaluation.evaluate(model, [h5], ["test"], out / "metrics.json", out / "predictions",
                                               device="cpu"))
    assert [e["seed"] for e in evals] == [0, 1] and [e["trial"] for e in evals] == ["t000", "t000"]
    assert all(e["per_track"] and "tp_BD" in e["per_track"][0] for e in evals)
    _, long = studies.architecture_table([tmp_path / "eval" / str(i) / "metrics.json" for i in range(2)],
                                         tmp_path / "t.csv", tmp_path / "l.csv", tmp_path / "p.png",
                                         out_tracks_csv=tmp_path / "tracks.csv", n_resamples=100)
    assert long["n_seeds"].tolist() == [2] and long["seeds"].tolist() == ["0 1"]
    with pytest.raises(ConfigError, match="seed 0 is the search trial"):
        trial_mod.train_seed(tmp_path / "best.json", 0, [h5], seed / "model.pt", seed / "history.csv",
                            seed / "metrics.json", **parts)


def test_missing_configured_dataset_path_stops_at_dag_build(tmp_path):
    """A mistyped paths.<key> is one line naming key and path (no planned download)."""
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"paths": {"gmd": "/nonexistent/groove"}}))
    proc = _dry_run(tmp_path / "work", "--configfile", str(tmp_path / "bad.yaml"))
    line = _one_line_failure(proc)
    assert line.startswith("drumscribe: paths.gmd: /nonexistent/groove does not exist"), line


def test_dataset_path_under_resources_is_downloaded():
    """paths.<key> under resources/ that is not there yet: the download rule fills it."""
    config = _loaded_config({"evaluation": {"extra_test_datasets": ["enst_drums"]}})
    assert config["paths"]["enst_drums"] == "resources/enst_drums"
    ds_config.check_paths(config, REPO, download_dir="resources")  # no error
    with pytest.raises(ConfigError, match=r"^paths\.enst_drums: /no/enst does not exist"):
        ds_config.check_paths(_loaded_config({"evaluation": {"extra_test_datasets": ["enst_drums"]},
                                               "paths": {"enst_drums": "/no/enst"}}), REPO,
                                download_dir="resources")


def test_runtime_and_diagnostic_keys_replan_no_job(quick_dag_results, tmp_path):
    """A rule's params hold only what its outputs depend on: after the quick run, changing
    peaks.default_threshold or how training runs (device, workers, preload) plans no job
    again; a value the trials use (peaks.pre_max) replans them."""
    work = quick_dag_results.parent
    quick = str(REPO / "config" / "presets" / "quick.yaml")
    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump({"peaks": {"default_threshold": 0.3},
                                    "training": {"num_workers": 1, "device": "cpu", "preload": False}}))
    proc = _dry_run(work, "--configfile", quick, str(over))
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout) if "Job stats:" in proc.stdout else {}
    assert counts == {}, counts
    over.write_text(yaml.safe_dump({"peaks": {"pre_max": 3}}))
    proc = _dry_run(work, "--configfile", quick, str(over))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _job_counts(proc.stdout).get("train_trial", 0) > 0


def test_quick_dag_job_logs_are_not_empty(quick_dag_results):
    """Every job writes its log: started/ended lines, progress of long stages, one line per epoch."""
    logs = sorted((quick_dag_results.parent / "logs").rglob("*.log"))
    assert logs and all(p.stat().st_size > 0 for p in logs), [str(p) for p in logs if not p.stat().st_size]
    trial = next(p for p in logs if p.parts[-4] == "train_trial").read_text()
    assert "train_trial (" in trial and "started" in trial and "ended after" in trial
    assert "epoch 1/" in trial and "val micro F1" in trial
    features = next(p for p in logs if p.parent.name == "features").read_text()
    assert re.search(r"features \w+: (\d+)/\1 tracks \(100%\)", features)


def test_corrupt_cache_fails_once_then_the_rerun_rebuilds_it(quick_dag_results, tmp_path):
    """A truncated feature cache: the consumer stops with one line naming the file and sets
    it aside; the same command run again rebuilds the cache and finishes."""
    import shutil

    work = tmp_path / "work"
    shutil.copytree(quick_dag_results.parent, work, symlinks=True, ignore=shutil.ignore_patterns("benchmarks"))
    cache = work / "results" / "features" / "gmd_synth.h5"
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) // 2])
    cmd = snakemake_cmd("--cores", "2", "--configfile", str(REPO / "config" / "presets" / "quick.yaml"),
                        "--directory", str(work), "results/datasets/summary.csv")
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert first.returncode != 0
    log = (work / "logs" / "dataset_summary" / "summary.log").read_text()
    line = [l for l in log.splitlines() if "gmd_synth.h5" in l]
    assert line and "corrupt or truncated HDF5 feature cache" in line[-1] and "Traceback" not in log, log
    assert not cache.exists() and cache.with_name("gmd_synth.h5.corrupt").exists()
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert cache.is_file() and len(cache.read_bytes()) == len(data)


@pytest.mark.parametrize("overlay, words", [
    ({"mixing": {"cutoff_hz": [4000.0, 30000.0]}}, "drumscribe: mixing.cutoff_hz: 30000.0 Hz is not below Nyquist"),
    ({"mixing": {"level_db": [12.0, -6.0]}}, "drumscribe: mixing.level_db: low end 12.0 is above high end -6.0"),
    ({"mixing": {"codecs": ["mp3", "aac"]}}, "drumscribe: mixing.codecs: ['mp3', 'aac'] names an unknown codec"),
    ({"crossval": {"folds": 9}}, "drumscribe: crossval: 9 songs are too few for 9 folds"),
    ({"mixing": {"p_pseudo": 0.3}}, "drumscribe: mixing.p_pseudo: > 0 but crossval.pseudo_teacher is null"),
    ({"mixing": {"p_pseudo": 0.3}, "crossval": {"pseudo_teacher": {"fold0": "a.pt"}}},
     "drumscribe: crossval.pseudo_teacher: no checkpoint for fold(s) fold1, fold2, release"),
])
def test_mixing_and_fold_config_checked_at_dag_build(tmp_path, overlay, words):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(overlay))
    proc = _dry_run(tmp_path / "work", "--configfile", str(tmp_path / "bad.yaml"))
    assert _one_line_failure(proc).startswith(words)
    assert not (tmp_path / "work" / "results").exists()


def test_crossval_dry_run_plans_one_job_per_fold_and_the_cv_suite_uses_the_right_fold_models(tmp_path):
    from drumscribe import crossval, robustness

    proc = _dry_run(tmp_path / "work", "--configfile", str(REPO / "config" / "presets" / "quick.yaml"),
                    targets=("crossval",))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _job_counts(proc.stdout)["train_fold"] == 4
    # the committed cv mapping is the folds' own: every song by the model of the fold that tests on it
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    songs = robustness.mdb_tracks(REPO.parent / "shared" / "data" / "mdb_drums_dev" / "MDB Drums")
    folds = crossval.make_folds(songs, config["crossval"]["folds"], config["crossval"]["validation_songs"])
    for name, folder in (("cv", "release6-2026-12-02"), ("cv_release5", "release5-2026-12-02"),
                         ("cv_heavier_chain", "heavier-chain-2026-12-02"),
                         ("cv_release4", "release4-2026-12-01"), ("cv_louder_mix", "louder-mix-2026-12-03"),
                         ("cv_release7_candidate", "release7-candidate-2026-12-03"),
                         ("cv_pseudo", "pseudo-2026-12-07"), ("cv_pseudo_off", "pseudo-off-2026-12-07"),
                         ("cv_soup_r6_pseudo", "soup-r6-pseudo-2026-12-08")):
        expected = crossval.test_models(folds, {f.name: f"docs/results/{folder}/models/{f.name}.pt" for f in folds})
        assert config["robustness"]["models"][name] == expected


def test_crossval_with_bands_plans_one_teacher_labelling_per_fold_and_none_without(tmp_path):
    overlay = tmp_path / "bands.yaml"
    overlay.write_text(yaml.safe_dump({"crossval": {"pseudo_teacher": "package"}, "mixing": {"p_pseudo": 0.3}}))
    quick = str(REPO / "config" / "presets" / "quick.yaml")
    proc = _dry_run(tmp_path / "work", "--configfile", quick, str(overlay), targets=("crossval",))
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = _job_counts(proc.stdout)
    assert counts["pseudo_labels"] == 4 and counts["train_fold"] == 4
    off = _dry_run(tmp_path / "work2", "--configfile", quick, targets=("crossval",))
    assert "pseudo_labels" not in _job_counts(off.stdout)
