"""``ostk stack`` in-process against the session's real stack: exit codes, JSON, env, logs, down."""
from __future__ import annotations

import json
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ostk.auth import keystone_session, resolve
from ostk.cli import main
from ostk.environment import Environment
from stack import Stack
from stack.processes import ProcessRecord
from stack.state import Layout, StackState, save_state

pytestmark = pytest.mark.integration


def _run(stack: Stack, tmp_path: Path, *argv: str, directory: Path | None = None) -> tuple[int, str, str]:
    env = Environment.for_test({"HOME": str(tmp_path), "OSTK_VENVS_DIR": str(stack.venvs_dir)}, cwd=tmp_path)
    rc = main(["stack", *argv, "--dir", str(directory or stack.directory)], env=env)
    return rc, env.stdout.getvalue(), env.stderr.getvalue()


def test_status_json_describes_the_running_stack(swift_stack: Stack, tmp_path: Path) -> None:
    rc, out, _ = _run(swift_stack, tmp_path, "status", "--json")
    assert rc == 0
    doc = json.loads(out)
    assert doc["running"] is True
    assert doc["keystone_url"] == swift_stack.keystone_url
    assert doc["swift_url"] == swift_stack.swift_url
    assert {s["name"] for s in doc["services"]} >= {"keystone", "account", "container", "object", "proxy"}
    assert swift_stack.admin.password not in out


def test_up_on_a_running_stack_reports_it_and_starts_nothing(swift_stack: Stack, tmp_path: Path) -> None:
    rc, out, err = _run(swift_stack, tmp_path, "up", "--swift", "--json")
    assert rc == 0
    assert json.loads(out)["started"] == []
    rc, out, err = _run(swift_stack, tmp_path, "up")
    assert rc == 0 and "already running; nothing changed" in err
    assert swift_stack.admin.password not in out + err


def test_env_prints_exports_that_authenticate(keystone_stack: Stack, tmp_path: Path) -> None:
    rc, out, _ = _run(keystone_stack, tmp_path, "env")
    assert rc == 0
    variables = {}
    for line in out.splitlines():
        words = shlex.split(line)
        assert words[0] == "export"
        key, _, value = words[1].partition("=")
        variables[key] = value
    assert variables["OS_AUTH_URL"] == keystone_stack.keystone_url
    config = resolve({}, variables)
    assert keystone_session(config).get_token()


def test_env_writes_a_private_clouds_yaml_entry_next_to_others(keystone_stack: Stack, tmp_path: Path) -> None:
    clouds = tmp_path / "openstack" / "clouds.yaml"
    clouds.parent.mkdir()
    clouds.write_text(yaml.safe_dump({"clouds": {"other": {"auth": {"auth_url": "http://x"}}}}))
    rc, out, _ = _run(keystone_stack, tmp_path, "env", "--write-clouds-yaml", str(clouds))
    assert rc == 0 and out == ""
    assert stat.S_IMODE(clouds.stat().st_mode) == 0o600
    document = yaml.safe_load(clouds.read_text())
    assert set(document["clouds"]) == {
        "other", "ostk-local", "devstack", "devstack-admin", "devstack-alt", "devstack-system-admin"}
    # devstack's names log in as the users devstack's tools expect.
    for cloud, project in (("ostk-local", "admin"), ("devstack", "demo"), ("devstack-alt", "alt_demo")):
        config = resolve({"cloud": cloud}, {"OS_CLIENT_CONFIG_FILE": str(clouds)}, tmp_path)
        session = keystone_session(config)
        assert session.get_token()
        assert session.get(f"{keystone_stack.keystone_url}/auth/projects").json()["projects"]
        assert project in {p["name"] for p in session.get(f"{keystone_stack.keystone_url}/auth/projects").json()["projects"]}


def test_env_json_has_variables_and_cloud(keystone_stack: Stack, tmp_path: Path) -> None:
    rc, out, _ = _run(keystone_stack, tmp_path, "env", "--json")
    doc = json.loads(out)
    assert rc == 0
    assert doc["environ"]["OS_PASSWORD"] == keystone_stack.admin.password
    assert doc["clouds_yaml"]["clouds"]["ostk-local"]["auth"]["auth_url"] == keystone_stack.keystone_url


def test_logs(keystone_stack: Stack, tmp_path: Path) -> None:
    rc, out, _ = _run(keystone_stack, tmp_path, "logs", "keystone", "--tail", "3")
    assert rc == 0 and 0 < len(out.splitlines()) <= 3
    rc, out, _ = _run(keystone_stack, tmp_path, "logs")
    assert rc == 0 and "keystone.log <==" in out
    rc, _, err = _run(keystone_stack, tmp_path, "logs", "nonsense")
    assert rc == 2 and "unknown service 'nonsense'" in err


def test_commands_on_a_directory_without_a_stack(keystone_stack: Stack, tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    rc, out, _ = _run(keystone_stack, tmp_path, "status", directory=empty)
    assert rc == 1 and "no stack in" in out
    rc, _, err = _run(keystone_stack, tmp_path, "env", directory=empty)
    assert rc == 3 and "run 'ostk stack up' first" in err
    rc, out, _ = _run(keystone_stack, tmp_path, "down", directory=empty)
    assert rc == 0 and "nothing was running" in out


def test_bad_ports_are_usage_errors(keystone_stack: Stack, tmp_path: Path) -> None:
    rc, _, err = _run(keystone_stack, tmp_path, "up", "--keystone-port", "0", directory=tmp_path / "s")
    assert rc == 2 and "port out of range" in err


def test_a_taken_port_is_exit_3_naming_the_service(keystone_stack: Stack, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        rc, _, err = _run(keystone_stack, tmp_path, "up", "--keystone-port", str(port), directory=tmp_path / "s")
    assert rc == 3
    assert f"keystone: port 127.0.0.1:{port} is already in use" in err
    assert "Traceback" not in err


def test_down_signals_only_processes_that_are_still_ours(keystone_stack: Stack, tmp_path: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        directory = tmp_path / "forged"
        directory.mkdir(mode=0o700)
        # A state whose recorded keystone PID is now someone else's program.
        save_state(Layout(directory), StackState(keystone_port=1, swift_port=2).with_process(
            ProcessRecord("keystone", stranger.pid, 1, str(directory), directory / "k.log")))
        rc, out, _ = _run(keystone_stack, tmp_path, "down", directory=directory)
        assert rc == 0 and "nothing was running" in out
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_the_cli_runs_as_a_program(keystone_stack: Stack, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ostk", "stack", "status", "--dir", str(keystone_stack.directory)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"(?m)^  keystone +running ", result.stdout), result.stdout
    # One column for the names, however long the longest (container-sync) is.
    columns = {line.index(" running ") for line in result.stdout.splitlines() if " running " in line}
    assert len(columns) == 1, result.stdout


def test_a_malformed_clouds_yaml_is_left_alone(keystone_stack: Stack, tmp_path: Path) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds: [this is: not: valid\n")
    rc, _, err = _run(keystone_stack, tmp_path, "env", "--write-clouds-yaml", str(clouds))
    assert rc == 3 and "not valid YAML" in err
    assert clouds.read_text() == "clouds: [this is: not: valid\n"


def test_a_directory_holding_other_things_is_never_used_or_purged(keystone_stack: Stack, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "logs").mkdir(parents=True)
    (project / "logs" / "mine.txt").write_text("keep me")
    rc, _, err = _run(keystone_stack, tmp_path, "up", directory=project)
    assert rc == 2 and "is not empty and holds no stack" in err
    rc, out, _ = _run(keystone_stack, tmp_path, "down", "--purge", directory=project)
    assert rc == 0 and "deleted" not in out
    assert (project / "logs" / "mine.txt").read_text() == "keep me"
