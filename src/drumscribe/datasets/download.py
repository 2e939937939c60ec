"""Downloads: resumable HTTP, checksum verification, atomic extraction, pinned git clones.

The pieces, each usable alone:

- :func:`fetch` downloads one :class:`~drumscribe.datasets.base.Download` into a
  folder (HTTP with a ``Range`` header into ``<file>.part``, so an interrupted
  download resumes), verifies its size and checksum, and returns the file; a git
  repository is cloned and checked out at its pinned commit instead.
- :func:`extract` unpacks a zip / tar(.gz/.bz2/.xz) / tar.zst archive into a
  temporary sibling folder and renames it into place, so a failed extraction
  never leaves a half-extracted folder.
- :func:`download` (rule ``download``) returns a dataset's folder, using an existing one as is
  (no network) and otherwise fetching and extracting every download of the
  dataset into ``<path>`` atomically.

Checksums: ``sha256`` or ``md5`` from the spec; where the publisher gives none,
the first download's sha256 is recorded in ``<file>.sha256`` and later downloads
that differ are refused (trust on first use).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from ..atomic import atomic_dir, write_text
from ..errors import ChecksumError, ConfigError, InputError
from .base import Download

#: Bytes per read while downloading and hashing.
CHUNK = 1 << 20
#: Seconds before a stalled connection is given up.
TIMEOUT = 60.0
#: Name of the folder (beside the dataset folders) that keeps downloaded archives.
CACHE_DIR = ".downloads"


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (``algorithm``: ``"sha256"`` or ``"md5"``), read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | os.PathLike, download: Download, record: str | os.PathLike | None = None) -> str:
    """Check ``path`` against the size and checksum of ``download``; return its sha256.

    Without a published checksum the sha256 of the first verified file is written
    to ``record`` (default ``<path>.sha256``) and later files must match it.

    Raises
    ------
    ChecksumError
        Size or checksum differ. The message names the file and both sums; the
        file is deleted so that a rerun downloads it again.
    """
    path = Path(path)
    size = path.stat().st_size
    if download.size is not None and size != download.size:
        path.unlink(missing_ok=True)
        raise ChecksumError(f"{path}: size mismatch (expected {download.size} bytes, got {size}); file deleted")
    sha256 = file_digest(path, "sha256")
    if download.sha256 is not None:
        expected, got, algo = download.sha256.lower(), sha256, "sha256"
    elif download.md5 is not None:
        expected, got, algo = download.md5.lower(), file_digest(path, "md5"), "md5"
    else:
        record = Path(record) if record is not None else path.with_name(path.name + ".sha256")
        if record.is_file():
            expected, got, algo = record.read_text().split()[0].lower(), sha256, "sha256 (recorded on first download)"
        else:
            write_text(record, f"{sha256}  {path.name}\n")
            return sha256
    if expected != got:
        path.unlink(missing_ok=True)
        raise ChecksumError(f"{path}: {algo} mismatch (expected {expected}, got {got}); file deleted")
    return sha256


def _http_download(url: str, part: Path, progress: bool, total_hint: int | None) -> None:
    """Download ``url`` into ``part``, resuming from its current size with a Range header."""
    from tqdm import tqdm

    start = part.stat().st_size if part.exists() else 0
    if total_hint is not None and start == total_hint:
        return
    request = urllib.request.Request(url, headers={"User-Agent": "drumscribe"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # range not satisfiable: the part is already whole
            return
        raise InputError(f"{url}: download failed (HTTP {exc.code} {exc.reason})") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"{url}: download failed ({getattr(exc, 'reason', exc)})") from None
    with response:
        status = getattr(response, "status", 200)
        if start and status != 206:  # server ignored the range: start over
            start = 0
        length = response.headers.get("Content-Length")
        total = (start + int(length)) if length is not None else total_hint
        mode = "ab" if start else "wb"
        with open(part, mode) as out, tqdm(total=total, initial=start, unit="B", unit_scale=True,
                                           desc=part.name.removesuffix(".part"),
                                           disable=None if progress else True) as bar:
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    bar.update(len(block))
            except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
                out.flush()
                raise InputError(f"{url}: download interrupted at {out.tell()} bytes "
                                 f"({type(exc).__name__}); rerun to resume from {part}") from None
    if length is not None and part.stat().st_size != start + int(length):
        raise InputError(f"{url}: download incomplete ({part.stat().st_size} of {start + int(length)} bytes); "
                         f"rerun to resume from {part}")


def _git(args: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise InputError("git: not installed (needed to clone the dataset)") from None
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise InputError(f"git {' '.join(args[:2])}: failed ({last[-1] if last else exc.returncode})") from None
    return done.stdout.strip()


def git_checkout(download: Download, dest: Path) -> Path:
    """Clone ``download.url`` into ``dest`` (atomically) and check out ``download.git_commit``.

    An existing ``dest`` at the pinned commit is used as is. The HEAD after the
    checkout is compared with the pin, so a rewritten history is an error.
    """
    dest = Path(dest)
    commit = download.git_commit
    if commit is None:
        raise ConfigError(f"{download.url}: a git download needs a pinned commit")
    if (dest / ".git").exists():
        head = _git(["rev-parse", "HEAD"], cwd=dest)
        if head != commit:
            raise ChecksumError(f"{dest}: git HEAD mismatch (expected {commit}, got {head})")
        return dest
    with atomic_dir(dest) as tmp:
        _git(["clone", "--quiet", "--no-checkout", download.url, str(tmp)])
        _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", commit], cwd=tmp)
        head = _git(["rev-parse", "HEAD"], cwd=tmp)
        if head != commit:
            raise ChecksumError(f"{dest}: git HEAD mismatch (expected {commit}, got {head})")
    return dest


def fetch(download: Download, dest_dir: str | os.PathLike, progress: bool = True) -> Path:
    """Download ``download`` into ``dest_dir`` and return the verified file.

    HTTP(S) and ``file://`` URLs stream into ``<dest_dir>/<filename>.part`` and
    resume from its size with a ``Range`` request; once complete, the file is
    verified (:func:`verify`) and renamed to ``<dest_dir>/<filename>``. A file that is
    already there is verified and reused without network. A git download
    (``git_commit`` set) is cloned into ``<dest_dir>/<filename>`` at the pinned commit.

    Raises
    ------
    ChecksumError
        Size or checksum mismatch (names the file and both sums; the file is deleted).
    InputError
        Network failure or an interrupted download (the ``.part`` stays for resuming).
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / download.filename
    if download.git_commit is not None:
        return git_checkout(download, target)
    if target.is_file():
        verify(target, download)
        return target
    part = target.with_name(target.name + ".part")
    if download.size is not None and part.exists() and part.stat().st_size > download.size:
        part.unlink()
    _http_download(download.url, part, progress, download.size)
    try:
        verify(part, download, record=target.with_name(target.name + ".sha256"))
    except ChecksumError as exc:
        raise ChecksumError(str(exc).replace(str(part), str(target), 1)) from None
    os.replace(part, target)
    return target


#: tarfile's "data" filter (Python >= 3.11.4) refuses links and special files that leave the folder.
_TAR_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def _archive_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.zst", ".tzst")):
        return "tar.zst"
    if name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")):
        return "tar"
    raise InputError(f"{path}: unknown archive type (expected .zip, .tar, .tar.gz, .tar.bz2, .tar.xz or .tar.zst)")


def _safe_members(tar: tarfile.TarFile, path: Path):
    for member in tar.getmembers():  # getmembers reads the whole index: a truncated tar fails here
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise InputError(f"{path}: unsafe member path {member.name!r} in archive")
        if member.issym() or member.islnk():
            target = Path(member.linkname)
            if target.is_absolute() or ".." in target.parts:
                raise InputError(f"{path}: unsafe link {member.name!r} -> {member.linkname!r} in archive")
        yield member


def unpack_into(archive: str | os.PathLike, folder: str | os.PathLike) -> None:
    """Unpack ``archive`` into an existing ``folder`` (not atomic; see :func:`extract`)."""
    archive, folder = Path(archive), Path(folder)
    kind = _archive_kind(archive)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    name = Path(info.filename)
                    if name.is_absolute() or ".." in name.parts:
                        raise InputError(f"{archive}: unsafe member path {info.filename!r} in archive")
                zf.extractall(folder)
        elif kind == "tar":
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(folder, members=_safe_members(tar, archive), **_TAR_FILTER)
        else:
            try:
                import zstandard
            except ImportError:
                raise InputError(f"{archive}: .tar.zst needs the 'zstandard' package "
                                 "(pip install zstandard), or unpack it yourself with "
                                 "'tar --zstd -xf'") from None
            with open(archive, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream, \
                    tarfile.open(fileobj=stream, mode="r|") as tar:
                tar.extractall(folder, members=_safe_stream(tar, archive), **_TAR_FILTER)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise InputError(f"{archive}: corrupt or truncated archive ({type(exc).__name__}: {exc})") from None


def _safe_stream(tar: tarfile.TarFile, path: Path):
    for member in tar:  # streaming mode: members come one by one
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise InputError(f"{path}: unsafe member path {member.name!r} in archive")
        yield member


def extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Unpack ``archive`` into the folder ``dest``, atomically.

    The archive is unpacked into a temporary sibling of ``dest`` that is renamed
    to ``dest`` only when unpacking finished; on any error the temporary is removed
    and ``dest`` is left as it was (absent or the previous content).
    """
    dest = Path(dest)
    with atomic_dir(dest) as tmp:
        unpack_into(archive, tmp)
    return dest


def is_present(path: str | os.PathLike) -> bool:
    """True when ``path`` is a folder with at least one entry that is not hidden."""
    path = Path(path)
    return path.is_dir() and any(not p.name.startswith(".") for p in path.iterdir())


#: Raw sources that no registered dataset owns under their own name: config key -> downloads.
#: ``gmd`` is the Groove MIDI Dataset (MIDI only) that ``gmd_synth`` renders (sha256 from
#: TensorFlow Datasets' checksums, see ../shared/README.md).
RAW_SOURCES: dict[str, tuple[Download, ...]] = {
    "gmd": (Download(url="https://storage.googleapis.com/magentadata/datasets/groove/groove-v1.0.0-midionly.zip",
                     filename="groove-v1.0.0-midionly.zip", size=3_260_318,
                     sha256="651cbc524ffb891be1a3e46d89dc82a1cecb09a57c748c7b45b844c4841dcc1e"),),
}


def downloads_for(name: str) -> tuple[Download, ...]:
    """Downloads of a dataset, by registry name or by config ``paths`` key (``gmd``).

    Raises
    ------
    ConfigError
        Neither a dataset nor a known ``paths`` key.
    """
    from . import NAMES, get

    if name in NAMES:
        spec = get(name)
        if spec.downloads or name not in RAW_SOURCES:
            return spec.downloads
    if name in RAW_SOURCES:
        return RAW_SOURCES[name]
    for other in NAMES:  # a paths key shared by several datasets (gmd_synth, gmd_synth_mix -> gmd)
        if other.startswith("gmd_synth"):
            continue
        spec = get(other)
        if spec.path_key == name:
            return spec.downloads
    raise ConfigError(f"paths.{name}: not a dataset or raw source (known: {', '.join((*NAMES, *RAW_SOURCES))})")


def _flatten_single_folder(folder: Path) -> None:
    """If ``folder`` holds one sub-folder only (plus macOS ``__MACOSX`` litter), move its content up."""
    shutil.rmtree(folder / "__MACOSX", ignore_errors=True)
    entries = list(folder.iterdir())
    if len(entries) != 1 or not entries[0].is_dir():
        return
    inner = entries[0]
    parked = folder / f".{inner.name}.flatten"
    os.replace(inner, parked)
    for child in parked.iterdir():
        os.replace(child, folder / child.name)
    parked.rmdir()


def download(name: str, path: str | os.PathLike, progress: bool = True,
             cache_dir: str | os.PathLike | None = None) -> Path:
    """Return the folder of dataset ``name`` at ``path``, downloading it if absent (rule ``download``).

    ``name`` is a registry name or a config ``paths`` key (``gmd``). A ``path``
    that already holds files is used as is (no network; the loader checks its
    layout). Otherwise every download of the dataset is fetched into ``cache_dir``
    (default ``<path's parent>/.downloads/<name>``; archives stay there, so a rerun
    neither downloads nor resumes again), then unpacked (or cloned at the pinned
    commit) into a temporary sibling of ``path`` that is renamed to ``path`` once
    everything is in place. A dataset of one archive whose content is a single
    top folder (``groove/``, ``e-gmd-v1.0.0/``, ...) has that folder's content
    placed directly in ``path``.

    Raises
    ------
    InputError
        The dataset has no public download (ADTOF-YT, SADTP): the message says
        where to place it by hand.
    ChecksumError
        A download does not match its checksum (nothing is left at ``path``).
    """
    path = Path(path)
    if is_present(path):
        return path
    downloads = downloads_for(name)
    if not downloads:
        raise InputError(f"{path}: dataset {name!r} not found and it has no public download; "
                         f"place it there by hand (see docs/datasets.md#{name})")
    cache = Path(cache_dir) if cache_dir is not None else path.parent / CACHE_DIR / name
    files = {d: fetch(d, cache, progress=progress) for d in downloads if d.git_commit is None}
    with atomic_dir(path) as tmp:
        for d in downloads:
            if d.git_commit is not None:  # cloned straight into place (no second copy)
                git_checkout(d, tmp / d.filename)
            elif d.extract:
                unpack_into(files[d], tmp)
            else:
                shutil.copy2(files[d], tmp / d.filename)
        if len(downloads) == 1 and downloads[0].extract and downloads[0].git_commit is None:
            _flatten_single_folder(tmp)
    return path


def require_layout(root: str | os.PathLike, dataset: str, *expected: str) -> Path:
    """Return ``root`` as a Path if it is a folder holding every relative path in ``expected``.

    Used by every loader's ``tracks(root)``; ``expected`` entries may be globs.

    Raises
    ------
    InputError
        ``"<root>: dataset path not found"`` or ``"<root>: not a <dataset> folder (missing ...)"``.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: {dataset} dataset path not found (set paths.{dataset} in the config, "
                         f"or see docs/datasets.md#{dataset})")
    for rel in expected:
        if not (any(root.glob(rel)) if any(ch in rel for ch in "*?[") else (root / rel).exists()):
            raise InputError(f"{root}: not a {dataset} folder (missing {rel})")
    return root
