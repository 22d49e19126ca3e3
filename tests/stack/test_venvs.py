"""Venvs: keyed by their pins, built once under a lock, atomically (never half ready)."""
from __future__ import annotations

import ensurepip
import itertools
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from stack import venvs
from stack.venvs import VenvFailed, ensure_venv, is_ready, venv_path

#: Building a venv costs a second with uv, a few with pip (ensurepip).
SLOW = pytest.mark.slow


@pytest.fixture
def pins(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Replace the shipped pins by an empty requirements file (no downloads)."""
    content = {"demo": b"# nothing to install\n"}
    monkeypatch.setattr(venvs, "requirement_texts", lambda name: [("demo.txt", content[name])])
    return content


def test_the_shipped_pins_pin_every_package() -> None:
    for name in venvs.REQUIREMENTS:
        for file, content in venvs.requirement_texts(name):
            if file == "swift-functest.txt":
                continue  # the functional-test tool's own list
            lines = [x for x in content.decode().splitlines() if x.strip() and not x.startswith("#")]
            assert lines and all("==" in line for line in lines), file
    assert "keystone==30.0.0" in venvs.requirement_texts("keystone")[0][1].decode()
    assert "swift==2.38.1" in venvs.requirement_texts("swift")[0][1].decode()


@SLOW
def test_concurrent_callers_share_one_build(tmp_path: Path, pins: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []
    real_build = venvs._build
    monkeypatch.setattr(venvs, "_build", lambda name, target, **how: (builds.append(target), real_build(name, target, **how)))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_venv("demo", tmp_path).path)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(builds) == 1
    assert len(set(results)) == 1 and is_ready(results[0])
    assert results[0].name.startswith("demo-")
    assert (results[0] / "bin" / "python").exists()
    # A change of pins means another venv, never a mutated one.
    pins["demo"] = b"# other pins\n"
    assert venv_path("demo", tmp_path) != results[0]


@SLOW
def test_leftovers_of_a_killed_build_are_replaced(tmp_path: Path, pins: dict[str, bytes]) -> None:
    target = venv_path("demo", tmp_path)
    (target / "bin").mkdir(parents=True)  # half a venv, no ready marker
    stale = tmp_path / f".{target.name}.build-killed"
    stale.mkdir()
    assert not is_ready(target)
    venv = ensure_venv("demo", tmp_path)
    assert venv.path == target and is_ready(target)
    assert not stale.exists()


@SLOW
def test_a_failed_install_leaves_nothing_that_looks_ready(tmp_path: Path, pins: dict[str, bytes]) -> None:
    pins["demo"] = b"this is not a requirement !!\n"
    with pytest.raises(VenvFailed) as caught:
        ensure_venv("demo", tmp_path)
    assert "demo venv: pip install failed" in str(caught.value)
    assert caught.value.exit_status == 3
    assert not venv_path("demo", tmp_path).exists()
    assert not list(tmp_path.glob(".*.build-*"))


# -- building with uv, told what pip's configuration says ---------------------

#: `python -m pip config list` on a machine configured like the developers' ones.
PIP_CONFIG_LIST = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.disable-pip-version-check='1'
:env:.find-links='/opt/wheels'
global.cert='/etc/ssl/certs/ca-certificates.crt'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/elsewhere'
"""


def test_pip_settings_read_every_place_pip_looks_for_packages() -> None:
    settings = venvs.pip_settings(PIP_CONFIG_LIST)
    assert settings.extra_index_urls == ("file:///opt/pypi/simple", "file:///opt/pypi-more/simple")
    assert settings.find_links == ("/opt/wheels",)  # PIP_FIND_LINKS wins over the file
    assert settings.constraints == ("/etc/xdg/pip/constraints.txt",)
    assert settings.cert == "/etc/ssl/certs/ca-certificates.crt"
    assert settings.timeout == "180"
    assert settings.index_url is None and not settings.no_index
    assert settings.untranslated == ()


def test_pip_settings_take_the_environment_over_install_over_global() -> None:
    listing = (
        "global.index-url='https://global.example/simple'\n"
        "install.index-url='https://install.example/simple'\n"
        "download.index-url='https://download.example/simple'\n"  # another command's section
        "global.extra-index-url='\\nhttps://a.example/simple\\nhttps://b.example/simple'\n"  # multi-line value
        "install.pre='yes'\n"
        "global.only-binary=':all:'\n"
        ":env:.no-binary='lxml,pyeclib'\n"
        ":env:.no-index='false'\n"
    )
    settings = venvs.pip_settings(listing)
    assert settings.index_url == "https://install.example/simple"
    assert settings.extra_index_urls == ("https://a.example/simple", "https://b.example/simple")
    assert settings.pre and not settings.no_index
    assert settings.only_binary == (":all:",) and settings.no_binary == ("lxml", "pyeclib")
    assert venvs.pip_settings(listing + ":env:.index-url='https://env.example/simple'\n").index_url == (
        "https://env.example/simple"
    )


def test_an_option_uv_would_not_be_told_is_named_not_ignored() -> None:
    listing = PIP_CONFIG_LIST + "install.use-feature='truststore'\n:env:.user='1'\n:env:.progress-bar='off'\n"
    assert venvs.pip_settings(listing).untranslated == ("use-feature", "user")


def test_uv_is_told_what_pip_is_told() -> None:
    settings = venvs.pip_settings(PIP_CONFIG_LIST + "global.trusted-host='mirror.example'\n")
    environ = {"PATH": "/usr/bin", "UV_INDEX_URL": "https://other.example/simple", "UV_CACHE_DIR": "/tmp/uv"}
    args, env = venvs.uv_install_options(settings, environ)
    pairs = list(itertools.pairwise(args))
    # pip compares versions across all its indexes; uv would stop at the first that has the project.
    assert ("--index-strategy", "unsafe-best-match") in pairs
    assert ("--index", "file:///opt/pypi/simple") in pairs and ("--index", "file:///opt/pypi-more/simple") in pairs
    assert ("--find-links", "/opt/wheels") in pairs and "/elsewhere" not in args
    assert ("--constraints", "/etc/xdg/pip/constraints.txt") in pairs
    assert ("--cert", "/etc/ssl/certs/ca-certificates.crt") in pairs
    assert ("--allow-insecure-host", "mirror.example") in pairs
    assert "--no-config" in args  # no uv.toml of the user's adds to it
    assert "--default-index" not in args  # PyPI, as for pip
    assert env["UV_HTTP_TIMEOUT"] == "180"
    # uv's own settings of what to install are not pip's: left out; where it caches stays.
    assert "UV_INDEX_URL" not in env and env["UV_CACHE_DIR"] == "/tmp/uv" and env["PATH"] == "/usr/bin"


def test_uv_gets_the_ca_bundle_pip_takes_from_requests_environment() -> None:
    args, _env = venvs.uv_install_options(venvs.PipSettings(), {"REQUESTS_CA_BUNDLE": "/etc/ca.pem"})
    assert args[args.index("--cert") + 1] == "/etc/ca.pem"
    args, env = venvs.uv_install_options(venvs.PipSettings(no_index=True, proxy="http://proxy:3128"), {})
    assert "--no-index" in args and "--cert" not in args
    assert env["HTTPS_PROXY"] == env["HTTP_PROXY"] == "http://proxy:3128"


@SLOW
def test_uv_builds_a_venv_that_pip_finds_consistent(tmp_path: Path, pins: dict[str, bytes]) -> None:
    pins["demo"] = b"six==1.17.0\n"
    venv = ensure_venv("demo", tmp_path)
    assert (venvs.built_with(venv.path) or "").startswith("uv ")
    assert subprocess.run([venv.python, "-c", "import six"], check=False).returncode == 0
    # `python -m venv` seeds pip (and setuptools before 3.12); tools run `<venv>/bin/python -m pip`.
    check = subprocess.run([venv.python, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout
    freeze = subprocess.run([venv.python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert "six==1.17.0" in freeze and f"pip=={ensurepip.version()}" in freeze
    assert not list(tmp_path.glob(".*.build-*"))


@SLOW
def test_when_uv_fails_pip_builds_the_venv(tmp_path: Path, pins: dict[str, bytes],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pins["demo"] = b"six==1.17.0\n"
    unusable = venvs.PipSettings(index_url=(tmp_path / "no-index").as_uri())
    monkeypatch.setattr(venvs, "_read_pip_settings", lambda environ: unusable)
    venv = ensure_venv("demo", tmp_path)
    assert venvs.built_with(venv.path) == f"pip {ensurepip.version()}"
    log = (tmp_path / f"{venv.path.name}.log").read_text()
    assert "not built with uv: demo venv: uv pip install failed" in log
    assert subprocess.run([venv.python, "-c", "import six"], check=False).returncode == 0


def test_without_uv_pip_builds_the_venv(tmp_path: Path, pins: dict[str, bytes],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        raise FileNotFoundError("no uv here")

    def pip_build(build: Path, requirement_args: list[str], steps: object) -> str:
        # The real pip build is the one above; this only needs to know it was chosen.
        (build / "bin").mkdir()
        (build / "bin" / "python").symlink_to(sys.executable)
        return "pip (test double)"

    monkeypatch.setattr("uv.find_uv_bin", missing)
    monkeypatch.setattr(venvs, "_build_with_pip", pip_build)
    venv = ensure_venv("demo", tmp_path)
    assert venvs.built_with(venv.path) == "pip (test double)"
    assert "not built with uv: uv is not installed (no uv here)" in (tmp_path / f"{venv.path.name}.log").read_text()
