"""Issue PKI material for development and tests, as keystone's ``pki_setup`` did.

Like ``keystoneauth1.fixture``, this is public API so other projects can build
valid (and deliberately broken) tokens for their tests::

    ca = create_ca()
    signer = create_signing_cert(ca)
    token = sign_token({"access": {...}}, signer, pkiz=True)

Signing reproduces ``openssl cms -sign -nosmimecap -nodetach -nocerts -noattr``
exactly (same bytes for the same key and content) when no attributes are asked for.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos as asn1_algos
from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from ostk.errors import InputError, UsageError
from ostk.files import atomic_write, ensure_private_dir
from pki.cms import der_to_pem

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_EC_SIGNATURE_OIDS = {
    "sha1": "1.2.840.10045.4.1",
    "sha224": "1.2.840.10045.4.3.1",
    "sha256": "1.2.840.10045.4.3.2",
    "sha384": "1.2.840.10045.4.3.3",
    "sha512": "1.2.840.10045.4.3.4",
}
_RSA_CERT_SIGNATURES = {
    "sha1": "sha1_rsa",
    "sha224": "sha224_rsa",
    "sha256": "sha256_rsa",
    "sha384": "sha384_rsa",
    "sha512": "sha512_rsa",
}

#: The key usage a signing cert gets unless told otherwise.
DEFAULT_SIGNING_KEY_USAGE = ("digital_signature", "non_repudiation")
_KEY_USAGE_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: Any  # rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        """The certificate, PEM."""
        pem: bytes = self.cert.public_bytes(serialization.Encoding.PEM)
        return pem

    def key_pem(self) -> bytes:
        """The private key, unencrypted PKCS#8 PEM (test material only)."""
        pem: bytes = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return pem


def _hash(digest: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[digest]()
    except KeyError:
        raise UsageError(f"unsupported digest {digest!r} (use one of {', '.join(_HASHES)})") from None


def _new_key(key_type: str, key_size: int) -> Any:
    """An RSA key of ``key_size`` bits, or an EC key on P-256/384/521.

    For EC, ``key_size`` 384 or 521 picks that curve; anything else (the
    RSA-minded default 2048 included) means P-256.
    """
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    if key_type == "ec":
        curves = {384: ec.SECP384R1(), 521: ec.SECP521R1()}
        return ec.generate_private_key(curves.get(key_size, ec.SECP256R1()))
    raise UsageError(f"unsupported key type {key_type!r} (use rsa or ec)")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenStack"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Keystone"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _window(
    not_before: datetime.datetime | None, days: int
) -> tuple[datetime.datetime, datetime.datetime]:
    start = not_before or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        minutes=5
    )
    if start.tzinfo is None:
        start = start.replace(tzinfo=datetime.timezone.utc)
    return start, start + datetime.timedelta(days=days)


def create_ca(
    common_name: str = "ostk test CA",
    *,
    key_type: str = "rsa",
    key_size: int = 2048,
    digest: str = "sha256",
    days: int = 3650,
    not_before: datetime.datetime | None = None,
) -> KeyPair:
    """A self-signed CA (X.509 v3, basicConstraints CA:TRUE, keyCertSign).

    ``key_type`` is "rsa" or "ec" (``key_size`` 384/521 picks the EC curve,
    else P-256); ``digest`` may be sha1 (as keystone's old examples) to sha512;
    the cert is valid from ``not_before`` (default: 5 minutes ago) for ``days``.
    """
    key = _new_key(key_type, key_size)
    start, end = _window(not_before, days)
    name = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return KeyPair(_sign_certificate(builder, key, digest), key)


def create_signing_cert(
    ca: KeyPair,
    common_name: str = "ostk signing",
    *,
    key_type: str = "rsa",
    key_size: int = 2048,
    digest: str = "sha256",
    days: int = 3650,
    not_before: datetime.datetime | None = None,
    key_usage: Sequence[str] | None = DEFAULT_SIGNING_KEY_USAGE,
    extended_key_usage: Sequence[str] | None = None,
    basic_constraints_ca: bool | None = None,
    version1: bool = False,
    serial: int | None = None,
) -> KeyPair:
    """A signing cert issued by ``ca``.

    ``key_usage`` names fields of :class:`cryptography.x509.KeyUsage`
    (``non_repudiation`` is accepted for ``content_commitment``); ``None`` omits
    the extension. ``extended_key_usage`` is a list of dotted OIDs, ``None``
    omits it. ``version1=True`` makes an X.509 v1 cert without extensions,
    like keystone's example signing cert. Bad combinations are allowed on
    purpose, so tests can build certs that verification must refuse.
    """
    key = _new_key(key_type, key_size)
    start, end = _window(not_before, days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )
    if not version1:
        # identifiers as openssl's default CA config adds them (and -keyid needs)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        ).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        if key_usage is not None:
            wanted = {"content_commitment" if u == "non_repudiation" else u for u in key_usage}
            unknown = wanted - set(_KEY_USAGE_FIELDS)
            if unknown:
                raise UsageError(f"unknown key usage {sorted(unknown)}")
            flags = {f: f in wanted for f in _KEY_USAGE_FIELDS}
            if not flags["key_agreement"]:
                flags["encipher_only"] = flags["decipher_only"] = False
            builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
        if extended_key_usage is not None:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in extended_key_usage]),
                critical=False,
            )
        if basic_constraints_ca is not None:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=basic_constraints_ca, path_length=None), critical=True
            )
    cert = _sign_certificate(builder, ca.key, digest, version1=version1)
    return KeyPair(cert, key)


def _sign_certificate(
    builder: x509.CertificateBuilder, ca_key: Any, digest: str, *, version1: bool = False
) -> x509.Certificate:
    _hash(digest)
    if digest != "sha1" and not version1:
        return builder.sign(ca_key, _hash(digest))  # type: ignore[arg-type]  # SHA-1 is handled below
    # cryptography refuses SHA-1 and only builds v3: sign with SHA-256, then
    # re-sign the TBS ourselves (keystone's example certs are v1 + SHA-1).
    return _resign(builder.sign(ca_key, hashes.SHA256()), ca_key, digest, version1)


def _resign(cert: x509.Certificate, ca_key: Any, digest: str, version1: bool) -> x509.Certificate:
    """Re-issue ``cert`` with ``digest``, as X.509 v1 (no extensions) if asked."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    if isinstance(ca_key, rsa.RSAPrivateKey):
        algorithm = {"algorithm": _RSA_CERT_SIGNATURES[digest], "parameters": asn1_core.Null()}
    else:
        algorithm = {"algorithm": _EC_SIGNATURE_OIDS[digest]}
    fields = {
        "version": "v1" if version1 else "v3",
        "serial_number": tbs["serial_number"].native,
        "signature": algorithm,
        "issuer": tbs["issuer"],
        "validity": tbs["validity"],
        "subject": tbs["subject"],
        "subject_public_key_info": tbs["subject_public_key_info"],
    }
    if not version1 and tbs["extensions"].native is not None:
        fields["extensions"] = tbs["extensions"]
    new_tbs = asn1_x509.TbsCertificate(fields)
    tbs_der = new_tbs.dump()
    signature = _raw_sign(ca_key, tbs_der, digest)
    v1 = asn1_x509.Certificate(
        {
            "tbs_certificate": new_tbs,
            "signature_algorithm": algorithm,
            "signature_value": signature,
        }
    )
    return x509.load_der_x509_certificate(v1.dump())


def _raw_sign(key: Any, data: bytes, digest: str) -> bytes:
    signature: bytes
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), _hash(digest))
    else:
        signature = key.sign(data, ec.ECDSA(_hash(digest)))
    return signature


def _issuer_and_serial(cert: x509.Certificate) -> asn1_cms.IssuerAndSerialNumber:
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return asn1_cms.IssuerAndSerialNumber(
        {
            "issuer": parsed["tbs_certificate"]["issuer"],
            "serial_number": parsed["tbs_certificate"]["serial_number"].native,
        }
    )


def sign_cms_der(
    content: bytes,
    signer: KeyPair,
    *,
    digest: str = "sha256",
    signed_attributes: bool = False,
    signing_time: datetime.datetime | None = None,
) -> bytes:
    """CMS SignedData (DER) of ``content``: one signer, no certificates, attached content."""
    hash_algorithm = _hash(digest)
    # openssl omits the (optional) NULL parameters of SHA-family digest ids
    oid = asn1_algos.DigestAlgorithmId(digest).dump()
    digest_algorithm = asn1_algos.DigestAlgorithm.load(b"\x30" + bytes([len(oid)]) + oid)
    if isinstance(signer.key, rsa.RSAPrivateKey):
        # openssl writes rsaEncryption (with NULL parameters) as the signature algorithm
        signature_algorithm = asn1_algos.SignedDigestAlgorithm(
            {"algorithm": "rsassa_pkcs1v15", "parameters": asn1_core.Null()}
        )
    elif isinstance(signer.key, ec.EllipticCurvePrivateKey):
        signature_algorithm = asn1_algos.SignedDigestAlgorithm(
            {"algorithm": _EC_SIGNATURE_OIDS[digest]}
        )
    else:
        raise UsageError("only RSA and EC keys can sign")
    signer_info: dict[str, Any] = {
        "version": "v1",
        "sid": asn1_cms.SignerIdentifier(
            name="issuer_and_serial_number", value=_issuer_and_serial(signer.cert)
        ),
        "digest_algorithm": digest_algorithm,
        "signature_algorithm": signature_algorithm,
    }
    if signed_attributes:
        when = signing_time or datetime.datetime.now(datetime.timezone.utc)
        attrs = [
            asn1_cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            asn1_cms.CMSAttribute(
                {"type": "signing_time", "values": [asn1_cms.Time({"utc_time": when})]}
            ),
            asn1_cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.new(digest, content).digest()]}
            ),
        ]
        # DER: a SET OF is sorted by the encodings of its elements
        attrs.sort(key=lambda a: a.dump())
        signed_attrs = asn1_cms.CMSAttributes(attrs)
        to_sign = b"\x31" + signed_attrs.dump()[1:]
        signer_info["signed_attrs"] = signed_attrs
    else:
        to_sign = content
    if isinstance(signer.key, rsa.RSAPrivateKey):
        signature = signer.key.sign(to_sign, padding.PKCS1v15(), hash_algorithm)
    else:
        signature = signer.key.sign(to_sign, ec.ECDSA(hash_algorithm))
    signer_info["signature"] = signature
    signed_data = asn1_cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "data", "content": content},
            "signer_infos": [asn1_cms.SignerInfo(signer_info)],
        }
    )
    der: bytes = asn1_cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return der


def sign_cms(
    content: bytes,
    signer: KeyPair,
    *,
    digest: str = "sha256",
    signed_attributes: bool = False,
) -> str:
    """CMS PEM (``-----BEGIN CMS-----``) of ``content``, as keystone's openssl call made it."""
    return der_to_pem(
        sign_cms_der(content, signer, digest=digest, signed_attributes=signed_attributes)
    )


def pem_to_pki_token(pem: str) -> str:
    """Keystone's PKI form: PEM body without header/footer/newlines, '/' → '-'."""
    lines = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
    return "".join(lines).replace("/", "-")


def pem_to_pkiz_token(pem: str, *, level: int = 6) -> str:
    """Keystone's PKIZ form: ``PKIZ_`` + urlsafe base64 of zlib-compressed PEM text."""
    return "PKIZ_" + base64.urlsafe_b64encode(zlib.compress(pem.encode("ascii"), level)).decode(
        "ascii"
    )


def sign_token(
    payload: Mapping[str, Any],
    signer: KeyPair,
    *,
    pkiz: bool = False,
    digest: str = "sha256",
    signed_attributes: bool = False,
) -> str:
    """A PKI (or PKIZ) token carrying ``payload``, signed by ``signer``."""
    pem = sign_cms(
        json.dumps(payload).encode("utf-8"),
        signer,
        digest=digest,
        signed_attributes=signed_attributes,
    )
    return pem_to_pkiz_token(pem) if pkiz else pem_to_pki_token(pem)


def sign_revocation_list(
    revoked: Sequence[Mapping[str, Any]], signer: KeyPair, *, digest: str = "sha256"
) -> str:
    """CMS PEM of ``{"revoked": [...]}`` as keystone served it (``{"signed": <this>}``)."""
    return sign_cms(json.dumps({"revoked": [dict(r) for r in revoked]}).encode("utf-8"), signer,
                    digest=digest)


@dataclass(frozen=True)
class SetupPaths:
    """Where :func:`write_setup` put things (keystone's ``pki_setup`` layout)."""

    signing_cert: Path
    signing_key: Path
    ca_cert: Path
    ca_key: Path


def write_setup(
    directory: str | os.PathLike[str],
    *,
    ca: KeyPair | None = None,
    signer: KeyPair | None = None,
    key_type: str = "rsa",
    key_size: int = 2048,
    digest: str = "sha256",
    days: int = 3650,
) -> SetupPaths:
    """Write ``certs/{signing_cert,cacert}.pem`` and ``private/{signing_key,cakey}.pem``.

    Creates the CA and signing cert unless given. Keys are 0600 in a 0700
    ``private/`` directory; every file is written atomically.
    """
    root = Path(directory)
    if ca is None:
        ca = create_ca(key_type=key_type, key_size=key_size, digest=digest, days=days)
    if signer is None:
        signer = create_signing_cert(
            ca, key_type=key_type, key_size=key_size, digest=digest, days=days
        )
    certs = root / "certs"
    try:
        certs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create directory {certs}: {exc.strerror}") from exc
    private = ensure_private_dir(root / "private")
    paths = SetupPaths(
        signing_cert=certs / "signing_cert.pem",
        signing_key=private / "signing_key.pem",
        ca_cert=certs / "cacert.pem",
        ca_key=private / "cakey.pem",
    )
    atomic_write(paths.signing_cert, signer.cert_pem(), mode=0o644)
    atomic_write(paths.ca_cert, ca.cert_pem(), mode=0o644)
    atomic_write(paths.signing_key, signer.key_pem(), mode=0o600)
    atomic_write(paths.ca_key, ca.key_pem(), mode=0o600)
    return paths
