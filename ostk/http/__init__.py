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

The rooms: :mod:`~ostk.http.settings` (the policy), :mod:`~ostk.http.deadline`
(the time and retry budget), :mod:`~ostk.http.retry` (urllib3's retry under
that budget), :mod:`~ostk.http.headerwatch` (the header phase bounded),
:mod:`~ostk.http.session` (the session builder), :mod:`~ostk.http.body` (the
body reader), :mod:`~ostk.http.failures` (error mapping),
:mod:`~ostk.http.urls` (URL checks and redaction) and :mod:`~ostk.http.calls`
(request, JSON, streamed bytes). Import from ``ostk.http``; the rooms may move.

Example::

    deadline = Deadline(60, "ostk recheck")
    session = build_session(HttpSettings(), deadline=deadline)
    build = get_json(session, url, what="reading the Zuul build")
"""
from __future__ import annotations

from ostk.errors import ResponseTooLarge
from ostk.http.body import read_body
from ostk.http.calls import get_json, iter_bytes, request
from ostk.http.deadline import Deadline, current_deadline, use_deadline
from ostk.http.failures import check_status, service_errors
from ostk.http.session import IDEMPOTENT_METHODS as IDEMPOTENT_METHODS
from ostk.http.session import RETRY_STATUSES as RETRY_STATUSES
from ostk.http.session import USER_AGENT as USER_AGENT
from ostk.http.session import OstkSession, build_session
from ostk.http.settings import HttpSettings
from ostk.http.settings import MiB as MiB
from ostk.http.urls import check_url, host_of, redact_url

__all__ = [
    "Deadline",
    "HttpSettings",
    "OstkSession",
    "ResponseTooLarge",
    "build_session",
    "check_status",
    "check_url",
    "current_deadline",
    "get_json",
    "host_of",
    "iter_bytes",
    "read_body",
    "redact_url",
    "request",
    "service_errors",
    "use_deadline",
]
