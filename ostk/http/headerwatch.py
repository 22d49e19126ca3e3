"""Connections that cut a server dripping its status line and headers.

A socket timeout bounds each read, not their sum: a server sending its
headers a byte a second never trips it. The session sets a budget for the
header phase (:func:`header_budget`) and these connections enforce it.
"""
from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Seconds the current thread's request may spend receiving the status line and
# headers (set by OstkSession.request around the send).
_header_budget = threading.local()


@contextlib.contextmanager
def header_budget(seconds: float | None) -> Iterator[None]:
    """Give requests sent by this thread inside the block ``seconds`` to deliver their headers."""
    _header_budget.seconds = seconds
    try:
        yield
    finally:
        _header_budget.seconds = None


class _HeaderWatchMixin:
    """Cut a connection whose status line and headers arrive too slowly.

    A timer shuts the socket down when the budget is spent; the read then
    fails and is reported as a read timeout (retried, then ``RequestTimeout``)
    like a silent server.
    """

    sock: socket.socket | None

    def getresponse(self) -> Any:
        budget = getattr(_header_budget, "seconds", None)
        sock = self.sock
        if budget is None or sock is None:
            return super().getresponse()  # type: ignore[misc]
        fired = threading.Event()

        def cut() -> None:
            fired.set()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(budget, cut)
        timer.daemon = True
        timer.start()
        try:
            return super().getresponse()  # type: ignore[misc]
        except Exception as exc:
            if fired.is_set():
                raise TimeoutError(f"headers not received within {budget:g} s") from exc
            raise
        finally:
            timer.cancel()


class _WatchedHTTPConnection(_HeaderWatchMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_HeaderWatchMixin, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedTLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connection pools whose connections watch the header phase."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedTLSPool}
