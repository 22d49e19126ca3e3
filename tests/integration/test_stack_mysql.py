"""``ostk stack up --db mysql``: keystone on MariaDB run as a process of the stack.

Driven through the CLI in-process: up, status, logs, tokens, 8 concurrent
clients without a 5xx, MariaDB killed and restarted with keystone's data
kept, ``down --purge``. Takes ~60-90 s (keystone's db_sync on MariaDB is the
slow part).
"""
from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ostk.auth import keystone_session
from ostk.cli import main
from ostk.environment import Environment
from stack import Stack, default_venvs_dir
from stack.load import keystone_load
from stack.ports import free_ports

pytestmark = pytest.mark.integration


def _run(directory: Path, *argv: str) -> tuple[int, str, str]:
    env = Environment.for_test({"HOME": str(directory.parent), "PATH": os.environ["PATH"],
                                "OSTK_VENVS_DIR": str(default_venvs_dir(os.environ))}, cwd=directory.parent)
    rc = main(["stack", *argv, "--dir", str(directory)], env=env)
    return rc, env.stdout.getvalue(), env.stderr.getvalue()


@pytest.fixture(scope="module")
def mysql_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("mysql") / "stack"
    keystone_port, swift_port = free_ports(2)
    rc, _, err = _run(directory, "up", "--db", "mysql", "--keystone-port", str(keystone_port),
                      "--swift-port", str(swift_port))
    try:
        assert rc == 0, err
        yield Stack(directory)
    finally:
        _run(directory, "down", "--purge")


def test_status_shows_mariadb_and_keystone_running_on_mysql(mysql_stack: Stack) -> None:
    rc, out, _ = _run(mysql_stack.directory, "status", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["running"] is True
    assert doc["database"] == "mysql"
    services = {s["name"]: s for s in doc["services"]}
    assert list(services) == ["mariadb", "memcached", "keystone"]
    assert services["mariadb"]["port"] and services["mariadb"]["pid"]
    conf = (mysql_stack.layout.keystone_dir / "keystone.conf").read_text()
    assert "mysql+pymysql://keystone:" in conf and f"127.0.0.1:{services['mariadb']['port']}/keystone" in conf
    assert (mysql_stack.layout.mariadb_dir / "data" / "keystone").is_dir()


def test_mariadb_listens_on_loopback_only(mysql_stack: Stack) -> None:
    port = mysql_stack.status().service("mariadb").port
    listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    ours = [fields[1] for fields in listening if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port]
    assert ours == [f"0100007F:{port:04X}"]


def test_logs_names_the_mariadb_log(mysql_stack: Stack) -> None:
    rc, out, _ = _run(mysql_stack.directory, "logs", "mariadb", "--tail", "50")
    assert rc == 0 and "ready for connections" in out


def test_eight_concurrent_clients_get_no_5xx_on_mariadb(mysql_stack: Stack) -> None:
    result = keystone_load(mysql_stack.keystone_url, mysql_stack.admin.password or "", clients=8, seconds=8)
    assert result.server_errors == 0, result.samples
    assert result.transport_errors == 0 and result.tokens >= 16


def test_a_killed_mariadb_is_restarted_by_up_with_keystones_data(mysql_stack: Stack) -> None:
    session = keystone_session(mysql_stack.admin)
    project = session.post(f"{mysql_stack.keystone_url}/projects",
                           json={"project": {"name": f"kept-{os.getpid()}", "domain_id": "default"}}).json()["project"]
    pid = mysql_stack.status().service("mariadb").pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while mysql_stack.status().service("mariadb").running and time.monotonic() < deadline:
        time.sleep(0.1)
    rc, _, _ = _run(mysql_stack.directory, "status")
    assert rc == 1

    rc, _, err = _run(mysql_stack.directory, "up")

    assert rc == 0, err
    status = mysql_stack.status()
    assert status.running and status.service("mariadb").pid != pid
    found = keystone_session(mysql_stack.admin).get(f"{mysql_stack.keystone_url}/projects/{project['id']}")
    assert found.json()["project"]["name"] == project["name"]


def test_the_database_of_a_stack_cannot_change_without_purge(mysql_stack: Stack) -> None:
    rc, _, err = _run(mysql_stack.directory, "up", "--db", "sqlite")
    assert rc == 2 and "down --purge" in err


def test_down_purge_stops_mariadb_and_deletes_its_data(tmp_path: Path, mysql_stack: Stack) -> None:
    # Runs last in the module: the fixture's own purge then finds nothing.
    records = mysql_stack.process_records()
    rc, out, err = _run(mysql_stack.directory, "down", "--purge")
    assert rc == 0, err
    assert "mariadb" in out and "keystone" in out
    assert not mysql_stack.layout.mariadb_dir.exists()
    from stack import processes
    assert not any(processes.is_running(r) for r in records.values())
