"""The proof: Swift's whole functional test suite passes against keystone accounts we set up.

Against ``swift_stack`` (keystone + swift on loopback), ``ostk
swift-functest-setup`` creates the accounts and writes test.conf (starting from
the sdist's own ``test/sample.conf``, with ``storage_domain`` filled in); then
the functional tests from the source distribution of the very Swift version
the stack runs are run with the stack's ``swift_python``, with the proxy's S3
API on and ``--s3`` EC2 credentials, so the s3api tests run too. Takes ~7-8
minutes on 2 loaded cores.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ostk import dirs
from ostk.cli import main
from ostk.environment import Environment
from ostk.files import ensure_private_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Upper bound for the functional run (it takes ~7-8 min on 2 loaded cores).
SUITE_TIMEOUT = 40 * 60


def swift_test_tree(python: Path, version: str, cache_root: Path) -> Path:
    """``swift-<version>/`` holding ``test/`` from the sdist, cached under the XDG cache."""
    cache = ensure_private_dir(cache_root / "swift-functest")
    tree = cache / f"swift-{version}"
    ready = tree / ".complete"
    if ready.exists():
        return tree
    sdist = cache / f"swift-{version}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "--dest", str(cache), f"swift=={version}"],
            check=True,
            timeout=600,
        )
    prefix = f"swift-{version}/test/"
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
        archive.extractall(cache, members=members, filter="data")
    ready.write_text(version)
    return tree


@pytest.fixture
def swift_with_s3api(swift_stack: Any) -> Any:
    """The session's swift with the proxy's S3 API on for this test (off again afterwards)."""
    swift_stack.up(swift=True, s3api=True)
    try:
        yield swift_stack
    finally:
        swift_stack.up(swift=True, s3api=False)


def test_swifts_functional_suite_passes_with_the_accounts_we_set_up(swift_with_s3api: Any, tmp_path: Path, capsys):
    swift_stack = swift_with_s3api
    status = swift_stack.status()
    tree = swift_test_tree(swift_stack.swift_python, swift_stack.swift_version, dirs.cache_dir(os.environ))

    # Start from Swift's own sample.conf: the tool must keep its other sections/keys.
    conf = tmp_path / "test.conf"
    sample = (tree / "test" / "sample.conf").read_text()
    sample = re.sub(r"(?m)^storage_domain =.*$", f"storage_domain = {status.storage_domain or ''}", sample)
    conf.write_text(sample)

    environ = {**swift_stack.os_environ(), "HOME": str(tmp_path)}
    env = Environment.for_test(environ)
    # --s3: EC2 credentials for the s3api tests (the proxy authenticates them through s3token).
    argv = ["swift-functest-setup", "--conf", str(conf), "--swift-url", swift_stack.swift_url, "--s3", "--check", "--json"]
    rc = main(argv, env=env)
    assert rc == 0, env.stderr.getvalue() + env.stdout.getvalue()
    checked = json.loads(env.stdout.getvalue())["check"]
    assert [c["username"] for c in checked if c["passed"]] == ["tester", *(f"tester{i}" for i in range(2, 7))], checked
    # And run again: nothing left to do, test.conf untouched.
    again = Environment.for_test(environ)
    assert main([*argv[:-2], "--json"], env=again) == 0
    doc = json.loads(again.stdout.getvalue())
    assert (doc["writes"], doc["changed"], doc["conf"]["outcome"]) == (0, False, "unchanged")

    junit = tmp_path / "functional.xml"
    log = tmp_path / "functional.log"
    with log.open("wb") as out:
        proc = subprocess.run(
            [
                str(swift_stack.swift_python), "-m", "pytest", "test/functional",
                "-o", "python_files=test_*.py tests.py",
                "-p", "no:cacheprovider", "-q", "-rfE", f"--junitxml={junit}",
            ],
            cwd=tree,
            env={**_clean(os.environ), "SWIFT_TEST_CONFIG_FILE": str(conf)},
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=SUITE_TIMEOUT,
        )
    counts, access_control, s3api = _results(junit)
    summary = (
        f"Swift {swift_stack.swift_version} functional tests: {counts['passed']} passed, "
        f"{counts['failed']} failed, {counts['error']} errors, {counts['skipped']} skipped; "
        f"test_access_control.py: {access_control['passed']} passed, {access_control['skipped']} skipped; "
        f"s3api: {s3api['passed']} passed, {s3api['skipped']} skipped"
    )
    with capsys.disabled():
        sys.stdout.write(f"\n{summary}\n")
    tail = log.read_text(errors="replace")[-6000:]
    assert counts["failed"] == 0 and counts["error"] == 0, f"{summary}\n{tail}"
    assert proc.returncode == 0, f"{summary}\n{tail}"
    assert counts["passed"] > 900, summary
    # The RBAC and service-token tests need tester5/tester6: they must run.
    assert access_control["passed"] > 0 and access_control["skipped"] == 0, summary
    # The S3 tests ran on the EC2 credentials we made (not all skipped).
    assert s3api["passed"] > 150, summary


def _results(junit: Path) -> tuple[Counter, Counter, Counter]:
    counts: Counter = Counter(passed=0, failed=0, error=0, skipped=0)
    access_control: Counter = Counter(passed=0, skipped=0)
    s3api: Counter = Counter(passed=0, skipped=0)
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
        counts[outcome] += 1
        classname = case.get("classname") or ""
        if "test_access_control" in classname:
            access_control[outcome] += 1
        if ".s3api." in classname:
            s3api[outcome] += 1
    return counts, access_control, s3api


def _clean(environ: os._Environ | dict) -> dict[str, str]:
    # The suite must see only test.conf: drop our admin credentials.
    return {k: v for k, v in environ.items() if not k.startswith(("OS_", "SWIFT_TEST"))}
