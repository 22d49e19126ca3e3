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

import ast
import ensurepip
import hashlib
import importlib.metadata
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import IO

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


# -- pip's configuration, as uv must be told it ------------------------------

#: pip options that change nothing about which files get installed: output,
#: pip's own cache and checks, bytecode, and options that only act on an
#: existing environment (the venv is new).
_WITHOUT_EFFECT = frozenset({
    "break-system-packages", "cache-dir", "no-cache-dir", "compile", "no-compile", "config-file",
    "disable-pip-version-check", "exists-action", "isolated", "log", "log-file", "no-color", "no-input",
    "no-python-version-warning", "no-warn-conflicts", "no-warn-script-location", "progress-bar", "quiet",
    "require-virtualenv", "root-user-action", "upgrade-strategy", "verbose",
})

#: Aliases of an option in pip's configuration (both spellings set one pip option).
_ALIASES = {"default-timeout": "timeout", "i": "index-url", "f": "find-links", "c": "constraint"}

#: uv's own variables kept in its environment: where it caches and how fast it
#: works, never what it installs (that comes from pip's configuration alone).
_UV_VARIABLES_KEPT = frozenset({
    "UV_CACHE_DIR", "UV_NO_CACHE", "UV_LINK_MODE", "UV_CONCURRENT_DOWNLOADS", "UV_CONCURRENT_BUILDS",
    "UV_CONCURRENT_INSTALLS",
})


@dataclass(frozen=True)
class PipSettings:
    """Where and how pip finds packages, from its configuration files and ``PIP_*`` variables."""

    #: ``index-url``: the main index (pip's default, PyPI, when None).
    index_url: str | None = None
    #: ``extra-index-url``: further indexes, searched together with the main one.
    extra_index_urls: tuple[str, ...] = ()
    #: ``no-index``: no index at all, only ``find-links``.
    no_index: bool = False
    #: ``find-links``: directories or pages of distributions.
    find_links: tuple[str, ...] = ()
    #: ``constraint``: constraints files applied to every install.
    constraints: tuple[str, ...] = ()
    #: ``cert``: the CA bundle for HTTPS.
    cert: str | None = None
    #: ``client-cert``: a client certificate (PEM, with its key) for HTTPS.
    client_cert: str | None = None
    #: ``trusted-host``: hosts reached without verifying their certificate.
    trusted_hosts: tuple[str, ...] = ()
    #: ``timeout`` (or ``default-timeout``): seconds per socket operation.
    timeout: str | None = None
    #: ``retries``: attempts per request.
    retries: str | None = None
    #: ``proxy``: one proxy for every request.
    proxy: str | None = None
    #: ``pre``: pre-releases are candidates.
    pre: bool = False
    #: ``only-binary`` / ``no-binary``: package names, ``:all:`` or ``:none:``.
    only_binary: tuple[str, ...] = ()
    no_binary: tuple[str, ...] = ()
    #: ``require-hashes``: every requirement must carry a hash.
    require_hashes: bool = False
    #: Options set in pip's configuration that uv cannot be told (pip must build).
    untranslated: tuple[str, ...] = ()


def pip_settings(listing: str) -> PipSettings:
    r""":class:`PipSettings` from the output of ``python -m pip config list``.

    That output has one ``section.option='value'`` line per setting, files
    already merged (``:env:`` for ``PIP_*`` variables). An install takes
    ``:env:`` over ``[install]`` over ``[global]``, as pip does; other
    sections are other commands'.

    >>> settings = pip_settings("global.find-links='/opt/wheels'\n:env:.default-timeout='180'\n")
    >>> settings.find_links, settings.timeout
    (('/opt/wheels',), '180')
    """
    precedence = {"global": 0, "install": 1, ":env:": 2}
    chosen: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        key, sep, raw = line.partition("=")
        section, dot, option = key.strip().partition(".")
        if not sep or not dot or section not in precedence:
            continue
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        option = _ALIASES.get(option, option)
        rank = precedence[section]
        if option not in chosen or chosen[option][0] <= rank:
            chosen[option] = (rank, str(value))
    values = {option: value for option, (_rank, value) in chosen.items()}

    def words(option: str) -> tuple[str, ...]:
        return tuple(values.pop(option, "").split())

    def flag(option: str) -> bool:
        return values.pop(option, "0").strip().lower() in ("1", "y", "yes", "t", "true", "on")

    def names(option: str) -> tuple[str, ...]:
        return tuple(n for n in values.pop(option, "").replace(",", " ").split())

    settings = PipSettings(
        index_url=values.pop("index-url", None),
        extra_index_urls=words("extra-index-url"),
        no_index=flag("no-index"),
        find_links=words("find-links"),
        constraints=words("constraint"),
        cert=values.pop("cert", None),
        client_cert=values.pop("client-cert", None),
        trusted_hosts=words("trusted-host"),
        timeout=values.pop("timeout", None),
        retries=values.pop("retries", None),
        proxy=values.pop("proxy", None),
        pre=flag("pre"),
        only_binary=names("only-binary"),
        no_binary=names("no-binary"),
        require_hashes=flag("require-hashes"),
    )
    untranslated = tuple(sorted(option for option in values if option not in _WITHOUT_EFFECT))
    return replace(settings, untranslated=untranslated)


def uv_install_options(settings: PipSettings, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """Arguments of ``uv pip install`` and its environment, saying what ``settings`` say to pip.

    ``environ`` is the environment pip would run in: uv's own ``UV_*`` variables
    that could change what it installs are left out of the result, and the CA
    bundle pip takes from ``REQUESTS_CA_BUNDLE`` is passed on.
    """
    # pip looks at every index and takes the best match; uv by default stops at
    # the first index that has the project at all.
    args = ["--no-config", "--index-strategy", "unsafe-best-match"]
    if settings.no_index:
        args.append("--no-index")
    if settings.index_url:
        args += ["--default-index", settings.index_url]
    for url in settings.extra_index_urls:
        args += ["--index", url]
    for place in settings.find_links:
        args += ["--find-links", place]
    for constraints in settings.constraints:
        args += ["--constraints", constraints]
    cert = settings.cert or environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    if cert:
        args += ["--cert", cert]
    for host in settings.trusted_hosts:
        args += ["--allow-insecure-host", host]
    if settings.pre:
        args += ["--prerelease", "allow"]
    for name in settings.only_binary:
        args += ["--only-binary", name]
    for name in settings.no_binary:
        args += ["--no-binary", name]
    if settings.require_hashes:
        args.append("--require-hashes")
    env = {k: v for k, v in environ.items() if not k.startswith("UV_") or k in _UV_VARIABLES_KEPT}
    # uv takes whole numbers here; pip takes any float (and fails on what is not one).
    timeout = _whole(settings.timeout, math.ceil)
    if timeout is not None:
        env["UV_HTTP_TIMEOUT"] = timeout
    retries = _whole(settings.retries, int)
    if retries is not None:
        env["UV_HTTP_RETRIES"] = retries
    if settings.proxy:
        env["HTTP_PROXY"] = env["HTTPS_PROXY"] = settings.proxy
    if settings.client_cert:
        env["SSL_CLIENT_CERT"] = settings.client_cert
    return args, env


def _whole(value: str | None, rounding: Callable[[float], int]) -> str | None:
    try:
        return None if value is None else str(rounding(float(value)))
    except (ValueError, OverflowError):
        return None


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
