"""The one place that builds HTTP sessions.

Every request ostk makes has a timeout, a ``User-Agent: ostk/<version>``, and
the same retry policy: idempotent requests are retried on connection errors,
read errors, 429 and 5xx with exponential backoff, honouring ``Retry-After``
(capped); a POST is never retried once it may have reached the server.
Failures surface as :mod:`ostk.errors` exceptions, never as raw ``requests``
ones, so the CLI maps them onto exit codes in one place.

Hostile or slow services are bounded three ways:

- a :class:`Deadline` caps the time of a whole command's remote calls: each
  request's timeouts are cut to what remains, retries (and ``Retry-After``
  sleeps) stop when they would overrun it, and a retry budget is shared by
  every session built with it;
- every body is read by one loop (:func:`iter_bytes`, and the body of every
  non-streamed request) that refuses a body which stalls: fewer than
  ``stall_min_bytes`` in ``stall_timeout`` seconds (a server dripping a byte
  a second is slow, not alive);
- API answers are capped at ``max_body_bytes`` (:class:`ResponseTooLarge`)
  and parsed with a depth limit (:func:`get_json`).

Example::

    deadline = Deadline(60, "ostk recheck")
    session = build_session(HttpSettings(), deadline=deadline)
    build = get_json(session, url, what="reading the Zuul build")
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from ostk import __version__
from ostk.errors import (
    AuthFailed,
    ConnectionFailed,
    HTTPError,
    NotFound,
    RequestTimeout,
    ResponseTooLarge,
    ServiceError,
    TruncatedDownload,
)
from ostk.redact import redact

log = logging.getLogger("ostk.http")

USER_AGENT = f"ostk/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MiB = 1024 * 1024

__all__ = [
    "Deadline",
    "HttpSettings",
    "OstkSession",
    "build_session",
    "check_status",
    "check_url",
    "current_deadline",
    "get_json",
    "iter_bytes",
    "read_body",
    "redact_url",
    "request",
    "service_errors",
    "use_deadline",
]


@dataclass(frozen=True)
class HttpSettings:
    """Transport policy for one session."""

    #: Seconds to connect, and to wait for the answer's first bytes.
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    #: Retries after the first attempt, for each kind of failure.
    retries: int = 3
    #: Backoff base in seconds: waits are backoff, 2*backoff, 4*backoff...
    backoff: float = 0.5
    #: The longest ``Retry-After`` we are willing to sleep for.
    max_retry_after: float = 30.0
    #: Largest body accepted for one API answer (decoded). The biggest real
    #: answers we read (a Gerrit change with hundreds of messages, a keystone
    #: revocation list) are a few MB; 32 MiB leaves an order of magnitude.
    max_body_bytes: int = 32 * MiB
    #: A body must deliver ``stall_min_bytes`` every ``stall_timeout`` seconds,
    #: and the socket may be silent at most this long once the headers arrived.
    stall_timeout: float = 15.0
    stall_min_bytes: int = 1024
    #: Redirects followed before giving up (requests' default, 30, lets a
    #: redirect loop burn 30 round trips).
    max_redirects: int = 10


class Deadline:
    """An overall time budget for a command's remote calls.

    Every session built with it (``build_session(settings, deadline=d)``) cuts
    each request's timeouts to what remains, stops retrying when a retry (or
    the ``Retry-After`` wait before it) would not fit, and draws every retry
    from one budget shared by the whole run. It also remembers how long each
    host took, so the error can name the slow one. Thread-safe.

    Example::

        deadline = Deadline(60, "the review's remote calls")
    """

    def __init__(self, seconds: float, what: str, *, retry_budget: int = 10) -> None:
        if not seconds > 0 or not math.isfinite(seconds):
            raise ValueError(f"a deadline needs a positive number of seconds, not {seconds!r}")
        #: The budget, in seconds.
        self.seconds = float(seconds)
        #: What the budget is for, for messages ("ostk recheck").
        self.what = what
        self._ends = time.monotonic() + self.seconds
        self._retries_left = retry_budget
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._finished = False

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._ends - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    @property
    def finished(self) -> bool:
        """True once the command that set it (:func:`use_deadline`) is over."""
        return self._finished

    def finish(self) -> None:
        self._finished = True

    def take_retry(self) -> bool:
        """Spend one retry from the shared budget; False when none is left."""
        with self._lock:
            if self._retries_left <= 0:
                return False
            self._retries_left -= 1
            return True

    def record(self, host: str, seconds: float) -> None:
        """Account ``seconds`` spent waiting on ``host``."""
        with self._lock:
            self._spent[host] = self._spent.get(host, 0.0) + seconds

    def slowest(self) -> str | None:
        """The host that took most of the time so far, if any."""
        with self._lock:
            return max(self._spent, key=self._spent.__getitem__) if self._spent else None

    def error(self, what: str, host: str) -> RequestTimeout:
        """The error for running out of time while doing ``what`` with ``host``."""
        slow = self.slowest() or host
        return RequestTimeout(
            f"{what}: gave up, {slow} is too slow: {self.what} ran past its "
            f"{self.seconds:g} s deadline (raise it with --timeout)"
        )


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("ostk_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline set by :func:`use_deadline` (the CLI's ``--timeout``), if any."""
    return _deadline.get()


@contextlib.contextmanager
def use_deadline(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make ``deadline`` the default of every session inside the block.

    Sessions built inside it keep it for calls from other threads; once the
    block ends it is finished, so a session cached across commands (in one
    process) never carries a spent deadline into the next one.
    """
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)
        if deadline is not None:
            deadline.finish()


class _BoundedRetry(Retry):
    """urllib3's Retry, but neither a server nor a retry storm can outlast us.

    ``Retry-After`` is capped at ``max_retry_after``; with a deadline, a retry
    happens only if its wait fits in the time left and the shared budget has a
    retry to spare. When a status retry is refused, urllib3 hands back the
    last answer (``raise_on_status=False``), so the caller sees the real 429.
    """

    max_retry_after: float = 30.0
    deadline_of: Callable[[], Deadline | None] | None = None

    @property
    def deadline(self) -> Deadline | None:
        return self.deadline_of() if self.deadline_of is not None else None

    def new(self, **kw: Any) -> _BoundedRetry:
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        retry.deadline_of = self.deadline_of
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        if value is None:
            return None
        return min(value, self.max_retry_after)

    def _wait_before(self, response: Any) -> float:
        if response is not None and self.respect_retry_after_header:
            retry_after = self.get_retry_after(response)
            if retry_after is not None:
                return retry_after
        return self.get_backoff_time()

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        deadline = self.deadline
        if deadline is not None:
            assert isinstance(retry, _BoundedRetry)
            wait = retry._wait_before(response)
            if wait >= deadline.remaining() or not deadline.take_retry():
                reason = error or urllib3.exceptions.ResponseError("no time left to retry")
                raise urllib3.exceptions.MaxRetryError(_pool, url or "", reason) from reason
        return retry

    def sleep(self, response: Any = None) -> None:
        wait = self._wait_before(response)
        if self.deadline is not None:
            wait = min(wait, self.deadline.remaining())
        if wait > 0:
            time.sleep(wait)


# Seconds the current thread's request may spend receiving the status line and
# headers (set by OstkSession.request around the send).
_header_budget = threading.local()


class _HeaderWatchMixin:
    """Cut a connection whose status line and headers arrive too slowly.

    A socket timeout bounds each read, not their sum: a server sending its
    headers a byte a second never trips it. A timer shuts the socket down
    when the budget is spent; the read then fails and is reported as a read
    timeout (retried, then ``RequestTimeout``) like a silent server.
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


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedTLSPool}


class OstkSession(requests.Session):
    """A requests session whose every call is bounded.

    Each request has a timeout unless one is given (and with a deadline, never
    more than the time left). A request not made with ``stream=True`` has its
    body read here, under ``settings.max_body_bytes`` and the stall timeout,
    so even callers using ``response.text`` cannot be fed gigabytes or dripped.
    """

    def __init__(self, settings: HttpSettings, deadline: Deadline | None = None, *, explicit: bool = False) -> None:
        super().__init__()
        self.settings = settings
        self._deadline = deadline
        self._explicit = explicit
        self.max_redirects = settings.max_redirects

    @property
    def deadline(self) -> Deadline | None:
        """The deadline in force: the one given to :func:`build_session`, else
        the current command's (:func:`use_deadline`), else the one current when
        the session was built (for calls from worker threads) unless that
        command is over."""
        if self._explicit:
            return self._deadline
        current = current_deadline()
        if current is not None:
            return current
        own = self._deadline
        return own if own is not None and not own.finished else None

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        host = host_of(str(url))
        timeout = kwargs.pop("timeout", None) or (self.settings.connect_timeout, self.settings.read_timeout)
        deadline = self.deadline
        if deadline is not None:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise deadline.error(f"{method} {redact_url(str(url))}", host)
            timeout = _cap_timeout(timeout, remaining)
        stream = kwargs.pop("stream", False)
        started = time.monotonic()
        _header_budget.seconds = _read_part(timeout)
        try:
            kwargs.update(timeout=timeout, stream=True)
            response = super().request(method, url, *args, **kwargs)
        finally:
            _header_budget.seconds = None
            self._record(host, started)
        # read_body finds the settings and deadline through the response.
        response._ostk_session = self  # type: ignore[attr-defined]
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %s (%.2fs) %s",
                method,
                redact_url(str(url)),
                response.status_code,
                time.monotonic() - started,
                redact(str(dict(response.request.headers))),
            )
        if not stream:
            what = f"{method} {redact_url(str(url))}"
            try:
                response._content = b"".join(read_body(response, what=what))
                response._content_consumed = True  # type: ignore[attr-defined]
            finally:
                response.close()
        return response

    def _record(self, host: str, started: float) -> None:
        deadline = self.deadline
        if deadline is not None:
            deadline.record(host, time.monotonic() - started)


def build_session(settings: HttpSettings | None = None, *, deadline: Deadline | None = None) -> OstkSession:
    """Return a session with ostk's timeouts, retries, size caps and User-Agent.

    Without ``deadline``, the one set by :func:`use_deadline` (the CLI's
    ``--timeout``) applies, if any.
    """
    settings = settings or HttpSettings()
    explicit = deadline is not None
    deadline = deadline if explicit else current_deadline()
    retry = _BoundedRetry(
        total=None,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        other=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    retry.max_retry_after = settings.max_retry_after
    session = OstkSession(settings, deadline, explicit=explicit)
    retry.deadline_of = lambda: session.deadline
    adapter = _Adapter(max_retries=retry, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def check_url(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Return ``url`` if it is a usable ``scheme://host[:port]/...`` URL, else raise ValueError.

    Catches what would otherwise fail deep inside urllib3 (or be sent as is):
    an unclosed IPv6 bracket, a port out of range, no host, whitespace or
    control characters (a CR/LF smuggled into a request line).
    """
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise ValueError("a URL cannot contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"expected a {' or '.join(schemes)} URL (scheme://host/...)")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if port == 0:
        raise ValueError("port 0 is not a valid port")
    return url


def host_of(url: str) -> str:
    """``host[:port]`` of ``url``, without credentials, for messages."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return "the server"
    return netloc.rsplit("@", 1)[-1] or "the server"


def redact_url(url: str) -> str:
    """``url`` without userinfo (``user:password@``) and with secrets masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return redact(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))


@contextlib.contextmanager
def service_errors(what: str) -> Iterator[None]:
    """Turn ``requests`` exceptions raised inside the block into ostk errors.

    ``what`` names the action for the message, e.g. ``"fetching the Zuul build"``.
    Use it around streaming reads too: a connection cut mid-body becomes
    :class:`~ostk.errors.TruncatedDownload`.
    """
    try:
        yield
    except requests.exceptions.ChunkedEncodingError as exc:
        raise TruncatedDownload(f"{what}: download cut short ({_reason(exc)})") from exc
    except requests.exceptions.ConnectTimeout as exc:
        raise RequestTimeout(f"{what}: timed out connecting to {_url_of(exc)}") from exc
    except requests.exceptions.ReadTimeout as exc:
        raise RequestTimeout(f"{what}: {_url_of(exc)} did not answer in time") from exc
    except requests.exceptions.SSLError as exc:
        raise ConnectionFailed(f"{what}: TLS error with {_url_of(exc)}: {_reason(exc)}") from exc
    except requests.exceptions.ConnectionError as exc:
        if _is_truncation(exc):
            raise TruncatedDownload(f"{what}: download cut short ({_reason(exc)})") from exc
        if "ReadTimeoutError" in repr(exc):
            # urllib3 reports a read timeout that outlived its retries as a
            # MaxRetryError, which requests turns into a ConnectionError.
            raise RequestTimeout(f"{what}: {_url_of(exc)} did not answer in time") from exc
        raise ConnectionFailed(f"{what}: cannot reach {_url_of(exc)} ({_reason(exc)})") from exc
    except requests.exceptions.TooManyRedirects as exc:
        raise ServiceError(f"{what}: too many redirects from {_url_of(exc)}") from exc
    except requests.exceptions.InvalidURL as exc:
        raise ServiceError(f"{what}: invalid URL: {exc}") from exc
    except requests.exceptions.MissingSchema as exc:
        raise ServiceError(f"{what}: not a URL: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise ServiceError(f"{what}: {_reason(exc)}") from exc
    except ValueError as exc:
        # urllib3/http.client raise bare ValueErrors for URLs they cannot
        # parse (e.g. an unclosed IPv6 bracket).
        raise ServiceError(f"{what}: invalid URL ({exc})") from exc


def check_status(response: requests.Response, what: str) -> requests.Response:
    """Raise the ostk error matching an HTTP error status; return ``response`` if OK."""
    status = response.status_code
    if status < 400:
        return response
    url = redact_url(response.url)
    message = f"{what}: HTTP {status} {response.reason or ''}".rstrip() + f" from {url}"
    retry_after = response.headers.get("Retry-After")
    if status in (429, 503) and retry_after:
        message += f" (asked to retry after {retry_after[:40]})"
    if status == 404:
        raise NotFound(message, status=status, url=url)
    if status in (401, 403):
        raise AuthFailed(message, status=status, url=url)
    raise HTTPError(message, status=status, url=url)


def request(
    session: requests.Session, method: str, url: str, *, what: str, **kwargs: Any
) -> requests.Response:
    """Send one request with error mapping; raise on HTTP errors (after retries)."""
    with service_errors(what):
        response = session.request(method, url, **kwargs)
    return check_status(response, what)


def get_json(
    session: requests.Session, url: str, *, what: str, max_bytes: int | None = None, **kwargs: Any
) -> Any:
    """GET ``url`` and decode its JSON body, or raise :class:`ServiceError`.

    The body is streamed under ``max_bytes`` (default: the session's
    ``max_body_bytes``; :class:`ResponseTooLarge` past it) and the stall
    timeout, then parsed with a depth limit. Gerrit's XSSI guard line
    (``)]}'``) is stripped. Validate the result with
    :func:`ostk.documents.validate` (``error=ServiceError``).
    """
    from ostk.documents import parse_json

    response = request(session, "GET", url, what=what, stream=True, **kwargs)
    with response:
        body = b"".join(read_body(response, what=what, max_bytes=max_bytes))
    if body.startswith(b")]}'"):
        body = body[4:]
    return parse_json(body, source=f"{what}: {redact_url(url)}", error=ServiceError)


def iter_bytes(
    session: requests.Session,
    url: str,
    *,
    what: str,
    chunk_size: int = 256 * 1024,
    max_bytes: int | None = None,
    **kwargs: Any,
) -> Iterator[bytes]:
    """Stream the body of ``url`` in chunks, decoded of any Content-Encoding.

    Raises :class:`TruncatedDownload` if the connection ends early,
    :class:`RequestTimeout` if the body stalls or the deadline passes, and
    :class:`ResponseTooLarge` past ``max_bytes`` (default: no cap, logs are
    streamed; pass one for anything held in memory).
    """
    response = request(session, "GET", url, what=what, stream=True, **kwargs)
    with response:
        yield from read_body(response, what=what, max_bytes=max_bytes or 0, chunk_size=chunk_size)


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
                raise TruncatedDownload(f"{what}: download from {host} cut short ({_reason(exc)})") from exc
            except urllib3.exceptions.DecodeError as exc:
                raise ServiceError(f"{what}: {host} sent a body that does not match its Content-Encoding") from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ConnectionFailed(f"{what}: reading from {host} failed ({_reason(exc)})") from exc
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
    except BaseException:
        response.close()
        raise
    finally:
        if deadline is not None:
            deadline.record(host, time.monotonic() - started)


def _cap_timeout(timeout: Any, remaining: float) -> Any:
    if isinstance(timeout, tuple):
        return tuple(None if t is None else min(float(t), remaining) for t in timeout)
    return remaining if timeout is None else min(float(timeout), remaining)


def _read_part(timeout: Any) -> float | None:
    value = timeout[1] if isinstance(timeout, tuple) else timeout
    return None if value is None else float(value)


def _settings_of(response: requests.Response) -> HttpSettings:
    session = getattr(response, "_ostk_session", None)
    return session.settings if isinstance(session, OstkSession) else _DEFAULT_SETTINGS


def _deadline_of(response: requests.Response) -> Deadline | None:
    session = getattr(response, "_ostk_session", None)
    if isinstance(session, OstkSession):
        return session.deadline
    return current_deadline()


def _socket_of(response: requests.Response) -> socket.socket | None:
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        # HTTP/1.0 answers: http.client dropped the connection's reference,
        # the body's file object still holds the socket.
        fp = getattr(getattr(getattr(response.raw, "_fp", None), "fp", None), "raw", None)
        sock = getattr(fp, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


_DEFAULT_SETTINGS = HttpSettings()


def _url_of(exc: requests.exceptions.RequestException) -> str:
    request_obj = getattr(exc, "request", None)
    url = getattr(request_obj, "url", None)
    return redact_url(url) if url else "the server"


def _reason(exc: BaseException) -> str:
    # Dig to the innermost cause: urllib3 wraps the socket error twice.
    inner: BaseException = exc
    while True:
        nested = inner.args[0] if inner.args and isinstance(inner.args[0], BaseException) else None
        nested = nested or getattr(inner, "reason", None) or inner.__cause__
        if not isinstance(nested, BaseException) or nested is inner:
            break
        inner = nested
    text = str(inner)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if isinstance(inner, ConnectionResetError) or "Connection reset" in text:
        return "connection reset"
    return redact(text.split(": ", 1)[-1] if "object at 0x" in text else text)


def _is_truncation(exc: BaseException) -> bool:
    text = repr(exc)
    return "IncompleteRead" in text or ("ProtocolError" in text and "Connection broken" in text)
