"""Turning ``requests`` failures and HTTP error statuses into :mod:`ostk.errors` exceptions.

The CLI maps those onto exit codes in one place; nothing outside this package
sees a raw ``requests`` exception.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import requests

from ostk.errors import (
    AuthFailed,
    ConnectionFailed,
    HTTPError,
    NotFound,
    RequestTimeout,
    ServiceError,
    TruncatedDownload,
)
from ostk.http.urls import redact_url
from ostk.redact import redact


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
        raise TruncatedDownload(f"{what}: download cut short ({failure_reason(exc)})") from exc
    except requests.exceptions.ConnectTimeout as exc:
        raise RequestTimeout(f"{what}: timed out connecting to {_url_of(exc)}") from exc
    except requests.exceptions.ReadTimeout as exc:
        raise RequestTimeout(f"{what}: {_url_of(exc)} did not answer in time") from exc
    except requests.exceptions.SSLError as exc:
        raise ConnectionFailed(f"{what}: TLS error with {_url_of(exc)}: {failure_reason(exc)}") from exc
    except requests.exceptions.ConnectionError as exc:
        if _is_truncation(exc):
            raise TruncatedDownload(f"{what}: download cut short ({failure_reason(exc)})") from exc
        if "ReadTimeoutError" in repr(exc):
            # urllib3 reports a read timeout that outlived its retries as a
            # MaxRetryError, which requests turns into a ConnectionError.
            raise RequestTimeout(f"{what}: {_url_of(exc)} did not answer in time") from exc
        raise ConnectionFailed(f"{what}: cannot reach {_url_of(exc)} ({failure_reason(exc)})") from exc
    except requests.exceptions.TooManyRedirects as exc:
        raise ServiceError(f"{what}: too many redirects from {_url_of(exc)}") from exc
    except requests.exceptions.InvalidURL as exc:
        raise ServiceError(f"{what}: invalid URL: {exc}") from exc
    except requests.exceptions.MissingSchema as exc:
        raise ServiceError(f"{what}: not a URL: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise ServiceError(f"{what}: {failure_reason(exc)}") from exc
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


def failure_reason(exc: BaseException) -> str:
    """The innermost cause of a transport failure, in a few words, secrets masked."""
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


def _url_of(exc: requests.exceptions.RequestException) -> str:
    request_obj = getattr(exc, "request", None)
    url = getattr(request_obj, "url", None)
    return redact_url(url) if url else "the server"


def _is_truncation(exc: BaseException) -> bool:
    text = repr(exc)
    return "IncompleteRead" in text or ("ProtocolError" in text and "Connection broken" in text)
