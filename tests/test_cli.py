"""The drumscribe command: transcribe (formats, folders, bad inputs), evaluate, help."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import torch

from drumscribe import CLASSES, SAMPLE_RATE
from drumscribe.cli import _pair_key, main
from drumscribe.references import onsets_from_midi

sys.path.insert(0, str(Path(__file__).parent))
from test_transcribe import FLUIDSYNTH, SF2, fit_tiny_model, make_groove, untrained_checkpoint  # noqa: E402

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A fitted tiny model, a rendered groove with its reference, and a 6 s copy."""
    if not (SF2.is_file() and FLUIDSYNTH.is_file()):
        pytest.skip("needs fluidsynth and timgm6mb-soundfont (setup.sh installs them)")
    d = tmp_path_factory.mktemp("cli")
    model = fit_tiny_model(d)
    ref = make_groove(d / "groove", 7, seconds=8.0)
    return {"dir": d, "model": model, "wav": d / "groove.wav", "ref": ref}


def _outputs(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _no_temporaries(folder: Path) -> None:
    assert not [p for p in folder.rglob(".*") if p.is_file()], "temporary files left behind"


def test_installed_command_writes_every_format(env, tmp_path):
    """A true subprocess run of the installed `drumscribe` entry point."""
    out = tmp_path / "out"
    exe = VENV_BIN / "drumscribe"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "drumscribe.cli"]
    proc = subprocess.run(cmd + ["transcribe", str(env["wav"]), "-o", str(out), "--format", "midi,json,csv,png",
                                 "--model", str(env["model"]), "--threads", "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _outputs(out) == ["groove.csv", "groove.json", "groove.mid", "groove.png"]
    # summary line: duration, onsets per class, speed
    seconds = sf.info(str(env["wav"])).duration
    assert f"groove.wav: {seconds:.1f} s" in proc.stdout and "BD " in proc.stdout and "x real time" in proc.stdout
    doc = json.loads((out / "groove.json").read_text())
    assert doc["duration"] == pytest.approx(seconds, abs=0.01)
    assert list(doc["onsets"]) == list(CLASSES)
    assert doc["counts"] == {c: len(doc["onsets"][c]) for c in CLASSES}
    assert len(doc["events"]) == sum(doc["counts"].values()) > 10
    assert all(0.0 <= e["confidence"] <= 1.0 for e in doc["events"])
    # the transcription is right (the tiny model was fitted on other grooves of the same kit)
    from drumscribe.metrics import class_counts, scores

    est = {c: np.array(doc["onsets"][c]) for c in CLASSES}
    assert scores(class_counts(env["ref"], est))["micro_f1"] >= 0.8
    # CSV, MIDI and JSON agree
    rows = (out / "groove.csv").read_text().splitlines()
    assert rows[0] == "time,class,confidence" and len(rows) == 1 + len(doc["events"])
    times = [float(r.split(",")[0]) for r in rows[1:]]
    assert times == sorted(times)
    mid = onsets_from_midi(out / "groove.mid")
    for c in CLASSES:
        np.testing.assert_allclose(mid[c], doc["onsets"][c], atol=1.1e-3)
    pm = pretty_midi.PrettyMIDI(str(out / "groove.mid"))
    assert pm.instruments[0].is_drum
    vel = sorted(n.velocity for n in pm.instruments[0].notes)
    conf = sorted(1 + round(e["confidence"] * 126) for e in doc["events"])
    assert max(abs(a - b) for a, b in zip(vel, conf)) <= 1
    assert (out / "groove.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _no_temporaries(out)
    mask = os.umask(0)
    os.umask(mask)
    assert {(out / f"groove.{x}").stat().st_mode & 0o777 for x in ("mid", "json", "csv", "png")} == {0o666 & ~mask}


def test_folder_batch_with_bad_files(env, tmp_path, capsys):
    """Bad songs give one line each naming the file; the good ones are done; exit 1."""
    songs = tmp_path / "songs"
    (songs / "sub").mkdir(parents=True)
    shutil.copy(env["wav"], songs / "good.wav")
    y, sr = sf.read(str(env["wav"]), dtype="float32")
    y = y.mean(axis=1) if y.ndim == 2 else y
    sf.write(str(songs / "sub" / "clip.flac"), y[:SAMPLE_RATE], sr)                       # 1 s clip
    sf.write(str(songs / "silence.wav"), np.zeros(2 * SAMPLE_RATE, np.float32), sr)       # silence
    import soxr

    six = np.tile(soxr.resample(y[: 3 * sr], sr, 96000)[:, None], (1, 6))
    sf.write(str(songs / "six.wav"), six, 96000, subtype="PCM_24")                       # 6 ch 96 kHz
    (songs / "text.mp3").write_text("not an mp3 at all\n" * 100)                          # text named .mp3
    data = (songs / "good.wav").read_bytes()
    (songs / "truncated.wav").write_bytes(data[: len(data) // 3])                          # cut short
    (songs / "corrupt.ogg").write_bytes(b"OggS" + os.urandom(3000))                        # corrupt
    (songs / "readme.txt").write_text("ignored: not audio")
    out = tmp_path / "out"
    code = main(["transcribe", str(songs), str(tmp_path / "missing.wav"), "-o", str(out),
                 "--model", str(env["model"]), "--format", "midi,json", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    errors = [line for line in err if line.startswith("drumscribe: error: ")]
    warnings = [line for line in err if line.startswith("drumscribe: warning: ")]
    assert len(errors) == 4, err
    for name in ("missing.wav: file not found", "text.mp3", "truncated.wav: truncated", "corrupt.ogg"):
        assert sum(name in line for line in errors) == 1, (name, errors)
    assert len(warnings) == 1 and "silence.wav" in warnings[0] and "silent" in warnings[0]
    assert _outputs(out) == ["good.json", "good.mid", "silence.json", "silence.mid",
                             "six.json", "six.mid", "sub/clip.json", "sub/clip.mid"]
    silent = json.loads((out / "silence.json").read_text())
    assert silent["counts"] == {c: 0 for c in CLASSES} and silent["warnings"]
    assert onsets_from_midi(out / "silence.mid", require_notes=False)["BD"].size == 0
    assert json.loads((out / "six.json").read_text())["duration"] == pytest.approx(3.0, abs=0.01)
    _no_temporaries(out)


def test_folder_without_audio_and_default_output_beside_input(env, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    assert main(["transcribe", str(empty), "--model", str(env["model"])]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"drumscribe: error: {empty}: no audio files (wav, flac, mp3, ogg, opus, m4a, aac, aif, aiff) in this folder"]
    song = tmp_path / "song.wav"
    shutil.copy(env["wav"], song)
    assert main(["transcribe", str(song), "--model", str(env["model"]), "-q", "--format", "csv"]) == 0
    assert (tmp_path / "song.csv").is_file()


def test_output_file_named_by_o(env, tmp_path, capsys):
    """`-o drums.mid` for one song writes that file alone (what a musician who names a MIDI
    file expects; it made a folder `drums.mid/` before); with --format the others go beside
    it under its stem; a folder or several songs, or a --format without the named format, stop
    with one line and write nothing."""
    model = ["--model", str(env["model"]), "-q"]
    named = tmp_path / "take" / "drums.mid"
    assert main(["transcribe", str(env["wav"]), "-o", str(named), *model]) == 0
    assert _outputs(tmp_path) == ["take/drums.mid"]
    assert onsets_from_midi(named)["BD"].size > 0
    assert main(["transcribe", str(env["wav"]), "-o", str(tmp_path / "x.MIDI"), "--format", "csv,midi", *model]) == 0
    assert _outputs(tmp_path) == ["take/drums.mid", "x.MIDI", "x.csv"]
    capsys.readouterr()
    for args in ([str(env["wav"]), str(env["wav"]), "-o", str(tmp_path / "two.mid")],
                 [str(env["dir"]), "-o", str(tmp_path / "folder.mid")],
                 [str(env["wav"]), "-o", str(tmp_path / "d.json"), "--format", "midi"]):
        assert main(["transcribe", *args, *model]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("drumscribe: error: -o "), err
    assert _outputs(tmp_path) == ["take/drums.mid", "x.MIDI", "x.csv"]
    # an existing folder with such a name stays a folder
    (tmp_path / "old.mid").mkdir()
    assert main(["transcribe", str(env["wav"]), "-o", str(tmp_path / "old.mid"), "--format", "midi", *model]) == 0
    assert (tmp_path / "old.mid" / "groove.mid").is_file()


def test_unwritable_output_folder(env, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should be")
    code = main(["transcribe", str(env["wav"]), "-o", str(blocker / "out"), "--model", str(env["model"]), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("drumscribe: error: ") and "groove.wav" in err[0] and "not writable" in err[0]
    if os.geteuid() != 0:  # permission bits do not stop root
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert main(["transcribe", str(env["wav"]), "-o", str(ro), "--model", str(env["model"]), "-q"]) == 1
        assert list(ro.iterdir()) == []


def test_bad_model_files_and_device(env, tmp_path, capsys):
    ckpt = torch.load(env["model"], weights_only=True)
    other = tmp_path / "old.pt"
    torch.save({**ckpt, "format_version": 0}, other)
    arch = tmp_path / "arch.pt"
    torch.save({**ckpt, "arch": "crnn"}, arch)
    for model, cause in ((other, "format_version"), (arch, "weights do not fit"),
                         (tmp_path / "none.pt", "model file not found")):
        out = tmp_path / f"out_{model.stem}"
        assert main(["transcribe", str(env["wav"]), "-o", str(out), "--model", str(model)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"drumscribe: error: {model}") and cause in err[0], err
        assert not out.exists() or _outputs(out) == []
    if not torch.cuda.is_available():
        assert main(["transcribe", str(env["wav"]), "--model", str(env["model"]), "--device", "cuda"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--device cuda: no CUDA GPU" in err[0]


def test_bad_options_are_usage_errors(env, capsys):
    assert main(["transcribe", str(env["wav"]), "--format", "midi,mp4", "--model", str(env["model"])]) == 2
    assert "--format" in capsys.readouterr().err
    for bad in (["--threads", "0"], ["--threads", "two"], ["--batch-size", "-1"], ["--window", "0"],
                ["--chunk-seconds", "0"]):
        assert main(["transcribe", str(env["wav"]), "--model", str(env["model"]), *bad]) == 2, bad
        assert f"argument {bad[0]}" in capsys.readouterr().err
    assert main(["evaluate", "a.json", "b.txt", "--window", "-0.05"]) == 2
    assert main(["transcribe"]) == 2
    assert main([]) == 2


@pytest.mark.parametrize("command", ["transcribe", "evaluate", "info", "kits"])
def test_help_is_complete_with_example(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "example" in text and f"drumscribe {command}" in text
    if command == "transcribe":
        for opt in ("-o", "--format", "--model", "--device", "--threads", "midi,json,csv,png", "channel 10"):
            assert opt in text
    if command == "evaluate":
        for opt in ("--window", "--reference-format", "--model", "MusicDelta"):
            assert opt in text


def test_main_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert all(c in text for c in ("transcribe", "evaluate", "info", "kits", "example"))


# --------------------------------------------------------------------------- evaluate
def _mdb_txt(path: Path, onsets: dict) -> None:
    label = {"BD": "KD", "SD": "SD", "TT": "TT", "HH": "HH", "CY": "CY"}
    rows = sorted((t, label[c]) for c in CLASSES for t in onsets[c])
    path.write_text("".join(f"{t:.6f} \t {lab} \n" for t, lab in rows) + "0.123000 \t OT \n")


def test_evaluate_json_against_mdb_text_known_counts(tmp_path, capsys):
    ref = {c: np.zeros(0) for c in CLASSES}
    ref["BD"] = np.array([0.5, 1.0, 1.5, 2.0])
    ref["HH"] = np.array([0.5, 0.75, 1.0])
    _mdb_txt(tmp_path / "MusicDelta_X_class.txt", ref)
    pred = {c: [] for c in CLASSES}
    pred["BD"] = [0.52, 1.03, 1.6]       # 2 hits within 50 ms, 1 false, 2 missed
    pred["HH"] = [0.5, 0.75, 1.0]        # perfect
    pred["SD"] = [3.0]                   # false positive, no reference
    (tmp_path / "pred.json").write_text(json.dumps({"onsets": pred}))
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(tmp_path / "pred.json"), str(tmp_path / "MusicDelta_X_class.txt"),
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    s = json.loads(out.read_text())["pooled"]
    assert (s["tp_BD"], s["fp_BD"], s["fn_BD"]) == (2, 1, 2)
    assert (s["tp_HH"], s["fp_HH"], s["fn_HH"]) == (3, 0, 0)
    assert (s["tp_SD"], s["fp_SD"], s["fn_SD"]) == (0, 1, 0)
    assert s["micro_f1"] == pytest.approx(2 * 5 / (2 * 5 + 2 + 2))
    assert "micro" in text and "macro" in text and "0.571" in text  # BD F1 = 4/7
    # a wider window turns the 1.6 estimate... no: 1.5 vs 1.6 needs 100 ms
    assert main(["evaluate", str(tmp_path / "pred.json"), str(tmp_path / "MusicDelta_X_class.txt"),
                 "--window", "0.1", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["pooled"]["tp_BD"] == 3


def test_evaluate_folders_paired_mdb_style_audio_and_midi(env, tmp_path, capsys):
    """Audio named like MDB Drums (…_Drum.wav) pairs with …_class.txt and …_Drum.mid references."""
    audio, cls, midi = tmp_path / "audio", tmp_path / "class", tmp_path / "midi_pp"
    for d in (audio, cls, midi):
        d.mkdir()
    shutil.copy(env["wav"], audio / "MusicDelta_Groove_Drum.wav")
    _mdb_txt(cls / "MusicDelta_Groove_class.txt", env["ref"])
    shutil.copy(env["dir"] / "groove.mid", midi / "MusicDelta_Groove_Drum.mid")
    _mdb_txt(cls / "MusicDelta_Orphan_class.txt", env["ref"])  # a reference without audio is fine
    for ref_dir in (cls, midi):
        assert main(["evaluate", str(audio), str(ref_dir), "--model", str(env["model"])]) == 0
        text = capsys.readouterr().out
        micro = [line for line in text.splitlines() if line.startswith("micro")][0]
        assert float(micro.split()[-1]) >= 0.8, text
    # predictions written by transcribe, evaluated against the class folder
    preds = tmp_path / "preds"
    assert main(["transcribe", str(audio), "-o", str(preds), "--model", str(env["model"]), "-q",
                 "--format", "json,midi"]) == 0
    capsys.readouterr()
    (preds / "MusicDelta_Groove_Drum.mid").unlink()  # one prediction per song
    assert main(["evaluate", str(preds), str(cls)]) == 0
    assert "micro" in capsys.readouterr().out


def test_evaluate_bad_inputs(tmp_path, capsys):
    (tmp_path / "p.json").write_text("{not json")
    (tmp_path / "r.txt").write_text("0.5 KD\n")
    assert main(["evaluate", str(tmp_path / "p.json"), str(tmp_path / "r.txt")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "p.json: not a readable JSON file" in err[0]
    (tmp_path / "p.json").write_text(json.dumps({"BD": [0.5]}))
    (tmp_path / "r.txt").write_text("0.5 KD extra\n")
    assert main(["evaluate", str(tmp_path / "p.json"), str(tmp_path / "r.txt")]) == 1
    assert "r.txt:1" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "nope.json"), str(tmp_path / "r.txt")]) == 1
    assert "nope.json: file not found" in capsys.readouterr().err


def test_pair_key_mdb_names():
    assert _pair_key(Path("MusicDelta_80sRock_Drum.wav")) == _pair_key(Path("MusicDelta_80sRock_class.txt"))
    assert _pair_key(Path("MusicDelta_80sRock_MIX.wav")) == _pair_key(Path("MusicDelta_80sRock_subclass.txt"))
    assert _pair_key(Path("MusicDelta_80sRock_REMIX.wav")) == _pair_key(Path("MusicDelta_80sRock_Drum.mid"))
    assert _pair_key(Path("MusicDelta_80sRock_REMIX.wav")) != _pair_key(Path("MusicDelta_Beatles_class.txt"))


def test_info_shows_model(tmp_path, capsys):
    model = untrained_checkpoint(tmp_path / "m.pt", arch="rnn", cell="gru", num_layers=1, hidden_size=8)
    assert main(["info", "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "architecture: rnn" in out and "thresholds" in out


MDB = Path(__file__).resolve().parents[2] / "shared" / "data" / "mdb_drums_dev" / "MDB Drums"


@pytest.mark.skipif(not MDB.is_dir(), reason=f"MDB Drums dev tracks not found at {MDB}")
def test_evaluate_real_mdb_folders_pair_by_name(tmp_path, capsys):
    """MDB Drums++ MIDI (…_Drum.mid) against the class annotations (…_class.txt): 9 pairs."""
    out = tmp_path / "s.json"
    assert main(["evaluate", str(MDB / "annotations" / "midi_pp"), str(MDB / "annotations" / "class"),
                 "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["n_files"] == 9
    assert {Path(f["reference"]).name for f in doc["files"].values()} == {
        p.name for p in (MDB / "annotations" / "class").glob("*_class.txt")}
    # two annotations of the same performances agree closely, but not perfectly
    assert 0.9 < doc["pooled"]["micro_f1"] < 0.99
    assert "9 file(s), pooled" in capsys.readouterr().out


def test_same_stem_twice_does_not_overwrite(env, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    shutil.copy(env["wav"], a / "song.wav")
    shutil.copy(env["wav"], b / "song.wav")
    out = tmp_path / "out"
    code = main(["transcribe", str(a / "song.wav"), str(b / "song.wav"), "-o", str(out),
                 "--model", str(env["model"]), "-q", "--format", "json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and f"{b / 'song.wav'}: its outputs" in err[0] and "would overwrite" in err[0]
    assert json.loads((out / "song.json").read_text())["file"] == str(a / "song.wav")


def test_evaluate_audio_with_bad_model_stops_once(env, tmp_path, capsys):
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("MusicDelta_A_Drum.wav", "MusicDelta_B_Drum.wav"):
        shutil.copy(env["wav"], audio / name)
        _mdb_txt(tmp_path / name.replace("_Drum.wav", "_class.txt"), env["ref"])
    code = main(["evaluate", str(audio), str(tmp_path), "--model", str(tmp_path / "absent.pt")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [f"drumscribe: error: {tmp_path / 'absent.pt'}: model file not found"]


def test_planted_model_file_is_refused_and_nothing_runs(tmp_path, capsys):
    """A model whose pickle would run code: one-line error, the code never runs."""
    import test_training

    wav, marker, planted = tmp_path / "a.wav", tmp_path / "ran", tmp_path / "planted.pt"
    sf.write(str(wav), np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    torch.save({"format_version": 1, "x": test_training._Planted(marker)}, planted)
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "out"), "--model", str(planted)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"drumscribe: error: {planted}: refused"), err
    assert not marker.exists()


def test_shipped_model_loads_with_weights_only():
    from drumscribe.transcribe import default_model_path

    ckpt = torch.load(default_model_path(), weights_only=True)
    assert ckpt["thresholds"] and ckpt["state_dict"]


def test_evaluate_lower_case_and_unknown_labels(tmp_path, capsys):
    pred, ref = tmp_path / "song.json", tmp_path / "song.txt"
    pred.write_text(json.dumps({"BD": [0.5, 1.0], "SD": [0.75]}))
    ref.write_text("0.5 kd\n1.0 KD\n0.75 sd\n")
    assert main(["evaluate", str(pred), str(ref)]) == 0
    assert "micro  " in (out := capsys.readouterr().out) and "1.000" in out.splitlines()[-2]
    ref.write_text("0.5 kd\n1.0 KD\n0.75 sd\n1.2 zz\n1.4 zz\n")
    assert main(["evaluate", str(pred), str(ref)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown label(s) zz (2)" in err[0] and "--ignore-unknown-labels" in err[0], err
    assert main(["evaluate", str(pred), str(ref), "--ignore-unknown-labels"]) == 0
    captured = capsys.readouterr()
    assert "ignored 2 onset(s) with unknown labels (zz)" in captured.err and "1.000" in captured.out


def test_file_names_that_are_not_utf8(tmp_path, capsys):
    """A valid WAV whose name is Latin-1 bytes (not UTF-8) is transcribed, outputs keep its name."""
    from test_transcribe import untrained_checkpoint

    model = untrained_checkpoint(tmp_path / "m.pt", "crnn", seed=1, cell="gru", num_layers=1, hidden_size=16,
                                 num_blocks=1)
    songs = tmp_path / "songs"
    songs.mkdir()
    name = os.fsdecode(b"caf\xe9.wav")  # surrogate-escaped, as os.listdir gives it
    y = np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE * 2).astype(np.float32)
    sf.write(os.fsencode(songs / name), y, SAMPLE_RATE)
    assert main(["transcribe", str(songs), "-o", str(tmp_path / "out"), "--model", str(model)]) == 0, \
        capsys.readouterr().err
    assert sorted(os.listdir(os.fsencode(tmp_path / "out"))) == [b"caf\xe9.csv", b"caf\xe9.json", b"caf\xe9.mid"]
    assert main(["transcribe", str(songs / name), "-o", str(tmp_path / "out2"), "--model", str(model), "-q"]) == 0
    out = capsys.readouterr().out
    assert "caf\ufffd.wav: 2.0 s" in out


def test_bad_mp3_gives_one_line_and_no_decoder_chatter(tmp_path, capfd):
    """libmpg123 prints its own warnings to file descriptor 2; only drumscribe's line remains."""
    rng = np.random.default_rng(3)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + bytes(rng.integers(0, 256, 3000, dtype=np.uint8)))  # a broken tag, no audio
    main(["transcribe", str(bad), "-o", str(tmp_path / "out"), "-q"])
    err = [l for l in capfd.readouterr().err.splitlines() if l.strip()]
    assert len(err) == 1 and err[0].startswith(f"drumscribe: error: {bad}:"), err


def test_kits_lists_licences(capsys):
    from drumscribe.synth.kits import list_kits

    if not list_kits():
        pytest.skip("no drum kits installed")
    kits = list_kits()
    assert main(["kits"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(kits) and all(l.endswith(k["license"]) for l, k in zip(lines, kits)), lines[:3]


def test_transcription_png_rows_end_with_the_song():
    from drumscribe.plotting import row_layout

    assert row_layout(28.8) == (2, 14.4)  # not 20 s and a half-empty row to 40 s
    assert row_layout(20.0) == (1, 20.0) and row_layout(12.0) == (1, 12.0)
    n, per = row_layout(3600.0)
    assert n == 24 and per == 150.0
