"""Validated tokens, cached under their hash: in this process or in memcached.

auth_token kept validated token data under ``tokens/<hash>`` for
``token_cache_time`` seconds, in memcached when ``memcached_servers`` was
set and in a per-process dict otherwise
(``keystonemiddleware/auth_token/_cache.py``: ``TokenCache``,
``_FakeClient``). The cache only skips the signature check: revocation is
checked on every request by the caller.

memcached is spoken directly (the text protocol's ``get``/``set``, a few
lines) so the filter needs no client library in the service's venv. A
memcached that is down is a cache miss, never an error; the server is then
left alone for ``dead_retry`` seconds so each request does not pay a
connection timeout.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pki.identity import Identity, identity_from_payload

__all__ = ["MemcachedTokenCache", "MemoryTokenCache", "TokenCache", "parse_servers"]

#: memcached refuses values over 1 MiB by default; a token's data is far less.
_MAX_VALUE = 1024 * 1024
_KEY_PREFIX = "ostk-pki/tokens/"


class TokenCache(Protocol):
    """Where validated identities are kept between requests."""

    def get(self, key: str, now: float) -> Identity | None: ...

    def set(self, key: str, identity: Identity, expires_at: float, now: float) -> None: ...


class MemoryTokenCache:
    """An LRU of identities in this process (thread-safe).

    ``ttl``: seconds an entry is served; never past ``expires_at`` (the
    token's own expiry, epoch seconds).
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Identity]] = OrderedDict()

    def get(self, key: str, now: float) -> Identity | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            until, identity = entry
            if now >= until:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return identity

    def set(self, key: str, identity: Identity, expires_at: float, now: float) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (min(now + self.ttl, expires_at), identity)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def parse_servers(value: str | Sequence[str]) -> tuple[tuple[str, int], ...]:
    """``"127.0.0.1:11211, [::1]:11212"`` → ((host, port), ...); port defaults to 11211."""
    items = value.split(",") if isinstance(value, str) else list(value)
    servers = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        text = text.removeprefix("inet6:")
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest.lstrip(":") or "11211"
        elif text.count(":") == 1:
            host, port = text.split(":")
        else:
            host, port = text, "11211"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"memcached server {item.strip()!r}: bad port")
        servers.append((host, int(port)))
    return tuple(servers)


class _Down(Exception):
    pass


class MemcachedTokenCache:
    """Identities in memcached, shared by every worker of every process.

    Entries hold the token data as JSON; a hit rebuilds the headers from it.
    Connection problems make a miss (and, for ``dead_retry`` seconds, skip
    the server); they never fail a request.
    """

    def __init__(
        self,
        servers: Sequence[tuple[str, int]],
        ttl: float,
        *,
        socket_timeout: float = 0.5,
        dead_retry: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not servers:
            raise ValueError("memcached needs at least one server")
        self.servers = tuple(servers)
        self.ttl = ttl
        self.socket_timeout = socket_timeout
        self.dead_retry = dead_retry
        self._clock = clock
        self._local = threading.local()
        self._dead_until: dict[tuple[str, int], float] = {}
        #: Operations that failed because a server was unreachable or broken.
        self.errors = 0

    # TokenCache ---------------------------------------------------------------
    def get(self, key: str, now: float) -> Identity | None:
        try:
            raw = self._command(key, lambda conn, k: _get(conn, k))
        except _Down:
            return None
        if raw is None:
            return None
        try:
            document = json.loads(raw)
            if float(document["until"]) <= now:
                return None
            return identity_from_payload(document["token_info"], expires_at=float(document["until"]))
        except (ValueError, KeyError, TypeError, RecursionError):
            return None  # not ours, or damaged: validate again

    def set(self, key: str, identity: Identity, expires_at: float, now: float) -> None:
        until = min(now + self.ttl, expires_at)
        lifetime = int(until - now)
        if lifetime <= 0:
            return
        value = json.dumps({"until": until, "token_info": identity.token_info}).encode()
        if len(value) > _MAX_VALUE:
            return
        try:
            self._command(key, lambda conn, k: _set(conn, k, value, lifetime))
        except _Down:
            pass

    # ------------------------------------------------------------------------
    def _server(self, key: str) -> tuple[str, int]:
        return self.servers[zlib.crc32(key.encode()) % len(self.servers)]

    def _command(self, key: str, action: Callable[[socket.socket, str], Any]) -> Any:
        server = self._server(key)
        if self._dead_until.get(server, 0.0) > self._clock():
            raise _Down()
        conns: dict[tuple[str, int], socket.socket] = self._local.__dict__.setdefault("conns", {})
        try:
            conn = conns.get(server)
            if conn is None:
                conn = socket.create_connection(server, timeout=self.socket_timeout)
                conns[server] = conn
            return action(conn, _KEY_PREFIX + key)
        except (OSError, ValueError) as exc:
            broken = conns.pop(server, None)
            if broken is not None:
                broken.close()
            self.errors += 1
            self._dead_until[server] = self._clock() + self.dead_retry
            raise _Down() from exc


def _readline(conn: socket.socket, buffer: bytearray) -> bytes:
    while b"\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("memcached closed the connection")
        buffer += chunk
        if len(buffer) > _MAX_VALUE + 1024:
            raise ValueError("memcached answer too long")
    line, _, rest = bytes(buffer).partition(b"\r\n")
    buffer[:] = rest
    return line


def _get(conn: socket.socket, key: str) -> bytes | None:
    conn.sendall(f"get {key}\r\n".encode())
    buffer = bytearray()
    line = _readline(conn, buffer)
    if line == b"END":
        return None
    parts = line.split()
    if len(parts) < 4 or parts[0] != b"VALUE" or not parts[3].isdigit():
        raise ValueError(f"unexpected memcached answer {line[:40]!r}")
    size = int(parts[3])
    if size > _MAX_VALUE:
        raise ValueError("memcached value too large")
    while len(buffer) < size + 7:  # data \r\n END \r\n
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("memcached closed the connection")
        buffer += chunk
    if bytes(buffer[size:size + 7]) != b"\r\nEND\r\n":
        raise ValueError("memcached answer is malformed")
    return bytes(buffer[:size])


def _set(conn: socket.socket, key: str, value: bytes, lifetime: int) -> None:
    conn.sendall(f"set {key} 0 {lifetime} {len(value)}\r\n".encode() + value + b"\r\n")
    line = _readline(conn, bytearray())
    if line != b"STORED":
        raise ValueError(f"memcached refused the value: {line[:40]!r}")
