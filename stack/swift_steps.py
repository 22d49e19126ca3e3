"""The steps of ``up`` that bring swift up: configs, rings, backends, proxy, the auth check."""
from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

from ostk.auth import AuthConfig
from ostk.http import HttpSettings, build_session
from stack import ports, processes, swift
from stack.launch import Launch, Pending, http_ok, make_way, needs_start, spawn, swift_environ
from stack.processes import ServiceFailed
from stack.state import Secrets, StackState, save_state
from stack.venvs import Venv, pinned_version


def backends_up(
    launch: Launch,
    state: StackState,
    secrets: Secrets,
    venv: Venv,
    pending: Pending,
    *,
    swift_port: int,
    keystone_port: int,
) -> StackState:
    """Configs, rings, and the account/container/object servers (memcached is up already; daemons: :func:`daemons_up`)."""
    internal = dict(state.internal_ports)
    wanted = ["account", "container", "object"]
    wanted += ["pki-keystone"] if state.pki else []
    missing = [name for name in wanted if name not in internal]
    for name, port in zip(missing, ports.free_ports(len(missing)), strict=True):
        internal[name] = port
    storage = Path(state.storage_dir) if state.storage_dir else swift.default_storage_dir(launch.directory)
    state = replace(
        state, internal_ports=internal, storage_dir=str(storage), swift_enabled=True,
        swift_version=pinned_version("swift", "swift"),
    )
    save_state(launch.layout, state)
    swift.write_files(
        launch.layout, secrets, storage=storage, swift_port=swift_port,
        keystone_port=keystone_port,
        ports={k: v for k, v in internal.items() if k in (*swift.BACKENDS, "memcached")},
        s3api=state.s3api, tempauth=state.tempauth,
        pki_port=internal.get("pki-keystone") if state.pki else None,
    )
    env = swift_environ(launch.environ)
    swift.build_rings(venv.python, launch.layout, internal, env)
    for name in swift.BACKENDS:
        port = internal[name]
        if not make_way(name, state, port):
            continue
        launch.note(f"starting {name} on 127.0.0.1:{port}")
        state = spawn(
            launch, state, pending, name, swift.server_argv(venv.python, launch.layout, name),
            marker=str(launch.layout.swift_dir / f"{name}-server.conf"),
            environ=env, healthy=functools.partial(http_ok, f"http://127.0.0.1:{port}/healthcheck"),
        )
    return state


def daemons_up(launch: Launch, state: StackState, venv: Venv) -> StackState:
    """Swift's background daemons (container sync): no port, checked alive only.

    Started last, once the servers answer: their imports then do not compete
    with keystone's and the servers' for the CPU while ``up`` waits.
    """
    env = swift_environ(launch.environ)
    pending: Pending = []
    for name in swift.DAEMONS:
        if not needs_start(name, state):
            continue
        launch.note(f"starting {name}")
        state = spawn(
            launch, state, pending, name, swift.daemon_argv(venv.python, launch.layout, name),
            marker=str(launch.layout.swift_dir / f"{name}.conf"), environ=env, healthy=lambda: True,
        )
    return state


def proxy_up(
    launch: Launch, state: StackState, venv: Venv, pending: Pending, *, port: int, reconfigured: bool
) -> StackState:
    """The proxy (re)started; its auth is checked once keystone is up (:func:`check_auth`)."""
    record = state.processes.get("proxy")
    if record is not None and processes.is_running(record) and not reconfigured:
        return state
    if record is not None:
        if processes.is_running(record):
            launch.note("restarting proxy: its configuration changed")
        processes.stop(record)
    ports.require_free("proxy", port)
    url = f"http://127.0.0.1:{port}"
    launch.note(f"starting proxy on {url}")
    return spawn(
        launch, state, pending, "proxy",
        swift.server_argv(venv.python, launch.layout, "proxy", ostk_paths=state.pki),
        marker=str(launch.layout.swift_dir / "proxy-server.conf"),
        environ=swift_environ(launch.environ),
        healthy=lambda: http_ok(f"{url}/healthcheck"),
    )


def check_auth(state: StackState, admin: AuthConfig, swift_url: str) -> None:
    """One authenticated request through authtoken + keystoneauth: /healthcheck skips both."""
    from ostk.auth import keystone_errors, keystone_session

    with keystone_errors("checking swift"):
        session = keystone_session(admin, timeout=60)
        token = session.get_token()
        project = session.get_project_id()
    url = f"{swift_url}/v1/AUTH_{project}"
    try:
        answer = build_session(HttpSettings(read_timeout=60.0)).head(url, headers={"X-Auth-Token": token})
    except OSError as exc:  # requests' errors are OSErrors
        raise ServiceFailed("proxy", f"HEAD of the admin account failed: {exc}", state.processes["proxy"].log) from exc
    if answer.status_code // 100 != 2:
        raise ServiceFailed(
            "proxy", f"HEAD of the admin account answered {answer.status_code}", state.processes["proxy"].log
        )
