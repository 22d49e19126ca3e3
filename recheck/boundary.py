"""Validating remote answers at the boundary: parsed JSON → typed msgspec models.

Every Gerrit, Zuul and Launchpad answer goes through :func:`validate` before
any field is read, so a wrong shape (``_number: "abc"``, ``log_url: 5``) is a
one-line :class:`ostk.errors.ServiceError` naming the service (exit 4), never
an ``AttributeError`` deep in the workflow.
"""
from __future__ import annotations

from typing import Any, TypeVar

from ostk.documents import validate as _validate
from ostk.errors import OstkError, ServiceError

T = TypeVar("T")


class MalformedAnswer(ServiceError):
    """A service answered with the wrong shape (exit 4): never downgraded to a warning."""


def validate(obj: Any, model: type[T], *, source: str, error: type[OstkError] = MalformedAnswer) -> T:
    """``obj`` converted to ``model`` (:func:`ostk.documents.validate`), or ``error("<source>: ...")``."""
    return _validate(obj, model, source=source, error=error)


def as_int(value: int | str | None, *, source: str, error: type[OstkError], limit: int = 10**12) -> int | None:
    """An id that services send as a number or a numeric string; anything else is an error."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 13:
        number = int(value)
    else:
        raise error(f"{source}: unexpected answer (not a number: {str(value)[:40]!r})")
    if not 0 <= number <= limit:
        raise error(f"{source}: unexpected answer (number out of range)")
    return number
