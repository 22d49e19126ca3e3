"""A token verifier for services: parsed certificates, a verdict cache, rotation.

:func:`pki.verify.verify_token` does one verification from scratch. A service
checks the same token on every request, so :class:`Verifier` keeps what is
costly to redo:

- the parsed trust store (certificates are parsed once);
- valid verdicts, by token text, for ``cache_ttl`` seconds (never past the
  token's own expiry) — revocation is still checked on every call, because a
  token can be revoked at any moment;
- when a token names a signer we do not know, the certificates are fetched
  again once (keystone rotated its signing key) and the token judged with
  the new ones.

It is safe to share one Verifier between threads.

>>> verifier = Verifier(certificates=CertificateCache(signing_dir, source),
...                     revocation=RevocationCache(signing_dir, source.fetch_revocation_list, ...))
>>> verified = verifier.verify(token)          # raises TokenInvalid
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pki.certs import TrustStore
from pki.errors import Reason, TokenInvalid
from pki.verify import RevocationCheck, VerifiedToken, verify_token

__all__ = ["CertificateSource", "Verifier", "VerifierStats"]


class CertificateSource(Protocol):
    """Anything that gives a trust store now (``trust``) and after a rotation
    (``refresh``), e.g. :class:`pki.keystone.CertificateCache`."""

    def trust(self) -> TrustStore: ...

    def refresh(self) -> TrustStore: ...


@dataclass(frozen=True)
class VerifierStats:
    """Counters, for monitoring and tests."""

    #: Verifications done from scratch (signature checked).
    verified: int
    #: Calls answered from the verdict cache (revocation still checked).
    cache_hits: int
    #: Times the certificates were fetched again for an unknown signer.
    cert_refreshes: int


class Verifier:
    """Verify tokens repeatedly and cheaply; thread-safe.

    Give either ``trust`` (fixed certificates) or ``certificates`` (a
    :class:`CertificateSource`, which enables re-fetching on rotation).
    ``cert_refresh_interval`` bounds how often an unknown signer may make us
    fetch certificates, so a stream of forged tokens cannot hammer keystone.
    """

    def __init__(
        self,
        trust: TrustStore | None = None,
        *,
        certificates: CertificateSource | None = None,
        revocation: RevocationCheck | None = None,
        cache_ttl: float = 300.0,
        max_cached: int = 10_000,
        hash_algorithms: Sequence[str] = ("md5",),
        cert_refresh_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if trust is None and certificates is None:
            raise ValueError("Verifier needs trust or certificates")
        self._certificates = certificates
        self._trust = trust if trust is not None else certificates.trust()  # type: ignore[union-attr]
        self.revocation = revocation
        self.cache_ttl = float(cache_ttl)
        self.max_cached = int(max_cached)
        self.hash_algorithms = tuple(hash_algorithms)
        self.cert_refresh_interval = float(cert_refresh_interval)
        self._clock = clock
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._last_refresh = float("-inf")  # the first rotation is always looked at
        # key -> (cached_at, VerifiedToken); ordered for LRU eviction.
        self._cache: OrderedDict[str, tuple[float, VerifiedToken]] = OrderedDict()
        self._verified = 0
        self._hits = 0
        self._refreshes = 0

    @property
    def trust(self) -> TrustStore:
        """The certificates tokens are verified against now."""
        return self._trust

    @property
    def stats(self) -> VerifierStats:
        with self._lock:
            return VerifierStats(self._verified, self._hits, self._refreshes)

    def verify(self, token: str, *, now: _dt.datetime | None = None) -> VerifiedToken:
        """Return the verified token or raise :class:`pki.errors.TokenInvalid`.

        May raise :class:`ostk.errors.ServiceError` when revocation cannot be
        checked (fail closed) or certificates cannot be re-fetched.
        """
        current = now or _dt.datetime.now(_dt.timezone.utc)
        key = _cache_key(token)
        hit = self._cached(key, current)
        if hit is not None:
            self._check_revocation(hit)
            return hit
        verified = self._verify_fresh(token, current)
        with self._lock:
            self._verified += 1
            self._cache[key] = (self._clock(), verified)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)
        return verified

    def refresh_trust(self) -> TrustStore:
        """Fetch the certificates again (at most once per ``cert_refresh_interval``)
        and return the current trust; for a revocation list naming a new signer."""
        if self._certificates is not None:
            self._refresh_certificates(self._trust)
        return self._trust

    def forget(self) -> None:
        """Drop every cached verdict (e.g. after changing the trust)."""
        with self._lock:
            self._cache.clear()

    # ------------------------------------------------------------------------
    def _cached(self, key: str, now: _dt.datetime) -> VerifiedToken | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            cached_at, verified = entry
            expires = verified.expires
            if self._clock() - cached_at >= self.cache_ttl or (expires is not None and expires <= now):
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            self._hits += 1
            return verified

    def _check_revocation(self, verified: VerifiedToken) -> None:
        if self.revocation is None:
            return
        summary = verified.decoded.summary
        audit_ids = tuple(getattr(summary, "audit_ids", None) or ())
        if self.revocation.is_revoked(tuple(verified.token_ids.values()), audit_ids):
            raise TokenInvalid(Reason.REVOKED, "the token is on keystone's revocation list")

    def _verify_fresh(self, token: str, now: _dt.datetime) -> VerifiedToken:
        trust = self._trust
        try:
            return self._verify_with(token, trust, now)
        except TokenInvalid as exc:
            if exc.reason is not Reason.UNKNOWN_SIGNER or self._certificates is None:
                raise
            if not self._refresh_certificates(trust):
                raise
        return self._verify_with(token, self._trust, now)

    def _verify_with(self, token: str, trust: TrustStore, now: _dt.datetime) -> VerifiedToken:
        return verify_token(
            token, trust, now=now, revocation=self.revocation, hash_algorithms=self.hash_algorithms
        )

    def _refresh_certificates(self, seen: TrustStore) -> bool:
        """Fetch certificates again; False if it is too soon to ask keystone."""
        with self._refresh_lock:
            if self._trust is not seen:
                return True  # another thread refreshed while we waited
            if self._clock() - self._last_refresh < self.cert_refresh_interval:
                return False
            assert self._certificates is not None
            self._last_refresh = self._clock()
            self._trust = self._certificates.refresh()
            with self._lock:
                self._refreshes += 1
                # Verdicts made with the old certificates stay valid: the
                # signatures did not change, and revocation is checked anyway.
            return True


def _cache_key(token: str) -> str:
    # A fixed-size key: tokens can be tens of KiB, and the text itself is a secret.
    return hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).hexdigest()

