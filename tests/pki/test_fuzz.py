"""Property tests: whatever arrives as a token, only ``TokenInvalid`` escapes decode/verify.

Inputs are random text and bytes, and valid tokens (PKI, PKIZ, PEM, DER) with
random corruption at every layer: the token text, the DER inside, the zlib
stream inside PKIZ.
"""
from __future__ import annotations

import base64
import datetime
import os
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pki.certs import TrustStore
from pki.cms import der_to_pem, pem_to_der
from pki.errors import TokenInvalid
from pki.issuing import create_ca, create_signing_cert, pem_to_pki_token, pem_to_pkiz_token, sign_cms
from pki.token import decode
from pki.verify import verify_token

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
_START = NOW - datetime.timedelta(days=30)
_CA = create_ca(not_before=_START, days=365)
_SIGNER = create_signing_cert(_CA, not_before=_START, days=365)
TRUST = TrustStore([_SIGNER.cert], [_CA.cert])
_PEM = sign_cms(
    b'{"token": {"expires_at": "2038-01-18T21:14:07Z", "audit_ids": ["a"], "user": {"id": "u"}}}',
    _SIGNER,
)
_PEM_ATTRS = sign_cms(b'{"access": {"token": {"expires": "2038-01-18T21:14:07Z"}}}', _SIGNER,
                      signed_attributes=True)
DER = pem_to_der(_PEM)
# Real tokens are longer than 256 bytes (two-byte DER lengths): pki.der's usual-layout path
DER_BIG = pem_to_der(sign_cms(
    b'{"token": {"expires_at": "2038-01-18T21:14:07Z", "audit_ids": ["a"], "catalog": "'
    + b"c" * 600 + b'"}}',
    _SIGNER,
))
DER_ATTRS = pem_to_der(_PEM_ATTRS)
PKI = pem_to_pki_token(_PEM)
PKIZ = pem_to_pkiz_token(_PEM)

#: 250 examples per property keeps CI fast; OSTK_FUZZ_EXAMPLES=20000 for a long local run
FUZZ = settings(
    max_examples=int(os.environ.get("OSTK_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class _Revocation:
    def is_revoked(self, token_ids, audit_ids):
        return "never" in audit_ids


def _only_documented(token) -> None:
    try:
        decode(token)
    except TokenInvalid:
        pass
    try:
        verify_token(token, TRUST, now=NOW, revocation=_Revocation(), hash_algorithms=("md5", "sha256"))
    except TokenInvalid:
        pass


def test_the_unfuzzed_tokens_are_valid():
    for token in (PKI, PKIZ, _PEM, DER, _PEM_ATTRS, DER_ATTRS):
        assert verify_token(token, TRUST, now=NOW).expires.year == 2038


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text):
    _only_documented(text)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    _only_documented(data)


@FUZZ
@given(st.sampled_from(["MII", "PKIZ_", "-----BEGIN CMS-----\n"]), st.text(max_size=200))
def test_random_text_behind_a_real_prefix(prefix, rest):
    _only_documented(prefix + rest)


def _mutate(data: bytes, edits) -> bytes:
    buf = bytearray(data)
    for kind, position, value in edits:
        if not buf:
            break
        i = position % len(buf)
        if kind == "flip":
            buf[i] ^= value or 1
        elif kind == "delete":
            del buf[i]
        elif kind == "insert":
            buf.insert(i, value)
        else:  # truncate
            del buf[i:]
    return bytes(buf)


EDITS = st.lists(
    st.tuples(st.sampled_from(["flip", "delete", "insert", "truncate"]),
              st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=255)),
    min_size=1, max_size=4,
)


@FUZZ
@given(st.sampled_from([DER, DER_ATTRS]), EDITS, st.sampled_from(["der", "pem", "pki", "pkiz"]))
def test_corrupted_der_in_every_wrapping(der, edits, wrapping):
    bad = _mutate(der, edits)
    if wrapping == "der":
        token = bad
    elif wrapping == "pem":
        token = der_to_pem(bad)
    elif wrapping == "pki":
        token = pem_to_pki_token(der_to_pem(bad))
    else:
        token = pem_to_pkiz_token(der_to_pem(bad))
    _only_documented(token)


@FUZZ
@given(st.sampled_from([PKI, PKIZ, _PEM]), EDITS)
def test_corrupted_token_text(token, edits):
    bad = _mutate(token.encode("ascii"), edits)
    _only_documented(bad)
    try:
        text = bad.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
        return
    _only_documented(text)


@FUZZ
@given(EDITS)
def test_corrupted_zlib_stream_inside_pkiz(edits):
    compressed = zlib.compress(_PEM.encode("ascii"))
    token = "PKIZ_" + base64.urlsafe_b64encode(_mutate(compressed, edits)).decode("ascii")
    _only_documented(token)


@pytest.mark.parametrize("der", [DER, DER_ATTRS], ids=["no-attributes", "attributes"])
def test_every_single_bit_flip_is_rejected(der):
    """No bit of a signed token can change and still verify (so its token id is stable).

    The one exception is the letter case of the signer's issuer name, which
    names compare without (as openssl compares them).
    """
    from asn1crypto import cms as asn1_cms

    sid_issuer = asn1_cms.ContentInfo.load(der)["content"]["signer_infos"][0]["sid"].chosen["issuer"]
    issuer_der = sid_issuer.dump()
    start = der.index(issuer_der)
    case_positions = {
        start + i for i, byte in enumerate(issuer_der) if chr(byte).isalpha()
    }
    accepted = []
    for position in range(len(der)):
        for bit in (1, 2, 4, 8, 16, 32, 64, 128):
            bad = bytearray(der)
            bad[position] ^= bit
            try:
                verify_token(bytes(bad), TRUST, now=NOW)
            except TokenInvalid:
                continue
            accepted.append((position, bit))
    assert accepted and all(p in case_positions and b == 0x20 for p, b in accepted)


def _reference(der: bytes):
    from pki.cms import _parse

    try:
        return _parse(der)
    except (TokenInvalid, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OverflowError, RecursionError):
        return None


@FUZZ
@given(st.sampled_from([DER, DER_BIG, DER_ATTRS]), EDITS)
def test_fast_der_reader_agrees_with_asn1crypto(der, edits):
    """Whatever the fast reader accepts, asn1crypto parses to the very same message."""
    from pki.cms import _parse_keystone_shape

    bad = _mutate(der, edits)
    fast = _parse_keystone_shape(bad)
    if fast is not None:
        assert _reference(bad) == fast


def test_fast_der_reader_takes_keystone_tokens_and_leaves_the_rest():
    from pki.cms import _parse_keystone_shape

    assert _parse_keystone_shape(DER) == _reference(DER)
    assert _parse_keystone_shape(DER_ATTRS) is None  # attributes: the reference parser's job
    assert _reference(DER_ATTRS) is not None


@pytest.mark.parametrize("der", [DER, DER_BIG], ids=["short-lengths", "usual-layout"])
def test_fast_der_reader_agrees_on_every_single_bit_flip(der):
    from pki.cms import _parse_keystone_shape

    taken = 0
    for position in range(len(der)):
        for bit in (0x01, 0x80):
            bad = bytearray(der)
            bad[position] ^= bit
            fast = _parse_keystone_shape(bytes(bad))
            if fast is not None:
                taken += 1
                assert _reference(bytes(bad)) == fast, (position, bit)
    assert taken > len(der) // 2  # most flips (content, signature, names) keep the shape


@FUZZ
@given(st.sampled_from([DER_BIG, DER]), EDITS)
def test_usual_layout_reader_agrees_with_the_general_walk(der, edits):
    """The three-struct-read path and the general header walk slice the same fields."""
    from pki.der import _Malformed, _read, _read_usual

    bad = _mutate(der, edits)
    try:
        usual = _read_usual(bad)
    except (_Malformed, IndexError, struct.error):
        return
    assert usual == _read(bad)


def test_usual_layout_reader_takes_keystone_tokens():
    from pki.der import _read, _read_usual

    assert _read_usual(DER_BIG) == _read(DER_BIG)
