"""The Snakemake graph: planning (dry runs), up-front config errors, and the quick DAG end to end."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from drumscribe import CLASSES, experiment
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

    def merge(base, over):
        for k, v in over.items():
            base[k] = merge(dict(base.get(k) or {}), v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
        return base

    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for over in overlays:
        config = merge(config, over)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return config


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
    assert counts["features"] == len(experiment.used_datasets(config))
    assert counts["render_kit"] == 2 * len(experiment.render_kits(config))
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
    assert counts["release_evaluate"] == len(experiment.release_test_datasets(config))
    arch_study = config["datasets"], config["architectures"], config["search"]["n_trials"]
    new_combos = ["+".join(c) for c in config["dataset_study"]["train_combinations"] if "+".join(c) not in config["datasets"]]
    assert new_combos == ["gmd_synth+gmd_synth_mix"]
    assert counts["train_trial"] == len(arch_study[0]) * len(arch_study[1]) * arch_study[2] + 3 * len(new_combos)
    evals = {(d, a, t) for d in config["datasets"] for a in config["architectures"]
             for t in [d] + config["evaluation"]["extra_test_datasets"]}
    evals |= {("+".join(c), "crnn", t) for c in config["dataset_study"]["train_combinations"]
              for t in config["dataset_study"]["test_datasets"]}
    assert counts["evaluate"] == len(evals)


def test_trials_are_deterministic_and_shared_between_studies():
    config = _loaded_config()
    a = experiment.trials(config, "gmd_synth", "crnn")
    b = experiment.trials(config, "gmd_synth", "crnn")
    assert a == b and list(a) == [f"t{i:03d}" for i in range(8)]
    assert len({json.dumps(p, sort_keys=True) for p in a.values()}) == 8  # distinct points of the space
    capped = experiment.trials(_loaded_config({"dataset_study": {"n_trials": 2}}), "gmd_synth+gmd_synth_mix", "crnn")
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
])
def test_semantic_errors_are_caught_before_any_job(overlay, message):
    with pytest.raises(ConfigError) as err:
        experiment.check_config(_loaded_config(overlay))
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
    msg = experiment.schema_error_message(err.value)
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
    assert table.shape == (len(archs), len(datasets) * (1 + len(extra)) + 1)  # + Mean
    long = pd.read_csv(res / "architecture_long.csv")
    assert len(long) == len(archs) * len(datasets) * (1 + len(extra))
    assert set(long["arch"]) == set(archs)
    assert set(long.loc[long["zero_shot"], "test_dataset"]) == set(extra)
    assert not long.loc[~long["zero_shot"]].query("dataset != test_dataset").shape[0]

    dtable = pd.read_csv(res / "dataset_table.csv", index_col=0)
    combos = config["dataset_study"]["train_combinations"]
    tests = config["dataset_study"]["test_datasets"]
    assert dtable.shape == (len(combos), len(tests))
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
    assert set(summary["dataset"]) == set(experiment.used_datasets(config))
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


# --------------------------------------------------------------------------- experiment glue on a tiny cache

def _tiny_cache(tmp_path: Path, name: str = "mdb_drums") -> Path:
    """A real HDF5 feature cache of 3 short click tracks (one per split) with known onsets."""
    import numpy as np
    import soundfile as sf

    from drumscribe import SAMPLE_RATE, features
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
    return features.build_cache(name, None, tmp_path / f"{name}.h5", progress=False, tracks=tracks)


def test_summary_table_counts_tracks_datapoints_and_onsets(tmp_path):
    h5 = _tiny_cache(tmp_path)
    table = experiment.summary_table([h5], datapoint_frames=400).set_index("split")
    assert list(table.index) == ["train", "validation", "test"]
    assert table["tracks"].tolist() == [1, 1, 1]
    assert table["datapoints"].tolist() == [2, 1, 2]  # 500, 200 and 450 frames in 400-frame datapoints
    assert table.loc["train", ["onsets_BD", "onsets_HH", "onsets_SD"]].tolist() == [3, 1, 0]
    assert table.loc["test", ["onsets_BD", "onsets_CY"]].tolist() == [1, 2]
    assert abs(table.loc["test", "hours"] - 4.5 / 3600) < 1e-4
    experiment.summarize_datasets([h5], tmp_path / "s.csv", tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_model_refuses_a_cache_of_another_feature_config(tmp_path):
    from drumscribe import models
    from drumscribe.errors import InputError

    h5 = _tiny_cache(tmp_path)
    net = models.build("cnn", 84, num_blocks=1, num_fc=1, hidden_size=72)
    meta = {"feature_config": {"kind": "mel", "n_mels": 84}, "norm_mean": [0.0] * 84, "norm_std": [1.0] * 84,
            "thresholds": {c: 0.5 for c in CLASSES}, "peak_params": experiment.peak_params_of(
                yaml.safe_load(DEFAULT_CONFIG.read_text())["peaks"])}
    models.save_checkpoint(tmp_path / "model.pt", net, meta)
    with pytest.raises(InputError, match="feature config"):
        experiment.evaluate_model(tmp_path / "model.pt", [h5], ["test"], tmp_path / "m.json", tmp_path / "pred",
                                  device="cpu")
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "pred").exists()


def test_batched_activations_equal_track_by_track():
    import numpy as np
    import torch

    from drumscribe import models

    torch.manual_seed(0)
    net = models.build("crnn", 84, cell="gru", num_layers=2, hidden_size=72).eval()
    specs = [np.random.default_rng(i).standard_normal((n, 84)).astype(np.float32) for i, n in enumerate((7, 400, 401, 950))]
    batched = experiment.tracks_activations(net, specs, frames=400, batch_size=3)
    for spec, act in zip(specs, batched):
        alone = experiment.track_activations(net, spec, frames=400, batch_size=1)
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
    experiment.check_config(config)
    render = config["render"]
    ids = [k.kit_id for k in kits.all_kits()] if render["kits"] == "all" else render["kits"]
    for kid in ids:
        kits.get_kit(kid)  # ConfigError for an unknown id
    pools = gmd.kit_pools(list(ids), render["kit_split"], kits.families(), strict_families=True)
    assert pools["train"] and pools["validation"] and pools["test"]


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
    experiment.check_paths(config, REPO)  # no error
    with pytest.raises(ConfigError, match=r"^paths\.enst_drums: /no/enst does not exist"):
        experiment.check_paths(_loaded_config({"evaluation": {"extra_test_datasets": ["enst_drums"]},
                                               "paths": {"enst_drums": "/no/enst"}}), REPO)


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
