"""The dataset study on data that differs in kind (drumscribe.study_kinds, workflow/rules/study_kinds.smk):
the dry run of its preset, its DAG-build checks, the kinds' training data and the real-song rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from drumscribe import CLASSES, crossval, studies, study_kinds
from drumscribe import config as ds_config
from drumscribe.errors import ConfigError

from conftest import REPO, SHARED
from test_workflow import _dry_run, _job_counts, _loaded_config, _one_line_failure

PRESET = REPO / "config" / "presets" / "dataset_study_kinds.yaml"
MDB_DEV = SHARED / "data" / "mdb_drums_dev" / "MDB Drums"
SONGS = ["MusicDelta_80sRock", "MusicDelta_Beatles", "MusicDelta_Britpop", "MusicDelta_Country1",
         "MusicDelta_Grunge", "MusicDelta_Punk", "MusicDelta_Rockabilly", "MusicDelta_Shadows",
         "MusicDelta_SpeedMetal"]
FOLDS = crossval.make_folds(SONGS, 3, 2)


def _study(**over) -> dict:
    preset = yaml.safe_load(PRESET.read_text())
    return _loaded_config(preset, {"dataset_study": over} if over else {})


# --------------------------------------------------------------------------- planning
def test_dry_run_of_the_kinds_preset_plans_folds_seeds_and_real_columns(tmp_path):
    config = _study()
    proc = _dry_run(tmp_path, "--configfile", str(PRESET), targets=("dataset_study",))
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = _job_counts(proc.stdout)
    study = config["dataset_study"]
    combos = ["+".join(c) for c in study["train_combinations"]]
    kinds = [c for c in combos if study_kinds.has_kind(c)]
    seeds = study["seeds"]
    folds = {c: (3 if "mdb_remix" in c else 1) for c in kinds}  # crossval: 3 test folds of the 9 songs
    assert counts["train_combination"] == seeds * sum(folds.values()) == 3 * (1 + 3 + 1 + 3)
    assert counts["evaluate_combination"] == len(kinds) * len(study["test_datasets"]) * seeds
    assert counts["evaluate_real"] == len(combos) * seeds  # every combination, cached ones too
    cached = [c for c in combos if c not in kinds]
    assert counts["train_seed"] == len(cached) * (seeds - 1)
    assert counts["pool"] == 1 and counts["dataset_study"] == 1


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("over, pool, message", [
    ({"train_combinations": [["gmd_synth", "gmd_synth_pol"]]}, None,
     "dataset_study.train_combinations[0]: unknown dataset 'gmd_synth_pol'"),
    ({"train_combinations": [["mdb_remix"]]}, ["pop909", "rooms"],
     "dataset_study.train_combinations[0]: 'mdb_remix' is not configured: pool.sources"),
    ({"train_combinations": [["gmd_synth"], ["gmd_synth_pool"]]}, ["mdb", "rooms"],
     "dataset_study.train_combinations[1]: 'gmd_synth_pool' is not configured: pool.sources"),
    ({"train_combinations": [["gmd_synth", "mdb_remix"]], "test_datasets": ["gmd_synth", "mdb_drums"]}, None,
     "dataset_study.train_combinations[0]: trained on 'mdb_remix' (the real songs, in folds) and tested on "
     "'mdb_drums', the same songs"),
    ({"train_combinations": [["gmd_synth_pool"]], "test_datasets": ["gmd_synth", "mdb_drums"]}, None,
     "dataset_study.train_combinations[0]: a combination with a mixed kind is tested on the synthetic"),
    ({"real_conditions": ["drums", "lp9k"]}, None, "dataset_study.real_conditions: unknown condition(s) lp9k"),
])
def test_kind_combinations_are_checked_at_dag_build(over, pool, message):
    config = _study(**over)
    if pool is not None:
        config["pool"]["sources"] = pool
    with pytest.raises(ConfigError) as err:
        ds_config.check_config(config)
        study_kinds.check_config(config, FOLDS)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_real_columns_refuse_a_cached_set_of_the_real_songs_and_a_run_without_songs():
    config = _study(train_combinations=[["gmd_synth"], ["mdb_drums_drum_only"]])
    config["evaluation"]["extra_test_datasets"] = ["mdb_drums_drum_only"]
    with pytest.raises(ConfigError, match=r"train_combinations\[1\]: trained on 'mdb_drums_drum_only' and tested "
                                          r"on the real songs \(dataset_study.real_conditions\)"):
        study_kinds.check_config(config, FOLDS)
    with pytest.raises(ConfigError, match="'mdb_remix' is not configured: no song folds"):
        study_kinds.check_config(_study(), [])
    study_kinds.check_config(_study(), FOLDS)  # the preset itself passes


def test_study_seed_count_below_one_is_a_schema_error():
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError) as err:
        _study(seeds=0)
    assert ds_config.schema_error_message(err.value) == "config: dataset_study.seeds: 0 is less than the minimum of 1"


def test_kind_overlap_stops_snakemake_with_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(
        {"dataset_study": {"train_combinations": [["mdb_remix"]], "test_datasets": ["mdb_drums"]}}))
    proc = _dry_run(tmp_path / "work", "--configfile", str(PRESET), str(tmp_path / "bad.yaml"))
    assert _one_line_failure(proc).startswith(
        "drumscribe: dataset_study.train_combinations[0]: trained on 'mdb_remix' (the real songs, in folds)")


# --------------------------------------------------------------------------- names and cells
def test_in_distribution_keeps_its_meaning_for_kinds_and_real_columns():
    assert study_kinds.in_distribution("gmd_synth_pool", "gmd_synth")  # its drums: gmd_synth's train split
    assert not study_kinds.in_distribution("gmd_synth_pool", "gmd_synth_mix")
    assert not study_kinds.in_distribution("gmd_synth_pool", "real_mix_natural")  # never heard a real song
    assert study_kinds.in_distribution("gmd_synth+mdb_remix", "real_lp10k")  # held-out songs of its own data
    assert study_kinds.in_distribution("gmd_synth+mdb_remix", "gmd_synth")
    assert not study_kinds.in_distribution("gmd_synth_mix", "real_drums")
    assert study_kinds.combination_folds("gmd_synth_pool", FOLDS) == ["none"]
    assert study_kinds.combination_folds("gmd_synth_pool+mdb_remix", FOLDS) == ["fold0", "fold1", "fold2"]


def _long(model: str, counts: dict[str, dict[str, tuple]]) -> pd.DataFrame:
    return pd.DataFrame([{"model": model, "song": s, "natural_ratio_db": 10.0, "condition": cond, "class": c,
                          "tp": tp, "fp": fp, "fn": fn}
                         for s, per in counts.items() for cond, (tp, fp, fn) in per.items() for c in CLASSES])


def test_real_rows_enter_the_dataset_table_with_their_songs_as_tracks(tmp_path):
    """Two combinations on three songs in two conditions: the rows' counts, songs as tracks, the
    in-distribution flag and the best mark of the table come out of the study's own code."""
    songs = ["MusicDelta_Punk", "MusicDelta_Grunge", "MusicDelta_Beatles"]
    good = _long("fold models", {s: {"drums": (9, 1, 1), "mix_natural": (8, 2, 2)} for s in songs})
    poor = _long("m.pt", {s: {"drums": (5, 5, 5), "mix_natural": (2, 8, 8)} for s in songs})
    rows = [*study_kinds.real_rows(good, "mdb_remix", "crnn", 0).values(),
            *study_kinds.real_rows(poor, "gmd_synth", "crnn", 0).values()]
    assert [r["test_dataset"] for r in rows] == ["real_drums", "real_mix_natural"] * 2
    assert rows[0]["n_tracks"] == 3 and rows[0]["tp_BD"] == 27 and rows[0]["micro_f1"] == pytest.approx(0.9)
    assert {t["track_id"] for t in rows[0]["per_track"]} == set(songs)
    wide, long, _, cols, tracks = studies.dataset_frames(rows, ["gmd_synth", "mdb_remix"],
                                                         ["real_drums", "real_mix_natural"], n_resamples=100)
    assert cols == ["real_drums", "real_mix_natural"]
    by = long.set_index(["train_dataset", "test_dataset"])
    assert bool(by.loc[("mdb_remix", "real_drums"), "in_distribution"])
    assert not bool(by.loc[("gmd_synth", "real_drums"), "in_distribution"])
    assert bool(by.loc[("gmd_synth", "real_drums"), "best_zero_shot"])  # the only zero-shot cell of the column
    assert by.loc[("mdb_remix", "real_mix_natural"), "micro_f1"] == pytest.approx(0.8)
    assert len(tracks) == 4 * 3
    assert "Real songs: drums alone" in wide.columns
