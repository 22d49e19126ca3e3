"""The one loop that reads every response body: size cap, stall timeout, deadline."""
from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import requests
import urllib3.exceptions

from ostk.errors import (
    ConnectionFailed,
    RequestTimeout,
    ResponseTooLarge,
    ServiceError,
    TruncatedDownload,
)
from ostk.http.deadline import Deadline, current_deadline
from ostk.http.failures import failure_reason
from ostk.http.settings import HttpSettings
from ostk.http.urls import host_of

_DEFAULT_SETTINGS = HttpSettings()


def read_body(
    response: requests.Response,
    *,
    what: str,
    max_bytes: int | None = None,
    chunk_size: int = 256 * 1024,
) -> Iterator[bytes]:
    """Yield the decoded body of a ``stream=True`` response, under every bound.

    ``max_bytes`` None means the session's ``max_body_bytes``; 0 means no cap.
    Each socket read returns as soon as any data arrives (``read1``), so the
    stall and deadline checks run between reads however slowly bytes drip.
    """
    session_settings = _settings_of(response)
    deadline = _deadline_of(response)
    cap = session_settings.max_body_bytes if max_bytes is None else max_bytes
    host = host_of(response.url or "")
    declared = response.headers.get("Content-Length", "")
    if cap and declared.isdigit() and int(declared) > cap:
        response.close()
        raise ResponseTooLarge(f"{what}: {host} announced {int(declared):,} bytes, more than the {cap:,}-byte limit")
    stall = session_settings.stall_timeout
    sock = _socket_of(response)
    raw = response.raw
    total = 0
    window_start = time.monotonic()
    window_bytes = 0
    pending: list[bytes] = []
    pending_size = 0
    started = time.monotonic()
    try:
        while True:
            wait = stall
            if deadline is not None:
                left = deadline.remaining()
                if left <= 0:
                    raise deadline.error(what, host)
                wait = min(wait, left)
            if sock is not None:
                # The request's read timeout was for the first byte; from here
                # on silence longer than the stall timeout (or the time left)
                # is an error.
                with contextlib.suppress(OSError):
                    sock.settimeout(max(wait, 0.01))
            try:
                data = raw.read1(chunk_size, decode_content=True)
            except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
                if deadline is not None and deadline.expired:
                    raise deadline.error(what, host) from exc
                raise RequestTimeout(f"{what}: {host} stopped sending for {wait:g} s") from exc
            except (urllib3.exceptions.ProtocolError, urllib3.exceptions.IncompleteRead) as exc:
                raise TruncatedDownload(f"{what}: download from {host} cut short ({failure_reason(exc)})") from exc
            except urllib3.exceptions.DecodeError as exc:
                raise ServiceError(f"{what}: {host} sent a body that does not match its Content-Encoding") from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ConnectionFailed(f"{what}: reading from {host} failed ({failure_reason(exc)})") from exc
            if not data:
                break
            total += len(data)
            if cap and total > cap:
                raise ResponseTooLarge(f"{what}: {host} sent more than the {cap:,}-byte limit")
            now = time.monotonic()
            window_bytes += len(data)
            if window_bytes >= session_settings.stall_min_bytes:
                window_start, window_bytes = now, 0
            elif now - window_start > stall:
                raise RequestTimeout(
                    f"{what}: {host} is too slow: {window_bytes} bytes in {now - window_start:.0f} s"
                )
            pending.append(data)
            pending_size += len(data)
            if pending_size >= chunk_size:
                yield b"".join(pending)
                pending, pending_size = [], 0
        if pending:
            yield b"".join(pending)
    except (RequestTimeout, TruncatedDownload, ConnectionFailed):
        # What arrived before the server stalled or hung up is real text (the
        # first part of a log): hand it over before the error, so a reader gets
        # a partial log instead of nothing.
        response.close()
        if pending:
            data, pending = b"".join(pending), []
            yield data
        raise
    except BaseException:
        response.close()
        raise
    finally:
        if deadline is not None:
            deadline.record(host, time.monotonic() - started)


# An OstkSession marks each response it makes with itself (``_ostk_session``):
# its settings and deadline bound the body. A response from any other session
# gets the defaults and the current command's deadline.


def _settings_of(response: requests.Response) -> HttpSettings:
    settings = getattr(getattr(response, "_ostk_session", None), "settings", None)
    return settings if isinstance(settings, HttpSettings) else _DEFAULT_SETTINGS


def _deadline_of(response: requests.Response) -> Deadline | None:
    session = getattr(response, "_ostk_session", None)
    if session is None:
        return current_deadline()
    deadline = getattr(session, "deadline", None)
    return deadline if isinstance(deadline, Deadline) else None


def _socket_of(response: requests.Response) -> socket.socket | None:
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        # HTTP/1.0 answers: http.client dropped the connection's reference,
        # the body's file object still holds the socket.
        fp = getattr(getattr(getattr(response.raw, "_fp", None), "fp", None), "raw", None)
        sock = getattr(fp, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None
