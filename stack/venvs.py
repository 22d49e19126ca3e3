"""Pinned virtualenvs for keystone and swift, created once and reused.

A venv's directory name carries a hash of its pinned requirements and of the
Python version, so a change of pins gives a new venv and never mutates a
ready one. Creation is safe against concurrent runs (a file lock) and atomic:
the venv is built in a temporary directory and renamed into place with a
``.ostk-ready`` marker inside, so a killed install never looks ready.

Because the directory is renamed after creation, console scripts' shebangs
point at the temporary path: always run tools as ``<venv>/bin/python -m ...``
(see :attr:`Venv.python`).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from filelock import FileLock, Timeout

from ostk import dirs
from ostk.errors import InputError
from stack.processes import log_tail

READY_MARKER = ".ostk-ready"

#: Requirements files shipped in stack/requirements/, per venv.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "keystone": ("keystone.txt",),
    "swift": ("swift.txt", "swift-functest.txt"),
    # Other projects' suites, each in its own venv (tests/integration/test_peer_*.py).
    "tempest": ("tempest.txt",),
    "peer-clients": ("peer-clients.txt",),
}


class VenvFailed(InputError):
    """pip could not build a venv (exit 3: the local toolchain or index failed)."""


@dataclass(frozen=True)
class Venv:
    """A ready virtualenv."""

    name: str
    path: Path

    @property
    def python(self) -> Path:
        """The venv's interpreter (run tools with ``python -m``; scripts' shebangs are stale)."""
        return self.path / "bin" / "python"


def default_venvs_dir(environ: Mapping[str, str]) -> Path:
    """``$OSTK_VENVS_DIR`` or ``$XDG_DATA_HOME/ostk/venvs``."""
    override = environ.get("OSTK_VENVS_DIR")
    if override:
        return Path(override)
    return dirs.data_dir(environ) / "venvs"


def requirement_texts(name: str) -> list[tuple[str, bytes]]:
    """(file name, content) of the requirements files for venv ``name``."""
    folder = resources.files("stack") / "requirements"
    return [(file, (folder / file).read_bytes()) for file in REQUIREMENTS[name]]


def pinned_version(venv: str, package: str) -> str:
    """The version ``package`` is pinned to in venv ``venv``'s requirements."""
    for _file, content in requirement_texts(venv):
        for line in content.decode().splitlines():
            name, _, version = line.partition("==")
            if name.strip().lower() == package:
                return version.strip()
    return "unknown"


def venv_key(name: str) -> str:
    """Short hash of the pinned requirements and the interpreter version."""
    digest = hashlib.sha256(f"{sys.version_info[:3]}".encode())
    for file, content in requirement_texts(name):
        digest.update(file.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:12]


def venv_path(name: str, venvs_dir: Path) -> Path:
    """Where the venv for ``name`` with today's pins lives (ready or not)."""
    return venvs_dir / f"{name}-{venv_key(name)}"


def is_ready(path: Path) -> bool:
    """True if ``path`` is a finished venv."""
    return (path / READY_MARKER).is_file() and (path / "bin" / "python").exists()


def ensure_venv(name: str, venvs_dir: Path, *, timeout: float = 1800.0) -> Venv:
    """The ready venv for ``name``, creating it (under a lock) if needed."""
    target = venv_path(name, venvs_dir)
    if is_ready(target):
        return Venv(name, target)
    try:
        venvs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {venvs_dir}: {exc.strerror}") from exc
    lock = FileLock(str(venvs_dir / f".{target.name}.lock"))
    try:
        with lock.acquire(timeout=timeout):
            # Someone else may have finished it while we waited.
            if not is_ready(target):
                _build(name, target)
    except Timeout as exc:
        raise VenvFailed(f"{name} venv: another process has been building {target} for {timeout:.0f} s") from exc
    return Venv(name, target)


def _build(name: str, target: Path) -> None:
    venvs_dir = target.parent
    # Leftovers of killed builds: nobody else builds this key (we hold the lock).
    for stale in venvs_dir.glob(f".{target.name}.build-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    log = venvs_dir / f"{target.name}.log"
    build = Path(tempfile.mkdtemp(dir=venvs_dir, prefix=f".{target.name}.build-"))
    try:
        with tempfile.TemporaryDirectory() as reqdir:
            requirement_args: list[str] = []
            for file, content in requirement_texts(name):
                path = Path(reqdir) / file
                path.write_bytes(content)
                requirement_args += ["-r", str(path)]
            with open(log, "wb") as sink:
                _run([sys.executable, "-m", "venv", str(build)], sink, name, log)
                _run(
                    [
                        str(build / "bin" / "python"), "-m", "pip", "install",
                        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
                        *requirement_args,
                    ],
                    sink, name, log,
                )
        (build / READY_MARKER).write_text(f"{name}\n")
        build.rename(target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


def _run(argv: Sequence[str], sink, name: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    sink.write(("$ " + " ".join(argv) + "\n").encode())
    sink.flush()
    try:
        result = subprocess.run(argv, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise VenvFailed(f"{name} venv: cannot run {argv[0]}: {exc.strerror}") from exc
    if result.returncode != 0:
        sink.flush()
        tail = "".join(f"\n    {line}" for line in log_tail(log, 12))
        raise VenvFailed(f"{name} venv: {' '.join(argv[2:4])} failed with status {result.returncode} (log: {log}){tail}")

