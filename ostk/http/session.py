"""The one session builder: timeouts, retries, size caps, deadline and User-Agent on every call."""
from __future__ import annotations

import logging
import time
from typing import Any

import requests

from ostk import __version__
from ostk.http.body import read_body
from ostk.http.deadline import Deadline, current_deadline
from ostk.http.headerwatch import WatchedAdapter, header_budget
from ostk.http.retry import BoundedRetry
from ostk.http.settings import HttpSettings
from ostk.http.urls import host_of, redact_url
from ostk.redact import redact

log = logging.getLogger("ostk.http")

USER_AGENT = f"ostk/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
        try:
            with header_budget(_read_part(timeout)):
                kwargs.update(timeout=timeout, stream=True)
                response = super().request(method, url, *args, **kwargs)
        finally:
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
    retry = BoundedRetry(
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
    adapter = WatchedAdapter(max_retries=retry, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def _cap_timeout(timeout: Any, remaining: float) -> Any:
    if isinstance(timeout, tuple):
        return tuple(None if t is None else min(float(t), remaining) for t in timeout)
    return remaining if timeout is None else min(float(timeout), remaining)


def _read_part(timeout: Any) -> float | None:
    value = timeout[1] if isinstance(timeout, tuple) else timeout
    return None if value is None else float(value)
