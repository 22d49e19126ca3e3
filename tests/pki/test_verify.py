"""pki.verify.verify_token: the order of checks, expiry against an explicit clock, revocation."""
from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Collection
from pathlib import Path

import pytest

from pki.certs import TrustStore
from pki.errors import Reason, TokenInvalid
from pki.issuing import create_signing_cert, sign_token
from pki.token import decode
from pki.verify import RevocationCheck, VerifiedToken, verify_token

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "pki"
KSM = FIXTURES / "keystonemiddleware-5.3.0"
UTC = datetime.timezone.utc


class SetRevocation:
    """The simplest RevocationCheck: sets of revoked ids and audit ids."""

    def __init__(self, ids=(), audit_ids=()):
        self.ids = set(ids)
        self.audit_ids = set(audit_ids)
        self.calls: list[tuple[tuple[str, ...], tuple[str, ...]]] = []

    def is_revoked(self, token_ids: Collection[str], audit_ids: Collection[str]) -> bool:
        self.calls.append((tuple(token_ids), tuple(audit_ids)))
        return bool(self.ids.intersection(token_ids) or self.audit_ids.intersection(audit_ids))


@pytest.fixture
def trust(rsa_pki):
    return TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert])


def test_valid_token_result(rsa_pki, trust, make_payload, now):
    token = sign_token(make_payload(), rsa_pki.signer, pkiz=True)
    verified = verify_token(token, trust, now=now)
    assert isinstance(verified, VerifiedToken)
    assert verified.token_ids == {"md5": hashlib.md5(token.encode()).hexdigest()}
    assert verified.expires == datetime.datetime(2038, 1, 18, 21, 14, 7, tzinfo=UTC)
    assert verified.payload == make_payload()
    assert isinstance(SetRevocation(), RevocationCheck)


def test_expiry_uses_the_explicit_clock(rsa_pki, trust, make_payload, now):
    token = sign_token(make_payload(expires="2030-01-01T00:00:10Z"), rsa_pki.signer)
    assert verify_token(token, trust, now=now).expires > now
    with pytest.raises(TokenInvalid) as info:
        verify_token(token, trust, now=now + datetime.timedelta(seconds=10))
    assert info.value.reason is Reason.EXPIRED
    # a naive clock is UTC
    assert verify_token(token, trust, now=now.replace(tzinfo=None)).expires


def test_signature_is_checked_before_expiry(rsa_pki, make_payload, now):
    token = sign_token(make_payload(expires="2000-01-01T00:00:00Z"), rsa_pki.signer)
    other_signer = create_signing_cert(rsa_pki.ca, serial=rsa_pki.signer.cert.serial_number,
                                       not_before=now - datetime.timedelta(days=1))
    # same issuer+serial, different key: the signature fails first, not the expiry
    with pytest.raises(TokenInvalid) as info:
        verify_token(token, TrustStore([other_signer.cert], [rsa_pki.ca.cert]), now=now)
    assert info.value.reason is Reason.BAD_SIGNATURE


def test_expiry_is_checked_before_revocation(rsa_pki, trust, make_payload, now):
    token = sign_token(make_payload(expires="2000-01-01T00:00:00Z", audit_id="gone"), rsa_pki.signer)
    revocation = SetRevocation(audit_ids=["gone"])
    with pytest.raises(TokenInvalid) as info:
        verify_token(token, trust, now=now, revocation=revocation)
    assert info.value.reason is Reason.EXPIRED
    assert revocation.calls == []


def test_revoked_by_each_configured_hash_and_by_audit_id(rsa_pki, trust, make_payload, now):
    token = sign_token(make_payload(audit_id="aud-7"), rsa_pki.signer)
    sha256 = hashlib.sha256(token.encode()).hexdigest()
    for revocation in (
        SetRevocation(ids=[hashlib.md5(token.encode()).hexdigest()]),
        SetRevocation(ids=[sha256]),
        SetRevocation(audit_ids=["aud-7"]),
    ):
        with pytest.raises(TokenInvalid) as info:
            verify_token(token, trust, now=now, revocation=revocation, hash_algorithms=("md5", "sha256"))
        assert info.value.reason is Reason.REVOKED
    # only md5 configured: a sha256 entry does not match
    assert verify_token(token, trust, now=now, revocation=SetRevocation(ids=[sha256]))
    revocation = SetRevocation(ids=["something-else"])
    verify_token(token, trust, now=now, revocation=revocation, hash_algorithms=("md5", "sha256"))
    assert revocation.calls == [
        ((hashlib.md5(token.encode()).hexdigest(), sha256), ("aud-7",))
    ]


def test_fixture_revocation_list_revokes_the_revoked_fixtures(now):
    trust = TrustStore.from_files(KSM / "certs" / "signing_cert.pem", KSM / "certs" / "cacert.pem")
    revoked = json.loads((KSM / "cms" / "revocation_list.json").read_text())["revoked"]
    revocation = SetRevocation(ids=[r["id"] for r in revoked])
    # The 5.3.0 list names auth_v3_token_revoked.pkiz by the md5 of its text
    # (its other id matches none of the shipped files).
    for name in ("auth_v3_token_revoked.pkiz",):
        text = (KSM / "cms" / name).read_text()
        with pytest.raises(TokenInvalid) as info:
            verify_token(text, trust, now=now, revocation=revocation)
        assert info.value.reason is Reason.REVOKED, name
    for name in ("auth_token_scoped.pkiz", "auth_v3_token_scoped.pem"):
        verify_token((KSM / "cms" / name).read_text(), trust, now=now, revocation=revocation)


def test_a_decoded_token_can_be_verified_without_decoding_again(rsa_pki, trust, make_payload, now):
    decoded = decode(sign_token(make_payload(), rsa_pki.signer))
    assert verify_token(decoded, trust, now=now).decoded is decoded


def test_token_without_expiry_is_refused(rsa_pki, trust, now):
    token = sign_token({"token": {"user": {"id": "u"}}}, rsa_pki.signer)
    with pytest.raises(TokenInvalid) as info:
        verify_token(token, trust, now=now)
    assert info.value.reason is Reason.MALFORMED


def test_unknown_signer(rsa_pki, make_payload, now):
    stranger = create_signing_cert(rsa_pki.ca, "stranger", not_before=now - datetime.timedelta(days=1))
    token = sign_token(make_payload(), stranger)
    with pytest.raises(TokenInvalid) as info:
        verify_token(token, TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert]), now=now)
    assert info.value.reason is Reason.UNKNOWN_SIGNER
    assert "unknown-signer" in str(info.value)
