"""A stack's directory: where each file lives, and the recorded state.

Layout (the directory is 0700; files with secrets are 0600)::

    DIR/state.json          ports, storage path, started processes (no secrets)
    DIR/secrets.json        admin and service passwords, swift hash salts
    DIR/keystone/           keystone.conf, keystone.db, fernet and credential keys
    DIR/swift/              swift.conf, rings, server configs
    DIR/logs/<service>.log  each server's output
"""
from __future__ import annotations

import json
import secrets as _secrets
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ostk.errors import InputError
from ostk.files import atomic_write, ensure_private_dir
from stack.processes import ProcessRecord

#: Services in start order; ``down`` stops them in reverse.
KEYSTONE_SERVICES = ("keystone",)
SWIFT_SERVICES = ("memcached", "account", "container", "object", "proxy")


@dataclass(frozen=True)
class Layout:
    """Paths inside a stack directory."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def keystone_dir(self) -> Path:
        return self.root / "keystone"

    @property
    def swift_dir(self) -> Path:
        return self.root / "swift"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def log(self, service: str) -> Path:
        """The log file of ``service``."""
        return self.logs_dir / f"{service}.log"


@dataclass(frozen=True)
class Secrets:
    """Generated once per stack; never printed except by ``ostk stack env``."""

    admin_password: str = field(repr=False)
    swift_service_password: str = field(repr=False)
    swift_hash_suffix: str = field(repr=False)
    swift_hash_prefix: str = field(repr=False)

    @classmethod
    def generate(cls) -> Secrets:
        return cls(*(_secrets.token_urlsafe(24) for _ in range(4)))


@dataclass(frozen=True)
class StackState:
    """What ``up`` decided and started; kept in state.json between commands."""

    keystone_port: int
    swift_port: int
    #: Internal swift ports (account, container, object, memcached), chosen
    #: free on the first ``up --swift`` and kept so the rings stay valid.
    internal_ports: dict[str, int] = field(default_factory=dict)
    #: Where swift's device lives (a tmpfs directory when possible).
    storage_dir: str | None = None
    swift_enabled: bool = False
    keystone_bootstrapped: bool = False
    swift_registered: bool = False
    #: S3 API (s3api + s3token) in the proxy: off unless asked for, because
    #: Swift's sample test.conf names tempauth S3 keys that keystone refuses.
    s3api: bool = False
    #: The proxy validates tokens with pki.middleware instead of authtoken
    #: ('up --pki'); PKI certificates and revocation list from internal_ports["pki-keystone"].
    pki: bool = False
    keystone_version: str = ""
    swift_version: str = ""
    processes: dict[str, ProcessRecord] = field(default_factory=dict)

    def with_process(self, record: ProcessRecord) -> StackState:
        return replace(self, processes={**self.processes, record.service: record})

    def without_process(self, service: str) -> StackState:
        return replace(self, processes={k: v for k, v in self.processes.items() if k != service})


def load_state(layout: Layout) -> StackState | None:
    """The recorded state, or None for a directory that never ran ``up``."""
    data = _read_json(layout.state_file)
    if data is None:
        return None
    try:
        processes = {
            name: ProcessRecord(**{**record, "log": Path(record["log"])})
            for name, record in (data.pop("processes", None) or {}).items()
        }
        return StackState(**data, processes=processes)
    except (TypeError, KeyError) as exc:
        raise InputError(f"{layout.state_file} is not a stack state file ({exc})") from exc


def save_state(layout: Layout, state: StackState) -> None:
    data = asdict(state)
    data["processes"] = {
        name: {**asdict(record), "log": str(record.log)} for name, record in state.processes.items()
    }
    atomic_write(layout.state_file, json.dumps(data, indent=2) + "\n", mode=0o600)


def load_or_create_secrets(layout: Layout) -> Secrets:
    data = _read_json(layout.secrets_file)
    if data is not None:
        try:
            return Secrets(**data)
        except TypeError as exc:
            raise InputError(f"{layout.secrets_file} is not a stack secrets file") from exc
    created = Secrets.generate()
    ensure_private_dir(layout.root)
    atomic_write(layout.secrets_file, json.dumps(asdict(created)) + "\n", mode=0o600)
    return created


def load_secrets(layout: Layout) -> Secrets | None:
    data = _read_json(layout.secrets_file)
    return Secrets(**data) if data is not None else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data
