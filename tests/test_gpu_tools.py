"""benchmarks/gpu/run_background.sh collect-study: what a GPU run sends back.

A study's models are the point of the run and files come back from the lent machine only
up to 16 MiB each: the 2026-12-07 dataset-study run lost its 21 kind models because
collect-study did not pack them, and its tarball came back only after splitting by hand.
This runs the real script (with a stand-in for the device set-up) on a made-up results tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "docs" / "results" / "release6-2026-12-02" / "models" / "fold0.pt"
LIMIT = 16 * 1024 * 1024


def _tree(root: Path) -> None:
    gpu = root / "benchmarks" / "gpu"
    gpu.mkdir(parents=True)
    for name in ("run_background.sh", "half_checkpoint.py"):
        shutil.copy(REPO / "benchmarks" / "gpu" / name, gpu / name)
    (gpu / "setup_device.sh").write_text("true\n")  # the device's wheels and kits: not needed here
    r = root / "results"
    (r / "search" / "gmd_synth" / "crnn").mkdir(parents=True)
    (r / "search" / "gmd_synth" / "crnn" / "best.json").write_text('{"trial": "t001"}')
    for d in ("trials/gmd_synth/crnn/t001", "trials/gmd_synth/crnn/t002", "seeds/gmd_synth/crnn/s1",
              "combinations/mdb_remix/crnn/fold0/s0", "combinations/gmd_synth_pool/crnn/none/s2"):
        (r / d).mkdir(parents=True)
        shutil.copy(MODEL, r / d / "model.pt")
        (r / d / "metrics.json").write_text("{}")
    rng = os.urandom
    (r / "pool").mkdir()
    (r / "pool" / "clips.bin").write_bytes(rng(2 * 1024 * 1024))  # the pool came from the dev machine
    (root / "logs").mkdir()
    (root / "logs" / "big.log").write_bytes(rng(17 * 1024 * 1024))  # incompressible: the tarball > 16 MiB


def _script_env(out: Path, bg: Path) -> dict:
    """The environment of a run_background.sh call here: its $OUT and run folder, this Python first."""
    return {**os.environ, "OUT": str(out), "BG_DIR": str(bg),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(REPO / "src")}


def _collect_study(root: Path, out: Path, bg: Path) -> None:
    proc = subprocess.run(["bash", "benchmarks/gpu/run_background.sh", "collect-study"], cwd=root,
                          env=_script_env(out, bg), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("xz") is None or shutil.which("split") is None, reason="needs xz and split")
def test_collect_study_packs_every_model_and_splits_large_files(tmp_path):
    root, out = tmp_path / "repo", tmp_path / "out"
    _tree(root)
    _collect_study(root, out, tmp_path / "bg")
    files = sorted(p.name for p in out.iterdir())
    assert all((out / f).stat().st_size <= LIMIT for f in files), files
    # the search's winner and its seed run, and every kind model (fold and seed in the name)
    with tarfile.open(out / "models_crnn.tar") as t:
        assert sorted(n for n in t.getnames() if n.endswith(".pt")) == ["./gmd_synth_s1.pt", "./gmd_synth_t001.pt"]
    with tarfile.open(out / "models_kinds.tar") as t:
        names = sorted(n for n in t.getnames() if n.endswith(".pt"))
        assert names == ["./gmd_synth_pool_crnn_none_s2.pt", "./mdb_remix_crnn_fold0_s0.pt"]
        t.extractall(tmp_path / "kinds", filter="data")
    ckpt = torch.load(tmp_path / "kinds" / "mdb_remix_crnn_fold0_s0.pt", map_location="cpu", weights_only=True)
    assert {v.dtype for v in ckpt["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    # the study's tarball comes split; joined, it holds the results without weights or the pool
    parts = [f for f in files if f.startswith("study.tar.xz.part.")]
    assert len(parts) >= 2 and "study.tar.xz" not in files
    joined = tmp_path / "study.tar.xz"
    joined.write_bytes(b"".join((out / p).read_bytes() for p in parts))
    with tarfile.open(joined) as t:
        names = t.getnames()
    assert "results/combinations/mdb_remix/crnn/fold0/s0/metrics.json" in names
    assert "logs/big.log" in names
    assert not [n for n in names if n.endswith(".pt") or n.startswith("results/pool")]


def test_watch_ends_by_collecting_what_the_run_made(tmp_path):
    """BG_COLLECT=collect-study: a watch call sends back what the run has made so far (a machine
    taken back during a later call then loses only that call's work), and a misspelt value stops
    the script before it does anything."""
    root, out, bg = tmp_path / "repo", tmp_path / "out", tmp_path / "bg"
    _tree(root)
    (root / "logs" / "big.log").write_text("small\n")
    bg.mkdir()
    (bg / "rc").write_text("0\n")  # the graph has ended: watch returns at once
    (bg / "snakemake.log").write_text("106 of 106 steps (100%) done\n")
    env = _script_env(out, bg)
    script = ["bash", "benchmarks/gpu/run_background.sh", "watch", "5"]
    bad = subprocess.run(script, cwd=root, env={**env, "BG_COLLECT": "collect-studies"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "BG_COLLECT=collect-studies" in bad.stdout and not out.exists()
    proc = subprocess.run(script, cwd=root, env={**env, "BG_COLLECT": "collect-study"},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "snakemake exit 0" in proc.stdout
    assert {"models_crnn.tar", "models_kinds.tar", "study.tar.xz"} <= {p.name for p in out.iterdir()}
    # without BG_COLLECT a watch call only watches
    shutil.rmtree(out)
    proc = subprocess.run(script, cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not out.exists()


def test_restore_study_puts_every_model_back_where_the_graph_wrote_it(tmp_path):
    """benchmarks/gpu/restore_study.py on what collect-study sent back: the results unpacked and
    each float16 model at its run's path with the mtime of the run's metrics.json (so the dev VM's
    graph takes the runs as made); a model of a run the tarball lacks stops it with one line
    before anything is unpacked."""
    sys.path.insert(0, str(REPO / "benchmarks" / "gpu"))
    import restore_study

    root, out = tmp_path / "repo", tmp_path / "out"
    _tree(root)
    (root / "logs" / "big.log").write_text("small\n")
    _collect_study(root, out, tmp_path / "bg")
    dev = tmp_path / "dev"
    (dev / "results" / "pool").mkdir(parents=True)
    (dev / "results" / "pool" / "pool.csv").write_text("the dev VM's own pool, which went to the GPU machine\n")
    (dev / "benchmarks" / "pool").mkdir(parents=True)
    (dev / "benchmarks" / "pool" / "pool.tsv").write_text("s\n1.0\n")  # the pool rule's, an output too
    os.utime(dev / "benchmarks" / "pool" / "pool.tsv", (1e9, 1e9))  # made long before ../shared's folders
    assert restore_study.main([str(out), "--root", str(dev)]) == 0
    models = sorted(str(p.relative_to(dev)) for p in dev.rglob("model.pt"))
    assert models == ["results/combinations/gmd_synth_pool/crnn/none/s2/model.pt",
                      "results/combinations/mdb_remix/crnn/fold0/s0/model.pt",
                      "results/seeds/gmd_synth/crnn/s1/model.pt",
                      "results/trials/gmd_synth/crnn/t001/model.pt"]  # t002 lost the search: never sent
    for m in models:
        run = dev / m
        assert run.stat().st_mtime == (run.parent / "metrics.json").stat().st_mtime
    # the run seems to have ended just now (newer than ../shared's folders), the pool before it
    import time

    times = [p.stat().st_mtime for p in (dev / "results").rglob("*") if "pool" not in p.parts]
    assert time.time() - 120 < max(times) <= time.time()
    assert (dev / "results" / "pool" / "pool.csv").stat().st_mtime < min(times)
    assert (dev / "benchmarks" / "pool" / "pool.tsv").stat().st_mtime == (dev / "results" / "pool" / "pool.csv").stat().st_mtime
    ckpt = torch.load(dev / models[1], map_location="cpu", weights_only=True)
    assert {v.dtype for v in ckpt["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    assert [p.name for p in (dev / "results" / "pool").iterdir()] == ["pool.csv"]  # no pool came back
    # another run's model in the files: one line, nothing unpacked
    with tarfile.open(out / "models_kinds.tar", "a") as t:
        t.add(MODEL, arcname="./mdb_remix_crnn_fold2_s0.pt")
    fresh = tmp_path / "fresh"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu" / "restore_study.py"), str(out),
                           "--root", str(fresh)], capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1 and "mdb_remix_crnn_fold2_s0.pt" in err[0], proc.stderr
    assert "no metrics.json" in err[0] and not fresh.exists()


def test_travel_tree_leaves_result_folders_out_and_puts_them_back(tmp_path):
    """benchmarks/gpu/travel_tree.sh: the committed docs/results/ do not fit the 64 MiB transfer
    beside the carry, so a run's tree leaves them out, but the models the run starts from; restore
    brings back the index and .git/info/exclude exactly as they were, and a second strip refuses."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    script = REPO / "benchmarks" / "gpu" / "travel_tree.sh"
    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    for f in ("src/a.py", "docs/results/r5/models/fold0.pt", "docs/results/r5/README.md",
              "docs/results/old/table.csv"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text(f)
    git("add", "-A")
    git("commit", "-qm", "tree")
    exclude = tmp_path / ".git" / "info" / "exclude"
    before = exclude.read_text() if exclude.exists() else None
    (tmp_path / "docs/results/old/table.csv").write_text("edited, not staged")

    def run(*args):
        return subprocess.run(["bash", str(script), *args], cwd=tmp_path, capture_output=True, text=True)

    proc = run("strip", "r5/models/")
    assert proc.returncode == 0, proc.stderr
    assert git("ls-files").split() == ["docs/results/r5/models/fold0.pt", "src/a.py"]
    # what travels is what git does not ignore: the untracked folders are ignored, the files stay on disk
    assert git("status", "--porcelain", "--untracked-files=all").split("\n")[0].startswith("D ")
    assert "docs/results/old" not in git("ls-files", "--others", "--exclude-standard")
    assert (tmp_path / "docs/results/old/table.csv").read_text() == "edited, not staged"
    assert run("strip").returncode == 1  # twice: refused, nothing changed
    assert "stripped (2 files out)" in run("status").stdout

    proc = run("restore")
    assert proc.returncode == 0, proc.stderr
    assert git("ls-files").split() == ["docs/results/old/table.csv", "docs/results/r5/README.md",
                                       "docs/results/r5/models/fold0.pt", "src/a.py"]
    assert git("status", "--porcelain").split() == ["M", "docs/results/old/table.csv"]  # the edit unstaged, kept
    assert (exclude.read_text() if exclude.exists() else None) == (before or "")
    assert run("restore").returncode == 1
