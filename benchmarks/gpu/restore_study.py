"""Put what `run_background.sh collect-study` sent back into a checkout, so that the dev VM
finishes the study's graph: `evaluate_real` reads the MDB multi-tracks, which do not travel to
the GPU machine, and the tables come after it.

    .venv/bin/python benchmarks/gpu/restore_study.py FILES_DIR [--root .]
    .venv/bin/snakemake --cores 2 --rerun-triggers mtime --configfile config/presets/gpu.yaml \\
        config/presets/gpu_study.yaml config/presets/dataset_study_kinds.yaml \\
        config/presets/dataset_study_kinds_gpu.yaml LOCAL_PATHS.yaml \\
        -- dataset_study --allowed-rules evaluate_real dataset_study

FILES_DIR holds the call's files: ``study.tar.xz`` (or its parts ``study.tar.xz.part.*``: the
results without weights, logs, benchmarks, samples), ``models_<arch>.tar`` and
``models_kinds.tar`` (float16 weights, flat names). The study's tarball is unpacked into ROOT,
then every model goes back where the graph wrote it:

- ``models_<arch>.tar``: ``<dataset>_t<N>.pt`` → ``results/trials/<dataset>/<arch>/t<N>/model.pt``,
  ``<dataset>_s<N>.pt`` → ``results/seeds/<dataset>/<arch>/s<N>/model.pt``;
- ``models_kinds.tar``: ``<combination>_<arch>_<fold>_s<N>.pt`` →
  ``results/combinations/<combination>/<arch>/<fold>/s<N>/model.pt``;

each with the modification time of the ``metrics.json`` its run wrote beside it, so that
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
from pathlib import Path

ARCHS = ("conv_transformer", "crnn", "cnn", "rnn", "vit")
#: ``<dataset>_t003`` / ``<dataset>_s1`` (a search trial or a seed run of a search's winner)
SEARCH_NAME = re.compile(r"^(?P<dataset>.+)_(?P<run>t\d+|s\d+)\.pt$")
#: ``<combination>_<arch>_<fold>_s<seed>`` (a dataset-study kind model)
KIND_NAME = re.compile(r"^(?P<combination>.+)_(?P<arch>" + "|".join(ARCHS) + r")_(?P<fold>[A-Za-z0-9]+)_(?P<seed>s\d+)\.pt$")


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


def restore(files: Path, root: Path) -> list[Path]:
    """Unpack the study's tarball into ``root`` and put every model back; returns the models' paths."""
    study = tarfile.open(fileobj=io.BytesIO(study_tarball(files)), mode="r:xz")
    members = {m.name.removeprefix("./"): m for m in study.getmembers()}
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
    study.extractall(root, filter="data")
    out = []
    for tar_path, member, target, mtime in moves:
        dst = root / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.restore")
        with tarfile.open(tar_path) as t, t.extractfile(member) as src, open(tmp, "wb") as fh:
            shutil.copyfileobj(src, fh)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, dst)
        out.append(dst)
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
