"""Atomic file writes and private directories.

Every file ostk writes (caches, test.conf, certificates, signed lists) goes
through here: written to a temporary file in the same directory, flushed to
disk, then renamed over the target. A reader sees the old file or the new one,
never half of either, and a failed write leaves the old file untouched.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

from ostk.errors import InputError


def ensure_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and parents) if missing; a directory we create is 0700.

    An existing directory is left as it is: use :func:`private_dir_warnings`
    to tell the user when it is too open or owned by someone else.
    """
    target = Path(path)
    try:
        if not target.is_dir():
            target.mkdir(parents=True, mode=0o700, exist_ok=True)
            # mkdir's mode is filtered by the umask; make it exact.
            os.chmod(target, 0o700)
    except OSError as exc:
        raise InputError(f"cannot create directory {target}: {exc.strerror}") from exc
    return target


def private_dir_warnings(path: str | os.PathLike[str]) -> list[str]:
    """Reasons why ``path`` is not a safe place for secrets (empty if it is)."""
    target = Path(path)
    try:
        info = target.stat()
    except OSError:
        return []
    warnings = []
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        warnings.append(f"{target} is owned by uid {info.st_uid}, not by you")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(f"{target} is accessible by others (mode {stat.S_IMODE(info.st_mode):04o})")
    return warnings


@overload
@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], *, mode: int = ..., binary: Literal[False] = ...
) -> Iterator[IO[str]]: ...


@overload
@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], *, mode: int = ..., binary: Literal[True]
) -> Iterator[IO[bytes]]: ...


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, mode: int = 0o600, binary: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success rename it over ``path``.

    If the ``with`` body raises (or the process is interrupted), the temporary
    file is removed and ``path`` keeps its previous content.

    >>> with atomic_writer("test.conf", mode=0o600) as f:
    ...     f.write("[func_test]\\n")
    """
    target = Path(path)
    directory = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(directory)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically with permission bits ``mode``."""
    try:
        if isinstance(data, bytes):
            with atomic_writer(path, mode=mode, binary=True) as handle:
                handle.write(data)
        else:
            with atomic_writer(path, mode=mode) as handle:
                handle.write(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _fsync_dir(directory: Path) -> None:
    # Make the rename itself durable; not every filesystem allows it.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
