"""One remote call, its errors mapped: a checked request, a JSON answer, a streamed body."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from ostk.errors import ServiceError
from ostk.http.body import read_body
from ostk.http.failures import check_status, service_errors
from ostk.http.urls import redact_url


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
