"""pki.issuing: certs and tokens as keystone made them, byte for byte where openssl is deterministic."""
from __future__ import annotations

import base64
import datetime
import json
import stat
import zlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from pki.certs import TrustStore, load_certificates, load_private_key
from pki.cms import pem_to_der, verify_cms
from pki.issuing import (
    create_ca,
    create_signing_cert,
    sign_cms,
    sign_revocation_list,
    sign_token,
    write_setup,
)
from pki.token import decode
from pki.verify import verify_token

UTC = datetime.timezone.utc


@pytest.mark.parametrize("digest", ["sha1", "sha224", "sha256", "sha384", "sha512"])
def test_sign_cms_is_byte_identical_to_openssl_noattr(digest, tmp_path, openssl):
    paths = write_setup(tmp_path / "pki")
    signer_cert = load_certificates(paths.signing_cert.read_bytes(), "cert")[0]
    signer_key = load_private_key(paths.signing_key.read_bytes(), "key")
    from pki.issuing import KeyPair

    content = json.dumps({"access": {"token": {"id": "x"}}}).encode()
    ours = sign_cms(content, KeyPair(signer_cert, signer_key), digest=digest)
    theirs = openssl.sign(content, paths.signing_cert, paths.signing_key, digest=digest,
                          tmp_path=tmp_path)
    assert ours == theirs


def test_pki_token_form_is_keystones(rsa_pki, payload, now):
    token = sign_token(payload, rsa_pki.signer)
    assert token.startswith("MII")
    assert "/" not in token and "\n" not in token and "-----" not in token
    pem_body = token.replace("-", "/")
    der = base64.b64decode(pem_body)
    assert json.loads(verify_cms(der, TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert]),
                                 now=now)) == payload


def test_pkiz_token_form_is_keystones(rsa_pki, payload):
    token = sign_token(payload, rsa_pki.signer, pkiz=True)
    assert token.startswith("PKIZ_")
    pem = zlib.decompress(base64.urlsafe_b64decode(token[5:])).decode("ascii")
    assert pem.startswith("-----BEGIN CMS-----\n") and pem.endswith("-----END CMS-----\n")
    assert max(len(line) for line in pem.splitlines()) == 64
    assert decode(token).payload == payload


def test_version1_sha1_signing_cert_like_keystones_example(rsa_pki, now):
    signer = create_signing_cert(rsa_pki.ca, version1=True, digest="sha1", serial=17)
    assert signer.cert.version is x509.Version.v1
    assert isinstance(signer.cert.signature_hash_algorithm, hashes.SHA1)
    assert signer.cert.serial_number == 17
    assert len(signer.cert.extensions) == 0
    token = sign_token({"access": {"token": {"expires": "2099-01-01T00:00:00Z"}}}, signer, digest="sha1")
    assert verify_token(token, TrustStore([signer.cert], [rsa_pki.ca.cert]), now=now).expires.year == 2099


def test_ec_keys_and_signed_attributes(ec_pki, payload, now):
    token = sign_token(payload, ec_pki.signer, digest="sha384", signed_attributes=True)
    verified = verify_token(token, TrustStore([ec_pki.signer.cert], [ec_pki.ca.cert]), now=now)
    assert verified.decoded.payload == payload


def test_lifetime_and_not_before(rsa_pki):
    start = datetime.datetime(2020, 5, 1, tzinfo=UTC)
    ca = create_ca(not_before=start, days=10)
    assert ca.cert.not_valid_before_utc == start
    assert ca.cert.not_valid_after_utc == start + datetime.timedelta(days=10)
    assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_revocation_list_is_signed_json(rsa_pki, now):
    revoked = [{"id": "abc", "expires": "2099-01-01T00:00:00Z", "audit_id": "aud"}]
    pem = sign_revocation_list(revoked, rsa_pki.signer)
    content = verify_cms(pem_to_der(pem), TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert]),
                         now=now)
    assert json.loads(content) == {"revoked": revoked}


def test_write_setup_layout_and_modes(tmp_path):
    paths = write_setup(tmp_path / "keystone-ssl", key_type="ec")
    root = tmp_path / "keystone-ssl"
    assert paths.signing_cert == root / "certs" / "signing_cert.pem"
    assert paths.ca_cert == root / "certs" / "cacert.pem"
    assert paths.signing_key == root / "private" / "signing_key.pem"
    assert paths.ca_key == root / "private" / "cakey.pem"
    assert stat.S_IMODE((root / "private").stat().st_mode) == 0o700
    for key in (paths.signing_key, paths.ca_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not list(root.rglob(".*.tmp"))  # atomic writes leave no temp files behind
    trust = TrustStore.from_files(paths.signing_cert, paths.ca_cert)
    key = load_private_key(paths.signing_key.read_bytes(), str(paths.signing_key))
    from pki.issuing import KeyPair

    token = sign_token({"token": {"expires_at": "2099-01-01T00:00:00Z"}},
                       KeyPair(trust.signing_certs[0], key), pkiz=True)
    assert verify_token(token, trust).decoded.format == "pkiz"


def test_unknown_digest_or_key_type_is_a_usage_error(rsa_pki):
    from ostk.errors import UsageError

    with pytest.raises(UsageError):
        sign_cms(b"x", rsa_pki.signer, digest="md5")
    with pytest.raises(UsageError):
        create_ca(key_type="dsa")
