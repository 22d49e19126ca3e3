"""Pinned virtualenvs for keystone and swift, created once and reused.

A venv's directory name carries a hash of its pinned requirements and of the
Python version, so a change of pins gives a new venv and never mutates a
ready one. Creation is safe against concurrent runs (a file lock) and atomic:
the venv is built in a temporary directory and renamed into place with a
``.ostk-ready`` marker inside, so a killed install never looks ready.

Venvs are built with uv (seconds instead of half a minute), told exactly what
pip's own configuration tells pip (:func:`pip_settings`), and seeded with the
pip and setuptools wheels that ``python -m venv`` would have put there. When uv
is missing, cannot honour an option of pip's configuration, or fails, the venv
is built with ``python -m venv`` and pip as before; the log says why.

Because the directory is renamed after creation, console scripts' shebangs
point at the temporary path: always run tools as ``<venv>/bin/python -m ...``
(see :attr:`Venv.python`).
"""
from __future__ import annotations

import ensurepip
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO

from filelock import FileLock, Timeout

from ostk import dirs
from ostk.errors import InputError
from stack.pipconfig import PipSettings, pip_settings, uv_install_options
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


def built_with(path: Path) -> str | None:
    """The installer that built the ready venv at ``path`` (``"uv 0.13.9"``, ``"pip 23.2.1"``).

    None if ``path`` is not ready or was built before the marker recorded it.
    """
    try:
        lines = (path / READY_MARKER).read_text().splitlines()
    except OSError:
        return None
    return lines[1] if len(lines) > 1 else None


def ensure_venv(name: str, venvs_dir: Path, *, timeout: float = 1800.0, use_uv: bool = True) -> Venv:
    """The ready venv for ``name``, creating it (under a lock) if needed.

    ``use_uv=False`` builds with ``python -m venv`` and pip only.
    """
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
                _build(name, target, use_uv=use_uv)
    except Timeout as exc:
        raise VenvFailed(f"{name} venv: another process has been building {target} for {timeout:.0f} s") from exc
    return Venv(name, target)


class _NotWithUv(Exception):
    """uv cannot build this venv as pip would; the message says why."""


def _read_pip_settings(environ: Mapping[str, str]) -> PipSettings:
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
            stdin=subprocess.DEVNULL, env=dict(environ), timeout=60, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _NotWithUv(f"cannot read pip's configuration: {exc}") from exc
    if result.returncode != 0:
        raise _NotWithUv(f"cannot read pip's configuration: pip config list exited {result.returncode}")
    settings = pip_settings(result.stdout)
    if settings.untranslated:
        raise _NotWithUv(f"pip's configuration sets {', '.join(settings.untranslated)}, which uv is not told")
    return settings


#: Where this Python keeps the wheels ``python -m venv`` installs (pip; setuptools before 3.12).
_BUNDLED_WHEELS = Path(ensurepip.__file__).parent / "_bundled"


def _seed_requirements() -> list[str]:
    """``pip==X`` (and ``setuptools==Y``) as bundled with this Python, found in :data:`_BUNDLED_WHEELS`."""
    # As requirements from a find-links directory, not as paths: installed from
    # paths, `pip freeze` would list them as `pip @ file://...`.
    pins = []
    for wheel in sorted(_BUNDLED_WHEELS.glob("*.whl")):
        project, version = wheel.name.split("-")[:2]
        pins.append(f"{project}=={version}")
    return pins


# -- building -----------------------------------------------------------------

def _build(name: str, target: Path, *, use_uv: bool) -> None:
    venvs_dir = target.parent
    # Leftovers of killed builds: nobody else builds this key (we hold the lock).
    for stale in venvs_dir.glob(f".{target.name}.build-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    log = venvs_dir / f"{target.name}.log"
    build = Path(tempfile.mkdtemp(dir=venvs_dir, prefix=f".{target.name}.build-"))
    try:
        with tempfile.TemporaryDirectory() as reqdir, open(log, "wb") as sink:
            requirement_args: list[str] = []
            for file, content in requirement_texts(name):
                path = Path(reqdir) / file
                path.write_bytes(content)
                requirement_args += ["-r", str(path)]
            steps = _Steps(name, log, sink)
            installer = None
            if use_uv:
                try:
                    installer = _build_with_uv(build, requirement_args, steps)
                except (_NotWithUv, VenvFailed) as exc:
                    # A venv must get built whenever pip could build it.
                    steps.note(f"# not built with uv: {str(exc).splitlines()[0]}; building with pip")
                    shutil.rmtree(build, ignore_errors=True)
                    build.mkdir()
            if installer is None:
                installer = _build_with_pip(build, requirement_args, steps)
        (build / READY_MARKER).write_text(f"{name}\n{installer}\n")
        build.rename(target)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


def _build_with_uv(build: Path, requirement_args: list[str], steps: _Steps) -> str:
    try:
        from uv import find_uv_bin

        uv = find_uv_bin()
        version = importlib.metadata.version("uv")
    except (ImportError, FileNotFoundError, importlib.metadata.PackageNotFoundError) as exc:
        raise _NotWithUv(f"uv is not installed ({exc})") from exc
    # pip would run in this process's environment: read its configuration there.
    settings = _read_pip_settings(os.environ)
    seeds = _seed_requirements()
    if not seeds:
        raise _NotWithUv(f"no pip wheel in {_BUNDLED_WHEELS} to seed the venv with")
    options, env = uv_install_options(settings, os.environ)
    python = str(build / "bin" / "python")
    steps.note(f"# uv {version}, told what pip's configuration says")
    steps.run("uv venv", [uv, "venv", "--no-config", "--no-project", "--no-python-downloads", "--quiet",
                          "--python", sys.executable, str(build)], env)
    # What `python -m venv` puts in every venv, at the versions this Python bundles:
    # tools run `<venv>/bin/python -m pip`, and packages that want setuptools (the
    # pins leave it out) find this one, as with pip, instead of uv fetching today's.
    steps.run("uv pip install (pip, setuptools)",
              [uv, "pip", "install", "--no-config", "--no-index", "--find-links", str(_BUNDLED_WHEELS), "--no-deps",
               "--python", python, *seeds], env)
    # pip byte-compiles what it installs; so must uv: the servers run with
    # PYTHONDONTWRITEBYTECODE, so without this every start compiles what it imports
    # (measured: warm `up --swift` 7.6 s compiled, 13-15 s not).
    steps.run("uv pip install", [uv, "pip", "install", "--compile-bytecode", "--python", python,
                                 *options, *requirement_args], env)
    steps.run("uv pip check", [uv, "pip", "check", "--no-config", "--python", python], env)
    return f"uv {version}"


def _build_with_pip(build: Path, requirement_args: list[str], steps: _Steps) -> str:
    steps.run("python -m venv", [sys.executable, "-m", "venv", str(build)])
    steps.run(
        "pip install",
        [
            str(build / "bin" / "python"), "-m", "pip", "install",
            "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
            *requirement_args,
        ],
    )
    return f"pip {ensurepip.version()}"


@dataclass(frozen=True)
class _Steps:
    """Runs one build's commands, all output into its log."""

    name: str
    log: Path
    sink: IO[bytes]

    def note(self, text: str) -> None:
        self.sink.write((text + "\n").encode())
        self.sink.flush()

    def run(self, step: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.note("$ " + " ".join(argv))
        try:
            result = subprocess.run(
                argv, stdout=self.sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=None if env is None else dict(env), check=False,
            )
        except OSError as exc:
            raise VenvFailed(f"{self.name} venv: cannot run {argv[0]}: {exc.strerror}") from exc
        if result.returncode != 0:
            self.sink.flush()
            tail = "".join(f"\n    {line}" for line in log_tail(self.log, 12))
            raise VenvFailed(
                f"{self.name} venv: {step} failed with status {result.returncode} (log: {self.log}){tail}"
            )
