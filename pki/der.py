"""A small, strict DER reader for the one CMS shape keystone produced.

Why it exists: asn1crypto (the reference parser in :mod:`pki.cms`) costs
about ten RSA verifications per token, which would make verification
parse-bound. Keystone's tokens and revocation lists all have one shape:
SignedData v1, attached id-data content, no certificates, no CRLs, one
SignerInfo v1 with issuerAndSerialNumber, no signed or unsigned attributes.
:func:`read_keystone_signed_data` reads exactly that shape, strictly (DER
lengths, no trailing bytes anywhere), and returns ``None`` for anything else
so the caller falls back to asn1crypto. It never decides that a token is
*valid*; it only extracts fields that are then checked as usual. Property
tests check that it agrees with asn1crypto on every input it accepts.
"""
from __future__ import annotations

from typing import NamedTuple

# DER encodings (tag + length + value) of the OIDs we compare against
_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_OID_DATA = bytes.fromhex("06092a864886f70d010701")
_NULL = b"\x05\x00"


class _Malformed(Exception):
    """Not the keystone shape (or not DER): let the reference parser decide."""


class KeystoneSignedData(NamedTuple):
    """Fields of a keystone-shaped CMS SignedData, as raw DER pieces."""

    content: bytes
    digest_oids: tuple[bytes, ...]  # the digestAlgorithms SET, OID contents
    issuer_der: bytes  # the signer's issuer Name, full TLV
    serial: int
    digest_oid: bytes  # OID contents (no tag/length)
    signature_oid: bytes
    signature_params: bytes  # b"" (absent) or b"\x05\x00"
    signature: bytes


def _tlv(buf: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """Read one TLV with ``tag`` at ``pos``; return (content start, content end)."""
    # Hot path (about twenty calls per token): lengths are read inline.
    if pos + 2 > end or buf[pos] != tag:
        raise _Malformed
    length = buf[pos + 1]
    pos += 2
    if length >= 0x80:
        if length == 0x81:
            if pos >= end:
                raise _Malformed
            length = buf[pos]
            pos += 1
            if length < 0x80:
                raise _Malformed  # DER: the shortest length form
        elif length == 0x82:
            if pos + 2 > end:
                raise _Malformed
            length = (buf[pos] << 8) | buf[pos + 1]
            pos += 2
            if length < 0x100:
                raise _Malformed
        elif length == 0x83:
            if pos + 3 > end:
                raise _Malformed
            length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
            pos += 3
            if length < 0x10000:
                raise _Malformed
        else:
            raise _Malformed  # indefinite (BER) or absurdly long
    if pos + length > end:
        raise _Malformed
    return pos, pos + length


#: AlgorithmIdentifier TLVs seen so far → (OID contents, parameters): the
#: handful keystone used repeat in every token, so a dict lookup replaces parsing.
_KNOWN_ALGORITHMS: dict[bytes, tuple[bytes, bytes]] = {}
_VERSION_1 = b"\x02\x01\x01"


def _algorithm(buf: bytes, pos: int, end: int) -> tuple[bytes, bytes, int]:
    """AlgorithmIdentifier → (OID contents, parameters TLV or b"", next position)."""
    if pos + 2 <= end and buf[pos] == 0x30 and buf[pos + 1] < 0x80:
        # The usual short form, read here (three calls per token saved).
        start, stop = pos + 2, pos + 2 + buf[pos + 1]
        if stop > end:
            raise _Malformed
    else:
        start, stop = _tlv(buf, pos, end, 0x30)
    whole = buf[pos:stop]
    known = _KNOWN_ALGORITHMS.get(whole)
    if known is not None:
        return known[0], known[1], stop
    oid_start, oid_end = _tlv(buf, start, stop, 0x06)
    if oid_end == oid_start:
        raise _Malformed
    params = buf[oid_end:stop]
    if params not in (b"", _NULL):
        raise _Malformed
    if len(_KNOWN_ALGORITHMS) < 64:  # bounded: hostile input cannot grow it
        _KNOWN_ALGORITHMS[whole] = (buf[oid_start:oid_end], params)
    return buf[oid_start:oid_end], params, stop


def _integer(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    start, stop = _tlv(buf, pos, end, 0x02)
    raw = buf[start:stop]
    if not raw or (len(raw) > 1 and (
        (raw[0] == 0 and raw[1] < 0x80) or (raw[0] == 0xFF and raw[1] >= 0x80)
    )):
        raise _Malformed  # empty or not minimal
    return int.from_bytes(raw, "big", signed=True), stop


def read_keystone_signed_data(der: bytes) -> KeystoneSignedData | None:
    """Parse keystone's CMS shape, or return None (then use the reference parser)."""
    try:
        return _read(der)
    except _Malformed:
        return None


def _read(buf: bytes) -> KeystoneSignedData:
    end = len(buf)
    start, stop = _tlv(buf, 0, end, 0x30)  # ContentInfo
    if stop != end:
        raise _Malformed
    if buf[start : start + len(_OID_SIGNED_DATA)] != _OID_SIGNED_DATA:
        raise _Malformed
    pos = start + len(_OID_SIGNED_DATA)
    explicit_start, explicit_end = _tlv(buf, pos, stop, 0xA0)
    if explicit_end != stop:
        raise _Malformed
    sd_start, sd_end = _tlv(buf, explicit_start, explicit_end, 0x30)  # SignedData
    if sd_end != explicit_end:
        raise _Malformed
    if buf[sd_start:sd_start + 3] != _VERSION_1 or sd_start + 3 > sd_end:
        raise _Malformed  # version 1, DER-minimal
    pos = sd_start + 3
    set_start, set_end = _tlv(buf, pos, sd_end, 0x31)  # digestAlgorithms
    digest_oids = []
    cursor = set_start
    while cursor < set_end:
        oid, _params, cursor = _algorithm(buf, cursor, set_end)
        digest_oids.append(oid)
    pos = set_end
    eci_start, eci_end = _tlv(buf, pos, sd_end, 0x30)  # encapContentInfo
    if buf[eci_start : eci_start + len(_OID_DATA)] != _OID_DATA:
        raise _Malformed
    wrap_start, wrap_end = _tlv(buf, eci_start + len(_OID_DATA), eci_end, 0xA0)
    if wrap_end != eci_end:
        raise _Malformed
    content_start, content_end = _tlv(buf, wrap_start, wrap_end, 0x04)  # primitive only
    if content_end != wrap_end:
        raise _Malformed
    content = buf[content_start:content_end]
    pos = eci_end
    si_set_start, si_set_end = _tlv(buf, pos, sd_end, 0x31)  # signerInfos (no certs/crls)
    if si_set_end != sd_end:
        raise _Malformed
    si_start, si_end = _tlv(buf, si_set_start, si_set_end, 0x30)  # the one SignerInfo
    if si_end != si_set_end:
        raise _Malformed
    if buf[si_start:si_start + 3] != _VERSION_1 or si_start + 3 > si_end:
        raise _Malformed
    pos = si_start + 3
    ias_start, ias_end = _tlv(buf, pos, si_end, 0x30)  # issuerAndSerialNumber
    _name_start, name_end = _tlv(buf, ias_start, ias_end, 0x30)
    issuer_der = buf[ias_start:name_end]
    serial, after_serial = _integer(buf, name_end, ias_end)
    if after_serial != ias_end:
        raise _Malformed
    digest_oid, _params, pos = _algorithm(buf, ias_end, si_end)
    signature_oid, signature_params, pos = _algorithm(buf, pos, si_end)  # [0] attrs → tag mismatch
    sig_start, sig_end = _tlv(buf, pos, si_end, 0x04)
    if sig_end != si_end:
        raise _Malformed  # unsigned attributes or trailing bytes
    return KeystoneSignedData(
        content=content,
        digest_oids=tuple(digest_oids),
        issuer_der=issuer_der,
        serial=serial,
        digest_oid=digest_oid,
        signature_oid=signature_oid,
        signature_params=signature_params,
        signature=buf[sig_start:sig_end],
    )
