"""A real keystone started through stack: tokens, restart after kill -9, idempotent up."""
from __future__ import annotations

import os
import signal
import socket
import time

import pytest
import requests

from ostk.auth import keystone_errors, keystone_session
from stack import Stack, keystone, local_stack, processes

pytestmark = pytest.mark.integration


def test_admin_can_issue_and_validate_a_token(keystone_stack: Stack) -> None:
    session = keystone_session(keystone_stack.admin)
    with keystone_errors("test"):
        token = session.get_token()
    response = requests.get(
        f"{keystone_stack.keystone_url}/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": token},
        timeout=30,
    )
    assert response.status_code == 200
    body = response.json()["token"]
    assert body["user"]["name"] == "admin"
    assert body["project"]["name"] == "admin"
    assert "admin" in {role["name"] for role in body["roles"]}


def test_a_wrong_password_is_refused(keystone_stack: Stack) -> None:
    response = requests.post(
        f"{keystone_stack.keystone_url}/auth/tokens",
        json={"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": "not-the-password"}}}}},
        timeout=30,
    )
    assert response.status_code == 401


def test_up_on_a_running_stack_starts_nothing(keystone_stack: Stack) -> None:
    before = keystone_stack.status()
    again = keystone_stack.up()
    assert again.started == ()
    assert [s.pid for s in again.services] == [s.pid for s in before.services]


def test_killed_keystone_shows_down_and_up_restarts_it_keeping_data(keystone_stack: Stack) -> None:
    session = keystone_session(keystone_stack.admin)
    name = f"survivor-{os.getpid()}"
    created = session.post(
        f"{keystone_stack.keystone_url}/projects", json={"project": {"name": name, "domain_id": "default"}}
    ).json()["project"]
    pid = keystone_stack.status().service("keystone").pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while keystone_stack.status().service("keystone").running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not keystone_stack.status().service("keystone").running

    status = keystone_stack.up()

    assert "keystone" in status.started
    assert status.service("keystone").running and status.service("keystone").pid != pid
    found = keystone_session(keystone_stack.admin).get(
        f"{keystone_stack.keystone_url}/projects/{created['id']}"
    ).json()["project"]
    assert found["name"] == name


def test_a_second_stack_runs_beside_the_first_and_local_stack_cleans_up(keystone_stack: Stack) -> None:
    with local_stack() as second:
        assert second.keystone_port != keystone_stack.keystone_port
        assert second.directory != keystone_stack.directory
        assert keystone_session(second.admin).get_token()
        assert keystone_session(keystone_stack.admin).get_token()
        # Different stacks, different secrets.
        assert second.admin.password != keystone_stack.admin.password
        records = second.process_records()
        directory = second.directory
    assert not directory.exists()
    assert records and not any(processes.is_running(r) for r in records.values())
    assert keystone_stack.status().running


def _memcached_stats(port: int) -> dict[str, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = sock.recv(65536)
            assert chunk, "memcached closed the connection"
            data += chunk
    return {parts[1]: parts[2] for parts in (line.split() for line in data.decode().splitlines()) if len(parts) == 3}


def test_keystone_runs_single_request_workers_over_the_stacks_memcached(keystone_stack: Stack) -> None:
    status = keystone_stack.status()
    memcached, server = status.service("memcached"), status.service("keystone")
    assert memcached.running and memcached.port
    conf = (keystone_stack.layout.keystone_dir / "keystone.conf").read_text()
    assert "backend = dogpile.cache.memcached" in conf
    assert f"memcache_servers = 127.0.0.1:{memcached.port}" in conf
    assert server.pid is not None
    assert len(processes.descendants(server.pid)) == keystone.WORKERS
    before = int(_memcached_stats(memcached.port)["cmd_set"])
    session = keystone_session(keystone_stack.admin)
    for _ in range(3):
        session.get(f"{keystone_stack.keystone_url}/projects").raise_for_status()
    # Keystone's cache lives in memcached (shared by the workers), not in each process.
    assert int(_memcached_stats(memcached.port)["cmd_set"]) > before
