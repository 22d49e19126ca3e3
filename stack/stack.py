"""The :class:`Stack`: a real keystone (and swift) on 127.0.0.1, as plain processes."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ostk import dirs
from ostk.auth import AuthConfig
from ostk.errors import InputError, UsageError
from ostk.files import ensure_private_dir, private_dir_warnings
from stack import keystone, processes, registry, status, swift_steps, venvs
from stack.keystone_steps import keystone_bootstrapped, keystone_up
from stack.launch import START_TIMEOUT as START_TIMEOUT  # re-exported: ostk.cli.stack cites it here
from stack.launch import Launch, Pending, wait_all, wait_healthy
from stack.memcached import memcached_up
from stack.processes import MissingProgram, ProcessRecord
from stack.purge import purge as _purge
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
from stack.status import ServiceStatus, StackStatus
from stack.venvs import pinned_version as pinned_version  # re-exported: callers read versions from here

#: Before the split these lived here; tests/stack/test_processes.py still imports it from here.
_wait_healthy = wait_healthy

#: The clouds.yaml name of the stack's admin (devstack's names come beside it).
CLOUD_NAME = "ostk-local"
DEFAULT_KEYSTONE_PORT = 5000
DEFAULT_SWIFT_PORT = 8080


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
        # (slow) Python imports overlap: keystone with swift's.
        pending: Pending = []
        sw_venv: venvs.Venv | None = None
        launch = Launch(
            layout=self.layout, directory=self.directory, environ=self._child_environ,
            die_with_parent=self._die_with_parent, started=started, note=note,
        )
        with ThreadPoolExecutor(max_workers=2) as pool:
            # Both venvs build at once: on a cold machine that is most of the wait.
            needed = ["keystone", "swift"] if swift else ["keystone"]
            cold = [n for n in needed if not venvs.is_ready(venvs.venv_path(n, self.venvs_dir))]
            if cold:
                note(f"creating {' and '.join(cold)} venv{'s' if len(cold) > 1 else ''} in {self.venvs_dir} (once)")
            futures: dict[str, Future[venvs.Venv]] = {
                name: pool.submit(venvs.ensure_venv, name, self.venvs_dir) for name in needed
            }
            # keystone's and swift's configurations name memcached's port.
            state = memcached_up(launch, state, pending)
            # Keystone first: its start (importing keystone, bootstrapping it
            # on the first one) is the longest; swift's rings and servers
            # (the proxy too: authtoken reaches keystone only per request)
            # come up meanwhile.
            ks_venv = futures["keystone"].result()
            state = keystone_up(launch, state, secrets, ks_venv, pending, port=self._keystone_port)
            if swift:
                sw_venv = futures["swift"].result()
                proxy_conf = self.layout.swift_dir / "proxy-server.conf"
                before = proxy_conf.read_bytes() if proxy_conf.is_file() else b""
                state = swift_steps.backends_up(
                    launch, state, secrets, sw_venv, pending,
                    swift_port=self._swift_port, keystone_port=self._keystone_port,
                )
                reconfigured = proxy_conf.read_bytes() != before
                state = swift_steps.proxy_up(
                    launch, state, sw_venv, pending, port=self._swift_port, reconfigured=reconfigured
                )
        # Keystone's own (memcached, MariaDB, keystone) first: registering in
        # keystone overlaps the swift servers' start.
        keystone_side = [entry for entry in pending if entry[0].service in KEYSTONE_SERVICES]
        wait_all(keystone_side)
        state = keystone_bootstrapped(launch, state)
        state = self._register(state, secrets, swift, note)
        wait_all([entry for entry in pending if entry not in keystone_side])
        if swift and "proxy" in started:
            swift_steps.check_auth(state, self.admin, self.swift_url)
        if sw_venv is not None:
            state = swift_steps.daemons_up(launch, state, sw_venv)
        return state

    def _register(self, state: StackState, secrets: Secrets, swift: bool, note: Callable[[str], None]) -> StackState:
        """devstack's demo accounts and swift's entries in keystone: once each, side by side.

        Keystone serves several requests at once (its workers); the two share
        one admin token. A part that failed is done again by the next ``up``.
        """
        jobs: dict[str, Callable[[Any], None]] = {}
        if not state.demo_registered:
            note("creating devstack's demo and alt_demo users")
            jobs["demo_registered"] = lambda session: registry.register_demo(
                session, self.admin, keystone_v3=self.keystone_url
            )
        if swift and not state.swift_registered:
            note("registering swift in keystone (service user, object-store endpoints)")
            jobs["swift_registered"] = lambda session: registry.register_swift(
                session, keystone_v3=self.keystone_url, swift_port=self._swift_port,
                service_password=secrets.swift_service_password,
            )
        if not jobs:
            return state
        session = registry.admin_session(self.admin)
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = {flag: pool.submit(job, session) for flag, job in jobs.items()}
        done = {flag for flag, future in futures.items() if future.exception() is None}
        state = replace(
            state,
            demo_registered=state.demo_registered or "demo_registered" in done,
            swift_registered=state.swift_registered or "swift_registered" in done,
        )
        save_state(self.layout, state)
        for future in futures.values():
            future.result()  # the first failure, as raised
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
                _purge(self.layout, self.directory, state)
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
        return status.assemble(
            self._state(), directory=self.directory, layout=self.layout,
            keystone_port=self._keystone_port, swift_port=self._swift_port,
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

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with FileLock(str(self.layout.lock_file)).acquire(timeout=900):
                yield
        except Timeout as exc:
            raise InputError(f"another 'ostk stack' command holds {self.layout.lock_file}") from exc


__all__ = ["MissingProgram", "ServiceStatus", "Stack", "StackStatus", "default_dir"]
