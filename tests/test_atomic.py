"""Atomic outputs on a full disk: one line naming the output (never its temporary), nothing left behind."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumscribe import SAMPLE_RATE, atomic
from drumscribe.errors import OutputError

sys.path.insert(0, str(Path(__file__).parent))


def test_enospc_inside_a_writer_names_the_output(tmp_path):
    out = tmp_path / "out.csv"
    with pytest.raises(OutputError) as err:
        with atomic.atomic_path(out) as tmp:
            tmp.write_text("x")
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert str(err.value) == f"{out}: no space left on device"
    assert list(tmp_path.iterdir()) == []


def test_bare_library_error_on_an_all_but_full_disk(tmp_path, monkeypatch):
    """libsndfile says only "System error." when the disk is full: the free space tells."""
    class Usage:
        free = 4096

    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda folder: Usage)
    with pytest.raises(OutputError, match=r"a\.flac: no space left on device$"):
        with atomic.atomic_path(tmp_path / "a.flac"):
            raise RuntimeError("System error.")
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="System error"):  # with room on the disk: the error as it is
        with atomic.atomic_path(tmp_path / "a.flac"):
            raise RuntimeError("System error.")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (needs root and mount), unmounted afterwards."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_real_full_disk_audio_cache_and_cli(tiny_disk, tmp_path, capsys):
    from drumscribe.audio import write_wav
    from drumscribe.cli import main
    from test_features import CFG, make_tracks
    from drumscribe.cache import build_cache
    from test_transcribe import untrained_checkpoint

    y = np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE * 20).astype(np.float32)
    with pytest.raises(OutputError, match=rf"^{tiny_disk}/a\.wav: no space left on device$"):
        write_wav(tiny_disk / "a.wav", y)
    tracks = make_tracks(tmp_path, [(f"t{i}", "train", {"BD": [0.5]}, 20.0) for i in range(4)])
    (tiny_disk / "fill").write_bytes(bytes(1000 * 1024))
    with pytest.raises(OutputError, match=r"toy\.h5: no space left on device"):
        build_cache(tracks, tiny_disk / "toy.h5", CFG, name="toy", progress=False)
    assert [p.name for p in tiny_disk.iterdir()] == ["fill"]

    model = untrained_checkpoint(tmp_path / "m.pt", "crnn", seed=1, cell="gru", num_layers=1, hidden_size=16,
                                 num_blocks=1)
    song = tmp_path / "song.wav"
    sf.write(str(song), y[: SAMPLE_RATE * 4], SAMPLE_RATE)
    assert main(["transcribe", str(song), "-o", str(tiny_disk / "out"), "--format", "midi,json,csv,png",
                 "--model", str(model), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("no space left on device") and ".tmp" not in err[0], err
    assert list((tiny_disk / "out").iterdir()) == []


def test_cache_build_stops_before_the_disk_fills(tmp_path, monkeypatch):
    """h5py crashes (segfault) on a write that meets a full disk: the build must stop before."""
    from drumscribe import cache
    from test_features import CFG, make_tracks

    class Usage:
        free = 3 << 20

    tracks = make_tracks(tmp_path, [("t0", "train", {"BD": [0.5]}, 2.0)])
    monkeypatch.setattr(cache.shutil, "disk_usage", lambda folder: Usage)
    with pytest.raises(OutputError, match=r"out/toy\.h5: no space left on device \(stopped at 3 MiB free"):
        cache.build_cache(tracks, tmp_path / "out" / "toy.h5", CFG, name="toy", progress=False)
    assert list((tmp_path / "out").iterdir()) == []
