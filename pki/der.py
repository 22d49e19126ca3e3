"""A small, strict DER reader for the one CMS shape keystone produced.

Why it exists: asn1crypto (the reference parser in :mod:`pki.cms`) costs
about ten RSA verifications per token, which would make verification
parse-bound. Keystone's tokens and revocation lists all have one shape:
SignedData v1, attached id-data content, no certificates, no CRLs, one
SignerInfo v1 with issuerAndSerialNumber, no signed or unsigned attributes.
:func:`read_keystone_signed_data` reads exactly that shape, strictly (DER
lengths, no trailing bytes anywhere), and returns ``None`` for anything else
so the caller falls back to asn1crypto. It never decides that a token is
*valid*; it only slices out fields that are then checked as usual. Property
tests check that it agrees with asn1crypto on every input it accepts.

It is one walk over the headers that only slices: fixed parts of the shape
(OIDs, versions, the tags that follow them) are compared as byte strings, and
the two small variable parts (the digestAlgorithms SET and the signer's two
AlgorithmIdentifiers) are returned as raw DER for :func:`read_algorithms`,
which the caller runs once per distinct value.
"""
from __future__ import annotations

import struct

# The DER (tag + length + value) of contentType id-signedData, then the tag of
# the [0] EXPLICIT content that must follow it.
_SIGNED_DATA_THEN_EXPLICIT = bytes.fromhex("06092a864886f70d010702") + b"\xa0"
# id-data, then the [0] EXPLICIT eContent.
_DATA_THEN_EXPLICIT = bytes.fromhex("06092a864886f70d010701") + b"\xa0"
# INTEGER 1 (the version of SignedData and of SignerInfo), then a SET
# (digestAlgorithms) or a SEQUENCE (issuerAndSerialNumber).
_V1_THEN_SET = b"\x02\x01\x01\x31"
_V1_THEN_SEQUENCE = b"\x02\x01\x01\x30"
_NULL = b"\x05\x00"

#: (content, digestAlgorithms SET contents, signer's issuer Name TLV, serial,
#: the signer's digestAlgorithm + signatureAlgorithm TLVs, signature).
#: A plain tuple: it is built for every token on the hot path.
KeystoneSignedData = tuple[bytes, bytes, bytes, int, bytes, bytes]


class _Malformed(Exception):
    """Not the keystone shape (or not DER): let the reference parser decide."""


def _length(buf: bytes, pos: int) -> tuple[int, int]:
    """The DER length at ``pos`` → (content start, content end).

    The caller checks that the end lies within the parent: a header that
    itself runs past the parent's end gives an end past it too. Reading past
    the buffer raises IndexError, which :func:`read_keystone_signed_data`
    turns into "not this shape".
    """
    length = buf[pos]
    if length < 0x80:
        return pos + 1, pos + 1 + length
    if length == 0x82:
        length = (buf[pos + 1] << 8) | buf[pos + 2]
        if length < 0x100:
            raise _Malformed  # DER: the shortest length form
        return pos + 3, pos + 3 + length
    if length == 0x81:
        length = buf[pos + 1]
        if length < 0x80:
            raise _Malformed
        return pos + 2, pos + 2 + length
    if length == 0x83:
        length = (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]
        if length < 0x10000:
            raise _Malformed
        return pos + 4, pos + 4 + length
    raise _Malformed  # indefinite (BER) or absurdly long


# Every real token has the same header layout: the outer structures (up to
# the encapsulated content, and the signerInfos down to issuerAndSerialNumber)
# are 256 bytes to 64 KiB long, so they all use the two-byte length form, and
# the digestAlgorithms SET is short. One struct read per group checks the tags,
# the fixed OIDs and versions, and gives the lengths (which must nest exactly:
# each is its parent's minus the headers between them). Anything else takes
# the general walk in _read.
_HEAD = struct.Struct(">HH11sHHHH4sB")  # ContentInfo .. digestAlgorithms length
_ECI = struct.Struct(">HH11sHHHH")  # encapContentInfo .. eContent OCTET STRING header
_SIGNERS = struct.Struct(">HHHH4s")  # signerInfos, SignerInfo, version, IAS tag
_TWO_BYTE = 0x82
_OID_SIGNED_DATA = _SIGNED_DATA_THEN_EXPLICIT[:-1]
_OID_DATA = _DATA_THEN_EXPLICIT[:-1]


def read_keystone_signed_data(der: bytes) -> KeystoneSignedData | None:
    """Slice keystone's CMS shape, or return None (then use the reference parser)."""
    try:
        return _read_usual(der)
    except (_Malformed, IndexError, struct.error):
        pass
    try:
        return _read(der)
    except (_Malformed, IndexError):
        return None


def _read_usual(buf: bytes) -> KeystoneSignedData:
    """The usual layout (see above) in three struct reads, else _Malformed."""
    end = len(buf)
    if _HEAD.unpack_from(buf) != (
        0x3082, end - 4, _OID_SIGNED_DATA, 0xA082, end - 19, 0x3082, end - 23, _V1_THEN_SET, buf[27]
    ) or end - 23 < 0x100 or buf[27] >= 0x80:
        raise _Malformed
    eci = 28 + buf[27]  # after the digestAlgorithms SET
    eci_tag, eci_length, oid, wrap_tag, wrap_length, octets_tag, content_length = _ECI.unpack_from(buf, eci)
    signers = eci + 4 + eci_length
    if (
        eci_tag != 0x3082 or oid != _OID_DATA or wrap_tag != 0xA082 or octets_tag != 0x0482
        or content_length < 0x100 or wrap_length != content_length + 4 or eci_length != content_length + 19
        or signers >= end
    ):
        raise _Malformed
    set_tag, set_length, si_tag, si_length, v1_then_sequence = _SIGNERS.unpack_from(buf, signers)
    if (
        set_tag != 0x3182 or si_tag != 0x3082 or v1_then_sequence != _V1_THEN_SEQUENCE
        or si_length < 0x100 or set_length != si_length + 4 or signers + 4 + set_length != end
    ):
        raise _Malformed
    return _signer_info(buf, signers + 12, end, buf[28:eci], buf[eci + 23 : signers])


def _read(buf: bytes) -> KeystoneSignedData:
    end = len(buf)
    # ContentInfo ::= SEQUENCE { id-signedData, [0] EXPLICIT SignedData }, nothing after it
    if buf[0] != 0x30:
        raise _Malformed
    pos, stop = _length(buf, 1)
    if stop != end or not buf.startswith(_SIGNED_DATA_THEN_EXPLICIT, pos):
        raise _Malformed
    pos, stop = _length(buf, pos + 12)
    if stop != end or buf[pos] != 0x30:
        raise _Malformed
    # SignedData ::= SEQUENCE { version 1, digestAlgorithms SET, encapContentInfo, signerInfos SET }
    pos, stop = _length(buf, pos + 1)
    if stop != end or not buf.startswith(_V1_THEN_SET, pos):
        raise _Malformed
    digests_start, digests_end = _length(buf, pos + 4)
    # EncapsulatedContentInfo ::= SEQUENCE { id-data, [0] EXPLICIT OCTET STRING (primitive) }
    if digests_end >= end or buf[digests_end] != 0x30:
        raise _Malformed
    pos, eci_end = _length(buf, digests_end + 1)
    if eci_end >= end or not buf.startswith(_DATA_THEN_EXPLICIT, pos):
        raise _Malformed
    pos, stop = _length(buf, pos + 12)
    if stop != eci_end or buf[pos] != 0x04:
        raise _Malformed
    content_start, stop = _length(buf, pos + 1)
    if stop != eci_end:
        raise _Malformed
    # signerInfos: a SET of exactly one SignerInfo, ending the SignedData
    # (so neither certificates [0] nor crls [1] are present)
    if buf[eci_end] != 0x31:
        raise _Malformed
    pos, stop = _length(buf, eci_end + 1)
    if stop != end or buf[pos] != 0x30:
        raise _Malformed
    # SignerInfo ::= SEQUENCE { version 1, issuerAndSerialNumber, digestAlgorithm,
    #     signatureAlgorithm, signature OCTET STRING } (no signed or unsigned attributes)
    pos, stop = _length(buf, pos + 1)
    if stop != end or not buf.startswith(_V1_THEN_SEQUENCE, pos):
        raise _Malformed
    return _signer_info(buf, pos + 4, end, buf[digests_start:digests_end], buf[content_start:eci_end])


def _signer_info(buf: bytes, pos: int, end: int, digests: bytes, content: bytes) -> KeystoneSignedData:
    """From the issuerAndSerialNumber length at ``pos`` to the end of the SignerInfo."""
    ias_start, ias_end = _length(buf, pos)
    if ias_end >= end or buf[ias_start] != 0x30:
        raise _Malformed
    _name_start, name_end = _length(buf, ias_start + 1)  # the issuer Name
    if name_end >= ias_end or buf[name_end] != 0x02:
        raise _Malformed
    # (short lengths, the usual case for the serial and the algorithms, read inline)
    length = buf[name_end + 1]
    if length < 0x80:
        serial_start, stop = name_end + 2, name_end + 2 + length
    else:
        serial_start, stop = _length(buf, name_end + 1)
    if stop != ias_end or stop == serial_start:
        raise _Malformed
    if stop - serial_start > 1 and (
        (buf[serial_start] == 0 and buf[serial_start + 1] < 0x80)
        or (buf[serial_start] == 0xFF and buf[serial_start + 1] >= 0x80)
    ):
        raise _Malformed  # not the minimal encoding
    # digestAlgorithm, signatureAlgorithm: two SEQUENCEs, read by read_algorithms
    if buf[ias_end] != 0x30:
        raise _Malformed
    length = buf[ias_end + 1]
    pos = ias_end + 2 + length if length < 0x80 else _length(buf, ias_end + 1)[1]
    if pos >= end or buf[pos] != 0x30:
        raise _Malformed
    length = buf[pos + 1]
    algorithms_end = pos + 2 + length if length < 0x80 else _length(buf, pos + 1)[1]
    # a [0] of signed attributes would put 0xA0 here: not this shape
    if algorithms_end >= end or buf[algorithms_end] != 0x04:
        raise _Malformed
    signature_start, stop = _length(buf, algorithms_end + 1)
    if stop != end:
        raise _Malformed  # unsigned attributes or trailing bytes
    return (
        content,
        digests,
        buf[ias_start:name_end],
        int.from_bytes(buf[serial_start:ias_end], "big", signed=True),
        buf[ias_end:algorithms_end],
        buf[signature_start:end],
    )


def _algorithm(buf: bytes, pos: int, end: int) -> tuple[bytes, bytes, int]:
    """AlgorithmIdentifier at ``pos`` → (OID contents, parameters TLV or b"", next position)."""
    if buf[pos] != 0x30:
        raise _Malformed
    start, stop = _length(buf, pos + 1)
    if stop > end or buf[start] != 0x06:
        raise _Malformed
    oid_start, oid_end = _length(buf, start + 1)
    if oid_end > stop or oid_end == oid_start:
        raise _Malformed
    params = buf[oid_end:stop]
    if params not in (b"", _NULL):
        raise _Malformed
    return buf[oid_start:oid_end], params, stop


def read_algorithms(
    digests: bytes, algorithms: bytes
) -> tuple[tuple[bytes, ...], bytes, bytes, bytes] | None:
    """Strictly read the raw parts :func:`read_keystone_signed_data` left.

    ``digests`` is the digestAlgorithms SET's contents, ``algorithms`` the
    signer's digestAlgorithm and signatureAlgorithm; returns (the SET's OID
    contents, the digest OID, the signature OID, the signature parameters
    TLV or b""), or None when they are not DER AlgorithmIdentifiers with
    absent or NULL parameters.
    """
    try:
        digest_oids = []
        pos = 0
        while pos < len(digests):
            oid, _params, pos = _algorithm(digests, pos, len(digests))
            digest_oids.append(oid)
        digest_oid, _params, pos = _algorithm(algorithms, 0, len(algorithms))
        signature_oid, signature_params, pos = _algorithm(algorithms, pos, len(algorithms))
        if pos != len(algorithms):
            raise _Malformed
    except (_Malformed, IndexError):
        return None
    return tuple(digest_oids), digest_oid, signature_oid, signature_params
