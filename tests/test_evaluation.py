"""Evaluation glue: references in every format, saved predictions, scores from activations."""

import json

import numpy as np
import pretty_midi
import pytest

from drumscribe import CLASSES
from drumscribe.errors import InputError
from drumscribe.evaluation import (
    evaluate_activations, evaluate_onsets, predictions_to_json, read_predictions, read_reference,
    scores_from_predictions,
)
from drumscribe.labels import ROLAND_TO_CLASS
from drumscribe.peaks import DEFAULT_PEAK_PARAMS, pick_onsets_with_confidence


def test_read_reference_mdb_enst_midi_json(tmp_path):
    mdb = tmp_path / "mdb_class.txt"
    mdb.write_text("0.500000 \t KD \n0.750000 \t HH \n1.000000 \t SD \n1.250000 \t OT \n")
    on = read_reference(mdb)
    assert on["BD"].tolist() == [0.5] and on["HH"].tolist() == [0.75] and on["SD"].tolist() == [1.0]
    assert sum(len(v) for v in on.values()) == 3  # OT (other) is dropped
    sub = tmp_path / "mdb_subclass.txt"
    sub.write_text("0.1\tCHH\n0.2\tRDB\n0.3\tHFT\n0.4\tTMB\n0.5\tSST\n")
    on = read_reference(sub)
    assert (on["HH"].tolist(), on["CY"].tolist(), on["TT"].tolist(), on["SD"].tolist()) == ([0.1], [0.2], [0.3], [0.5])
    enst = tmp_path / "enst.txt"
    enst.write_text("0.1 bd\n0.2 sd\n0.3 chh\n0.4 rc\n0.5 cb\n")
    on = read_reference(enst)
    assert [on[c].tolist() for c in CLASSES] == [[0.1], [0.2], [], [0.3], [0.4]]
    # an explicit map
    assert read_reference(mdb, label_map={"KD": "BD"})["HH"].size == 0

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0, is_drum=False)  # drums off channel 10 still count
    for t, note in [(0.25, 36), (0.5, 38), (0.75, 42), (1.0, 58), (1.5, 81)]:
        inst.notes.append(pretty_midi.Note(velocity=100, pitch=note, start=t, end=t + 0.05))
    pm.instruments.append(inst)
    mid = tmp_path / "ref.mid"
    pm.write(str(mid))
    on = read_reference(mid)
    assert on["BD"].tolist() == [0.25] and on["SD"].tolist() == [0.5] and on["TT"].size == 0
    assert read_reference(mid, note_map=ROLAND_TO_CLASS)["TT"].tolist() == [1.0]

    js = tmp_path / "ref.json"
    js.write_text(json.dumps({"BD": [0.1, 0.2], "CY": [1.0]}))
    assert read_reference(js)["BD"].tolist() == [0.1, 0.2]
    pred = tmp_path / "pred.json"
    predictions_to_json(pred, {"SD": np.array([0.3])}, {"SD": [0.9]})
    assert read_reference(pred)["SD"].tolist() == [0.3]


@pytest.mark.parametrize("name, content, match", [
    ("a.wav", "x", "unknown reference format"),
    ("a.txt", "0.1 OT\n", "no onsets"),
    ("a.txt", "abc KD\n", "not a number"),
    ("a.json", "{not json", "JSON"),
    ("a.json", '{"XX": [1.0]}', "unknown class"),
    ("a.json", '{"BD": [-1.0]}', "bad onset times"),
    ("a.json", '{"BD": ["x"]}', "bad onset times"),
])
def test_read_reference_rejects_bad_files(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        read_reference(path)
    with pytest.raises(InputError, match="not found"):
        read_reference(tmp_path / "missing.txt")


def _track(n, spikes, refs):
    """Activations with one-frame spikes {class: [(frame, height)]} and references {class: [s]}."""
    a = np.zeros((n, 5), dtype=np.float32)
    for c, items in spikes.items():
        for f, h in items:
            a[f, CLASSES.index(c)] = h
    return a, {c: np.asarray(v, dtype=float) for c, v in refs.items()}


def test_evaluate_activations_known_scores_and_saved_predictions_reproduce_them(tmp_path):
    # track a: BD hits at 1.0 and 2.0 (2.0 found 30 ms late), a false SD; track b: one missed HH
    a1, r1 = _track(400, {"BD": [(100, 0.9), (203, 0.8)], "SD": [(300, 0.7)]}, {"BD": [1.0, 2.0]})
    a2, r2 = _track(400, {"HH": [(50, 0.05)]}, {"HH": [0.5], "BD": [3.0]})
    th = {c: 0.2 for c in CLASSES}
    pooled, per_track = evaluate_activations([a1, a2], [r1, r2], th, DEFAULT_PEAK_PARAMS, fps=100,
                                             window=0.05, track_ids=["a", "b"])
    # by hand: tp 2 (BD), fp 1 (SD), fn 2 (HH below threshold, BD at 3.0) -> F1 4/7
    assert (pooled["tp"], pooled["fp"], pooled["fn"]) == (2, 1, 2)
    assert pooled["micro_f1"] == pytest.approx(4 / 7)
    assert pooled["f1_BD"] == pytest.approx(4 / 5) and pooled["f1_SD"] == 0.0 and pooled["f1_HH"] == 0.0
    assert pooled["f1_TT"] is None  # nothing to find, nothing found: out of the macro mean
    assert pooled["macro_f1"] == pytest.approx((0.8 + 0 + 0) / 3)  # BD, SD, HH
    assert [t["track_id"] for t in per_track] == ["a", "b"]
    assert per_track[0]["micro_f1"] == pytest.approx(4 / 5) and per_track[1]["micro_f1"] == 0.0
    # a 20 ms window loses the late BD
    assert evaluate_activations([a1], [r1], th, DEFAULT_PEAK_PARAMS, window=0.02)[0]["tp_BD"] == 1
    # the fast matcher gives the same
    fast = evaluate_activations([a1, a2], [r1, r2], th, DEFAULT_PEAK_PARAMS, method="fast")[0]
    assert fast == pooled

    preds = tmp_path / "predictions"
    for tid, act in (("a", a1), ("b/x", a2)):
        on, conf = pick_onsets_with_confidence(act, th, DEFAULT_PEAK_PARAMS)
        predictions_to_json(preds / f"{tid.replace('/', '__')}.json", on, conf, track_id=tid)
    assert sorted(p.name for p in preds.iterdir()) == ["a.json", "b__x.json"]  # no temporaries left
    saved = json.loads((preds / "a.json").read_text())
    assert saved["onsets"]["BD"] == [1.0, 2.03] and saved["confidence"]["BD"] == [0.9, 0.8]
    assert set(read_predictions(preds)) == {"a", "b/x"}
    # references as onsets or as files
    ref_file = tmp_path / "b.json"
    ref_file.write_text(json.dumps({"HH": [0.5], "BD": [3.0]}))
    again = scores_from_predictions(preds, {"a": r1, "b/x": ref_file})
    assert again["n_tracks"] == 2
    assert {k: again[k] for k in pooled} == pooled
    with pytest.raises(InputError, match="no prediction for track"):
        scores_from_predictions(preds, {"a": r1, "b/x": r2, "c": r2})
    with pytest.raises(InputError, match="without a reference"):
        scores_from_predictions(preds, {"a": r1})


def test_bad_arguments():
    a, r = _track(100, {}, {"BD": [0.5]})
    with pytest.raises(ValueError, match="references_list"):
        evaluate_activations([a], [r, r], 0.1, DEFAULT_PEAK_PARAMS)
    with pytest.raises(ValueError, match="track_ids"):
        evaluate_onsets([r], [r], track_ids=["a", "b"])
    with pytest.raises(ValueError, match="method"):
        evaluate_onsets([r], [r], method="nope")
    with pytest.raises(ValueError, match="confidences"):
        predictions_to_json("/nonexistent/x.json", {"BD": [0.5]}, {"BD": [0.1, 0.2]})


MDB = __import__("pathlib").Path(__file__).parents[2] / "shared" / "data" / "mdb_drums_dev" / "MDB Drums"


@pytest.mark.skipif(not (MDB / "annotations" / "class").is_dir(), reason=f"MDB Drums dev tracks not found at {MDB}")
def test_real_mdb_class_and_subclass_annotations_agree():
    # the two MDB annotation levels of the same track, read through the default label map;
    # SD may differ (MDB's class files call side-stick 'OT'; ADTOF's map makes it SD)
    files = sorted((MDB / "annotations" / "class").glob("*_class.txt"))
    assert files
    for f in files:
        cls = read_reference(f)
        sub = read_reference(MDB / "annotations" / "subclass" / f.name.replace("_class", "_subclass"))
        for c in ("BD", "TT", "HH", "CY"):
            assert cls[c].shape == sub[c].shape and np.allclose(cls[c], sub[c], atol=1e-3), (f.name, c)
        assert cls["BD"].size > 10


def test_text_labels_match_case_insensitively_and_unknown_ones_stop(tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("0.5 kd\n0.75 Hh\n1.0 SD\n1.25 ot\n1.5 XYZ\n1.75 XYZ\n2.0 foo\n")
    with pytest.raises(InputError, match=r"unknown label\(s\) XYZ \(2\), foo \(1\)"):
        read_reference(ref)
    unknown = {}
    on = read_reference(ref, ignore_unknown=True, unknown=unknown)
    assert (on["BD"].tolist(), on["HH"].tolist(), on["SD"].tolist()) == ([0.5], [0.75], [1.0])
    assert unknown == {"XYZ": 2, "foo": 1}  # OT is known (other) and dropped without a count
