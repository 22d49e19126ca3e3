"""``ostk swift-functest-setup`` in-process, against a real keystone."""
from __future__ import annotations

import json
import re
import socket
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from ostk.auth import keystone_session
from ostk.cli import main
from ostk.environment import Environment
from swiftfunc.provision import teardown

pytestmark = pytest.mark.integration


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v3"


def _isolated_conf(path: Path) -> Path:
    """A test.conf whose account names are unique to this test (the tool reads them back)."""
    tag = uuid.uuid4().hex[:6]
    lines = ["[func_test]", "# kept: a comment", "collate = C"]
    for i in range(1, 7):
        suffix = "" if i == 1 else str(i)
        lines.append(f"username{suffix} = {tag}-tester{i}")
        lines.append(f"password{suffix} = pw{i}-{tag}")
        if i not in (3,):
            lines.append(f"account{suffix} = {tag}-test{i if i != 6 else 1}")
    lines += [f"domain4 = {tag}-domain", "", "[unit_test]", "fake_syslog = False", ""]
    path.write_text("\n".join(lines))
    return path


def run(environ: dict[str, str], *argv: str) -> tuple[int, str, str]:
    env = Environment.for_test(environ)
    rc = main(["swift-functest-setup", *argv], env=env)
    return rc, env.stdout.getvalue(), env.stderr.getvalue()


@pytest.fixture
def environ(keystone_stack: Any, tmp_path: Path) -> Any:
    env = {**keystone_stack.os_environ(), "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    yield env
    teardown(keystone_session(keystone_stack.admin))


def test_setup_writes_conf_and_a_second_run_says_nothing_to_do(environ, tmp_path):
    conf = _isolated_conf(tmp_path / "test.conf")
    rc, out, err = run(environ, "--conf", str(conf))
    assert rc == 0, err
    assert "created" in out and "keystone writes" in out and "written" in out
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    text = conf.read_text()
    assert "auth_version = 3" in text and f"auth_uri = {environ['OS_AUTH_URL']}/" in text
    assert "# kept: a comment" in text and "fake_syslog = False" in text and "service_prefix = SERVICE" in text

    rc, out, err = run(environ, "--conf", str(conf))
    assert rc == 0, err
    assert "nothing to do" in out and "(0 keystone writes)" in out and ": unchanged" in out
    assert conf.read_text() == text


def test_json_output_is_one_document_with_the_changes(environ, tmp_path):
    conf = _isolated_conf(tmp_path / "test.conf")
    rc, out, _ = run(environ, "--conf", str(conf), "--users", "2", "--json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["changed"] and doc["writes"] > 0 and doc["conf"]["outcome"] == "written"
    assert {c["kind"] for c in doc["changes"]} >= {"user", "project", "assignment"}
    assert all(set(c) == {"kind", "name", "outcome", "detail"} for c in doc["changes"])
    assert "pw1" not in out  # passwords never in the output

    rc, out, _ = run(environ, "--conf", str(conf), "--users", "2", "--json")
    doc = json.loads(out)
    assert (doc["writes"], doc["changed"], doc["conf"]["outcome"]) == (0, False, "unchanged")
    assert {c["outcome"] for c in doc["changes"]} == {"unchanged"}


def test_dry_run_writes_neither_keystone_nor_the_conf(environ, tmp_path):
    conf = _isolated_conf(tmp_path / "test.conf")
    before = conf.read_text()
    rc, out, _ = run(environ, "--conf", str(conf), "--dry-run")
    assert rc == 0
    assert "would be created" in out and "nothing was written" in out
    assert conf.read_text() == before
    rc, out, _ = run(environ, "--conf", str(conf), "--dry-run", "--json")
    assert json.loads(out)["writes"] == 0 and json.loads(out)["conf"]["outcome"] == "would write"


def test_unwritable_conf_exits_3_before_touching_keystone(environ, tmp_path):
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("")
    # Keystone is unreachable: had the command contacted it, it would exit 4.
    rc, _, err = run({**environ, "OS_AUTH_URL": _closed_port_url()}, "--conf", str(a_file / "test.conf"))
    assert rc == 3 and "not-a-dir/test.conf" in err
    rc, _, err = run({**environ, "OS_AUTH_URL": _closed_port_url()}, "--conf", str(tmp_path / "no" / "test.conf"))
    assert rc == 3 and "does not exist" in err


def test_malformed_conf_exits_3(environ, tmp_path):
    conf = tmp_path / "test.conf"
    conf.write_text("key = value without a section\n")
    rc, _, err = run(environ, "--conf", str(conf))
    assert rc == 3 and "not a valid test.conf" in err
    assert "Traceback" not in err


def test_unreachable_keystone_exits_4(environ, tmp_path):
    rc, _, err = run({**environ, "OS_AUTH_URL": _closed_port_url()}, "--conf", str(tmp_path / "test.conf"))
    assert rc == 4 and "cannot reach keystone" in err and "Traceback" not in err
    assert not (tmp_path / "test.conf").exists()


def test_bad_admin_password_exits_4_naming_the_login(environ, tmp_path):
    rc, _, err = run({**environ, "OS_PASSWORD": "wrong"}, "--conf", str(tmp_path / "test.conf"))
    assert rc == 4
    assert "log in to" in err and "401" in err
    assert "wrong" not in err


def test_existing_user_with_other_password_names_it_and_reset_fixes_it(environ, tmp_path):
    conf = _isolated_conf(tmp_path / "test.conf")
    assert run(environ, "--conf", str(conf), "--users", "2")[0] == 0
    text = conf.read_text()
    tester2 = next(line.split(" = ")[1] for line in text.splitlines() if line.startswith("username2 = "))
    conf.write_text(text.replace("password2 = ", "password2 = other-"))
    rc, _, err = run(environ, "--conf", str(conf), "--users", "2")
    assert rc == 3 and tester2 in err and "--reset-passwords" in err
    rc, out, _ = run(environ, "--conf", str(conf), "--users", "2", "--reset-passwords")
    assert rc == 0 and "password reset" in out


def test_teardown_deletes_what_setup_created(environ, tmp_path):
    conf = _isolated_conf(tmp_path / "test.conf")
    assert run(environ, "--conf", str(conf), "--users", "2")[0] == 0
    rc, out, _ = run(environ, "--teardown", "--dry-run")
    assert rc == 0 and "would be deleted" in out
    rc, out, _ = run(environ, "--teardown", "--json")
    deleted = {c["name"] for c in json.loads(out)["changes"] if c["outcome"] == "deleted"}
    assert any(name.endswith("-tester2") for name in deleted)
    rc, out, _ = run(environ, "--teardown")
    assert rc == 0 and "nothing to delete" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--users", "seven"], "--users"),
        (["--users", "0"], "--users"),
        (["--check", "--dry-run"], "--check"),
        (["--local", "--os-auth-url", "http://x/v3"], "--local"),
        (["--swift-url", "ftp://x"], "--swift-url"),
    ],
)
def test_usage_errors_exit_2(environ, tmp_path, argv, message):
    rc, _, err = run(environ, "--conf", str(tmp_path / "test.conf"), *argv)
    assert rc == 2 and message in err


def test_local_without_a_stack_exits_3(environ, tmp_path):
    rc, _, err = run(environ, "--local", "--conf", str(tmp_path / "test.conf"))
    assert rc == 3 and "ostk stack up" in err


def test_local_uses_the_stacks_admin_and_keystone(keystone_stack, tmp_path):
    # Make the session's stack the default one: $XDG_STATE_HOME/ostk/stack.
    state = tmp_path / "state"
    (state / "ostk").mkdir(parents=True)
    (state / "ostk" / "stack").symlink_to(keystone_stack.directory)
    conf = _isolated_conf(tmp_path / "test.conf")
    environ = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(state)}
    try:
        rc, _out, err = run(environ, "--local", "--conf", str(conf), "--users", "1")
        assert rc == 0, err
        assert f"auth_uri = {keystone_stack.keystone_url}/" in conf.read_text()
    finally:
        teardown(keystone_session(keystone_stack.admin))


def test_local_dir_targets_a_stack_outside_the_default_place(keystone_stack, tmp_path):
    conf = _isolated_conf(tmp_path / "test.conf")
    # No default stack at all: only --dir can find it.
    environ = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "empty-state")}
    try:
        rc, _, err = run(environ, "--local", "--dir", str(keystone_stack.directory), "--conf", str(conf), "--users", "1")
        assert rc == 0, err
        assert f"auth_uri = {keystone_stack.keystone_url}/" in conf.read_text()
    finally:
        teardown(keystone_session(keystone_stack.admin))


def test_dir_without_local_is_a_usage_error(environ, tmp_path):
    rc, _, err = run(environ, "--dir", str(tmp_path), "--conf", str(tmp_path / "test.conf"))
    assert rc == 2 and "--local" in err


def test_missing_admin_rights_exit_4_naming_the_refused_call(environ, tmp_path):
    conf = _isolated_conf(tmp_path / "test.conf")
    assert run(environ, "--conf", str(conf), "--users", "3")[0] == 0
    values = dict(line.split(" = ", 1) for line in conf.read_text().splitlines() if " = " in line)
    # tester3: a valid login, but only a non-operator role on one project.
    weak = {**environ, "OS_USERNAME": values["username3"], "OS_PASSWORD": values["password3"], "OS_PROJECT_NAME": values["account"]}
    rc, _, err = run(weak, "--conf", str(tmp_path / "other.conf"))
    assert rc == 4
    assert re.search(r"list [a-z ]+: keystone refused: HTTP 403", err), err
    assert not (tmp_path / "other.conf").exists()
