"""What a stack runs now: :class:`StackStatus`, assembled from its state file, /proc and its ports."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stack import keystone, ports, processes, swift
from stack.state import KEYSTONE_SERVICES, SWIFT_SERVICES, Layout, StackState
from stack.venvs import pinned_version


@dataclass(frozen=True)
class ServiceStatus:
    """One server of the stack."""

    name: str
    #: The recorded process is alive, still ours, and its port accepts connections.
    running: bool
    pid: int | None
    port: int | None
    log: Path


@dataclass(frozen=True)
class StackStatus:
    """What runs, where, and what the last ``up`` had to start."""

    directory: Path
    #: Keystone's v3 URL (``http://127.0.0.1:PORT/v3``).
    keystone_url: str
    #: The swift proxy (``http://127.0.0.1:PORT``), None for a keystone-only stack.
    swift_url: str | None
    services: tuple[ServiceStatus, ...]
    #: Where swift keeps its data (a tmpfs directory when possible).
    storage_dir: Path | None
    #: domain_remap's storage domain (test.conf's ``storage_domain``).
    storage_domain: str | None
    keystone_version: str
    swift_version: str | None
    #: The proxy serves the S3 API (keystone EC2 credentials).
    s3api: bool = False
    #: Keystone's database: "sqlite" or "mysql" (MariaDB).
    database: str = "sqlite"
    #: tempauth's v1 test accounts are served by the proxy too.
    tempauth: bool = False
    #: The proxy authenticates with pki.middleware; its PKI keystone (certificates,
    #: revocation list) is expected at this URL (None: authtoken).
    pki_keystone_url: str | None = None
    #: Services the call that produced this status started (empty: nothing changed).
    started: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        """True if every service of the stack runs (and there is at least one)."""
        return bool(self.services) and all(s.running for s in self.services)

    def service(self, name: str) -> ServiceStatus:
        """The service called ``name``; KeyError if the stack has none."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


def assemble(
    state: StackState | None, *, directory: Path, layout: Layout, keystone_port: int, swift_port: int
) -> StackStatus:
    """The status of the stack recorded in ``state`` (cheap: /proc and a TCP connect per service)."""
    services = []
    if state is not None:
        names = [
            n for n in KEYSTONE_SERVICES
            if (n != "mariadb" or state.database == "mysql") and (n != "memcached" or n in state.internal_ports)
        ]
        if state.swift_enabled:
            names += SWIFT_SERVICES
        for name in names:
            record = state.processes.get(name)
            port = _port_of(name, state, keystone_port=keystone_port, swift_port=swift_port)
            alive = record is not None and processes.is_running(record)
            services.append(ServiceStatus(
                name=name,
                running=alive and (port is None or ports.is_listening(port)),
                pid=record.pid if record and alive else None,
                port=port,
                log=layout.log(name),
            ))
    swift_on = bool(state and state.swift_enabled)
    return StackStatus(
        directory=directory,
        keystone_url=keystone.v3_url(keystone_port),
        swift_url=f"http://127.0.0.1:{swift_port}" if swift_on else None,
        services=tuple(services),
        storage_dir=Path(state.storage_dir) if state and state.storage_dir else None,
        storage_domain=swift.STORAGE_DOMAIN if swift_on else None,
        keystone_version=pinned_version("keystone", "keystone"),
        swift_version=pinned_version("swift", "swift") if swift_on else None,
        s3api=bool(state and state.s3api),
        database=state.database if state else "sqlite",
        tempauth=bool(state and state.tempauth),
        pki_keystone_url=(
            f"http://127.0.0.1:{state.internal_ports['pki-keystone']}"
            if state and state.pki and "pki-keystone" in state.internal_ports else None
        ),
    )


def _port_of(name: str, state: StackState, *, keystone_port: int, swift_port: int) -> int | None:
    if name == "keystone":
        return keystone_port
    if name == "proxy":
        return swift_port
    return state.internal_ports.get(name)
