"""Tables and plots of the architecture and dataset studies."""

import json

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from drumscribe import CLASSES
from drumscribe.errors import InputError
from drumscribe.metrics import scores
from drumscribe.studies import MEAN_COLUMN, architecture_table, best_architecture, dataset_table, rows_from_tracks

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
    # no per-track counts in these rows: the interval columns are there, empty
    assert list(table.columns) == ["GMD synth", "GMD synth_lo", "GMD synth_hi", "GMD synth mix", "GMD synth mix_lo",
                                   "GMD synth mix_hi", "GMD synth → MDB Drums", "GMD synth → MDB Drums_lo",
                                   "GMD synth → MDB Drums_hi", MEAN_COLUMN]
    assert table["GMD synth_lo"].isna().all()
    assert table.loc["Convolutional Recurrent", "GMD synth"] == 0.85
    assert table.loc["Convolutional Transformer", "GMD synth mix"] == 0.73
    assert table.loc["Convolutional", "GMD synth → MDB Drums"] == 0.55
    assert table.loc["Recurrent", MEAN_COLUMN] == pytest.approx(0.75)  # zero-shot column not in the mean
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
    assert [c for c in table.columns if not c.endswith(("_lo", "_hi"))] == ["GMD synth", "GMD synth mix", "MDB Drums"]
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


# --------------------------------------------------------------------------- seeds, intervals, significance

def _counted_row(train, test, arch, seed, quality, rng, n_tracks=12, zero_shot=False):
    """A metrics.json-like row with per-track counts: each reference onset found with probability
    ``quality``, about as many false alarms as (1 - quality) of the references."""
    per_track = []
    for t in range(n_tracks):
        d = {"track_id": f"song{t:02d}"}
        for c in CLASSES:
            ref = int(rng.integers(5, 15))
            tp = int(rng.binomial(ref, quality))
            d.update({f"tp_{c}": tp, f"fp_{c}": int(rng.binomial(ref, 1 - quality)), f"fn_{c}": ref - tp})
        per_track.append(d)
    total = {c: tuple(sum(d[f"{k}_{c}"] for d in per_track) for k in ("tp", "fp", "fn")) for c in CLASSES}
    return {"train_dataset": train, "test_dataset": test, "arch": arch, "trial": "t001", "seed": seed,
            "params": {"hidden_size": 72}, "zero_shot": zero_shot, "n_tracks": n_tracks,
            "per_track": per_track, **scores(total)}


def test_architecture_table_pools_seeds_with_intervals_and_significant_best(tmp_path):
    rng = np.random.default_rng(0)
    quality = {"gmd_synth": {"rnn": 0.70, "cnn": 0.75, "crnn": 0.92},     # crnn clearly best
               "gmd_synth_mix": {"rnn": 0.80, "cnn": 0.80, "crnn": 0.60}}  # rnn and cnn: the same model
    rows = [_counted_row(ds, ds, arch, seed, q, rng) for ds, qs in quality.items() for arch, q in qs.items()
            for seed in range(3)]
    out = tmp_path / "results"
    paths = (out / "t.csv", out / "l.csv", out / "p.png")
    wide, long = architecture_table(rows, *paths, out_tracks_csv=out / "tracks.csv", n_resamples=500,
                                    note="SMOKE RUN (test)")
    table = pd.read_csv(paths[0], index_col=0)
    assert list(table.columns) == ["GMD synth", "GMD synth_lo", "GMD synth_hi", "GMD synth_sd",
                                   "GMD synth mix", "GMD synth mix_lo", "GMD synth mix_hi", "GMD synth mix_sd",
                                   MEAN_COLUMN]
    for col in ("GMD synth", "GMD synth mix"):
        assert (table[f"{col}_lo"] < table[col]).all() and (table[col] < table[f"{col}_hi"]).all()
        assert (table[f"{col}_sd"] > 0).all()
    lt = pd.read_csv(paths[1])
    assert (lt["n_seeds"] == 3).all() and (lt["seeds"] == "0 1 2").all() and (lt["n_tracks"] == 12).all()
    # pooled: micro F1 of the three runs' counts summed per track
    crnn = [r for r in rows if r["arch"] == "crnn" and r["train_dataset"] == "gmd_synth"]
    tp, fp, fn = (sum(r[k] for r in crnn) for k in ("tp", "fp", "fn"))
    got = lt.query("arch == 'crnn' and dataset == 'gmd_synth'").iloc[0]
    assert got.micro_f1 == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-6)
    f1s = [r["micro_f1"] for r in crnn]
    assert got.micro_f1_seed_mean == pytest.approx(np.mean(f1s), abs=1e-6)
    assert got.micro_f1_seed_sd == pytest.approx(np.std(f1s, ddof=1), abs=1e-6)
    best = lt[lt.best]
    one = best[best.dataset == "gmd_synth"]
    assert one.arch.tolist() == ["crnn"] and not one.best_tie.any()
    assert (lt.query("dataset == 'gmd_synth' and arch != 'crnn'").p_vs_top < 0.05).all()
    tie = best[best.dataset == "gmd_synth_mix"]
    assert sorted(tie.arch) == ["cnn", "rnn"] and tie.best_tie.all()
    _assert_png(paths[2])
    # every seed's and track's counts: the tables come back from them alone
    tracks = pd.read_csv(out / "tracks.csv")
    assert len(tracks) == 6 * 3 * 12
    assert {"dataset", "test_dataset", "in_distribution", "arch", "seed", "track_id", "tp_BD", "fn_CY"} <= set(tracks)
    again = tmp_path / "again"
    wide2, long2 = architecture_table(rows_from_tracks(out / "tracks.csv"), again / "t.csv", again / "l.csv",
                                      again / "p.png", n_resamples=500)
    pd.testing.assert_frame_equal(wide, wide2)
    pd.testing.assert_frame_equal(long.drop(columns=["params"]), long2.drop(columns=["params"]))


def test_seed_runs_must_be_distinct_and_on_the_same_tracks(tmp_path):
    rng = np.random.default_rng(1)
    outs = [tmp_path / "t.csv", tmp_path / "l.csv", tmp_path / "p.png"]
    a, b = _counted_row("a", "a", "rnn", 1, 0.8, rng), _counted_row("a", "a", "rnn", 1, 0.8, rng)
    with pytest.raises(InputError, match="more than one result for dataset a, test_dataset a, arch rnn, seed 1"):
        architecture_table([a, b], *outs)
    c = _counted_row("a", "a", "rnn", 2, 0.8, rng, n_tracks=5)
    with pytest.raises(InputError, match="seed 2 was tested on other tracks than seed 1"):
        architecture_table([a, c], *outs)
    with pytest.raises(InputError, match=r"per_track\[0\].*missing tp_BD"):
        architecture_table([{**a, "per_track": [{"track_id": "x"}]}], *outs)
    with pytest.raises(ValueError, match="n_resamples"):
        architecture_table([a], *outs, n_resamples=10)
    assert not list(tmp_path.iterdir())


def test_dataset_table_intervals_in_cells_and_tied_best_zero_shot(tmp_path):
    rng = np.random.default_rng(2)
    q = {("gmd_synth", "gmd_synth"): 0.9, ("gmd_synth", "mdb_drums"): 0.70,
         ("gmd_synth_mix", "gmd_synth"): 0.8, ("gmd_synth_mix", "mdb_drums"): 0.70,
         ("gmd_synth+gmd_synth_mix", "gmd_synth"): 0.9, ("gmd_synth+gmd_synth_mix", "mdb_drums"): 0.5}
    rows = [_counted_row(tr, te, "crnn", s, v, rng, zero_shot=te not in tr.split("+"))
            for (tr, te), v in q.items() for s in range(2)]
    out = tmp_path / "results"
    wide, long = dataset_table(rows, out / "t.csv", out / "l.csv", out / "p.png", out_tracks_csv=out / "tracks.csv",
                               n_resamples=300, out_pairs_csv=out / "pairs.csv")
    # every two rows on each column, A above B, in-distribution cells too, seeds pooled as the cells
    pairs = pd.read_csv(out / "pairs.csv")
    assert len(pairs) == 3 * 2 and list(pairs.columns[:3]) == ["test_dataset", "train_a", "train_b"]
    cell = long.set_index(["train_dataset", "test_dataset"])["micro_f1"]
    for r in pairs.itertuples():
        assert r.micro_f1_a == pytest.approx(cell[(r.train_a, r.test_dataset)], abs=1e-5)  # %.6g in the CSV
        assert r.difference == pytest.approx(r.micro_f1_a - r.micro_f1_b, abs=1e-5)
        assert r.difference_lo <= r.difference <= r.difference_hi and r.n_tracks == 12
    p = pairs.set_index(["test_dataset", "train_a", "train_b"])["p_value"]
    assert p[("mdb_drums", "gmd_synth", "gmd_synth_mix")] > 0.05         # the same quality: no difference
    assert p[("mdb_drums", "gmd_synth", "gmd_synth+gmd_synth_mix")] < 0.05  # 0.70 against 0.5
    assert p[("gmd_synth", "gmd_synth", "gmd_synth_mix")] < 0.05            # in-distribution 0.9 against 0.8
    assert list(wide.columns) == ["GMD synth", "GMD synth_lo", "GMD synth_hi", "GMD synth_sd",
                                  "MDB Drums", "MDB Drums_lo", "MDB Drums_hi", "MDB Drums_sd"]
    lt = pd.read_csv(out / "l.csv")
    best = lt[lt.best_zero_shot]
    # gmd_synth column: the one zero-shot cell; mdb_drums: two equal models tie, the 0.5 one is not best
    assert set(zip(best.train_dataset, best.test_dataset)) == {
        ("gmd_synth_mix", "gmd_synth"), ("gmd_synth", "mdb_drums"), ("gmd_synth_mix", "mdb_drums")}
    assert best.query("test_dataset == 'mdb_drums'").best_tie.all()
    assert not best.query("test_dataset == 'gmd_synth'").best_tie.any()
    assert not lt.query("in_distribution").best_zero_shot.any()
    _assert_png(out / "p.png")
    again = dataset_table(rows_from_tracks(out / "tracks.csv"), tmp_path / "t2.csv", tmp_path / "l2.csv",
                          tmp_path / "p2.png", n_resamples=300)
    pd.testing.assert_frame_equal(wide, again[0])
