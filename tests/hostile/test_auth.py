"""clouds.yaml and secure.yaml under hostile content: exit 3, one line naming the file."""
from __future__ import annotations

import time

import pytest
from harness import assert_refused, run_cli

from ostk.cli import main
from ostk.environment import Environment

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9)
) + "clouds: {c: {auth: {auth_url: 'http://127.0.0.1:1/v3'}, laughs: *j}}\n"

CASES = {
    "clouds-a-string": "clouds: x\n",
    "cloud-a-list": "clouds:\n  c: [1, 2]\n",
    "auth-a-string": "clouds:\n  c:\n    auth: nope\n",
    "auth-value-a-map": "clouds:\n  c:\n    auth: {auth_url: http://k/v3, password: {a: 1}}\n",
    "region-a-list": "clouds:\n  c:\n    region_name: [a, b]\n    auth: {auth_url: 'http://k/v3'}\n",
    "top-level-a-list": "- clouds\n",
    "deep": "clouds:\n  c:\n    x: " + "[" * 200 + "]" * 200 + "\n",
    "recursive-alias": "clouds: &c {c: *c}\n",
    "billion-laughs": LAUGHS,
    "binary": "\x00\x01\x02",
    "bad-syntax": "clouds: {c: [}\n",
    "cloud-name-an-int": "clouds: {1: {auth: {}}}\n",
}


def _setup(tmp_path, text: str, *, secure: str | None = None) -> Environment:
    (tmp_path / "clouds.yaml").write_text(text) if isinstance(text, str) else None
    if secure is not None:
        (tmp_path / "secure.yaml").write_text(secure)
    return Environment.for_test({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}, cwd=tmp_path)


def _run(env: Environment, tmp_path) -> int:
    return main(["swift-functest-setup", "--os-cloud", "c", "--conf", str(tmp_path / "t.conf")], env)


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_clouds_yaml_is_bad_local_input(tmp_path, name):
    env = _setup(tmp_path, CASES[name])
    started = time.monotonic()
    assert _run(env, tmp_path) == 3, env.stderr.getvalue()
    assert time.monotonic() - started < 2
    lines = env.stderr.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "clouds.yaml" in lines[0]


def test_malformed_secure_yaml_names_secure_yaml(tmp_path):
    env = _setup(tmp_path, "clouds:\n  c:\n    auth: {auth_url: 'http://k/v3'}\n", secure="clouds: {c: {auth: 5}}\n")
    assert _run(env, tmp_path) == 3
    assert "secure.yaml" in env.stderr.getvalue()


def test_binary_clouds_yaml_that_is_not_utf8(tmp_path):
    (tmp_path / "clouds.yaml").write_bytes(b"\xff\xfe\x00garbage")
    env = _setup(tmp_path, None)  # type: ignore[arg-type]
    assert _run(env, tmp_path) == 3
    assert "clouds.yaml" in env.stderr.getvalue()


def test_a_huge_clouds_yaml_is_refused_unread(tmp_path):
    (tmp_path / "clouds.yaml").write_text("clouds: {}\n" + "#" * (5 * 1024 * 1024))
    env = _setup(tmp_path, None)  # type: ignore[arg-type]
    assert _run(env, tmp_path) == 3
    assert "larger than 4 MiB" in env.stderr.getvalue()


def test_openstacksdk_extras_of_any_shape_are_tolerated(tmp_path):
    # Keys ostk does not read may be anything (openstacksdk's regions list...).
    env = _setup(tmp_path, "clouds:\n  c:\n    regions: [{name: R1}]\n    auth:\n      auth_url: 'http://[::1/v3'\n")
    assert _run(env, tmp_path) == 3
    # ... so the first problem found is the real one: the broken auth_url.
    assert "keystone URL" in env.stderr.getvalue() and "cloud 'c'" in env.stderr.getvalue()


@pytest.mark.parametrize("name", ["billion-laughs", "deep"])
def test_hostile_clouds_yaml_in_a_child_is_bounded(tmp_path, name):
    (tmp_path / "clouds.yaml").write_text(CASES[name])
    run = run_cli(["swift-functest-setup", "--os-cloud", "c", "--conf", str(tmp_path / "t.conf")], cwd=tmp_path)
    assert_refused(run, 3, within=5, max_rss_mb=120, mentions=["clouds.yaml"])


def test_write_clouds_keeps_other_clouds_and_refuses_a_malformed_file(tmp_path):
    from ostk.auth import write_clouds
    from ostk.errors import ConfigError

    path = tmp_path / "clouds.yaml"
    path.write_text("clouds:\n  mine: {auth: {auth_url: 'http://k/v3'}}\nother: 1\n")
    write_clouds(path, {"devstack": {"auth": {"auth_url": "http://127.0.0.1:5000/v3"}}})
    text = path.read_text()
    assert "mine:" in text and "devstack:" in text and "other: 1" in text
    assert path.stat().st_mode & 0o777 == 0o600
    for bad in ("clouds: x\n", "- a list\n", LAUGHS):
        path.write_text(bad)
        with pytest.raises(ConfigError, match=r"clouds\.yaml"):
            write_clouds(path, {"devstack": {}})
        assert path.read_text() == bad
