"""Where trust and revocation come from, resolved once (by the CLI or a script) into frozen objects.

The shape of ``ostk.auth.resolve``: flags and defaults are turned into one
of these at the edge, and the functions that build certificate and
revocation sources take it instead of a bag of options.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RevocationConfig", "TrustConfig"]


@dataclass(frozen=True)
class TrustConfig:
    """Where certificates come from, resolved once from the flags."""

    #: Local files (both set), or None when fetched from ``keystone``.
    signing_cert: Path | None
    ca: Path | None
    #: keystone's URL for certificates (and the revocation list).
    keystone: str | None
    #: Where fetched certificates and lists are cached.
    signing_dir: Path | None


@dataclass(frozen=True)
class RevocationConfig:
    """Which revocation list to check, resolved once from the flags."""

    #: A signed list on disk, verified before use.
    list_file: Path | None
    #: Fetch keystone's list (cached in the signing dir).
    fetch: bool
    cache_time: float
    max_age: float
    #: The moment to judge certificate validity at (None: now).
    now: _dt.datetime | None = None
