"""The one place that builds HTTP sessions.

Every request ostk makes has a timeout, a ``User-Agent: ostk/<version>``, and
the same retry policy: idempotent requests are retried on connection errors,
read errors, 429 and 5xx with exponential backoff, honouring ``Retry-After``
(capped); a POST is never retried once it may have reached the server.
Failures surface as :mod:`ostk.errors` exceptions, never as raw ``requests``
ones, so the CLI maps them onto exit codes in one place.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ostk import __version__
from ostk.errors import (
    AuthFailed,
    ConnectionFailed,
    HTTPError,
    NotFound,
    RequestTimeout,
    ServiceError,
    TruncatedDownload,
)
from ostk.redact import redact

log = logging.getLogger("ostk.http")

USER_AGENT = f"ostk/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpSettings:
    """Transport policy for one session."""

    #: Seconds to connect, and to wait between bytes of the answer.
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    #: Retries after the first attempt, for each kind of failure.
    retries: int = 3
    #: Backoff base in seconds: waits are backoff, 2*backoff, 4*backoff...
    backoff: float = 0.5
    #: The longest ``Retry-After`` we are willing to sleep for.
    max_retry_after: float = 30.0


class _CappedRetry(Retry):
    """urllib3's Retry, but a server cannot make us sleep for an hour."""

    max_retry_after: float = 30.0

    def get_retry_after(self, response):  # type: ignore[no-untyped-def]
        value = super().get_retry_after(response)
        if value is None:
            return None
        return min(value, self.max_retry_after)

    def new(self, **kw):  # type: ignore[no-untyped-def]
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        return retry


class OstkSession(requests.Session):
    """A requests session whose every call has a timeout unless one is given."""

    def __init__(self, settings: HttpSettings) -> None:
        super().__init__()
        self.settings = settings

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        kwargs.setdefault("timeout", (self.settings.connect_timeout, self.settings.read_timeout))
        started = time.monotonic()
        response = super().request(method, url, *args, **kwargs)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %s (%.2fs) %s",
                method,
                redact_url(url),
                response.status_code,
                time.monotonic() - started,
                redact(str(dict(response.request.headers))),
            )
        return response


def build_session(settings: HttpSettings | None = None) -> OstkSession:
    """Return a session with ostk's timeouts, retries and User-Agent."""
    settings = settings or HttpSettings()
    retry = _CappedRetry(
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
    session = OstkSession(settings)
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def redact_url(url: str) -> str:
    """``url`` without userinfo (``user:password@``) and with secrets masked."""
    parts = urlsplit(url)
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
    except requests.exceptions.InvalidURL as exc:
        raise ServiceError(f"{what}: invalid URL: {exc}") from exc
    except requests.exceptions.MissingSchema as exc:
        raise ServiceError(f"{what}: not a URL: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise ServiceError(f"{what}: {_reason(exc)}") from exc


def check_status(response: requests.Response, what: str) -> requests.Response:
    """Raise the ostk error matching an HTTP error status; return ``response`` if OK."""
    status = response.status_code
    if status < 400:
        return response
    url = redact_url(response.url)
    message = f"{what}: HTTP {status} {response.reason or ''}".rstrip() + f" from {url}"
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


def get_json(session: requests.Session, url: str, *, what: str, **kwargs: Any) -> Any:
    """GET ``url`` and decode its JSON body, or raise :class:`ServiceError`."""
    response = request(session, "GET", url, what=what, **kwargs)
    try:
        return response.json()
    except ValueError as exc:
        raise ServiceError(f"{what}: {redact_url(url)} did not return JSON") from exc


def iter_bytes(
    session: requests.Session, url: str, *, what: str, chunk_size: int = 256 * 1024, **kwargs: Any
) -> Iterator[bytes]:
    """Stream the body of ``url`` in chunks, decoded of any Content-Encoding.

    Raises :class:`TruncatedDownload` if the connection ends early.
    """
    response = request(session, "GET", url, what=what, stream=True, **kwargs)
    with response, service_errors(what):
        yield from response.iter_content(chunk_size=chunk_size)


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
    return "IncompleteRead" in text or "ProtocolError" in text and "Connection broken" in text
