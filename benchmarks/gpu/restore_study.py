"""Put what `run_background.sh collect-study` sent back into a checkout, so that the dev VM
finishes the study's graph: `evaluate_real` reads the MDB multi-tracks, which do not travel to
the GPU machine, and the tables come after it.

    .venv/bin/python benchmarks/gpu/restore_study.py FILES_DIR [--root .]
    .venv/bin/snakemake --cores 2 --rerun-triggers mtime --configfile config/presets/gpu.yaml \\
        config/presets/gpu_study.yaml config/presets/dataset_study_kinds.yaml \\
        config/presets/dataset_study_kinds_gpu.yaml LOCAL_PATHS.yaml \\
        -- dataset_study

FILES_DIR holds the call's files: ``study.tar.xz`` (or its parts ``study.tar.xz.part.*``: the
results without weights, logs, benchmarks, samples), ``models_<arch>.tar`` and
``models_kinds.tar`` (float16 weights, flat names). What the graph made is unpacked into ROOT
(``results/``, ``logs/``, the rules' benchmark tables, ``.snakemake/log``; the run's GPU/CPU
samples and snakemake log into ``results/gpu_run/``; never the checkout's own code, which the
tarball also holds under ``benchmarks/gpu/``), then every model goes back where the graph wrote it:

- ``models_<arch>.tar``: ``<dataset>_t<N>.pt`` → ``results/trials/<dataset>/<arch>/t<N>/model.pt``,
  ``<dataset>_s<N>.pt`` → ``results/seeds/<dataset>/<arch>/s<N>/model.pt``;
- ``models_kinds.tar``: ``<combination>_<arch>_<fold>_s<N>.pt`` →
  ``results/combinations/<combination>/<arch>/<fold>/s<N>/model.pt``;

each with the modification time of the ``metrics.json`` its run wrote beside it. The pool does
not travel back (it went from here): the files under ``ROOT/results/pool`` get the time the run
started (a minute before its oldest file), as ``run_background.sh start`` touched them on the
GPU machine. All these times are shifted together so that the run seems to have ended just now:
the order among the run's files stays, and every source the graph reads from ``../shared`` (whose
folders get a new time when a session starts) is older than the run, so that
``--rerun-triggers mtime`` takes the runs as made and the graph runs only what is missing.
Every name is checked before anything is written: a model whose run has no ``metrics.json`` in
the study's tarball (another run's model), a name that parses to no run, or a tarball member
that is not a plain file stops the script with one line, and nothing is unpacked. The
checkpoints are moved, never loaded.
"""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import sys
import tarfile
import time
from pathlib import Path

from drumscribe.models import REGISTRY

ARCHS = tuple(sorted(REGISTRY, key=len, reverse=True))  # the architectures' names, longest first
#: ``<dataset>_t003`` / ``<dataset>_s1`` (a search trial or a seed run of a search's winner)
SEARCH_NAME = re.compile(r"^(?P<dataset>.+)_(?P<run>t\d+|s\d+)\.pt$")
#: ``<combination>_<arch>_<fold>_s<seed>`` (a dataset-study kind model)
KIND_NAME = re.compile(r"^(?P<combination>.+)_(?P<arch>" + "|".join(map(re.escape, ARCHS)) + r")_(?P<fold>[A-Za-z0-9]+)_(?P<seed>s\d+)\.pt$")


class RestoreError(Exception):
    """One line naming the file and the problem."""


def study_tarball(files: Path) -> bytes:
    """``study.tar.xz`` of ``files``, joined from its parts when it came split."""
    whole = files / "study.tar.xz"
    if whole.is_file():
        return whole.read_bytes()
    parts = sorted(files.glob("study.tar.xz.part.*"))
    if not parts:
        raise RestoreError(f"{files}: no study.tar.xz (nor its parts): not the files of a collect-study call")
    return b"".join(p.read_bytes() for p in parts)


def model_target(tar_name: str, member: str) -> Path:
    """Where the graph wrote the model ``member`` of ``models_<arch>.tar`` (``tar_name``)."""
    name = Path(member).name
    arch = tar_name.removeprefix("models_").removesuffix(".tar")
    if arch == "kinds":
        m = KIND_NAME.match(name)
        if not m:
            raise RestoreError(f"{tar_name}: {member}: not a kind model's name (<combination>_<arch>_<fold>_s<N>.pt)")
        return Path("results/combinations", m["combination"], m["arch"], m["fold"], m["seed"], "model.pt")
    if arch not in ARCHS:
        raise RestoreError(f"{tar_name}: not models_<arch>.tar of an architecture ({', '.join(ARCHS)}) or models_kinds.tar")
    m = SEARCH_NAME.match(name)
    if not m:
        raise RestoreError(f"{tar_name}: {member}: not a search run's name (<dataset>_t<N>.pt or <dataset>_s<N>.pt)")
    kind = "trials" if m["run"].startswith("t") else "seeds"
    return Path("results", kind, m["dataset"], arch, m["run"], "model.pt")


#: where the run's GPU/CPU samples and snakemake log (the tarball's top level) go in the checkout
SAMPLES = Path("results/gpu_run")


def _destination(name: str) -> Path | None:
    """Where a member of the study's tarball goes in the checkout, None for what stays out: the
    checkout's own code (benchmarks/gpu/ travelled as part of ``benchmarks/*/``) and anything else
    that is not the graph's output."""
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts:  # nothing outside the checkout
        return None
    if len(parts) == 1 and parts[0] in ("gpu_util.csv", "cpu_load.txt", "snakemake.log"):
        return SAMPLES / parts[0]
    if parts[0] in ("results", "logs") or parts[:2] == (".snakemake", "log"):
        return Path(name)
    if parts[0] == "benchmarks" and len(parts) > 1 and parts[1] != "gpu":  # the rules' benchmark tables
        return Path(name)
    return None


def restore(files: Path, root: Path) -> list[Path]:
    """Unpack the study's tarball into ``root`` and put every model back; returns the models' paths."""
    study = tarfile.open(fileobj=io.BytesIO(study_tarball(files)), mode="r:xz")
    members = {}
    for m in study.getmembers():
        dst = _destination(m.name.removeprefix("./"))
        if dst is not None and (m.isfile() or m.isdir()):
            members[str(dst)] = m
    moves = []
    for tar_path in sorted(files.glob("models_*.tar")):
        with tarfile.open(tar_path) as t:
            for m in t.getmembers():
                if m.isdir():
                    continue
                if not m.isfile() or not m.name.endswith(".pt"):
                    raise RestoreError(f"{tar_path}: {m.name}: not a checkpoint file")
                target = model_target(tar_path.name, m.name)
                metrics = str(target.parent / "metrics.json")
                if metrics not in members:
                    raise RestoreError(f"{tar_path}: {m.name}: its run ({target.parent}) has no metrics.json in the "
                                       f"study's tarball: a model of another run")
                moves.append((tar_path, m.name, target, members[metrics].mtime))
    for name, m in members.items():
        dst = root / name
        if m.isdir():
            dst.mkdir(parents=True, exist_ok=True)
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        with study.extractfile(m) as src, open(dst, "wb") as fh:
            shutil.copyfileobj(src, fh)
    out = []
    for tar_path, member, target, _ in moves:
        dst = root / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.restore")
        with tarfile.open(tar_path) as t, t.extractfile(member) as src, open(tmp, "wb") as fh:
            shutil.copyfileobj(src, fh)
        os.replace(tmp, dst)
        out.append(dst)
    # the times last (placing a model changes its folder's): the run ends now, its order kept
    made = [m.mtime for name, m in members.items() if name.startswith("results/") and m.isfile()]
    if not made:
        raise RestoreError(f"{files}: the study's tarball holds no results")
    shift = time.time() - 5 - max(made)
    for (_, _, _, mtime), dst in zip(moves, out):
        os.utime(dst, (mtime + shift, mtime + shift))
    for name, m in sorted(members.items(), key=lambda kv: -len(kv[0])):  # files before their folders
        os.utime(root / name, (m.mtime + shift, m.mtime + shift))
    started = min(made) + shift - 60
    # the pool rule's outputs all (its benchmark table counts as one: left older than
    # ../shared's folders, it makes Snakemake rebuild the pool and every job after it)
    pool = [root / "results" / "pool", root / "benchmarks" / "pool", root / "logs" / "pool"]
    for f in [f for d in pool if d.is_dir() for f in (d, *d.rglob("*"))]:
        os.utime(f, (started, started), follow_symlinks=False)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", type=Path, help="the folder of a collect-study call's files")
    ap.add_argument("--root", type=Path, default=Path("."), help="the checkout to restore into (default .)")
    args = ap.parse_args(argv)
    try:
        restored = restore(args.files, args.root)
    except (RestoreError, tarfile.TarError, OSError) as exc:
        print(f"restore_study.py: {exc}", file=sys.stderr)
        return 1
    print(f"restored {len(restored)} models and the study's results into {args.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
