"""A stack's directory: where each file lives, and the recorded state.

Layout (the directory is 0700; files with secrets are 0600)::

    DIR/state.json          ports, storage path, started processes (no secrets)
    DIR/secrets.json        admin and service passwords, swift hash salts
    DIR/keystone/           keystone.conf, keystone.db, fernet and credential keys
    DIR/swift/              swift.conf, rings, server configs
    DIR/mariadb/            MariaDB's data dir and socket (``--db mysql`` only)
    DIR/logs/<service>.log  each server's output

Both JSON files are validated whole when read (types, known keys, size,
depth): a damaged or tampered file is an :class:`InputError` (exit 3) naming
the file, never a crash, and never a reason to act on paths it names.
"""
from __future__ import annotations

import json
import secrets as _secrets
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ostk.documents import parse_json
from ostk.errors import InputError
from ostk.files import atomic_write, ensure_private_dir
from stack.processes import ProcessRecord

#: Services in start order; ``down`` stops them in reverse.
#: memcached serves keystone and swift (see stack/memcached.py).
KEYSTONE_SERVICES = ("mariadb", "memcached", "keystone")
#: Keystone's database choices: sqlite (default, nothing to install) or MariaDB.
DATABASES = ("sqlite", "mysql")
#: Largest state/secrets file we read: a real one is a few KB.
MAX_FILE_BYTES = 1 << 20
SWIFT_SERVICES = ("account", "container", "object", "container-sync", "proxy")


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
    def mariadb_dir(self) -> Path:
        return self.root / "mariadb"

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
    #: Keystone's MariaDB user (``--db mysql``); absent in files of older stacks.
    database_password: str = field(default="", repr=False)

    @classmethod
    def generate(cls) -> Secrets:
        return cls(*(_secrets.token_urlsafe(24) for _ in range(5)))


@dataclass(frozen=True)
class StackState:
    """What ``up`` decided and started; kept in state.json between commands."""

    keystone_port: int
    swift_port: int
    #: Internal ports (memcached, mariadb; swift's account, container, object),
    #: chosen free once and kept (the rings name swift's).
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
    #: Keystone's database: "sqlite" or "mysql" (MariaDB).
    database: str = "sqlite"
    #: tempauth (v1 auth with test accounts) in the proxy besides keystone.
    tempauth: bool = False
    #: devstack's demo/alt_demo projects and users exist in keystone.
    demo_registered: bool = False

    def with_process(self, record: ProcessRecord) -> StackState:
        return replace(self, processes={**self.processes, record.service: record})

    def without_process(self, service: str) -> StackState:
        return replace(self, processes={k: v for k, v in self.processes.items() if k != service})


def load_state(layout: Layout) -> StackState | None:
    """The recorded state, or None for a directory that never ran ``up``."""
    path = layout.state_file
    data = _read_json(path)
    if data is None:
        return None
    raw_processes = data.pop("processes", None) or {}
    values = _checked(path, data, StackState, required=("keystone_port", "swift_port"))
    _require(path, "processes", raw_processes, dict)
    processes = {}
    for name, record in raw_processes.items():
        _require(path, f"processes.{name}", record, dict)
        checked = _checked(path, record, ProcessRecord, required=tuple(f.name for f in fields(ProcessRecord)),
                           prefix=f"processes.{name}.")
        if checked["service"] != name:
            raise InputError(f"{path}: processes.{name} records service {checked['service']!r}")
        # A PID <= 0 means a process group or every process to kill(2); an
        # empty marker matches any command line.
        if checked["pid"] <= 0 or not checked["marker"]:
            raise InputError(f"{path}: processes.{name} has an invalid pid or marker")
        processes[name] = ProcessRecord(**{**checked, "log": Path(checked["log"])})
    ports = values.get("internal_ports", {})
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536 for v in ports.values()):
        raise InputError(f"{path}: internal_ports must map names to port numbers")
    for key in ("keystone_port", "swift_port"):
        if not 0 < values[key] < 65536:
            raise InputError(f"{path}: {key} is not a port number")
    if values.get("database", "sqlite") not in DATABASES:
        raise InputError(f"{path}: database must be one of {', '.join(DATABASES)}")
    return StackState(**values, processes=processes)


def save_state(layout: Layout, state: StackState) -> None:
    data = asdict(state)
    data["processes"] = {
        name: {**asdict(record), "log": str(record.log)} for name, record in state.processes.items()
    }
    atomic_write(layout.state_file, json.dumps(data, indent=2) + "\n", mode=0o600)


def load_or_create_secrets(layout: Layout) -> Secrets:
    """The stack's secrets; fields a file of an older stack lacks are generated and saved."""
    found = load_secrets(layout)
    fresh = Secrets.generate()
    if found is not None:
        missing = {f.name: getattr(fresh, f.name) for f in fields(Secrets) if not getattr(found, f.name)}
        if not missing:
            return found
        created = replace(found, **missing)
    else:
        created = fresh
    ensure_private_dir(layout.root)
    atomic_write(layout.secrets_file, json.dumps(asdict(created)) + "\n", mode=0o600)
    return created


def load_secrets(layout: Layout) -> Secrets | None:
    data = _read_json(layout.secrets_file)
    if data is None:
        return None
    required = ("admin_password", "swift_service_password", "swift_hash_suffix", "swift_hash_prefix")
    return Secrets(**_checked(layout.secrets_file, data, Secrets, required=required))


#: JSON types accepted for each annotation used in the state dataclasses.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "int": int, "str": str, "bool": bool, "str | None": (str, type(None)),
    "dict[str, int]": dict, "Path": str,
}


def _require(path: Path, key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    # bool is an int in Python, never in a port or a PID.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"{path}: {key} has the wrong type ({type(value).__name__})")


def _checked(
    path: Path, data: dict[str, Any], model: type, *, required: tuple[str, ...], prefix: str = ""
) -> dict[str, Any]:
    """``data`` checked against ``model``'s fields: known keys, JSON types, required keys."""
    known = {f.name: str(f.type) for f in fields(model) if f.name != "processes"}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise InputError(f"{path}: unknown key {prefix}{unknown[0][:40]!r}")
    for key in required:
        if key not in data:
            raise InputError(f"{path}: {prefix}{key} is missing")
    for key, value in data.items():
        _require(path, prefix + key, value, _TYPES[known[key]])
    return dict(data)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{path} is larger than {MAX_FILE_BYTES} bytes: not a stack file")
    # The shared bounded parser: depth limit, 64-bit integers, one-line errors naming the file.
    data = parse_json(raw, source=str(path), error=InputError, max_depth=8)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data
