"""The steps of ``up`` that bring keystone and its MariaDB database up."""
from __future__ import annotations

from dataclasses import replace

from ostk.files import atomic_write
from stack import keystone, mariadb, ports
from stack.launch import START_TIMEOUT, Launch, Pending, http_ok, internal_port, make_way, spawn, wait_all
from stack.state import Secrets, StackState, save_state
from stack.venvs import Venv, pinned_version


def keystone_up(
    launch: Launch, state: StackState, secrets: Secrets, venv: Venv, pending: Pending, *, port: int
) -> StackState:
    """Keystone (and MariaDB for a mysql stack) running or spawned; bootstrapped once.

    Its cache is the memcached :func:`stack.memcached.memcached_up` started, if any.
    """
    mysql = state.database == "mysql"
    connection = None
    if mysql:
        state = internal_port(launch, state, "mariadb")
        connection = mariadb.connection_url(state.internal_ports["mariadb"], secrets.database_password)
    if not make_way("keystone", state, port):
        return mariadb_up(launch, state, secrets) if mysql else state
    memcached_port = state.internal_ports.get("memcached") if "memcached" in state.processes else None
    keystone.write_files(launch.layout, port, connection, memcached_port)
    url = keystone.v3_url(port)
    steps: list[list[str]] = []
    if mysql:
        # Keystone imports itself (~2 s) while MariaDB starts; its first step
        # waits until the database is there.
        flag = keystone.database_ready_flag(launch.layout)
        flag.unlink(missing_ok=True)
        steps.append(["ostk-wait-for", str(flag), str(START_TIMEOUT)])
    if not state.keystone_bootstrapped:
        # Done by keystone's own start (stack.keystone.LAUNCHER); recorded by
        # :func:`keystone_bootstrapped` once it answers.
        steps += keystone.bootstrap_steps(venv.python, launch.layout, port, sqlite=not mysql)
        launch.note(f"starting keystone on {url}, bootstrapping it first (admin user, RegionOne, identity endpoint)")
    else:
        launch.note(f"starting keystone on {url}")
    if steps:
        keystone.write_plan(launch.layout, steps, secrets)
    state = spawn(
        launch, state, pending, "keystone",
        keystone.server_argv(venv.python, launch.layout, port, processes=keystone.workers(memcached_port)),
        marker=str(launch.layout.keystone_dir),
        environ=keystone.environ(launch.layout, launch.environ),
        healthy=lambda: http_ok(url),
    )
    if mysql:
        state = mariadb_up(launch, state, secrets)
        atomic_write(keystone.database_ready_flag(launch.layout), "", mode=0o600)
    return state


def keystone_bootstrapped(launch: Launch, state: StackState) -> StackState:
    """Record that keystone's first start bootstrapped it (call once it is healthy)."""
    if state.keystone_bootstrapped:
        return state
    state = replace(state, keystone_bootstrapped=True, keystone_version=pinned_version("keystone", "keystone"))
    save_state(launch.layout, state)
    return state


def mariadb_up(launch: Launch, state: StackState, secrets: Secrets) -> StackState:
    """MariaDB running and healthy, with keystone's database (before keystone-manage needs it)."""
    state = internal_port(launch, state, "mariadb")
    port = state.internal_ports["mariadb"]
    if make_way("mariadb", state, port):
        mariadb.install(launch.layout, launch.environ)
        launch.note(f"starting mariadb on 127.0.0.1:{port}")
        pending: Pending = []
        state = spawn(
            launch, state, pending, "mariadb", mariadb.server_argv(launch.layout, port),
            marker=f"--datadir={mariadb.data_dir(launch.layout)}", environ=launch.environ,
            healthy=lambda: ports.is_listening(port),
        )
        wait_all(pending)
    if not state.keystone_bootstrapped:
        # Idempotent; also after an earlier up that stopped before keystone's bootstrap.
        mariadb.create_database(launch.layout, secrets.database_password, launch.environ)
    return state
