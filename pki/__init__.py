"""Keystone PKI/PKIZ tokens: decode, verify, revocation lists, issuing for tests.

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

:mod:`pki.issuing` creates CAs, signing certs and tokens for tests, and
:class:`pki.testing.KeystoneStandIn` serves them like a PKI-era keystone.
"""
from __future__ import annotations

from pki.certs import TrustStore, load_certificates, load_private_key
from pki.cms import der_to_pem, pem_to_der, verify_cms
from pki.errors import CertificateError, Reason, TokenInvalid
from pki.issuing import (
    KeyPair,
    create_ca,
    create_signing_cert,
    sign_cms,
    sign_revocation_list,
    sign_token,
    write_setup,
)
from pki.keystone import CertificateCache, KeystoneCertificates, KeystoneSource
from pki.revocation import (
    RevocationCache,
    RevocationList,
    RevocationListError,
    RevocationUnavailable,
    RevokedToken,
)
from pki.token import DecodedToken, TokenSummary, decode, token_ids
from pki.verifier import CertificateSource, Verifier
from pki.verify import RevocationCheck, VerifiedToken, verify_token

__all__ = [
    "CertificateCache",
    "CertificateError",
    "CertificateSource",
    "DecodedToken",
    "KeyPair",
    "KeystoneCertificates",
    "KeystoneSource",
    "Reason",
    "RevocationCache",
    "RevocationCheck",
    "RevocationList",
    "RevocationListError",
    "RevocationUnavailable",
    "RevokedToken",
    "TokenInvalid",
    "TokenSummary",
    "TrustStore",
    "VerifiedToken",
    "Verifier",
    "create_ca",
    "create_signing_cert",
    "decode",
    "der_to_pem",
    "load_certificates",
    "load_private_key",
    "pem_to_der",
    "sign_cms",
    "sign_revocation_list",
    "sign_token",
    "token_ids",
    "verify_cms",
    "verify_token",
    "write_setup",
]
