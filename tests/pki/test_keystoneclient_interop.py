"""Interop both ways with python-keystoneclient's ``keystoneclient.common.cms``.

keystoneclient shells out to openssl; that is fine in tests and is exactly
the behaviour we replace.
"""
from __future__ import annotations

import json
import subprocess

import pytest
from keystoneclient.common import cms as ksc_cms

from pki.certs import TrustStore, load_certificates, load_private_key
from pki.errors import Reason, TokenInvalid
from pki.issuing import KeyPair, sign_token, write_setup
from pki.verify import verify_token


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    paths = write_setup(tmp_path_factory.mktemp("ksc") / "pki")
    signer = KeyPair(
        load_certificates(paths.signing_cert.read_bytes(), "cert")[0],
        load_private_key(paths.signing_key.read_bytes(), "key"),
    )
    return paths, signer, TrustStore.from_files(paths.signing_cert, paths.ca_cert)


@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha512"])
def test_keystoneclient_pki_tokens_verify_with_ours(setup, make_payload, digest):
    paths, _signer, trust = setup
    payload = make_payload()
    token = ksc_cms.cms_sign_token(json.dumps(payload), str(paths.signing_cert),
                                   str(paths.signing_key), message_digest=digest)
    assert token.startswith("MII")
    verified = verify_token(token, trust)
    assert verified.decoded.payload == payload
    assert verified.decoded.format == "pki"
    # the token id keystoneclient computes is the one we compute
    assert verified.token_ids["md5"] == ksc_cms.cms_hash_token(token)


def test_keystoneclient_pkiz_tokens_verify_with_ours(setup, make_payload):
    paths, _signer, trust = setup
    payload = make_payload()
    token = ksc_cms.pkiz_sign(json.dumps(payload), str(paths.signing_cert), str(paths.signing_key))
    assert token.startswith("PKIZ_")
    verified = verify_token(token, trust)
    assert verified.decoded.payload == payload
    assert verified.decoded.format == "pkiz"


@pytest.mark.parametrize("pkiz", [False, True])
@pytest.mark.parametrize("digest", ["sha1", "sha256"])
def test_our_tokens_verify_with_keystoneclient(setup, make_payload, pkiz, digest):
    paths, signer, _trust = setup
    payload = make_payload()
    token = sign_token(payload, signer, pkiz=pkiz, digest=digest)
    if pkiz:
        content = ksc_cms.pkiz_verify(token, str(paths.signing_cert), str(paths.ca_cert))
    else:
        content = ksc_cms.cms_verify(ksc_cms.token_to_cms(token), str(paths.signing_cert),
                                     str(paths.ca_cert))
    assert json.loads(content) == payload


def test_keystoneclient_token_tampered_is_rejected_by_both(setup, make_payload):
    paths, _signer, trust = setup
    token = ksc_cms.cms_sign_token(json.dumps(make_payload()), str(paths.signing_cert),
                                   str(paths.signing_key))
    # flip one base64 character in the middle of the signed content
    i = len(token) // 2
    tampered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    with pytest.raises(TokenInvalid) as info:
        verify_token(tampered, trust)
    assert info.value.reason in (Reason.BAD_SIGNATURE, Reason.MALFORMED)
    with pytest.raises(subprocess.CalledProcessError):  # openssl cms -verify fails
        ksc_cms.cms_verify(ksc_cms.token_to_cms(tampered), str(paths.signing_cert), str(paths.ca_cert))


def test_interop_with_keystones_own_example_keys(make_payload):
    """Signed by us with keystonemiddleware's example key (X.509 v1, SHA-1 cert): both accept."""
    from pathlib import Path

    base = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "pki" / "keystonemiddleware-5.3.0"
    signing_cert, ca_cert = base / "certs" / "signing_cert.pem", base / "certs" / "cacert.pem"
    signer = KeyPair(
        load_certificates(signing_cert.read_bytes(), "cert")[0],
        load_private_key((base / "private" / "signing_key.pem").read_bytes(), "key"),
    )
    payload = make_payload()
    for digest in ("sha1", "sha256"):
        token = sign_token(payload, signer, pkiz=True, digest=digest)
        assert json.loads(ksc_cms.pkiz_verify(token, str(signing_cert), str(ca_cert))) == payload
        assert verify_token(token, TrustStore.from_files(signing_cert, ca_cert)).payload == payload
    # and keystoneclient's own signature with that key is byte-identical to ours
    theirs = ksc_cms.cms_sign_token(json.dumps(payload), str(signing_cert),
                                    str(base / "private" / "signing_key.pem"), message_digest="sha256")
    assert theirs == sign_token(payload, signer, digest="sha256")
