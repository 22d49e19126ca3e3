"""One exception tree for every ostk command, and the exit codes it maps onto.

Library code raises these; only the CLI turns them into exit codes (in
``ostk.cli``), so scripts importing the libraries catch exceptions, not codes.
"""
from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Exit codes shared by every command (see README, "Exit codes")."""

    OK = 0
    #: A definite negative verdict, e.g. ``pki verify`` found the token invalid.
    NEGATIVE = 1
    USAGE = 2
    #: Bad local input: unreadable or malformed file, config, certificate.
    INPUT = 3
    #: A remote service failed: unreachable, timeout, HTTP error after retries.
    SERVICE = 4
    #: ``ostk recheck --post`` refused to post (already rechecked, newer patch set...).
    REFUSED = 5
    INTERRUPTED = 130


class OstkError(Exception):
    """Base of every error ostk raises on purpose.

    ``str(error)`` is a complete one-line message meant for the user.
    """

    exit_status: ExitStatus = ExitStatus.INPUT


class UsageError(OstkError):
    """The command was called wrongly (bad arguments, a refused action)."""

    exit_status = ExitStatus.USAGE


class InputError(OstkError):
    """Local input is missing, unreadable or malformed."""

    exit_status = ExitStatus.INPUT


class ConfigError(InputError):
    """Configuration (flags, OS_* variables, clouds.yaml) is incomplete or wrong."""


class ServiceError(OstkError):
    """A remote service could not give an answer."""

    exit_status = ExitStatus.SERVICE


class ConnectionFailed(ServiceError):
    """The service could not be reached (refused, DNS, reset)."""


class RequestTimeout(ServiceError):
    """The service did not answer in time."""


class HTTPError(ServiceError):
    """The service answered with an HTTP error status (after any retries).

    Attributes:
        status: the HTTP status code.
        url: the URL that failed, without credentials or query secrets.
    """

    def __init__(self, message: str, *, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class NotFound(HTTPError):
    """The service answered 404."""


class AuthFailed(HTTPError):
    """The service refused our credentials (401/403)."""


class TruncatedDownload(ServiceError):
    """A download ended before the body the server announced was complete."""


class ResponseTooLarge(ServiceError):
    """A service sent a body larger than we accept for one answer."""
