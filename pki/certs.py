"""Certificates and keys we trust, loaded once and indexed for fast signer look-up.

A :class:`TrustStore` is built once per set of certificate files; everything
that does not depend on the clock (issuer/serial index, public keys, "was this
signing certificate issued by a trusted CA", key usage) is worked out on first
use and cached, so verifying a token costs one signature check plus a few
date comparisons.
"""
from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from pki.errors import CertificateError, Reason, TokenInvalid

_PEM_CERT_MARKER = b"-----BEGIN CERTIFICATE-----"

#: Extensions openssl's chain verification understands; any other extension
#: marked critical makes openssl (and so us) refuse the certificate.
_KNOWN_CRITICAL = frozenset(
    {
        "2.5.29.15",  # keyUsage
        "2.5.29.19",  # basicConstraints
        "2.5.29.37",  # extKeyUsage
        "2.5.29.14",  # subjectKeyIdentifier
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.17",  # subjectAltName
        "2.5.29.18",  # issuerAltName
        "2.5.29.30",  # nameConstraints
        "2.5.29.32",  # certificatePolicies
        "2.5.29.33",  # policyMappings
        "2.5.29.36",  # policyConstraints
        "2.5.29.54",  # inhibitAnyPolicy
        "2.16.840.1.113730.1.1",  # netscape cert type
    }
)

_EKU_EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
_NS_SMIME = 0x20  # netscape cert type bit "S/MIME client" (bit 2)
_NS_SSL_CLIENT = 0x80
_NS_SMIME_CA = 0x02
_NS_ANY_CA = 0x07


def load_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """Parse one or more PEM certificates, or one DER certificate.

    Raises :class:`~pki.errors.CertificateError` naming ``source`` when the
    data holds no certificate or a broken one.
    """
    try:
        if _PEM_CERT_MARKER in data:
            certs = x509.load_pem_x509_certificates(data)
        elif data[:1] == b"\x30":
            certs = [x509.load_der_x509_certificate(data)]
        else:
            raise ValueError("no PEM or DER certificate found")
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"{source}: not a valid certificate file ({exc})") from exc
    if not certs:
        raise CertificateError(f"{source}: no certificate found")
    return certs


def load_private_key(data: bytes, source: str) -> Any:
    """Parse an unencrypted PEM or DER private key (RSA or EC)."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CertificateError(f"{source}: not a valid unencrypted private key ({exc})") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CertificateError(f"{source}: only RSA and EC keys are supported")
    return key


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(10 * 1024 * 1024)
    except OSError as exc:
        raise CertificateError(f"cannot read {os.fspath(path)}: {exc.strerror}") from exc


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


@dataclass(frozen=True, eq=False)
class _CertInfo:
    """What verification needs from one certificate, parsed once."""

    cert: x509.Certificate
    asn1: asn1_x509.Certificate
    subject: str  # normalised (semantic) DN, comparable across string types
    issuer: str
    issuer_der: bytes  # the issuer Name exactly as encoded in the cert
    serial: int
    key_id: bytes | None
    authority_key_id: bytes | None
    public_key: Any
    #: "rsa", "ec" or "other" (so the hot path avoids ABC isinstance checks)
    key_kind: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    #: why openssl would refuse this cert regardless of the clock, or None
    leaf_problem: str | None
    ca_problem: str | None
    self_issued: bool


def _cert_info(cert: x509.Certificate) -> _CertInfo:
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    subject = tbs["subject"].hashable
    issuer = tbs["issuer"].hashable
    try:
        key_id = parsed.key_identifier
        authority_key_id = parsed.authority_key_identifier
    except ValueError:
        key_id = authority_key_id = None
    leaf_problem, ca_problem = _usage_problems(parsed)
    public_key = cert.public_key()
    return _CertInfo(
        cert=cert,
        asn1=parsed,
        subject=subject,
        issuer=issuer,
        issuer_der=tbs["issuer"].dump(),
        serial=tbs["serial_number"].native,
        key_id=key_id,
        authority_key_id=authority_key_id,
        public_key=public_key,
        key_kind=(
            "rsa" if isinstance(public_key, rsa.RSAPublicKey)
            else "ec" if isinstance(public_key, ec.EllipticCurvePublicKey) else "other"
        ),
        not_before=_utc(cert.not_valid_before_utc),
        not_after=_utc(cert.not_valid_after_utc),
        leaf_problem=leaf_problem,
        ca_problem=ca_problem,
        self_issued=subject == issuer,
    )


def _checked_info(cert: x509.Certificate, role: str) -> _CertInfo:
    try:
        return _cert_info(cert)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            UnsupportedAlgorithm) as exc:
        raise CertificateError(f"{role} {cert.subject.rfc4514_string()} cannot be used: {exc}") from exc


def _usage_problems(cert: asn1_x509.Certificate) -> tuple[str | None, str | None]:
    """Judge the cert as openssl's S/MIME signing purpose does (leaf, then as a CA).

    openssl cms -verify checks the chain for the ``smimesign`` purpose: an
    extendedKeyUsage, when present, must list emailProtection; a keyUsage, when
    present, must allow digitalSignature or nonRepudiation (leaf) or
    keyCertSign (CA); a CA needs basicConstraints CA:TRUE, or (without
    basicConstraints) to be a self-signed v1 root or carry a keyUsage; and any
    critical extension openssl does not know makes the certificate unusable.
    """
    tbs = cert["tbs_certificate"]
    extensions = tbs["extensions"]
    ext_by_oid: dict[str, Any] = {}
    problem: str | None = None
    for ext in extensions if extensions.native is not None else ():
        oid = ext["extn_id"].dotted
        ext_by_oid[oid] = ext
        if ext["critical"].native and oid not in _KNOWN_CRITICAL:
            problem = f"unhandled critical extension {oid}"
    if problem:
        return problem, problem

    key_usage: set[str] | None = None
    if "2.5.29.15" in ext_by_oid:
        key_usage = set(ext_by_oid["2.5.29.15"]["extn_value"].parsed.native)
    eku: list[str] | None = None
    if "2.5.29.37" in ext_by_oid:
        eku = [item.dotted for item in ext_by_oid["2.5.29.37"]["extn_value"].parsed]
    ns_type: int | None = None
    if "2.16.840.1.113730.1.1" in ext_by_oid:
        bits = ext_by_oid["2.16.840.1.113730.1.1"]["extn_value"].parsed
        raw = bytes(bits.contents[1:2]) if len(bits.contents) > 1 else b"\x00"
        ns_type = raw[0]
    basic = ext_by_oid.get("2.5.29.19")
    is_ca_bc = bool(basic["extn_value"].parsed["ca"].native) if basic is not None else None

    eku_problem = None
    if eku is not None and _EKU_EMAIL_PROTECTION not in eku:
        eku_problem = "extended key usage does not allow emailProtection"

    leaf: str | None = eku_problem
    if leaf is None and ns_type is not None and not ns_type & (_NS_SMIME | _NS_SSL_CLIENT):
        leaf = "netscape cert type does not allow S/MIME"
    if leaf is None and key_usage is not None and not key_usage & {
        "digital_signature",
        "non_repudiation",
    }:
        leaf = "key usage allows neither digitalSignature nor nonRepudiation"

    ca: str | None = eku_problem
    if ca is None:
        if key_usage is not None and "key_cert_sign" not in key_usage:
            ca = "key usage does not allow keyCertSign"
        elif is_ca_bc is not None:
            if not is_ca_bc:
                ca = "basicConstraints says it is not a CA"
        elif tbs["version"].native == "v1" and tbs["subject"].hashable == tbs["issuer"].hashable:
            pass  # openssl accepts self-signed v1 roots
        elif key_usage is not None:
            pass
        elif ns_type is not None and ns_type & _NS_ANY_CA:
            if not ns_type & _NS_SMIME_CA:
                ca = "netscape cert type does not allow S/MIME CA"
        else:
            ca = "not a CA certificate"
    return leaf, ca


def _signature_check(issuer_key: Any, cert: x509.Certificate) -> bool:
    """True when ``issuer_key`` signed ``cert`` (any version, SHA-1 included)."""
    try:
        algorithm = cert.signature_hash_algorithm
        if algorithm is None:  # Ed25519/Ed448: not a key we accept as a CA's
            return False
        if isinstance(issuer_key, rsa.RSAPublicKey):
            pad = cert.signature_algorithm_parameters
            if not isinstance(pad, (padding.PKCS1v15, padding.PSS)):
                pad = padding.PKCS1v15()
            issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, pad, algorithm)
        elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
            issuer_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True, eq=False)
class _Chain:
    """A signing cert's path to a trusted CA, or why there is none."""

    certs: tuple[_CertInfo, ...]  # signer first, trust anchor last
    problem: str | None
    #: when every cert of the chain is valid: two comparisons per token
    #: instead of two per certificate (the detailed loop names the culprit)
    not_before: datetime.datetime = field(init=False)
    not_after: datetime.datetime = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "not_before", max(info.not_before for info in self.certs))
        object.__setattr__(self, "not_after", min(info.not_after for info in self.certs))


@dataclass(frozen=True, eq=False)
class TrustStore:
    """The signing certificates a token may be signed with, and the CAs we trust.

    >>> trust = TrustStore.from_files("certs/signing_cert.pem", "certs/cacert.pem")
    """

    #: Certificates that may sign tokens (keystone's ``signing_cert.pem``).
    signing_certs: Sequence[x509.Certificate]
    #: Trusted CA certificates (keystone's ``cacert.pem``).
    ca_certs: Sequence[x509.Certificate]
    _index: dict[Any, _CertInfo] = field(init=False, repr=False, compare=False)
    _ca_infos: tuple[_CertInfo, ...] = field(init=False, repr=False, compare=False)
    _chains: dict[int, _Chain] = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signing_certs", tuple(self.signing_certs))
        object.__setattr__(self, "ca_certs", tuple(self.ca_certs))
        signing = [_checked_info(c, "signing certificate") for c in self.signing_certs]
        cas = [_checked_info(c, "CA certificate") for c in self.ca_certs]
        index: dict[Any, _CertInfo] = {}
        for info in signing:
            # exact bytes first (the fast, usual case), then the normalised name
            index.setdefault(("raw", info.issuer_der, info.serial), info)
            index.setdefault(("is", info.issuer, info.serial), info)
            if info.key_id is not None:
                index.setdefault(("ki", info.key_id), info)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_ca_infos", tuple(cas))
        object.__setattr__(self, "_chains", {})
        object.__setattr__(self, "_lock", threading.Lock())

    @classmethod
    def from_files(
        cls, signing_cert_path: str | os.PathLike[str], ca_path: str | os.PathLike[str]
    ) -> TrustStore:
        """Load the signing certificate(s) and CA certificate(s) from PEM/DER files."""
        signing = load_certificates(_read(signing_cert_path), os.fspath(signing_cert_path))
        cas = load_certificates(_read(ca_path), os.fspath(ca_path))
        return cls(signing, cas)

    # -- used by pki.cms -------------------------------------------------------

    def find_signer(
        self, issuer_der: bytes | None, serial: int | None, key_id: bytes | None
    ) -> _CertInfo:
        """The signing cert named by a SignerInfo's sid, or TokenInvalid(unknown-signer).

        Names are compared semantically (RFC 5280 string preparation: string
        type, case and spacing do not matter), as openssl compares them.
        """
        if key_id is not None:
            info = self._index.get(("ki", key_id))
        else:
            info = self._index.get(("raw", issuer_der, serial))
            if info is None:
                try:
                    issuer = asn1_x509.Name.load(issuer_der or b"", strict=True).hashable
                except (ValueError, TypeError, KeyError, IndexError, AttributeError,
                        OverflowError, RecursionError):
                    raise TokenInvalid(Reason.MALFORMED, "signer's issuer name does not parse") from None
                info = self._index.get(("is", issuer, serial))
        if info is None:
            raise TokenInvalid(Reason.UNKNOWN_SIGNER, "no signing certificate matches the signer")
        return info

    def check_signer(self, signer: _CertInfo, now: datetime.datetime) -> None:
        """Raise TokenInvalid unless ``signer`` chains to a trusted CA and all are valid at ``now``."""
        chain = self._chains.get(id(signer))
        if chain is None:
            with self._lock:
                chain = self._chains.get(id(signer))
                if chain is None:
                    chain = self._build_chain(signer)
                    self._chains[id(signer)] = chain
        if chain.problem is not None:
            raise TokenInvalid(Reason.UNTRUSTED_SIGNER, chain.problem)
        if chain.not_before <= now <= chain.not_after:
            return
        for info in chain.certs:
            if now < info.not_before:
                raise TokenInvalid(
                    Reason.CERT_NOT_VALID,
                    f"certificate {info.cert.subject.rfc4514_string()} is not valid before "
                    f"{info.not_before.isoformat()}",
                )
            if now > info.not_after:
                raise TokenInvalid(
                    Reason.CERT_NOT_VALID,
                    f"certificate {info.cert.subject.rfc4514_string()} expired "
                    f"{info.not_after.isoformat()}",
                )

    def _build_chain(self, signer: _CertInfo) -> _Chain:
        if signer.leaf_problem is not None:
            return _Chain((signer,), f"signing certificate may not sign: {signer.leaf_problem}")
        cas = self._ca_infos

        def trusted(info: _CertInfo) -> bool:
            return any(info.cert == ca.cert for ca in cas)

        chain = [signer]
        current = signer
        # A bounded walk up to a self-signed trust anchor, as openssl cms builds
        # it: every issuer comes from the CA file. (openssl uses -certfile only
        # to find the signer, and keystone's tokens embed no certificates, so
        # an intermediate CA must be in the CA file too.)
        for _depth in range(10):
            if current.self_issued:
                if trusted(current):
                    return _Chain(tuple(chain), None)
                return _Chain(tuple(chain), "self-signed certificate that is not a trusted CA")
            parent = next(
                (
                    c
                    for c in cas
                    if c.subject == current.issuer
                    # as openssl's X509_check_akid: key ids, when both known, must agree
                    and (current.authority_key_id is None or c.key_id is None
                         or current.authority_key_id == c.key_id)
                    and _signature_check(c.public_key, current.cert)
                ),
                None,
            )
            if parent is None:
                return _Chain(tuple(chain), "the signing certificate is not issued by a trusted CA")
            if parent.ca_problem is not None:
                return _Chain(tuple(chain), f"issuer may not issue certificates: {parent.ca_problem}")
            chain.append(parent)
            current = parent
        return _Chain(tuple(chain), "certificate chain too long")
