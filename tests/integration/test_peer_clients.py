"""openstacksdk's and python-swiftclient's functional tests pass against a stack this module starts.

Each suite comes from its project's source distribution (the wheel has no
functional tests), pinned in stack/requirements/peer-clients.txt and run in
that venv:

* openstacksdk 4.22.0: ``functional/identity``, ``functional/object_store``,
  ``functional/cloud/test_identity.py`` and ``test_object_store.py``, through
  devstack's clouds.yaml names (``ostk stack env --write-clouds-yaml``).
* python-swiftclient 4.11.0: ``test/functional`` twice, as its two auth
  modes need: keystone v3 (accounts from ``ostk swift-functest-setup``) and v1
  (tempauth, ``up --tempauth``). Each run skips exactly the other mode's
  tests, so every test runs once.

Takes ~4-5 minutes on 2 loaded cores.
"""
from __future__ import annotations

import configparser
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ostk import dirs
from ostk.cli import main
from ostk.environment import Environment
from ostk.files import ensure_private_dir
from stack import Stack, default_venvs_dir, local_stack
from stack.peers import swiftclient_test_conf
from stack.venvs import Venv, ensure_venv

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUITE_TIMEOUT = 20 * 60
OPENSTACKSDK_TESTS = (
    "openstack/tests/functional/identity",
    "openstack/tests/functional/object_store",
    "openstack/tests/functional/cloud/test_identity.py",
    "openstack/tests/functional/cloud/test_object_store.py",
)


def sdist_tree(venv: Venv, project: str, version: str) -> Path:
    """The unpacked source distribution of ``project==version``, cached under the XDG cache."""
    cache = ensure_private_dir(dirs.cache_dir(os.environ) / "peer-suites")
    ready = cache / f"{project}-{version}.complete"
    found = sorted(p for p in cache.iterdir() if p.is_dir() and p.name.lower().replace("_", "-")
                   == f"{project}-{version}".lower())
    if ready.exists() and found:
        return found[0]
    subprocess.run([str(venv.python), "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "--dest", str(cache), f"{project}=={version}"], check=True, timeout=600)
    archive = next(p for p in cache.glob("*.tar.gz")
                   if p.name.lower().replace("_", "-").startswith(f"{project}-{version}".lower()))
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")
    ready.write_text(version)
    return sdist_tree(venv, project, version)


def _pinned(venv: str, package: str) -> str:
    from stack.stack import pinned_version
    return pinned_version(venv, package)


@pytest.fixture(scope="module")
def clients() -> Venv:
    return ensure_venv("peer-clients", default_venvs_dir(os.environ))


@pytest.fixture(scope="module")
def peer_stack() -> Iterator[Stack]:
    with local_stack(swift=True, tempauth=True) as stack:
        yield stack


def _environ(clients: Venv, tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "OPENSTACKSDK_", "SWIFT_TEST"))}
    # swiftclient's CLI tests run `openstack`; the venv's own script has a
    # stale shebang (venvs are built elsewhere and renamed), so a wrapper.
    wrappers = tmp_path / "bin"
    wrappers.mkdir(exist_ok=True)
    wrapper = wrappers / "openstack"
    wrapper.write_text(f'#!/bin/sh\nexec "{clients.python}" -m openstackclient.shell "$@"\n')
    wrapper.chmod(0o755)
    path = f"{wrappers}:{clients.path / 'bin'}:{base['PATH']}"
    return {**base, "PATH": path, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def _pytest(clients: Venv, tree: Path, tests: tuple[str, ...], environ: dict[str, str]) -> tuple[dict[str, int], str]:
    run = subprocess.run(
        [str(clients.python), "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", "--tb=line", *tests],
        cwd=tree, env=environ, capture_output=True, text=True, timeout=SUITE_TIMEOUT,
    )
    output = run.stdout + run.stderr
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", output.splitlines()[-1])}
    failures = [line for line in output.splitlines() if line.startswith(("FAILED ", "ERROR ", "E   ", "/"))]
    assert run.returncode == 0, "\n".join(failures[-60:]) + "\n" + output.splitlines()[-1]
    return counts, output


def _skip_reasons(output: str) -> set[str]:
    return {m.strip() for m in re.findall(r"(?m)^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", output)}


def test_openstacksdk_identity_and_object_store_functional_tests_pass(
    peer_stack: Stack, clients: Venv, tmp_path: Path
) -> None:
    tree = sdist_tree(clients, "openstacksdk", _pinned("peer-clients", "openstacksdk"))
    clouds = tmp_path / "clouds.yaml"
    env = Environment.for_test({"HOME": str(tmp_path)}, cwd=tmp_path)
    assert main(["stack", "env", "--dir", str(peer_stack.directory), "--write-clouds-yaml", str(clouds)], env=env) == 0

    counts, output = _pytest(clients, tree, OPENSTACKSDK_TESTS, _environ(clients, tmp_path, OS_CLIENT_CONFIG_FILE=str(clouds)))

    print(f"openstacksdk: {counts}")
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) == 0
    assert counts["passed"] >= 70, counts
    assert counts.get("skipped", 0) == 0, _skip_reasons(output)


def test_swiftclient_functional_tests_pass_with_keystone_v3(peer_stack: Stack, clients: Venv, tmp_path: Path) -> None:
    tree = sdist_tree(clients, "python-swiftclient", _pinned("peer-clients", "python-swiftclient"))
    swift_conf = tmp_path / "swift-test.conf"
    env = Environment.for_test({"HOME": str(tmp_path), **peer_stack.os_environ()}, cwd=tmp_path)
    assert main(["swift-functest-setup", "--conf", str(swift_conf)], env=env) == 0, env.stderr.getvalue()
    accounts = configparser.ConfigParser(interpolation=None)
    accounts.read(swift_conf)
    func = accounts["func_test"]
    conf = tmp_path / "swiftclient-v3.conf"
    conf.write_text(
        "[func_test]\n"
        f"auth_uri = {peer_stack.keystone_url}/\nauth_version = 3\n"
        + "".join(f"{key} = {func[key]}\n" for key in (
            "account", "username", "password", "account4", "username4", "password4", "domain4"))
    )

    counts, output = _pytest(clients, tree, ("test/functional",), _environ(clients, tmp_path, SWIFT_TEST_CONFIG_FILE=str(conf)))

    print(f"swiftclient (keystone v3): {counts}")
    assert counts.get("failed", 0) == 0 and counts["passed"] >= 50, counts
    assert _skip_reasons(output) <= {"SKIPPING V1-AUTH TESTS"}


def test_swiftclient_functional_tests_pass_with_v1_tempauth(peer_stack: Stack, clients: Venv, tmp_path: Path) -> None:
    tree = sdist_tree(clients, "python-swiftclient", _pinned("peer-clients", "python-swiftclient"))
    conf = tmp_path / "swiftclient-v1.conf"
    conf.write_text(swiftclient_test_conf(peer_stack))

    counts, output = _pytest(clients, tree, ("test/functional",), _environ(clients, tmp_path, SWIFT_TEST_CONFIG_FILE=str(conf)))

    print(f"swiftclient (v1 tempauth): {counts}")
    assert counts.get("failed", 0) == 0 and counts["passed"] >= 20, counts
    assert _skip_reasons(output) <= {"SKIPPING KEYSTONE-SPECIFIC FUNCTIONAL TESTS",
                                     "SKIPPING KEYSTONE-V3-SPECIFIC FUNCTIONAL TESTS"}
