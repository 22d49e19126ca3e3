"""How failures of different builds are recognised as the same one.

The same test id (tempest's ``[id-…,smoke]`` attribute suffix dropped), or
else the same normalised error message: numbers, ids, addresses and paths
removed, so ``lib/cinder:312 … lvmdriver-3 after 120 seconds`` and
``lib/cinder:97 … lvmdriver-7 after 60 seconds`` are one failure.
"""
from __future__ import annotations

from dataclasses import dataclass

from recheck.launchpad import normalise_message, strip_tags
from recheck.models import Failure, FailureKind

#: Words of a message kept in its key: enough to tell causes apart.
KEY_WORDS = 16


@dataclass(frozen=True)
class FailureKey:
    """How failures of different builds are recognised as the same one."""

    #: ``"test"`` or ``"message"``.
    kind: str
    key: str


def failure_key(failure: Failure) -> FailureKey:
    """Same test id (tempest's ``[id-…,smoke]`` tags dropped), else the same normalised message."""
    if failure.kind is FailureKind.TEST and failure.id:
        return FailureKey("test", strip_tags(failure.id))
    message = normalise_message(failure.message, words=KEY_WORDS) or failure.id or failure.kind.value
    return FailureKey("message", message)
