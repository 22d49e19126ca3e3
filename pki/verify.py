"""Verify a token: signature and signer, then its expiry, then revocation."""
from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from hashlib import md5
from typing import Any, Protocol, runtime_checkable

from pki.certs import TrustStore
from pki.cms import verify_message
from pki.errors import Reason, TokenInvalid
from pki.token import DecodedToken, decode, frozen_instance
from pki.token import token_ids as _token_ids


@runtime_checkable
class RevocationCheck(Protocol):
    """Anything that can say whether a token is revoked (e.g. a revocation list)."""

    def is_revoked(self, token_ids: Collection[str], audit_ids: Collection[str]) -> bool:
        """True when any of the token's ids or audit ids is revoked."""
        ...


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature, signer, expiry and revocation status were checked."""

    decoded: DecodedToken
    #: algorithm → hex digest of the token text (the ids revocation lists use)
    token_ids: dict[str, str]
    #: when the token expires (aware UTC)
    expires: datetime.datetime

    @property
    def payload(self) -> dict[str, Any]:
        """The verified JSON payload."""
        return self.decoded.payload


def _utcnow(now: datetime.datetime | None) -> datetime.datetime:
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if now.tzinfo is None:
        return now.replace(tzinfo=datetime.timezone.utc)
    return now


def verify_token(
    token: str | bytes | DecodedToken,
    trust: TrustStore,
    *,
    now: datetime.datetime | None = None,
    revocation: RevocationCheck | None = None,
    hash_algorithms: Sequence[str] = ("md5",),
) -> VerifiedToken:
    """Verify ``token`` against ``trust`` and return it, or raise ``TokenInvalid``.

    Checks, in this order: the CMS parses (malformed), the signer is one of
    the signing certs (unknown-signer), chains to a trusted CA and may sign
    (untrusted-signer), every cert is within its validity at ``now``
    (cert-not-valid), the signature matches (bad-signature), the token has not
    expired at ``now`` (expired), and neither any of its ids (one per
    ``hash_algorithms``) nor any audit id is revoked (revoked). A naive
    ``now`` is taken as UTC.

    >>> verified = verify_token(token_text, trust, revocation=revocation_list)
    >>> verified.decoded.summary.user_name
    """
    when = _utcnow(now)
    decoded = token if isinstance(token, DecodedToken) else decode(token)
    if hash_algorithms == ("md5",):  # the default, without the general loop
        ids = {"md5": md5(decoded.text.encode()).hexdigest()}
    else:
        ids = _token_ids(decoded.text, hash_algorithms)
    verify_message(decoded.message, trust, when)
    expires = decoded.expires
    if expires is None:
        raise TokenInvalid(Reason.MALFORMED, "token has no expiry")
    if expires <= when:
        raise TokenInvalid(Reason.EXPIRED, f"token expired at {expires.isoformat()}")
    if revocation is not None and revocation.is_revoked(
        tuple(ids.values()), decoded.audit_ids
    ):
        raise TokenInvalid(Reason.REVOKED, "token is on the revocation list")
    return frozen_instance(VerifiedToken, {"decoded": decoded, "token_ids": ids, "expires": expires})
