"""Every real keystone fixture token: our verdict equals ``openssl cms -verify``'s."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from pki.certs import TrustStore
from pki.cms import pem_to_der, verify_cms
from pki.errors import Reason, TokenInvalid
from pki.token import decode
from pki.verify import verify_token

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)  # == conftest.NOW
FIXTURE_DIRS = ("keystonemiddleware-5.3.0", "keystoneclient-master")
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "pki"


def _tokens() -> list[tuple[str, str]]:
    cases = []
    for directory in FIXTURE_DIRS:
        for path in sorted((SHARED / directory / "cms").glob("*")):
            if path.suffix in (".pem", ".pkiz") and not path.name.startswith("revocation_list"):
                cases.append((directory, path.name))
    return cases


def _trust(directory: str) -> TrustStore:
    certs = SHARED / directory / "certs"
    return TrustStore.from_files(certs / "signing_cert.pem", certs / "cacert.pem")


def _verdict(text: str, trust: TrustStore):
    """(valid signature?, reason) judging only what openssl judges: not token expiry."""
    try:
        verify_token(text, trust, now=NOW)
    except TokenInvalid as exc:
        if exc.reason is Reason.EXPIRED:
            return True, None
        return False, exc.reason.value
    return True, None


def test_fixture_list_is_complete():
    # 6 tokens x 2 forms x 2 directories; guards against a silently empty parametrization.
    assert len(_tokens()) == 24


@pytest.mark.parametrize(("directory", "name"), _tokens())
def test_fixture_token_verdict_matches_openssl(directory, name, openssl, to_pem):
    text = (SHARED / directory / "cms" / name).read_text()
    certs = SHARED / directory / "certs"
    reference = openssl.verify(to_pem(text), certs / "signing_cert.pem", certs / "cacert.pem")
    ours_ok, ours_reason = _verdict(text, _trust(directory))
    assert ours_ok == reference.ok, reference.stderr
    if not ours_ok:
        assert ours_reason == reference.reason, reference.stderr
    else:
        # openssl's output is the signed content; ours is the same, and equals the fixture JSON
        decoded = decode(text)
        assert json.loads(reference.content) == decoded.payload
        fixture_json = json.loads((SHARED / directory / "cms" / name).with_suffix(".json").read_text())
        assert decoded.payload == fixture_json


@pytest.mark.parametrize("name", [n for d, n in _tokens() if d == "keystoneclient-master" and n.endswith(".pkiz")])
def test_keystoneclient_master_pkiz_are_a_trap(name):
    # Signed by the 2013 key, but the directory's certs are the 2022 ones.
    text = (SHARED / "keystoneclient-master" / "cms" / name).read_text()
    with pytest.raises(TokenInvalid) as info:
        verify_token(text, _trust("keystoneclient-master"), now=NOW)
    assert info.value.reason is Reason.BAD_SIGNATURE
    # ... and they verify against the 2013 certs they were really signed with.
    decoded = decode(text)
    content = verify_cms(decoded.cms_der, _trust("keystonemiddleware-5.3.0"), now=NOW)
    assert json.loads(content) == decoded.payload


def test_expired_fixture_is_expired_not_badly_signed():
    text = (SHARED / "keystonemiddleware-5.3.0" / "cms" / "auth_token_scoped_expired.pkiz").read_text()
    with pytest.raises(TokenInvalid) as info:
        verify_token(text, _trust("keystonemiddleware-5.3.0"), now=NOW)
    assert info.value.reason is Reason.EXPIRED


@pytest.mark.parametrize("directory", FIXTURE_DIRS)
def test_revocation_list_pem_matches_openssl(directory, openssl):
    base = SHARED / directory
    pem = (base / "cms" / "revocation_list.pem").read_text()
    reference = openssl.verify(pem, base / "certs" / "signing_cert.pem", base / "certs" / "cacert.pem")
    content = verify_cms(pem_to_der(pem), _trust(directory), now=NOW)
    assert reference.ok
    assert content == reference.content
    assert json.loads(content) == json.loads((base / "cms" / "revocation_list.json").read_text())


def test_trap_revocation_list_pkiz_fails(openssl, to_pem):
    base = SHARED / "keystoneclient-master"
    pem = to_pem((base / "cms" / "revocation_list.pkiz").read_text())
    reference = openssl.verify(pem, base / "certs" / "signing_cert.pem", base / "certs" / "cacert.pem")
    with pytest.raises(TokenInvalid) as info:
        verify_cms(pem_to_der(pem), _trust("keystoneclient-master"), now=NOW)
    assert not reference.ok
    assert info.value.reason.value == reference.reason == "bad-signature"


def test_empty_der_fixture_is_malformed():
    data = (SHARED / "keystoneclient-master" / "cms" / "revocation_list.der").read_bytes()
    with pytest.raises(TokenInvalid) as info:
        decode(data)
    assert info.value.reason is Reason.MALFORMED
