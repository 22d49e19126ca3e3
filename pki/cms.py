"""CMS SignedData: parse it (asn1crypto), verify it (cryptography), PEM armour.

This is the part of ``openssl cms -verify -nosmimecap -nodetach -nocerts
-noattr`` that keystone tokens and revocation lists need, done in-process:
one signer, found among our signing certificates by issuer and serial number
(or subject key identifier), RSA PKCS#1 v1.5 or ECDSA over the content, or
over the signed attributes after checking their message digest and content
type. Certificate trust is :class:`pki.certs.TrustStore`'s job.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from typing import NamedTuple

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from pki.certs import TrustStore
from pki.der import read_algorithms, read_keystone_signed_data
from pki.errors import Reason, TokenInvalid

#: digestAlgorithm OID → (hashlib name, cryptography hash class)
_DIGESTS: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "1.3.14.3.2.26": ("sha1", hashes.SHA1),
    "2.16.840.1.101.3.4.2.4": ("sha224", hashes.SHA224),
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
}
#: signatureAlgorithm OIDs openssl writes for RSA PKCS#1 v1.5 and ECDSA
#: (the hash always comes from digestAlgorithm, as in openssl).
#: signature OID → the digest it implies (None: any; it comes from digestAlgorithm)
_RSA_SIGNATURES: dict[str, str | None] = {
    "1.2.840.113549.1.1.1": None,  # rsaEncryption (what openssl writes)
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
_EC_SIGNATURES: dict[str, str | None] = {
    "1.2.840.10045.2.1": None,  # id-ecPublicKey
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}
_OID_DATA = "1.2.840.113549.1.7.1"
_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"

#: errors asn1crypto raises on bad input while (lazily) parsing
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                 RecursionError)

_PEM_HEADERS = {
    "-----BEGIN CMS-----": "-----END CMS-----",
    "-----BEGIN PKCS7-----": "-----END PKCS7-----",
}


def pem_to_der(text: str | bytes) -> bytes:
    """The DER bytes of a ``-----BEGIN CMS-----`` (or PKCS7) PEM block.

    Anything before or after the block, or a broken body, is malformed.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise TokenInvalid(Reason.MALFORMED, "CMS PEM is not ASCII") from None
    lines = text.strip().splitlines()
    header = lines[0].rstrip() if lines else ""
    if (
        len(lines) < 3
        or header not in _PEM_HEADERS
        or lines[-1].rstrip() != _PEM_HEADERS[header]
    ):
        raise TokenInvalid(Reason.MALFORMED, "not a single CMS PEM block")
    # the body lines joined; validate=True refuses anything else (another
    # block, spaces, text) that would sit between the header and the footer
    body = "".join(lines[1:-1])
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise TokenInvalid(Reason.MALFORMED, "CMS PEM body is not valid base64") from None
    if not der:
        raise TokenInvalid(Reason.MALFORMED, "empty CMS PEM block")
    return der


def der_to_pem(der: bytes) -> str:
    """PEM armour (``-----BEGIN CMS-----``, 64-column lines) as openssl writes it."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CMS-----\n" + "\n".join(lines) + "\n-----END CMS-----\n"


class SignedMessage(NamedTuple):
    """The parts of a one-signer CMS SignedData that verification needs.

    (A NamedTuple rather than a frozen dataclass: it is built for every token
    on the hot path, and a tuple is several times cheaper to build.)
    """

    #: the encapsulated content (unverified until :func:`verify_message`)
    content: bytes
    #: hashlib name of the signer's digest algorithm
    digest: str
    #: signer id: issuer Name (DER, as sent) + serial, or subject key identifier
    issuer_der: bytes | None
    serial: int | None
    key_id: bytes | None
    #: dotted OID of the signature algorithm
    signature_algorithm: str
    signature: bytes
    #: DER of the signed attributes as a SET OF (what is signed), if any
    signed_attrs: bytes | None
    message_digest: bytes | None
    attr_content_type: str | None


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def parse_signed_data(der: bytes) -> SignedMessage:
    """Parse CMS SignedData with attached ``data`` content and exactly one signer.

    Raises ``TokenInvalid(MALFORMED)`` for anything else: trailing bytes,
    another content type, detached content, several signers, unknown digest.
    """
    fast = _parse_keystone_shape(der)
    if fast is not None:
        return fast
    try:
        return _parse(der)
    except TokenInvalid:
        raise
    except _PARSE_ERRORS as exc:
        raise TokenInvalid(Reason.MALFORMED, f"cannot parse CMS: {exc}") from None


def _oid_contents(dotted: str) -> bytes:
    contents: bytes = asn1_core.ObjectIdentifier(dotted).contents
    return contents


_DIGEST_BY_OID_BYTES = {_oid_contents(oid): name for oid, (name, _cls) in _DIGESTS.items()}
_SIGNATURE_BY_OID_BYTES = {
    _oid_contents(oid): oid for oid in (*_RSA_SIGNATURES, *_EC_SIGNATURES)
}


#: (digestAlgorithms contents, signer's AlgorithmIdentifiers) → (digest name,
#: signature OID) or None: keystone signs every token with the same two or
#: three values, so they are judged once rather than per token. Bounded, so
#: hostile input cannot grow it.
_KNOWN_ALGORITHMS: dict[tuple[bytes, bytes], tuple[str, str] | None] = {}


def _judge_algorithms(digests: bytes, algorithms: bytes) -> tuple[str, str] | None:
    read = read_algorithms(digests, algorithms)
    if read is None:
        return None
    digest_oids, digest_oid, signature_oid, signature_params = read
    digest = _DIGEST_BY_OID_BYTES.get(digest_oid)
    signature_algorithm = _SIGNATURE_BY_OID_BYTES.get(signature_oid)
    if digest is None or signature_algorithm is None or digest_oid not in digest_oids:
        return None
    if signature_algorithm in _RSA_SIGNATURES:
        implied = _RSA_SIGNATURES[signature_algorithm]
    else:
        implied = _EC_SIGNATURES[signature_algorithm]
        if signature_params:
            return None
    if implied not in (None, digest):
        return None
    return digest, signature_algorithm


_new_tuple = tuple.__new__


def _parse_keystone_shape(der: bytes) -> SignedMessage | None:
    """The fast path (see :mod:`pki.der`); None when the reference parser must decide."""
    shape = read_keystone_signed_data(der)
    if shape is None:
        return None
    content, digests, issuer_der, serial, algorithms, signature = shape
    key = (digests, algorithms)
    try:
        known = _KNOWN_ALGORITHMS[key]
    except KeyError:
        known = _judge_algorithms(digests, algorithms)
        if len(_KNOWN_ALGORITHMS) < 64:
            _KNOWN_ALGORITHMS[key] = known
    if known is None:
        return None
    # tuple.__new__ directly: the NamedTuple's generated __new__ only adds a Python frame
    return _new_tuple(SignedMessage, (
        content, known[0], issuer_der, serial, None, known[1], signature, None, None, None
    ))


def _parse(der: bytes) -> SignedMessage:
    if der[:1] != b"\x30":
        raise TokenInvalid(Reason.MALFORMED, "not DER: CMS must start with a SEQUENCE")
    info = asn1_cms.ContentInfo.load(der, strict=True)
    if info["content_type"].dotted != _OID_SIGNED_DATA:
        raise TokenInvalid(Reason.MALFORMED, "CMS content is not SignedData")
    signed = info["content"]
    encap = signed["encap_content_info"]
    if encap["content_type"].dotted != _OID_DATA:
        raise TokenInvalid(Reason.MALFORMED, "signed content type is not id-data")
    content_value = encap["content"]
    if content_value.native is None:
        raise TokenInvalid(Reason.MALFORMED, "CMS has no attached content")
    content = bytes(content_value.native) if not isinstance(
        content_value.native, bytes
    ) else content_value.native
    signer_infos = signed["signer_infos"]
    if len(signer_infos) != 1:
        raise TokenInvalid(
            Reason.MALFORMED, f"expected exactly one signer, found {len(signer_infos)}"
        )
    signer = signer_infos[0]
    digest_oid = signer["digest_algorithm"]["algorithm"].dotted
    if digest_oid not in _DIGESTS:
        raise TokenInvalid(Reason.MALFORMED, f"unsupported digest algorithm {digest_oid}")
    # Not needed to verify, but a token that differs from what was signed in
    # an unsigned field would carry a fresh token id: be strict about it.
    if digest_oid not in {a["algorithm"].dotted for a in signed["digest_algorithms"]}:
        raise TokenInvalid(Reason.MALFORMED, "signer's digest is not among digestAlgorithms")
    sid = signer["sid"]
    issuer_der = serial = key_id = None
    # Versions as RFC 5652 computes them (parsing them also catches a broken tag).
    expected = "v1" if sid.name == "issuer_and_serial_number" else "v3"
    if signer["version"].native != expected or signed["version"].native != expected:
        raise TokenInvalid(Reason.MALFORMED, "unexpected SignedData/SignerInfo version")
    if sid.name == "issuer_and_serial_number":
        issuer_der = sid.chosen["issuer"].dump()
        serial = sid.chosen["serial_number"].native
    else:
        key_id = bytes(sid.chosen.native)
    signature_algorithm = signer["signature_algorithm"]["algorithm"].dotted
    if signature_algorithm in _RSA_SIGNATURES:
        implied = _RSA_SIGNATURES[signature_algorithm]
        parameters_ok = signer["signature_algorithm"]["parameters"].dump() in (b"", b"\x05\x00")
    elif signature_algorithm in _EC_SIGNATURES:
        implied = _EC_SIGNATURES[signature_algorithm]
        parameters_ok = signer["signature_algorithm"]["parameters"].dump() == b""
    else:
        raise TokenInvalid(
            Reason.MALFORMED, f"unsupported signature algorithm {signature_algorithm}"
        )
    if not parameters_ok or implied not in (None, _DIGESTS[digest_oid][0]):
        raise TokenInvalid(Reason.MALFORMED, "signature algorithm disagrees with the digest")
    signed_attrs = message_digest = attr_content_type = None
    attrs = signer["signed_attrs"]
    if attrs.contents is not None and len(attrs.contents) > 0:
        signed_attrs = b"\x31" + _der_length(len(attrs.contents)) + attrs.contents
        for attr in attrs:
            oid = attr["type"].dotted
            values = attr["values"]
            if oid in (_OID_MESSAGE_DIGEST, _OID_CONTENT_TYPE):
                if len(values) != 1 or (
                    message_digest is not None and oid == _OID_MESSAGE_DIGEST
                ) or (attr_content_type is not None and oid == _OID_CONTENT_TYPE):
                    raise TokenInvalid(Reason.MALFORMED, "signed attribute must be single-valued")
                if oid == _OID_MESSAGE_DIGEST:
                    message_digest = bytes(values[0].native)
                else:
                    attr_content_type = values[0].dotted
        if message_digest is None or attr_content_type is None:
            raise TokenInvalid(
                Reason.MALFORMED, "signed attributes lack messageDigest or contentType"
            )
    return SignedMessage(
        content=content,
        digest=_DIGESTS[digest_oid][0],
        issuer_der=issuer_der,
        serial=serial,
        key_id=key_id,
        signature_algorithm=signature_algorithm,
        signature=bytes(signer["signature"].native),
        signed_attrs=signed_attrs,
        message_digest=message_digest,
        attr_content_type=attr_content_type,
    )


# stateless parameter objects, built once rather than per token
_HASH_BY_NAME = {name: cls() for name, cls in _DIGESTS.values()}
_PKCS1V15 = padding.PKCS1v15()


def verify_message(message: SignedMessage, trust: TrustStore, now: datetime.datetime) -> None:
    """Raise ``TokenInvalid`` unless ``message`` is validly signed by a trusted signer at ``now``.

    Order as in openssl: find the signer (unknown-signer), check its chain and
    usage (untrusted-signer) and validity (cert-not-valid), then the signature
    (bad-signature).
    """
    signer = trust.find_signer(message.issuer_der, message.serial, message.key_id)
    trust.check_signer(signer, now)
    if message.signed_attrs is not None:
        if message.attr_content_type != _OID_DATA:
            raise TokenInvalid(Reason.BAD_SIGNATURE, "contentType attribute does not match")
        if hashlib.new(message.digest, message.content).digest() != message.message_digest:
            raise TokenInvalid(Reason.BAD_SIGNATURE, "messageDigest does not match the content")
        signed = message.signed_attrs
    else:
        signed = message.content
    algorithm = _HASH_BY_NAME[message.digest]
    key = signer.public_key
    try:
        if signer.key_kind == "rsa" and message.signature_algorithm in _RSA_SIGNATURES:
            key.verify(message.signature, signed, _PKCS1V15, algorithm)
        elif (
            signer.key_kind == "ec"
            and message.signature_algorithm in _EC_SIGNATURES
        ):
            key.verify(message.signature, signed, ec.ECDSA(algorithm))
        else:
            raise TokenInvalid(
                Reason.BAD_SIGNATURE, "signature algorithm does not match the signer's key"
            )
    except InvalidSignature:
        raise TokenInvalid(Reason.BAD_SIGNATURE, "signature does not match the content") from None
    except ValueError as exc:  # e.g. wrong signature length for the key
        raise TokenInvalid(Reason.BAD_SIGNATURE, f"signature cannot be checked: {exc}") from None


def verify_cms(cms_der: bytes, trust: TrustStore, *, now: datetime.datetime) -> bytes:
    """Verify CMS SignedData (DER) and return the signed content.

    Raises ``TokenInvalid`` with the precise reason. Used for tokens and
    revocation lists alike.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.timezone.utc)
    message = parse_signed_data(cms_der)
    verify_message(message, trust, now)
    return message.content
