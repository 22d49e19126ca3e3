"""pki.certs: loading certificate files, semantic DN matching, chains, signer look-up."""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from pki.certs import TrustStore, load_certificates, load_private_key
from pki.cms import der_to_pem, verify_cms
from pki.errors import CertificateError, Reason, TokenInvalid
from pki.issuing import KeyPair, create_ca, create_signing_cert, sign_cms, sign_cms_der

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "pki"
UTC = datetime.timezone.utc
CONTENT = b'{"token": {"expires_at": "2038-01-18T21:14:07Z"}}'


def test_load_pem_bundle_and_der(rsa_pki):
    bundle = rsa_pki.ca.cert_pem() + rsa_pki.signer.cert_pem()
    assert load_certificates(bundle, "bundle") == [rsa_pki.ca.cert, rsa_pki.signer.cert]
    der = rsa_pki.ca.cert.public_bytes(__import__("cryptography.hazmat.primitives.serialization",
                                                  fromlist=["Encoding"]).Encoding.DER)
    assert load_certificates(der, "der") == [rsa_pki.ca.cert]


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", b"\x30\x03\x02\x01"],
)
def test_bad_certificate_files_name_their_source(data):
    with pytest.raises(CertificateError) as info:
        load_certificates(data, "/etc/keystone/ssl/certs/signing_cert.pem")
    assert "/etc/keystone/ssl/certs/signing_cert.pem" in str(info.value)
    assert info.value.exit_status == 3


def test_missing_file_is_a_certificate_error(tmp_path):
    with pytest.raises(CertificateError) as info:
        TrustStore.from_files(tmp_path / "nope.pem", tmp_path / "ca.pem")
    assert "nope.pem" in str(info.value)


def test_load_private_key_fixture_and_garbage():
    key = load_private_key((FIXTURES / "keystonemiddleware-5.3.0/private/signing_key.pem").read_bytes(), "k")
    assert isinstance(key, rsa.RSAPrivateKey)
    with pytest.raises(CertificateError):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n", "k")


def test_fixture_signing_cert_is_v1_sha1_and_still_trusted():
    base = FIXTURES / "keystonemiddleware-5.3.0" / "certs"
    trust = TrustStore.from_files(base / "signing_cert.pem", base / "cacert.pem")
    cert = trust.signing_certs[0]
    assert cert.version is x509.Version.v1
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA1)
    signer = trust.find_signer(*_sid_of(cert), None)
    trust.check_signer(signer, datetime.datetime(2030, 1, 1, tzinfo=UTC))  # no exception


def _sid_of(cert):
    parsed = asn1_x509.Certificate.load(cert.public_bytes(__import__(
        "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER))
    return parsed.issuer.dump(), parsed.serial_number


def _name(string_type):
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US", _type=_ASN1Type.PrintableString),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenStack", _type=string_type),
            x509.NameAttribute(NameOID.COMMON_NAME, "Mixed  Encoding CA", _type=string_type),
        ]
    )


def test_names_match_semantically_across_string_types(tmp_path, openssl, now):
    """CA subject in PrintableString, signer's issuer and the CMS sid in UTF8String."""
    start = now - datetime.timedelta(days=1)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(_ASN1Type.PrintableString))
        .issuer_name(_name(_ASN1Type.PrintableString))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")]))
        .issuer_name(_name(_ASN1Type.UTF8String))
        .public_key(signer_key.public_key())
        .serial_number(77)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    signer = KeyPair(signer_cert, signer_key)
    der = sign_cms_der(CONTENT, signer)
    # Re-encode the CMS signer id's issuer with PrintableString (and other case/spacing).
    info = asn1_cms.ContentInfo.load(der)
    signer_info = info["content"]["signer_infos"][0]
    signer_info["sid"] = asn1_cms.SignerIdentifier(
        name="issuer_and_serial_number",
        value={
            "issuer": asn1_x509.Name.build(
                {"country_name": "US", "organization_name": "OPENSTACK",
                 "common_name": "mixed encoding ca"},
                use_printable=True,
            ),
            "serial_number": 77,
        },
    )
    # signature is over the content only (no attributes), so it stays valid
    der2 = asn1_cms.ContentInfo.load(info.dump(force=True)).dump()
    assert der2 != der
    pem = der_to_pem(der2)
    (tmp_path / "signing.pem").write_bytes(signer.cert_pem())
    (tmp_path / "ca.pem").write_bytes(KeyPair(ca_cert, ca_key).cert_pem())
    reference = openssl.verify(pem, tmp_path / "signing.pem", tmp_path / "ca.pem")
    assert reference.ok, reference.stderr
    assert verify_cms(der2, TrustStore([signer_cert], [ca_cert]), now=now) == CONTENT


def test_intermediate_ca_must_be_in_the_ca_file_as_openssl_requires(tmp_path, openssl, now):
    from pki.cms import pem_to_der

    start = now - datetime.timedelta(days=1)
    root = create_ca("root", not_before=start)
    intermediate = create_signing_cert(
        root, "intermediate", not_before=start, basic_constraints_ca=True,
        key_usage=("key_cert_sign", "digital_signature"),
    )
    signer = create_signing_cert(intermediate, "leaf", not_before=start)
    der = pem_to_der(pem := sign_cms(CONTENT, signer))
    signing_file, ca_file = tmp_path / "signing.pem", tmp_path / "ca.pem"

    # intermediate in the CA file: a chain to the root
    signing_file.write_bytes(signer.cert_pem())
    ca_file.write_bytes(root.cert_pem() + intermediate.cert_pem())
    assert openssl.verify(pem, signing_file, ca_file).ok
    assert verify_cms(der, TrustStore([signer.cert], [root.cert, intermediate.cert]), now=now) == CONTENT

    # intermediate only in the signing-cert file: openssl does not use it for the chain
    signing_file.write_bytes(signer.cert_pem() + intermediate.cert_pem())
    ca_file.write_bytes(root.cert_pem())
    reference = openssl.verify(pem, signing_file, ca_file)
    with pytest.raises(TokenInvalid) as info:
        verify_cms(der, TrustStore([signer.cert, intermediate.cert], [root.cert]), now=now)
    assert not reference.ok
    assert info.value.reason.value == reference.reason == "untrusted-signer"

    # intermediate alone as the trust anchor (no root): openssl wants a self-signed root
    signing_file.write_bytes(signer.cert_pem())
    ca_file.write_bytes(intermediate.cert_pem())
    reference = openssl.verify(pem, signing_file, ca_file)
    with pytest.raises(TokenInvalid) as info:
        verify_cms(der, TrustStore([signer.cert], [intermediate.cert]), now=now)
    assert not reference.ok
    assert info.value.reason.value == reference.reason == "untrusted-signer"


def test_rotation_both_signing_certs_are_usable(rsa_pki, now):
    start = now - datetime.timedelta(days=1)
    old = create_signing_cert(rsa_pki.ca, "old", not_before=start)
    new = create_signing_cert(rsa_pki.ca, "new", not_before=start)
    trust = TrustStore([old.cert, new.cert], [rsa_pki.ca.cert])
    from pki.cms import pem_to_der

    for signer in (old, new):
        assert verify_cms(pem_to_der(sign_cms(CONTENT, signer)), trust, now=now) == CONTENT
    only_old = TrustStore([old.cert], [rsa_pki.ca.cert])
    with pytest.raises(TokenInvalid) as info:
        verify_cms(pem_to_der(sign_cms(CONTENT, new)), only_old, now=now)
    assert info.value.reason is Reason.UNKNOWN_SIGNER


def test_trust_store_is_immutable(rsa_pki):
    trust = TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert])
    assert isinstance(trust.signing_certs, tuple)
    with pytest.raises(AttributeError):
        trust.signing_certs = ()  # type: ignore[misc]


def test_authority_key_id_must_match_the_ca_key_id(tmp_path, openssl, now):
    """Same CA name and key, different subject key id: openssl refuses the issuer; so do we."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from pki.cms import pem_to_der

    start = now - datetime.timedelta(days=1)
    ca = create_ca("twin", not_before=start)
    signer = create_signing_cert(ca, not_before=start)
    twin_cert = (
        x509.CertificateBuilder()
        .subject_name(ca.cert.subject)
        .issuer_name(ca.cert.subject)
        .public_key(ca.key.public_key())
        .serial_number(12345)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(b"\x01" * 20), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    pem = sign_cms(CONTENT, signer)
    (tmp_path / "s.pem").write_bytes(signer.cert_pem())
    (tmp_path / "ca.pem").write_bytes(twin_cert.public_bytes(Encoding.PEM))
    reference = openssl.verify(pem, tmp_path / "s.pem", tmp_path / "ca.pem")
    with pytest.raises(TokenInvalid) as info:
        verify_cms(pem_to_der(pem), TrustStore([signer.cert], [twin_cert]), now=now)
    assert not reference.ok
    assert info.value.reason.value == reference.reason == "untrusted-signer"
