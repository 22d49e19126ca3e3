"""Keystone PKI/PKIZ tokens: decode, verify, revocation lists, a WSGI filter.

A native replacement for ``keystoneclient.common.cms`` and the PKI half of
keystonemiddleware's auth_token (no openssl subprocess)::

    from pki import TrustStore, KeystoneSource, RevocationCache, Verifier
    trust = TrustStore.from_files("certs/signing_cert.pem", "certs/cacert.pem")
    source = KeystoneSource("http://127.0.0.1:5000", token=admin_token)
    verifier = Verifier(trust, revocation=RevocationCache("signing", source.fetch_revocation_list, trust))
    verified = verifier.verify(token)   # raises TokenInvalid(reason) unless valid

``TokenInvalid.reason`` is one of :class:`Reason` (malformed, bad-signature,
unknown-signer, untrusted-signer, cert-not-valid, expired, revoked). Problems
with local files are ``ostk.errors.InputError`` (``CertificateError``,
``RevocationListError``); keystone failing is ``ostk.errors.ServiceError``
(``RevocationUnavailable`` when no list is fresh enough: fail closed).

Elsewhere, by purpose: :mod:`pki.middleware` (``filter_factory``, the paste
filter for services), :mod:`pki.issuing` (CAs, signing certs, signed tokens
and lists), :mod:`pki.testing` (``KeystoneStandIn``, a PKI-era keystone on
loopback), :mod:`pki.cms` (``der_to_pem``, ``verify_cms``...),
:mod:`pki.certs` (``load_certificates``...), and the protocols
``pki.verify.RevocationCheck`` / ``pki.verifier.CertificateSource``.
"""
from __future__ import annotations

from pki.certs import TrustStore
from pki.errors import CertificateError, Reason, TokenInvalid
from pki.keystone import CertificateCache, KeystoneSource
from pki.revocation import (
    RevocationCache,
    RevocationList,
    RevocationListError,
    RevocationUnavailable,
    RevokedToken,
)
from pki.token import DecodedToken, TokenSummary, decode, token_ids
from pki.verifier import Verifier
from pki.verify import VerifiedToken, verify_token

__all__ = [
    "CertificateCache",
    "CertificateError",
    "DecodedToken",
    "KeystoneSource",
    "Reason",
    "RevocationCache",
    "RevocationList",
    "RevocationListError",
    "RevocationUnavailable",
    "RevokedToken",
    "TokenInvalid",
    "TokenSummary",
    "TrustStore",
    "VerifiedToken",
    "Verifier",
    "decode",
    "token_ids",
    "verify_token",
]
