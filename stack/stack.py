"""The :class:`Stack`: a real keystone (and swift) on 127.0.0.1, as plain processes."""
from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ostk import dirs
from ostk.auth import AuthConfig
from ostk.errors import InputError, UsageError
from ostk.files import ensure_private_dir, private_dir_warnings
from ostk.http import HttpSettings, build_session
from stack import keystone, mariadb, ports, processes, registry, swift, venvs
from stack.processes import MissingProgram, ProcessRecord, ServiceFailed
from stack.state import (
    DATABASES,
    KEYSTONE_SERVICES,
    SWIFT_SERVICES,
    Layout,
    Secrets,
    StackState,
    load_or_create_secrets,
    load_secrets,
    load_state,
    save_state,
)

#: The clouds.yaml name of the stack's admin (devstack's names come beside it).
CLOUD_NAME = "ostk-local"
DEFAULT_KEYSTONE_PORT = 5000
DEFAULT_SWIFT_PORT = 8080
#: How long a server may take to become healthy (the machine may be loaded).
START_TIMEOUT = 120.0


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


def default_dir(environ: Mapping[str, str]) -> Path:
    """The default stack directory: ``$XDG_STATE_HOME/ostk/stack``."""
    return dirs.state_dir(environ) / "stack"


class Stack:
    """A keystone (and optionally swift) all-in-one living in ``directory``.

    ``keystone_port``/``swift_port`` default to the ports recorded by an
    earlier ``up`` in that directory, else 5000 and 8080. The swift servers'
    internal ports are picked free on the first ``up(swift=True)`` and
    recorded, so stacks in different directories never collide.

    >>> stack = Stack(Path("/tmp/mystack"), keystone_port=15000, swift_port=18080)
    >>> stack.up(swift=True).running
    True
    >>> stack.down()
    """

    def __init__(
        self,
        directory: Path,
        *,
        keystone_port: int | None = None,
        swift_port: int | None = None,
        venvs_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
        die_with_parent: bool = False,
    ) -> None:
        # Resolved: the recorded process markers are real paths, a symlinked --dir must match.
        self.directory = Path(directory).resolve()
        self.layout = Layout(self.directory)
        # ``environ`` locates directories (XDG, OSTK_VENVS_DIR); the servers
        # themselves run with this process's real environment (PATH etc.).
        self._environ = dict(os.environ if environ is None else environ)
        self._child_environ = dict(os.environ)
        self.venvs_dir = venvs_dir or venvs.default_venvs_dir(self._environ)
        # For test fixtures: servers started by this object stop when this
        # process dies, even by SIGKILL. The CLI's servers outlive the CLI.
        self._die_with_parent = die_with_parent
        # Both files are validated here, so every command refuses a damaged
        # one (exit 3 naming it) before acting on anything it says.
        recorded = self._state()
        load_secrets(self.layout)
        self._keystone_port = keystone_port or (recorded.keystone_port if recorded else DEFAULT_KEYSTONE_PORT)
        self._swift_port = swift_port or (recorded.swift_port if recorded else DEFAULT_SWIFT_PORT)
        if recorded and (self._keystone_port, self._swift_port) != (recorded.keystone_port, recorded.swift_port):
            raise UsageError(
                f"the stack in {self.directory} uses keystone port {recorded.keystone_port} and swift port "
                f"{recorded.swift_port}; run 'ostk stack down --purge' first to change them"
            )

    # -- public properties -------------------------------------------------
    @property
    def keystone_url(self) -> str:
        """Keystone's v3 URL, ``http://127.0.0.1:PORT/v3``."""
        return keystone.v3_url(self._keystone_port)

    @property
    def swift_url(self) -> str:
        """The swift proxy's base URL, ``http://127.0.0.1:PORT`` (no /v1)."""
        return f"http://127.0.0.1:{self._swift_port}"

    @property
    def keystone_port(self) -> int:
        return self._keystone_port

    @property
    def swift_port(self) -> int:
        return self._swift_port

    @property
    def admin(self) -> AuthConfig:
        """The admin user in the admin project, both in the Default domain."""
        secrets = self._secrets()
        return AuthConfig(
            auth_url=self.keystone_url,
            username="admin",
            password=secrets.admin_password,
            project_name="admin",
            user_domain_name="Default",
            project_domain_name="Default",
            region_name="RegionOne",
        )

    def os_environ(self) -> dict[str, str]:
        """``OS_*`` variables for the admin (contains the password)."""
        admin = self.admin
        return {
            "OS_AUTH_URL": self.keystone_url,
            "OS_AUTH_TYPE": "password",
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": "admin",
            "OS_PASSWORD": admin.password or "",
            "OS_PROJECT_NAME": "admin",
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne",
            "OS_INTERFACE": "public",
        }

    def clouds(self) -> dict[str, dict[str, Any]]:
        """clouds.yaml entries: ``ostk-local`` and devstack's names (contain passwords).

        devstack's names and users as its ``write_clouds_yaml``
        (openstack/devstack functions-common) writes them: ``devstack`` (demo
        on demo), ``devstack-admin``, ``devstack-alt`` (alt_demo on alt_demo),
        ``devstack-system-admin`` (admin, system scope); all with the admin's
        password, as in devstack.
        """
        password = self.admin.password or ""

        def entry(user: str, project: str | None) -> dict[str, Any]:
            auth: dict[str, Any] = {"auth_url": self.keystone_url, "username": user, "password": password,
                                    "user_domain_name": "Default"}
            if project is None:
                auth["system_scope"] = "all"
            else:
                auth.update(project_name=project, project_domain_name="Default")
            return {"auth": auth, "region_name": "RegionOne", "interface": "public", "identity_api_version": 3}

        return {
            CLOUD_NAME: entry("admin", "admin"),
            "devstack": entry("demo", "demo"),
            "devstack-admin": entry("admin", "admin"),
            "devstack-alt": entry("alt_demo", "alt_demo"),
            "devstack-system-admin": entry("admin", None),
        }

    @property
    def swift_python(self) -> Path:
        """The swift venv's python (where Swift's functional tests run)."""
        return venvs.Venv("swift", venvs.venv_path("swift", self.venvs_dir)).python

    @property
    def keystone_python(self) -> Path:
        return venvs.Venv("keystone", venvs.venv_path("keystone", self.venvs_dir)).python

    @property
    def swift_version(self) -> str:
        """The pinned swift version (the functional-test tree must match it)."""
        return pinned_version("swift", "swift")

    @property
    def keystone_version(self) -> str:
        return pinned_version("keystone", "keystone")

    @property
    def exists(self) -> bool:
        """True if the directory holds a stack (``up`` ran there, successfully or not)."""
        return self.layout.state_file.exists() or self.layout.secrets_file.exists()

    # -- operations ----------------------------------------------------------
    def up(
        self,
        swift: bool = False,
        *,
        s3api: bool | None = None,
        database: str | None = None,
        tempauth: bool | None = None,
        pki: bool | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> StackStatus:
        """Start whatever is not running; idempotent. Returns the new status.

        ``swift=True`` adds swift to a keystone-only stack. ``s3api`` turns the
        proxy's S3 API on or off (None: as recorded, off for a new stack; a
        change restarts the proxy). ``database`` is keystone's: "sqlite" (the
        default) or "mysql" (MariaDB as a process of the stack); it is fixed
        when the stack is created. ``tempauth`` adds tempauth's v1 test
        accounts to the proxy (None: as recorded). Dead services are
        restarted (keystone keeps its data). If a service fails, everything
        this call started is stopped again and :class:`ServiceFailed` (exit 4)
        or :class:`~stack.ports.PortInUse` (exit 3) is raised.
        """
        note = progress or (lambda _message: None)
        if not self._is_stack_dir() and self.directory.is_dir() and any(self.directory.iterdir()):
            # `down --purge` deletes keystone/, swift/ and logs/ in it: never
            # mix a stack into a directory holding other things.
            raise UsageError(f"{self.directory} is not empty and holds no stack; choose an empty or new --dir")
        ensure_private_dir(self.directory)
        ensure_private_dir(self.layout.logs_dir)
        for warning in private_dir_warnings(self.directory):
            note(f"warning: {warning}; the stack keeps passwords there")
        with self._locked():
            state = self._state() or StackState(keystone_port=self._keystone_port, swift_port=self._swift_port)
            if database is not None:
                if database not in DATABASES:
                    raise UsageError(f"unknown database {database!r}; choose from {', '.join(DATABASES)}")
                if state.keystone_bootstrapped and database != state.database:
                    raise UsageError(
                        f"the stack in {self.directory} keeps keystone's data in {state.database}; "
                        "run 'ostk stack down --purge' first to change the database"
                    )
                state = replace(state, database=database)
            if s3api is not None:
                state = replace(state, s3api=s3api)
            if tempauth is not None:
                state = replace(state, tempauth=tempauth)
            if pki is not None:
                state = replace(state, pki=pki)
            swift = swift or state.swift_enabled or state.s3api or state.tempauth or state.pki
            secrets = load_or_create_secrets(self.layout)
            started: list[str] = []
            try:
                state = self._up(state, secrets, swift, started, note)
            except BaseException:
                state = self._state() or state
                for name in reversed(started):
                    record = state.processes.get(name)
                    if record is not None:
                        processes.stop(record)
                        state = state.without_process(name)
                save_state(self.layout, state)
                raise
        return replace(self.status(), started=tuple(started))

    def _up(
        self, state: StackState, secrets: Secrets, swift: bool, started: list[str], note: Callable[[str], None]
    ) -> StackState:
        # Servers are spawned first and waited for afterwards, so their
        # (slow) Python imports overlap: keystone with the swift backends.
        pending: list[tuple[ProcessRecord, Callable[[], bool]]] = []
        with ThreadPoolExecutor(max_workers=2) as pool:
            # Both venvs build at once: on a cold machine that is most of the wait.
            needed = ["keystone", "swift"] if swift else ["keystone"]
            cold = [n for n in needed if not venvs.is_ready(venvs.venv_path(n, self.venvs_dir))]
            if cold:
                note(f"creating {' and '.join(cold)} venv{'s' if len(cold) > 1 else ''} in {self.venvs_dir} (once)")
            futures: dict[str, Future[venvs.Venv]] = {
                name: pool.submit(venvs.ensure_venv, name, self.venvs_dir) for name in needed
            }
            # Swift first: its servers (the proxy too: authtoken reaches keystone
            # only per request) import while keystone bootstraps.
            if swift:
                sw_venv = futures["swift"].result()
                proxy_conf = self.layout.swift_dir / "proxy-server.conf"
                before = proxy_conf.read_bytes() if proxy_conf.is_file() else b""
                state = self._swift_backends_up(state, secrets, sw_venv, started, pending, note)
                reconfigured = proxy_conf.read_bytes() != before
                state = self._proxy_up(state, sw_venv, started, pending, note, reconfigured=reconfigured)
            ks_venv = futures["keystone"].result()
            state = self._keystone_up(state, secrets, ks_venv, started, pending, note)
        _wait_all(pending)
        if not state.demo_registered:
            note("creating devstack's demo and alt_demo users")
            registry.register_demo(self.admin, keystone_v3=self.keystone_url)
            state = replace(state, demo_registered=True)
            save_state(self.layout, state)
        if swift:
            if not state.swift_registered:
                note("registering swift in keystone (service user, object-store endpoints)")
                registry.register_swift(
                    self.admin, keystone_v3=self.keystone_url, swift_port=self._swift_port,
                    service_password=secrets.swift_service_password,
                )
                state = replace(state, swift_registered=True)
                save_state(self.layout, state)
            if "proxy" in started:
                self._check_swift_auth(state)
        return state

    def _keystone_up(
        self,
        state: StackState,
        secrets: Secrets,
        venv: venvs.Venv,
        started: list[str],
        pending: list[tuple[ProcessRecord, Callable[[], bool]]],
        note: Callable[[str], None],
    ) -> StackState:
        connection = None
        if state.database == "mysql":
            state = self._mariadb_up(state, secrets, started, note)
            connection = mariadb.connection_url(state.internal_ports["mariadb"], secrets.database_password)
        record = state.processes.get("keystone")
        if record is not None and processes.is_running(record):
            return state
        if record is not None:
            # Also ends the workers of a master that was killed with -9.
            processes.stop(record)
        ports.require_free("keystone", self._keystone_port, wait=2 if record else 0)
        keystone.write_files(self.layout, self._keystone_port, connection)
        if not state.keystone_bootstrapped:
            note("bootstrapping keystone (admin user, RegionOne, identity endpoint)")
            keystone.bootstrap(venv.python, self.layout, secrets, self._keystone_port, self._child_environ,
                               sqlite=state.database == "sqlite")
            state = replace(state, keystone_bootstrapped=True, keystone_version=self.keystone_version)
            save_state(self.layout, state)
        note(f"starting keystone on {self.keystone_url}")
        return self._spawn(
            state, started, pending, "keystone",
            keystone.server_argv(venv.python, self.layout, self._keystone_port),
            marker=str(self.layout.keystone_dir),
            environ=keystone.environ(self.layout, self._child_environ),
            healthy=lambda: _http_ok(self.keystone_url),
        )

    def _mariadb_up(
        self, state: StackState, secrets: Secrets, started: list[str], note: Callable[[str], None]
    ) -> StackState:
        """MariaDB running and healthy, with keystone's database (before keystone-manage needs it)."""
        internal = dict(state.internal_ports)
        if "mariadb" not in internal:
            internal["mariadb"] = ports.free_ports(1)[0]
            state = replace(state, internal_ports=internal)
            save_state(self.layout, state)
        port = internal["mariadb"]
        record = state.processes.get("mariadb")
        if record is not None and processes.is_running(record):
            return state
        if record is not None:
            processes.stop(record)
        ports.require_free("mariadb", port, wait=2 if record else 0)
        mariadb.install(self.layout, self._child_environ)
        note(f"starting mariadb on 127.0.0.1:{port}")
        pending: list[tuple[ProcessRecord, Callable[[], bool]]] = []
        state = self._spawn(
            state, started, pending, "mariadb", mariadb.server_argv(self.layout, port),
            marker=f"--datadir={mariadb.data_dir(self.layout)}", environ=self._child_environ,
            healthy=lambda: ports.is_listening(port),
        )
        _wait_all(pending)
        if not state.keystone_bootstrapped:
            mariadb.create_database(self.layout, secrets.database_password, self._child_environ)
        return state

    def _swift_backends_up(
        self,
        state: StackState,
        secrets: Secrets,
        venv: venvs.Venv,
        started: list[str],
        pending: list[tuple[ProcessRecord, Callable[[], bool]]],
        note: Callable[[str], None],
    ) -> StackState:
        """Configs, rings, and memcached + account/container/object servers."""
        memcached = swift.find_memcached()
        internal = dict(state.internal_ports)
        wanted = ["account", "container", "object"] + (["memcached"] if memcached else [])
        wanted += ["pki-keystone"] if state.pki else []
        missing = [name for name in wanted if name not in internal]
        for name, port in zip(missing, ports.free_ports(len(missing)), strict=True):
            internal[name] = port
        storage = Path(state.storage_dir) if state.storage_dir else swift.default_storage_dir(self.directory)
        state = replace(
            state, internal_ports=internal, storage_dir=str(storage), swift_enabled=True,
            swift_version=self.swift_version,
        )
        save_state(self.layout, state)
        if not memcached:
            note("memcached is not installed: swift runs without a cache (slower functional tests)")
        swift.write_files(
            self.layout, secrets, storage=storage, swift_port=self._swift_port,
            keystone_port=self._keystone_port,
            ports={k: v for k, v in internal.items() if k in swift.BACKENDS or (k == "memcached" and memcached)},
            s3api=state.s3api, tempauth=state.tempauth,
            pki_port=internal.get("pki-keystone") if state.pki else None,
        )
        env = _swift_environ(self._child_environ)
        swift.build_rings(venv.python, self.layout, internal, env)
        for name in ("memcached", *swift.BACKENDS, *swift.DAEMONS):
            if name == "memcached" and not memcached:
                continue
            record = state.processes.get(name)
            if record is not None and processes.is_running(record):
                continue
            if record is not None:
                processes.stop(record)
            if name in swift.DAEMONS:
                # No port: a background daemon (container sync), checked alive only.
                note(f"starting {name}")
                state = self._spawn(
                    state, started, pending, name, swift.daemon_argv(venv.python, self.layout, name),
                    marker=str(self.layout.swift_dir / f"{name}.conf"), environ=env,
                    healthy=lambda: True,
                )
                continue
            port = internal[name]
            ports.require_free(name, port)
            note(f"starting {name} on 127.0.0.1:{port}")
            if name == "memcached":
                assert memcached is not None
                state = self._spawn(
                    state, started, pending, name, swift.memcached_argv(memcached, port), marker=f"-p {port}",
                    environ=env, healthy=functools.partial(ports.is_listening, port),
                )
            else:
                state = self._spawn(
                    state, started, pending, name, swift.server_argv(venv.python, self.layout, name),
                    marker=str(self.layout.swift_dir / f"{name}-server.conf"),
                    environ=env, healthy=functools.partial(_http_ok, f"http://127.0.0.1:{port}/healthcheck"),
                )
        return state

    def _proxy_up(
        self,
        state: StackState,
        venv: venvs.Venv,
        started: list[str],
        pending: list[tuple[ProcessRecord, Callable[[], bool]]],
        note: Callable[[str], None],
        *,
        reconfigured: bool,
    ) -> StackState:
        """The proxy (re)started; its auth is checked once keystone is up (:meth:`_check_swift_auth`)."""
        record = state.processes.get("proxy")
        if record is not None and processes.is_running(record) and not reconfigured:
            return state
        if record is not None:
            if processes.is_running(record):
                note("restarting proxy: its configuration changed")
            processes.stop(record)
        ports.require_free("proxy", self._swift_port)
        note(f"starting proxy on {self.swift_url}")
        return self._spawn(
            state, started, pending, "proxy",
            swift.server_argv(venv.python, self.layout, "proxy", ostk_paths=state.pki),
            marker=str(self.layout.swift_dir / "proxy-server.conf"),
            environ=_swift_environ(self._child_environ),
            healthy=lambda: _http_ok(f"{self.swift_url}/healthcheck"),
        )

    def _check_swift_auth(self, state: StackState) -> None:
        """One authenticated request through authtoken + keystoneauth: /healthcheck skips both."""
        from ostk.auth import keystone_errors, keystone_session

        with keystone_errors("checking swift"):
            session = keystone_session(self.admin, timeout=60)
            token = session.get_token()
            project = session.get_project_id()
        url = f"{self.swift_url}/v1/AUTH_{project}"
        try:
            answer = build_session(HttpSettings(read_timeout=60.0)).head(url, headers={"X-Auth-Token": token})
        except OSError as exc:  # requests' errors are OSErrors
            raise ServiceFailed("proxy", f"HEAD of the admin account failed: {exc}", state.processes["proxy"].log) from exc
        if answer.status_code // 100 != 2:
            raise ServiceFailed(
                "proxy", f"HEAD of the admin account answered {answer.status_code}", state.processes["proxy"].log
            )

    def _spawn(
        self,
        state: StackState,
        started: list[str],
        pending: list[tuple[ProcessRecord, Callable[[], bool]]],
        name: str,
        argv: list[str],
        *,
        marker: str,
        environ: Mapping[str, str],
        healthy: Callable[[], bool],
    ) -> StackState:
        log = self.layout.log(name)
        record = processes.spawn(
            name, argv, log=log, marker=marker, cwd=self.directory, environ=environ,
            die_with_parent=self._die_with_parent,
        )
        started.append(name)
        state = state.with_process(record)
        # Recorded at once: a crash of ours later still lets `down` find it.
        save_state(self.layout, state)
        pending.append((record, healthy))
        return state

    def down(self, purge: bool = False) -> list[str]:
        """Stop the stack's processes (only those still ours); return their names.

        ``purge`` also deletes the stack's files, secrets and swift storage.
        """
        stopped: list[str] = []
        if not self._is_stack_dir():
            # Nothing of ours here: not even --purge touches the directory.
            return stopped
        ensure_private_dir(self.directory)
        with self._locked():
            state = self._state()
            if state is not None:
                for name in reversed(KEYSTONE_SERVICES + SWIFT_SERVICES):
                    record = state.processes.get(name)
                    if record is not None:
                        if processes.stop(record):
                            stopped.append(name)
                        state = state.without_process(name)
                save_state(self.layout, state)
            if purge:
                self._purge(state)
        if purge:
            with contextlib.suppress(OSError):
                self.layout.lock_file.unlink()
            with contextlib.suppress(OSError):
                self.directory.rmdir()
        return stopped

    def stop_services(self, names: list[str] | tuple[str, ...]) -> None:
        """Stop just ``names`` (used by :func:`local_stack` to undo only its own starts)."""
        with self._locked():
            state = self._state()
            if state is None:
                return
            for name in reversed(KEYSTONE_SERVICES + SWIFT_SERVICES):
                if name in names and name in state.processes:
                    processes.stop(state.processes[name])
                    state = state.without_process(name)
            save_state(self.layout, state)

    def status(self) -> StackStatus:
        """What runs now (cheap: /proc and a TCP connect per service)."""
        state = self._state()
        services = []
        if state is not None:
            names = [n for n in KEYSTONE_SERVICES if n != "mariadb" or state.database == "mysql"]
            if state.swift_enabled:
                names += [n for n in SWIFT_SERVICES if n != "memcached" or "memcached" in state.internal_ports]
            for name in names:
                record = state.processes.get(name)
                port = self._port_of(name, state)
                alive = record is not None and processes.is_running(record)
                services.append(ServiceStatus(
                    name=name,
                    running=alive and (port is None or ports.is_listening(port)),
                    pid=record.pid if record and alive else None,
                    port=port,
                    log=self.layout.log(name),
                ))
        swift_on = bool(state and state.swift_enabled)
        return StackStatus(
            directory=self.directory,
            keystone_url=self.keystone_url,
            swift_url=self.swift_url if swift_on else None,
            services=tuple(services),
            storage_dir=Path(state.storage_dir) if state and state.storage_dir else None,
            storage_domain=swift.STORAGE_DOMAIN if swift_on else None,
            keystone_version=self.keystone_version,
            swift_version=self.swift_version if swift_on else None,
            s3api=bool(state and state.s3api),
            database=state.database if state else "sqlite",
            tempauth=bool(state and state.tempauth),
            pki_keystone_url=(
                f"http://127.0.0.1:{state.internal_ports['pki-keystone']}"
                if state and state.pki and "pki-keystone" in state.internal_ports else None
            ),
        )

    def logs(self, service: str | None = None) -> list[Path]:
        """Log files: of ``service``, or every existing one. Raises UsageError for an unknown name."""
        known = KEYSTONE_SERVICES + SWIFT_SERVICES + ("keystone-manage", "swift-rings", "mariadb-install")
        if service is not None:
            if service not in known:
                raise UsageError(f"unknown service {service!r}; choose from {', '.join(known)}")
            return [self.layout.log(service)]
        return [self.layout.log(n) for n in known if self.layout.log(n).is_file()]

    def process_records(self) -> dict[str, ProcessRecord]:
        """The recorded processes (for measuring them, e.g. RSS)."""
        state = self._state()
        return dict(state.processes) if state else {}

    # -- internals -----------------------------------------------------------
    def _is_stack_dir(self) -> bool:
        return self.exists

    def _state(self) -> StackState | None:
        return load_state(self.layout)

    def _secrets(self) -> Secrets:
        found = load_secrets(self.layout)
        if found is None:
            raise InputError(f"no stack in {self.directory}: run 'ostk stack up' first")
        return found

    def _port_of(self, name: str, state: StackState) -> int | None:
        if name == "keystone":
            return self._keystone_port
        if name == "proxy":
            return self._swift_port
        return state.internal_ports.get(name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with FileLock(str(self.layout.lock_file)).acquire(timeout=900):
                yield
        except Timeout as exc:
            raise InputError(f"another 'ostk stack' command holds {self.layout.lock_file}") from exc

    def _purge(self, state: StackState | None) -> None:
        import shutil

        storage = Path(state.storage_dir) if state and state.storage_dir else None
        # Only what this stack provably created: a storage path read from
        # state.json is deleted only if it lies inside the stack directory or
        # is a tmpfs directory carrying our marker (swift.owns_storage).
        if storage is not None:
            swift.remove_storage(storage, self.directory)
        for entry in (self.layout.keystone_dir, self.layout.swift_dir, self.layout.mariadb_dir, self.layout.logs_dir):
            shutil.rmtree(entry, ignore_errors=True)
        for entry in (self.layout.state_file, self.layout.secrets_file):
            with contextlib.suppress(OSError):
                entry.unlink()


def pinned_version(venv: str, package: str) -> str:
    """The version ``package`` is pinned to in venv ``venv``'s requirements."""
    for _file, content in venvs.requirement_texts(venv):
        for line in content.decode().splitlines():
            name, _, version = line.partition("==")
            if name.strip().lower() == package:
                return version.strip()
    return "unknown"


def _swift_environ(base: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("OS_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


#: Health probes: no retries (the caller polls), short timeouts.
_PROBE = HttpSettings(connect_timeout=2.0, read_timeout=2.0, retries=0)


def _http_ok(url: str) -> bool:
    try:
        return build_session(_PROBE).get(url).status_code == 200
    except OSError:  # requests' errors are OSErrors
        return False


def _wait_all(pending: list[tuple[ProcessRecord, Callable[[], bool]]]) -> None:
    for record, healthy in pending:
        _wait_healthy(record, healthy)


def _wait_healthy(record: ProcessRecord, healthy: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy():
            return
        if not processes.is_running(record):
            status = processes.exit_status(record)
            reason = f"exited with status {status}" if status is not None else "exited"
            raise ServiceFailed(record.service, reason, record.log)
        time.sleep(0.2)
    raise ServiceFailed(record.service, f"not healthy after {timeout:.0f} s", record.log)


__all__ = ["MissingProgram", "ServiceStatus", "Stack", "StackStatus", "default_dir"]
