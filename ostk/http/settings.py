"""The transport policy of one HTTP session, as a frozen value."""
from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


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
