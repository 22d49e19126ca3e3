"""Why a token is not valid, and the exceptions that carry the reason.

``TokenInvalid`` is a verdict (exit 1), not a failure of ostk: it is raised
for malformed tokens too, so callers handle one exception for "do not accept".
Problems with *our* inputs (certificate files) are ``ostk.errors.InputError``;
keystone being unreachable is ``ostk.errors.ServiceError``.
"""
from __future__ import annotations

import enum

from ostk.errors import InputError


class Reason(str, enum.Enum):
    """Every documented reason a token is rejected."""

    #: Not a PKI/PKIZ/CMS token, or its CMS/payload cannot be parsed.
    MALFORMED = "malformed"
    #: The signature does not match the content (tampered token or wrong key).
    BAD_SIGNATURE = "bad-signature"
    #: No signing certificate matches the signer's issuer and serial number.
    UNKNOWN_SIGNER = "unknown-signer"
    #: The signing certificate is not issued by a trusted CA, or may not sign.
    UNTRUSTED_SIGNER = "untrusted-signer"
    #: The signing or CA certificate is outside its validity period.
    CERT_NOT_VALID = "cert-not-valid"
    #: The token's own ``expires`` is in the past.
    EXPIRED = "expired"
    #: The token id or audit id is on the revocation list.
    REVOKED = "revoked"


class TokenInvalid(Exception):
    """The token must not be accepted; ``reason`` says why, ``str()`` explains."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class CertificateError(InputError):
    """A certificate or key file is unreadable or malformed (exit 3)."""
