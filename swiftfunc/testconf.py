"""Swift's ``test.conf``: read it, merge our keys into it, write it back.

The merge edits lines, not a parsed model: only the keys we own change (in
place, where they already are), missing keys are appended to their section,
and every other section, key and comment survives. The file holds
passwords, so it is always written atomically with mode 0600.
"""
from __future__ import annotations

import configparser
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ostk.errors import InputError
from ostk.files import atomic_write
from swiftfunc.accounts import Plan

#: Where Swift's functional tests look when SWIFT_TEST_CONFIG_FILE is unset.
DEFAULT_PATH = Path("/etc/swift/test.conf")
FUNC_TEST = "func_test"
S3API_TEST = "s3api_test"
#: A test.conf bigger than this is not a test.conf.
MAX_SIZE = 1 << 20

_SECTION = re.compile(r"^\s*\[([^\]]+)\]")
_KEY = re.compile(r"^([^#;\s\[][^=:]*?)\s*[=:]")


@dataclass(frozen=True)
class TestConf:
    """An existing (or absent) test.conf."""

    path: Path
    #: The file's text; empty if it does not exist yet.
    text: str
    exists: bool
    #: Permission bits of the existing file (None if absent).
    mode: int | None = None

    def section(self, name: str) -> dict[str, str]:
        """The keys of one section (empty if absent)."""
        parser = _parse(self.text, self.path)
        return dict(parser.items(name, raw=True)) if parser.has_section(name) else {}


def load(path: str | os.PathLike[str]) -> TestConf:
    """Read ``path`` (a missing file is an empty conf); raise InputError if malformed."""
    target = Path(path)
    try:
        info = target.stat()
    except FileNotFoundError:
        return TestConf(target, "", exists=False)
    except OSError as exc:
        raise InputError(f"cannot read {target}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{target} is not a regular file")
    if info.st_size > MAX_SIZE:
        raise InputError(f"{target} is too big for a test.conf ({info.st_size} bytes)")
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{target} is not UTF-8 text") from exc
    except OSError as exc:
        raise InputError(f"cannot read {target}: {exc.strerror}") from exc
    _parse(text, target)
    return TestConf(target, text, exists=True, mode=stat.S_IMODE(info.st_mode))


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise InputError unless ``path`` can be replaced atomically (checked up front,
    so a run that could not record its work never touches keystone)."""
    target = Path(path)
    directory = target.parent
    if target.exists() and not target.is_file():
        raise InputError(f"{target} is not a regular file")
    if not directory.is_dir():
        raise InputError(f"cannot write {target}: directory {directory} does not exist (create it or pass --conf)")
    # The atomic write creates a temporary file beside the target and renames it.
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {target}: directory {directory} is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise InputError(f"cannot write {target}: permission denied")


def auth_keys(auth_url: str, *, insecure: bool = False) -> dict[str, str]:
    """``[func_test]`` auth keys for keystone v3.

    Current Swift reads ``auth_uri``; older releases build it from
    ``auth_host``/``auth_port``/``auth_ssl``/``auth_prefix``, so both are written.
    """
    parts = urlsplit(auth_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"keystone URL {auth_url!r} is not an http(s) URL")
    path = parts.path.rstrip("/")
    if not path.endswith("/v3"):
        path += "/v3"
    path += "/"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    keys = {
        "auth_version": "3",
        "auth_uri": urlunsplit((parts.scheme, parts.netloc, path, "", "")),
        "auth_host": parts.hostname,
        "auth_port": str(port),
        "auth_ssl": "yes" if parts.scheme == "https" else "no",
        "auth_prefix": path,
    }
    if insecure:
        keys["insecure"] = "yes"
    return keys


def updates_for(
    plan: Plan,
    auth_url: str,
    *,
    insecure: bool = False,
    swift_url: str | None = None,
    storage_domain: str | None = None,
    ec2: Mapping[int, tuple[str, str]] | None = None,
    region: str = "us-east-1",
) -> dict[str, dict[str, str]]:
    """Every key this tool owns, by section: auth, accounts and (with ``ec2``) S3 keys.

    ``ec2`` maps account index (1-3) to an (access, secret) pair;
    ``storage_domain`` enables the domain_remap tests.
    """
    func_test = {**auth_keys(auth_url, insecure=insecure), **plan.conf_values()}
    if storage_domain:
        func_test["storage_domain"] = storage_domain
    sections = {FUNC_TEST: func_test}
    if ec2:
        s3api: dict[str, str] = {}
        if swift_url:
            func_test["s3_storage_url"] = swift_url.rstrip("/") + "/"
            s3api["endpoint"] = swift_url.rstrip("/")
            s3api["region"] = region
        for index in sorted(ec2):
            access, secret = ec2[index]
            suffix = "" if index == 1 else str(index)
            func_test[f"s3_access_key{suffix}"] = access
            func_test[f"s3_secret_key{suffix}"] = secret
            s3api[f"access_key{index}"] = access
            s3api[f"secret_key{index}"] = secret
        sections[S3API_TEST] = s3api
    return sections


def merge(text: str, updates: Mapping[str, Mapping[str, str]]) -> str:
    """``text`` with ``updates`` applied: keys replaced in place or appended to
    their section, new sections appended; everything else kept as it was."""
    pending = {section: dict(keys) for section, keys in updates.items()}
    out: list[str] = []
    current: str | None = None
    in_replaced_value = False

    def flush(section: str | None) -> None:
        if section is None or not pending.get(section):
            return
        # Insert before the blank lines that end the section.
        tail: list[str] = []
        while out and not out[-1].strip():
            tail.append(out.pop())
        out.extend(f"{key} = {value}" for key, value in pending.pop(section).items())
        out.extend(tail)

    for line in text.splitlines():
        section = _SECTION.match(line)
        if section:
            flush(current)
            current = section.group(1).strip()
            in_replaced_value = False
            out.append(line)
            continue
        # Indented non-empty lines continue the previous value.
        if in_replaced_value and line[:1] in (" ", "\t") and line.strip():
            continue
        in_replaced_value = False
        key = _KEY.match(line)
        if key and current is not None and current in updates:
            name = key.group(1).strip().lower()
            if name in updates[current]:
                in_replaced_value = True
                value = pending.get(current, {}).pop(name, None)
                if value is not None:
                    out.append(f"{name} = {value}")
                continue  # a later duplicate of a replaced key is dropped
        out.append(line)
    flush(current)
    for name, keys in pending.items():
        if not keys:
            continue
        if out and out[-1].strip():
            out.append("")
        out.append(f"[{name}]")
        out.extend(f"{key} = {value}" for key, value in keys.items())
    return "\n".join(out) + "\n"


def write(path: str | os.PathLike[str], text: str) -> None:
    """Atomically replace ``path`` with ``text``, mode 0600 (it holds passwords)."""
    atomic_write(path, text, mode=0o600)


def _parse(text: str, path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path} is not a valid test.conf: {first}") from exc
    return parser
