"""Atomic outputs: a killed job never leaves a half-written file behind.

Every writer in drumscribe writes to a temporary sibling (same folder, so the
final ``os.replace`` is atomic on POSIX) and renames it into place only once the
content is complete. On any exception the temporary is removed; one that comes
from a full disk (``ENOSPC``, or a bare library error with the disk all but full)
becomes ``OutputError("<output>: no space left on device")``, naming the output
rather than its hidden temporary.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import DrumscribeError, OutputError


#: Free space below which a failed write is put down to a full disk (libsndfile says only "System error.").
FULL_BELOW_BYTES = 1 << 20


def _disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc`` (raised while writing into ``folder``) comes from a full disk."""
    seen = exc
    while seen is not None:
        if getattr(seen, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "no space left" in str(seen).lower() \
                or "errno = 28" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    if not isinstance(exc, (OSError, RuntimeError)):  # libsndfile's "System error." is a RuntimeError
        return False
    try:
        return shutil.disk_usage(folder).free < FULL_BELOW_BYTES
    except OSError:
        return False


def _full_error(path: Path, exc: BaseException, folder: Path):
    """An ``OutputError`` naming the output (not its temporary) when the disk is full, else None."""
    if isinstance(exc, Exception) and not isinstance(exc, DrumscribeError) and _disk_full(exc, folder):
        return OutputError(f"{path}: no space left on device")
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` on success.

    The temporary keeps the final suffix (or ``suffix``) so libraries that infer the
    format from the extension (soundfile, h5py, matplotlib) behave the same.

    Examples
    --------
    >>> with atomic_path("out.csv") as tmp:  # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600; give the output the permissions a plain open() would (umask)
    os.chmod(tmp_path, 0o666 & ~_umask())
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException as exc:
        full = _full_error(path, exc, path.parent)  # asked before the temporary frees its space
        if isinstance(exc, OutputError) and str(tmp_path) in str(exc):  # a writer that is atomic itself
            full = OutputError(str(exc).replace(str(tmp_path), str(path)))
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if full is not None:
            raise full from None
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; rename it to ``path`` on success.

    An existing ``path`` is replaced only once the new folder is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        full = _full_error(path, exc, path.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from None
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
