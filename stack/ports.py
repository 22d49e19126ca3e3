"""Loopback ports: pick free ones, refuse taken ones with a clear error."""
from __future__ import annotations

import contextlib
import errno
import socket
import time

from ostk.errors import InputError

HOST = "127.0.0.1"


class PortInUse(InputError):
    """A port the stack needs is already taken by another process (exit 3)."""

    def __init__(self, service: str, port: int) -> None:
        super().__init__(
            f"{service}: port {HOST}:{port} is already in use; stop whatever holds it or "
            f"choose another port (see 'ostk stack up --help')"
        )
        self.service = service
        self.port = port


def free_port() -> int:
    """A port that was free a moment ago (the kernel picks it: bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((HOST, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def is_free(port: int) -> bool:
    """True if nothing listens on (or holds) ``127.0.0.1:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT would look taken although
        # our servers (which set it) can bind it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def require_free(service: str, port: int, *, wait: float = 0.0) -> None:
    """Raise :class:`PortInUse` unless ``port`` is free (polling up to ``wait`` s).

    The wait covers a killed server's orphaned workers, which let go of the
    socket a moment after their parent died.
    """
    deadline = time.monotonic() + wait
    while not is_free(port):
        if time.monotonic() >= deadline:
            raise PortInUse(service, port)
        time.sleep(0.2)


def is_listening(port: int, *, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on ``127.0.0.1:port``."""
    with contextlib.suppress(OSError):
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    return False
