"""`snakemake --profile slurm` against a real one-node Slurm (tests/slurm/start-local-slurm.sh).

The cluster is Debian's Slurm with accounting (slurmdbd + MariaDB), so job states come from
`sacct` as on real clusters, and its node offers two stand-in GPUs, so the profile's GPU
request for training trials is scheduled as typed. Checked here:
- the quick preset's DAG runs through the profile to both tables, equal to a `--cores` run;
- a failing job is retried (`retries` in the profile, more memory each attempt), then
  reported FAILED, and Snakemake exits non-zero;
- after `scancel` of a running job, a rerun with the profile redoes that job only and completes.

Opt-in: it installs munge, Slurm, slurmdbd and MariaDB with apt-get, writes /etc/slurm and
/etc/munge and starts daemons, so it runs only with DRUMSCRIBE_TEST_SLURM=1 (which `.ci/run`
sets). Skipped, with the reason, without that, when not root, or without apt-get
(DRUMSCRIBE_SKIP_SLURM=1 still skips it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
START = REPO / "tests" / "slurm" / "start-local-slurm.sh"
STOP = REPO / "tests" / "slurm" / "stop-local-slurm.sh"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

pytestmark = pytest.mark.slurm


def _skip_reason() -> str | None:
    if os.environ.get("DRUMSCRIBE_SKIP_SLURM") == "1":
        return "DRUMSCRIBE_SKIP_SLURM=1"
    if os.environ.get("DRUMSCRIBE_TEST_SLURM") != "1":
        return ("opt-in: set DRUMSCRIBE_TEST_SLURM=1 to install and start a local Slurm "
                "(apt-get munge/slurm/mariadb, daemons; root) and test the profile on it")
    if not sys.platform.startswith("linux"):
        return "the local Slurm needs Linux"
    if os.geteuid() != 0:
        return "starting a local Slurm needs root (apt-get, daemons); run as root or set DRUMSCRIBE_SKIP_SLURM=1"
    if shutil.which("apt-get") is None:
        return "starting a local Slurm needs apt-get (Debian/Ubuntu)"
    return None


if (_reason := _skip_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)


def _env(**extra: str) -> dict[str, str]:
    """The environment of a `snakemake --profile slurm` run on the local cluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "DRUMSCRIBE_SLURM_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(extra)
    return env


def _run(cmd, cwd, timeout_s: int, env=None) -> subprocess.CompletedProcess:
    """Run bounded by `timeout -s INT` (a waiting Snakemake ignores SIGTERM)."""
    return subprocess.run(
        ["timeout", "-s", "INT", "-k", "30", str(timeout_s), *map(str, cmd)],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
    )


def _sacct(job_name: str) -> list[tuple[str, str, str]]:
    """(job id, state, comment) of every allocation of the Slurm jobs named job_name."""
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-S", "now-7200", "--name", job_name, "-o", "JobID,State,Comment%100"],
        capture_output=True, text=True, check=True,
    ).stdout
    return [tuple(line.split("|", 2)) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def slurm_cluster():
    """Start the local Slurm (idempotent); stop it at the end only if this session started it."""
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(START)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"start-local-slurm.sh failed:\n{proc.stdout}\n{proc.stderr}"
    print(proc.stdout.strip().splitlines()[-1], f"(fixture: {time.monotonic() - t0:.1f} s)")
    yield
    if "already up" not in proc.stdout:
        subprocess.run(["bash", str(STOP)], capture_output=True, text=True, timeout=120)


def _profile_dir(tmp_path: Path) -> Path:
    """A project folder holding the repository's slurm/ profile, for small Snakefiles."""
    work = tmp_path / "project"
    work.mkdir()
    shutil.copytree(REPO / "slurm", work / "slurm")
    return work


def _slurm_job_name(log: str) -> str:
    """The Slurm job name of a run: the plugin names every job after the run's UUID."""
    for line in log.splitlines():
        if line.startswith("SLURM run ID:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no 'SLURM run ID' in the Snakemake log:\n{log[-3000:]}")


QUICK_TABLES = (
    "architecture_table.csv",
    "architecture_long.csv",
    "dataset_table.csv",
    "dataset_long.csv",
    "datasets/summary.csv",
)
#: Seconds the quick DAG may take through the local Slurm (CI budget).
QUICK_SLURM_TIMEOUT_S = 20 * 60


def _allocations(job_name: str) -> list[dict[str, str]]:
    """sacct's view of every Slurm job of a run: comment (rule), state, AllocTRES."""
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-S", "now-7200", "--name", job_name, "-o", "JobID,State,Comment%200,AllocTRES%200"],
        capture_output=True, text=True, check=True,
    ).stdout
    keys = ("id", "state", "comment", "tres")
    return [dict(zip(keys, line.split("|", 3))) for line in out.splitlines() if line.strip()]


def test_quick_dag_through_slurm_matches_cores(slurm_cluster, quick_dag_results, tmp_path):
    """`snakemake --profile slurm --configfile config/presets/quick.yaml` from the project root."""
    import pandas as pd

    work = tmp_path / "quick_slurm"
    work.mkdir()
    cmd = [*SNAKEMAKE, "--profile", "slurm", "--configfile", "config/presets/quick.yaml", "--directory", work]
    t0 = time.monotonic()
    proc = _run(cmd, REPO, QUICK_SLURM_TIMEOUT_S)
    seconds = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"quick DAG through Slurm failed (exit {proc.returncode}, {seconds:.0f} s):\n{log[-6000:]}"
    print(f"quick DAG through Slurm: {seconds:.0f} s")

    for name in QUICK_TABLES:
        slurm_table = pd.read_csv(work / "results" / name)
        cores_table = pd.read_csv(quick_dag_results / name)
        assert len(slurm_table) > 0, name
        pd.testing.assert_frame_equal(slurm_table, cores_table, check_exact=False, rtol=1e-6, obj=name)

    # the jobs really went through Slurm, each training trial with its GPU, nothing else with one
    jobs = _allocations(_slurm_job_name(log))
    assert jobs and all(j["state"] == "COMPLETED" for j in jobs), jobs
    trials = [j for j in jobs if j["comment"].startswith("rule_train_trial")]
    assert len(trials) >= 10, jobs
    assert all("gres/gpu=1" in j["tres"] for j in trials), trials
    assert not any("gres/gpu" in j["tres"] for j in jobs if j not in trials), jobs


FAILING = """
rule all:
    input: "ok.txt", "bad.txt"

rule ok:
    output: "ok.txt"
    shell: "echo fine > {output}"

rule bad:
    output: "bad.txt"
    resources: mem_mb=lambda wildcards, attempt: 100 * attempt
    shell: "echo 'about to fail' >&2; exit 1"
"""


def test_failing_job_is_retried_then_reported_failed(slurm_cluster, tmp_path):
    work = _profile_dir(tmp_path)
    (work / "Snakefile").write_text(FAILING)
    # account and partition as a user sets them: environment variables read by the profile
    env = _env(DRUMSCRIBE_SLURM_ACCOUNT="drumscribe", DRUMSCRIBE_SLURM_PARTITION="debug")
    proc = _run([*SNAKEMAKE, "--profile", "slurm"], work, 300, env=env)
    log = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 124, 137), log[-3000:]
    assert "SLURM status is: 'FAILED'" in log, log[-3000:]
    assert (work / "ok.txt").read_text() == "fine\n"  # keep-going: the other job still ran
    assert not (work / "bad.txt").exists()
    # the profile's `retries: 2`: three allocations of rule bad, each asking for more memory
    bad = [(jid, state) for jid, state, comment in _sacct(_slurm_job_name(log)) if "rule_bad" in comment]
    assert [state for _, state in bad] == ["FAILED"] * 3, bad
    mems = [
        subprocess.run(["sacct", "-n", "-X", "-P", "-j", jid, "-o", "ReqMem"], capture_output=True, text=True).stdout.strip()
        for jid, _ in bad
    ]
    assert mems == ["100M", "200M", "300M"], mems
    accounts = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-S", "now-7200", "--name", _slurm_job_name(log), "-o", "Account,Partition"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert accounts and set(accounts) == {"drumscribe|debug"}, accounts


RESUMABLE = """
rule all:
    input: "second.txt"

rule first:
    output: "first.txt"
    shell: "echo one > {output}"

rule slow:
    input: "first.txt"
    output: "second.txt"
    shell: "echo started > {output}; sleep ${{DRUMSCRIBE_TEST_SLEEP:-0}}; echo two >> {output}"
"""


def _squeue(job_name: str) -> list[tuple[str, str, str]]:
    """(job id, state, comment) of the queued or running Slurm jobs named job_name."""
    out = subprocess.run(
        ["squeue", "-h", "--name", job_name, "-o", "%i|%T|%k"], capture_output=True, text=True, check=True
    ).stdout
    return [tuple(line.split("|", 2)) for line in out.splitlines() if line.strip()]


def _wait_for(predicate, timeout_s: float, what: str, proc=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (value := predicate()):
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"snakemake ended (rc {proc.returncode}) while waiting for {what}")
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_rerun_after_scancel_resumes(slurm_cluster, tmp_path):
    work = _profile_dir(tmp_path)
    (work / "Snakefile").write_text(RESUMABLE)
    log_path = tmp_path / "first-run.log"
    name = None
    with open(log_path, "w") as log_file:
        # --retries 0: a cancelled job is not resubmitted by this run, so the rerun must resume it
        proc = subprocess.Popen(
            ["timeout", "-s", "INT", "-k", "30", "300", *SNAKEMAKE, "--profile", "slurm", "--retries", "0"],
            cwd=work, env=_env(DRUMSCRIBE_TEST_SLEEP="300"), stdout=log_file, stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(lambda: (work / "second.txt").exists(), 120, "rule slow to start", proc)
            name = _slurm_job_name(log_path.read_text())
            running = _wait_for(
                lambda: [j for j, s, c in _squeue(name) if "rule_slow" in c and s == "RUNNING"],
                60, "the Slurm job of rule slow to run", proc,
            )
            first_mtime = (work / "first.txt").stat().st_mtime_ns
            subprocess.run(["scancel", running[0]], check=True)
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
            if name:  # leave nothing of this run in the queue
                subprocess.run(["scancel", "--name", name], capture_output=True)
    log = log_path.read_text()
    assert rc != 0, log[-3000:]
    assert "CANCELLED" in log, log[-3000:]
    assert not (work / "second.txt").exists()  # a killed job's output is never kept

    rerun = _run([*SNAKEMAKE, "--profile", "slurm"], work, 300, env=_env(DRUMSCRIBE_TEST_SLEEP="0"))
    relog = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, relog[-3000:]
    assert (work / "second.txt").read_text() == "started\ntwo\n"
    assert (work / "first.txt").stat().st_mtime_ns == first_mtime  # done work is not redone
    assert "rule first:" not in relog and "rule slow:" in relog, relog[-3000:]
