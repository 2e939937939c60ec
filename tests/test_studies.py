"""Tables and plots of the architecture and dataset studies."""

import json

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from drumscribe import CLASSES
from drumscribe.errors import InputError
from drumscribe.studies import architecture_table, best_architecture, dataset_table

ARCHS = ["rnn", "cnn", "crnn", "conv_transformer", "vit"]
# test micro F1 per dataset (gmd_synth, gmd_synth_mix) and zero-shot on mdb_drums from gmd_synth
F1 = {"rnn": (0.80, 0.70, 0.50), "cnn": (0.75, 0.72, 0.55), "crnn": (0.85, 0.71, 0.60),
      "conv_transformer": (0.82, 0.73, 0.52), "vit": (0.60, 0.65, 0.40)}


def _row(dataset, test, arch, f1, zero_shot):
    return {"train_dataset": dataset, "test_dataset": test, "arch": arch, "trial": f"{arch}-3",
            "params": {"hidden_size": 144}, "zero_shot": zero_shot, "n_tracks": 7,
            "micro_f1": f1, "macro_f1": f1 - 0.1, "micro_precision": f1, "micro_recall": f1,
            **{f"f1_{c}": round(f1 - 0.01 * i, 4) for i, c in enumerate(CLASSES)}}


def _assert_png(path, min_kb=15):
    assert path.is_file() and path.stat().st_size > min_kb * 1024
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500
    rgb = img[..., :3].reshape(-1, 3)
    assert len(np.unique((rgb * 255).astype(np.uint8), axis=0)) > 50  # not a blank canvas
    assert not list(path.parent.glob(f".{path.name}.*"))  # no temporaries left


def test_architecture_table_shapes_values_and_plot(tmp_path):
    paths = []
    for arch, (a, b, z) in F1.items():
        for ds, test, f1, zs in (("gmd_synth", "gmd_synth", a, False), ("gmd_synth_mix", "gmd_synth_mix", b, False),
                                 ("gmd_synth", "mdb_drums", z, True)):
            p = tmp_path / "eval" / ds / arch / test / "metrics.json"
            p.parent.mkdir(parents=True)
            p.write_text(json.dumps(_row(ds, test, arch, f1, zs)))
            paths.append(p)
    out = tmp_path / "results"
    wide, long = architecture_table(paths[::-1], out / "architecture_table.csv", out / "architecture_long.csv",
                                    out / "plots" / "architecture_study.png", datasets=["gmd_synth", "gmd_synth_mix"])
    table = pd.read_csv(out / "architecture_table.csv", index_col=0)
    assert list(table.index) == ["Recurrent", "Convolutional", "Convolutional Recurrent",
                                 "Convolutional Transformer", "Vision Transformer"]
    assert list(table.columns) == ["GMD synth", "GMD synth mix", "GMD synth → MDB Drums", "Mean"]
    assert table.loc["Convolutional Recurrent", "GMD synth"] == 0.85
    assert table.loc["Convolutional Transformer", "GMD synth mix"] == 0.73
    assert table.loc["Convolutional", "GMD synth → MDB Drums"] == 0.55
    assert table.loc["Recurrent", "Mean"] == pytest.approx(0.75)  # zero-shot column not in the mean
    lt = pd.read_csv(out / "architecture_long.csv")
    assert len(lt) == 15
    assert {"dataset", "test_dataset", "zero_shot", "arch", "trial", "params", "macro_f1", "best",
            *(f"f1_{c}" for c in CLASSES)} <= set(lt.columns)
    best = lt[lt.best].set_index(["dataset", "test_dataset"])["arch"].to_dict()
    assert best == {("gmd_synth", "gmd_synth"): "crnn", ("gmd_synth_mix", "gmd_synth_mix"): "conv_transformer",
                    ("gmd_synth", "mdb_drums"): "crnn"}
    assert json.loads(lt.loc[0, "params"]) == {"hidden_size": 144}
    assert lt.loc[(lt.arch == "vit") & (lt.dataset == "gmd_synth") & ~lt.zero_shot, "f1_TT"].item() == 0.58
    _assert_png(out / "plots" / "architecture_study.png")
    # mean over the in-distribution datasets: crnn (0.85 + 0.71) / 2 = 0.78 beats
    # conv_transformer 0.775, rnn 0.75, cnn 0.735, vit 0.625
    assert best_architecture(out / "architecture_long.csv") == "crnn"
    assert best_architecture(out / "architecture_long.csv", datasets=["gmd_synth_mix"]) == "conv_transformer"


def test_best_architecture_prefers_complete_results(tmp_path):
    rows = [_row("a", "a", "rnn", 0.7, False), _row("b", "b", "rnn", 0.7, False), _row("a", "a", "vit", 0.9, False)]
    out = tmp_path / "long.csv"
    architecture_table(rows, tmp_path / "t.csv", out, tmp_path / "p.png")
    assert best_architecture(out) == "rnn"  # vit was never tested on b
    with pytest.raises(InputError, match="not found"):
        best_architecture(tmp_path / "missing.csv")


def test_architecture_table_bad_rows_write_nothing(tmp_path):
    outs = [tmp_path / "t.csv", tmp_path / "l.csv", tmp_path / "p.png"]
    with pytest.raises(InputError, match="more than one result"):
        architecture_table([_row("a", "a", "rnn", 0.7, False)] * 2, *outs)
    with pytest.raises(InputError, match="micro_f1"):
        architecture_table([{"train_dataset": "a", "arch": "rnn"}], *outs)
    with pytest.raises(InputError, match="outside"):
        architecture_table([_row("a", "a", "rnn", 1.7, False)], *outs)
    with pytest.raises(InputError, match="metrics file not found"):
        architecture_table([tmp_path / "nope.json"], *outs)
    assert not list(tmp_path.iterdir())


def test_dataset_table_matrix_flags_and_heatmap(tmp_path):
    combos = [["gmd_synth"], ["gmd_synth_mix"], ["gmd_synth", "gmd_synth_mix"]]
    tests = ["gmd_synth", "gmd_synth_mix", "mdb_drums"]
    cells = {("gmd_synth", "gmd_synth"): 0.90, ("gmd_synth", "gmd_synth_mix"): 0.60, ("gmd_synth", "mdb_drums"): 0.40,
             ("gmd_synth_mix", "gmd_synth"): 0.80, ("gmd_synth_mix", "gmd_synth_mix"): 0.85,
             ("gmd_synth_mix", "mdb_drums"): 0.55,
             ("gmd_synth+gmd_synth_mix", "gmd_synth"): 0.91, ("gmd_synth+gmd_synth_mix", "gmd_synth_mix"): 0.86,
             ("gmd_synth+gmd_synth_mix", "mdb_drums"): 0.50}
    rows = [(tr, te, f1) for (tr, te), f1 in cells.items()]
    rows[0] = {"train_dataset": "gmd_synth", "test_dataset": "gmd_synth", "arch": "crnn", "micro_f1": 0.9,
               "zero_shot": False}
    out = tmp_path / "results"
    wide, long = dataset_table(rows[::-1], out / "dataset_table.csv", out / "dataset_long.csv",
                               out / "plots" / "dataset_study.png", combinations=combos, test_datasets=tests)
    table = pd.read_csv(out / "dataset_table.csv", index_col=0)
    assert list(table.index) == ["GMD synth", "GMD synth mix", "GMD synth + GMD synth mix"]
    assert list(table.columns) == ["GMD synth", "GMD synth mix", "MDB Drums"]
    assert table.loc["GMD synth mix", "MDB Drums"] == 0.55
    assert table.loc["GMD synth + GMD synth mix", "GMD synth"] == 0.91
    lt = pd.read_csv(out / "dataset_long.csv")
    ind = {(r.train_dataset, r.test_dataset) for r in lt.itertuples() if r.in_distribution}
    assert ind == {("gmd_synth", "gmd_synth"), ("gmd_synth_mix", "gmd_synth_mix"),
                   ("gmd_synth+gmd_synth_mix", "gmd_synth"), ("gmd_synth+gmd_synth_mix", "gmd_synth_mix")}
    best = {(r.train_dataset, r.test_dataset) for r in lt.itertuples() if r.best_zero_shot}
    # per column, best among zero-shot cells only (0.91 on gmd_synth is in-distribution)
    assert best == {("gmd_synth_mix", "gmd_synth"), ("gmd_synth", "gmd_synth_mix"), ("gmd_synth_mix", "mdb_drums")}
    _assert_png(out / "plots" / "dataset_study.png")
    # in-distribution cells are drawn grey: the centre of cell (0, 0) vs a zero-shot cell's colour
    img = mpimg.imread(out / "plots" / "dataset_study.png")[..., :3]
    greyish = (np.abs(img - img.mean(axis=2, keepdims=True)).max(axis=2) < 0.02) & (img.mean(axis=2) > 0.8) \
        & (img.mean(axis=2) < 0.95)
    assert greyish.mean() > 0.03  # four hatched grey cells take a visible share of the figure


def test_dataset_table_rejects_duplicates(tmp_path):
    with pytest.raises(InputError, match="more than one result"):
        dataset_table([("a", "b", 0.5), ("a", "b", 0.6)], tmp_path / "t.csv", tmp_path / "l.csv", tmp_path / "p.png")
    with pytest.raises(InputError, match=r"rows\[0\]"):
        dataset_table([("a", "b")], tmp_path / "t.csv", tmp_path / "l.csv", tmp_path / "p.png")
    assert not list(tmp_path.iterdir())
