"""Spawning a stack's servers and waiting until they are healthy.

One ``up`` call spawns every missing server first and waits afterwards, so
their slow Python imports overlap; :class:`Launch` carries what that call's
steps share (where servers go, what was started, how to report progress).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ostk.http import HttpSettings, build_session
from stack import ports, processes
from stack.processes import ProcessRecord, ServiceFailed
from stack.state import Layout, StackState, save_state

#: How long a server may take to become healthy (the machine may be loaded).
START_TIMEOUT = 120.0

#: Servers spawned but not yet known healthy, with their health probe.
Pending = list[tuple[ProcessRecord, Callable[[], bool]]]


@dataclass(frozen=True)
class Launch:
    """What the steps of one ``up`` call share."""

    layout: Layout
    directory: Path
    #: The servers' environment: this process's real one (PATH etc.).
    environ: Mapping[str, str]
    #: Servers stop when this process dies, even by SIGKILL (test fixtures).
    die_with_parent: bool
    #: Names of the services this call started, in order (undone on failure).
    started: list[str]
    note: Callable[[str], None]


def spawn(
    launch: Launch,
    state: StackState,
    pending: Pending,
    name: str,
    argv: list[str],
    *,
    marker: str,
    environ: Mapping[str, str],
    healthy: Callable[[], bool],
) -> StackState:
    """Start server ``name``, record it in the state file at once, and queue its health probe."""
    record = processes.spawn(
        name, argv, log=launch.layout.log(name), marker=marker, cwd=launch.directory, environ=environ,
        die_with_parent=launch.die_with_parent,
    )
    launch.started.append(name)
    state = state.with_process(record)
    # Recorded at once: a crash of ours later still lets `down` find it.
    save_state(launch.layout, state)
    pending.append((record, healthy))
    return state


def swift_environ(base: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("OS_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


#: Health probes: no retries (the caller polls), short timeouts.
_PROBE = HttpSettings(connect_timeout=2.0, read_timeout=2.0, retries=0)


def http_ok(url: str) -> bool:
    try:
        return build_session(_PROBE).get(url).status_code == 200
    except OSError:  # requests' errors are OSErrors
        return False


def wait_all(pending: Pending) -> None:
    for record, healthy in pending:
        wait_healthy(record, healthy)


def wait_healthy(record: ProcessRecord, healthy: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy():
            return
        if processes.has_exited(record):
            status = processes.exit_status(record)
            reason = f"exited with status {status}" if status is not None else "exited"
            raise ServiceFailed(record.service, reason, record.log)
        # Often: up's time is mostly waiting here, a probe costs ~1 ms.
        time.sleep(0.1)
    raise ServiceFailed(record.service, f"not healthy after {timeout:.0f} s", record.log)


def internal_port(launch: Launch, state: StackState, name: str) -> StackState:
    """The state with a port for ``name`` in ``internal_ports``: chosen free once, then kept (configs name it)."""
    if name in state.internal_ports:
        return state
    state = replace(state, internal_ports={**state.internal_ports, name: ports.free_ports(1)[0]})
    save_state(launch.layout, state)
    return state


def needs_start(name: str, state: StackState) -> bool:
    """False if ``name`` runs; else True, after stopping what is left of its recorded process."""
    record = state.processes.get(name)
    if record is not None and processes.is_running(record):
        return False
    if record is not None:
        # Also ends the workers of a master that was killed with -9.
        processes.stop(record)
    return True


def make_way(name: str, state: StackState, port: int) -> bool:
    """:func:`needs_start`, and then ``port`` must be free (a killed server's workers let go of it late)."""
    if not needs_start(name, state):
        return False
    ports.require_free(name, port, wait=2 if name in state.processes else 0)
    return True
