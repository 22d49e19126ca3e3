"""A generated matrix of good and bad tokens: our verdict equals ``openssl cms -verify``'s.

Dimensions: RSA and EC keys; SHA-1/224/256/384/512; signed attributes absent
or present (signed by us, and by ``openssl cms -sign`` itself); untouched,
tampered content, tampered signature; and certificate situations (wrong CA,
expired / not yet valid signer or CA, key usage and extended key usage,
X.509 v1 + SHA-1 signer, a CA that may not sign certs, an unknown signer).
"""
from __future__ import annotations

import datetime
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from pki.certs import TrustStore
from pki.cms import der_to_pem, pem_to_der, verify_cms
from pki.errors import TokenInvalid
from pki.issuing import KeyPair, create_ca, create_signing_cert, sign_cms, write_setup

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)  # == conftest.NOW
YEAR = datetime.timedelta(days=365)
DIGESTS = ("sha1", "sha224", "sha256", "sha384", "sha512")
CONTENT = json.dumps({"token": {"user": {"name": "alice"}, "expires_at": "2038-01-18T21:14:07Z"}}).encode()

EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
ANY_EKU = "2.5.29.37.0"


@dataclass(frozen=True)
class Setup:
    signer: KeyPair
    signing_cert: Path  # the -certfile: the certs the verifier knows
    signing_key: Path
    ca_cert: Path
    trust: TrustStore
    signer_cert: Path  # the cert that really signs (differs for unknown-signer)


def _write(directory: Path, signer: KeyPair, signing_certs, ca_certs) -> Setup:
    directory.mkdir(parents=True, exist_ok=True)
    signing = directory / "signing_cert.pem"
    key = directory / "signing_key.pem"
    ca = directory / "cacert.pem"
    signing.write_bytes(b"".join(c.public_bytes(_PEM) for c in signing_certs))
    ca.write_bytes(b"".join(c.public_bytes(_PEM) for c in ca_certs))
    key.write_bytes(signer.key_pem())
    own = directory / "signer.pem"
    own.write_bytes(signer.cert_pem())
    return Setup(signer, signing, key, ca, TrustStore(signing_certs, ca_certs), own)


from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402

_PEM = Encoding.PEM

CERT_CASES = (
    "good",
    "wrong-ca",
    "unknown-signer",
    "signer-expired",
    "signer-not-yet-valid",
    "ca-expired",
    "ku-key-encipherment-only",
    "ku-non-repudiation-only",
    "no-key-usage",
    "eku-server-auth",
    "eku-email-protection",
    "eku-any",
    "v1-sha1-signer",
    "ca-without-cert-sign",
    "signer-is-ca",
    "self-signed-untrusted",
)


def _build(kind: str, case: str, root: Path) -> Setup:
    start = NOW - YEAR
    ca = _cas(kind)["main"]
    other = _cas(kind)["other"]

    def signer(**kw):
        opts = {"key_type": kind, "not_before": start, "days": 3650}
        opts.update(kw)
        return create_signing_cert(kw.pop("issuer", ca), **{k: v for k, v in opts.items() if k != "issuer"})

    directory = root / kind / case
    if case == "good":
        s = signer()
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "wrong-ca":
        s = signer()
        return _write(directory, s, [s.cert], [other.cert])
    if case == "unknown-signer":
        s = signer()
        decoy = signer(common_name="decoy")
        return _write(directory, s, [decoy.cert], [ca.cert])
    if case == "signer-expired":
        s = signer(not_before=NOW - 3 * YEAR, days=365)
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "signer-not-yet-valid":
        s = signer(not_before=NOW + YEAR, days=365)
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "ca-expired":
        old = create_ca("old CA", key_type=kind, not_before=NOW - 3 * YEAR, days=365)
        s = create_signing_cert(old, key_type=kind, not_before=NOW - 3 * YEAR, days=3650)
        return _write(directory, s, [s.cert], [old.cert])
    if case == "ku-key-encipherment-only":
        s = signer(key_usage=("key_agreement",) if kind == "ec" else ("key_encipherment",))
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "ku-non-repudiation-only":
        s = signer(key_usage=("non_repudiation",))
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "no-key-usage":
        s = signer(key_usage=None)
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "eku-server-auth":
        s = signer(extended_key_usage=[SERVER_AUTH])
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "eku-email-protection":
        s = signer(extended_key_usage=[SERVER_AUTH, EMAIL_PROTECTION])
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "eku-any":
        s = signer(extended_key_usage=[ANY_EKU])
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "v1-sha1-signer":
        s = signer(version1=True, digest="sha1")
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "ca-without-cert-sign":
        bad = _cas(kind)["no-cert-sign"]
        s = create_signing_cert(bad, key_type=kind, not_before=start, days=3650)
        return _write(directory, s, [s.cert], [bad.cert])
    if case == "signer-is-ca":
        s = signer(basic_constraints_ca=True, key_usage=("digital_signature", "key_cert_sign"))
        return _write(directory, s, [s.cert], [ca.cert])
    if case == "self-signed-untrusted":
        return _write(directory, other, [other.cert], [ca.cert])
    raise AssertionError(case)


_CA_CACHE: dict[str, dict[str, KeyPair]] = {}


def _cas(kind: str) -> dict[str, KeyPair]:
    if kind not in _CA_CACHE:
        start = NOW - 2 * YEAR
        main = create_ca("matrix CA", key_type=kind, not_before=start)
        other = create_ca("other CA", key_type=kind, not_before=start)
        # A v3 CA whose keyUsage lacks keyCertSign: build it as a "signing cert"
        # that is self-issued, using create_signing_cert's bad-usage knobs.
        no_sign = _self_signed_without_cert_sign(kind, start)
        _CA_CACHE[kind] = {"main": main, "other": other, "no-cert-sign": no_sign}
    return _CA_CACHE[kind]


def _self_signed_without_cert_sign(kind: str, start: datetime.datetime) -> KeyPair:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from pki.issuing import _new_key  # private, but it is ours and this is test-only setup

    key = _new_key(kind, 2048 if kind == "rsa" else 256)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA that may not sign certs")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + 10 * YEAR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, True, False, False),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert, key)


@pytest.fixture(scope="module")
def setups(tmp_path_factory):
    root = tmp_path_factory.mktemp("matrix")
    cache: dict[tuple[str, str], Setup] = {}

    def get(kind: str, case: str) -> Setup:
        if (kind, case) not in cache:
            cache[(kind, case)] = _build(kind, case, root)
        return cache[(kind, case)]

    return get


def _tamper_content(pem: str) -> str:
    der = pem_to_der(pem)
    assert der.count(b"alice") == 1
    return der_to_pem(der.replace(b"alice", b"alicf"))


def _tamper_signature(pem: str) -> str:
    der = bytearray(pem_to_der(pem))
    der[-1] ^= 0x01  # the signature is the last field of the last SignerInfo
    return der_to_pem(bytes(der))


def _ours(pem: str, trust: TrustStore) -> tuple[bool, str | None]:
    try:
        content = verify_cms(pem_to_der(pem), trust, now=NOW)
    except TokenInvalid as exc:
        return False, exc.reason.value
    assert content in (CONTENT,)
    return True, None


def _compare(pem: str, setup: Setup, openssl) -> tuple[bool, str | None]:
    reference = openssl.verify(pem, setup.signing_cert, setup.ca_cert, now=NOW)
    ours = _ours(pem, setup.trust)
    assert ours == (reference.ok, reference.reason), reference.stderr
    return ours


SIGNATURE_CASES = list(
    itertools.product(("rsa", "ec"), DIGESTS, ("none", "ours", "openssl"), ("intact", "content", "signature"))
)


@pytest.mark.parametrize(("kind", "digest", "attributes", "mutation"), SIGNATURE_CASES)
def test_signature_matrix_matches_openssl(kind, digest, attributes, mutation, setups, openssl, tmp_path):
    setup = setups(kind, "good")
    if attributes == "openssl":
        pem = openssl.sign(CONTENT, setup.signer_cert, setup.signing_key, digest=digest,
                           attributes=True, tmp_path=tmp_path)
        assert b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x04" in pem_to_der(pem)  # has messageDigest
    else:
        pem = sign_cms(CONTENT, setup.signer, digest=digest, signed_attributes=attributes == "ours")
    if mutation == "content":
        pem = _tamper_content(pem)
    elif mutation == "signature":
        pem = _tamper_signature(pem)
    verdict = _compare(pem, setup, openssl)
    assert verdict[0] == (mutation == "intact")


#: what the cert situation must lead to (and openssl must agree: checked in the test)
EXPECTED = {
    "good": None,
    "wrong-ca": "untrusted-signer",
    "unknown-signer": "unknown-signer",
    "signer-expired": "cert-not-valid",
    "signer-not-yet-valid": "cert-not-valid",
    "ca-expired": "cert-not-valid",
    "ku-key-encipherment-only": "untrusted-signer",
    "ku-non-repudiation-only": None,
    "no-key-usage": None,
    "eku-server-auth": "untrusted-signer",
    "eku-email-protection": None,
    "eku-any": "untrusted-signer",
    "v1-sha1-signer": None,
    "ca-without-cert-sign": "untrusted-signer",
    "signer-is-ca": None,
    "self-signed-untrusted": "untrusted-signer",
}


@pytest.mark.parametrize(("kind", "case", "attributes"),
                         list(itertools.product(("rsa", "ec"), CERT_CASES, ("none", "ours", "openssl"))))
def test_certificate_matrix_matches_openssl(kind, case, attributes, setups, openssl, tmp_path):
    setup = setups(kind, case)
    if attributes == "openssl":
        pem = openssl.sign(CONTENT, setup.signer_cert, setup.signing_key, attributes=True,
                           tmp_path=tmp_path)
    else:
        pem = sign_cms(CONTENT, setup.signer, signed_attributes=attributes == "ours")
    _ok, reason = _compare(pem, setup, openssl)
    assert reason == EXPECTED[case]


def test_keystone_style_setup_directory_verifies_with_openssl(tmp_path, openssl):
    paths = write_setup(tmp_path / "pki", digest="sha1")
    ca = TrustStore.from_files(paths.signing_cert, paths.ca_cert)
    signer = KeyPair(
        ca.signing_certs[0],
        __import__("pki.certs", fromlist=["load_private_key"]).load_private_key(
            paths.signing_key.read_bytes(), "key"
        ),
    )
    pem = sign_cms(CONTENT, signer, digest="sha1")
    reference = openssl.verify(pem, paths.signing_cert, paths.ca_cert,
                               now=datetime.datetime.now(datetime.timezone.utc))
    assert reference.ok, reference.stderr
    assert verify_cms(pem_to_der(pem), ca, now=datetime.datetime.now(datetime.timezone.utc)) == CONTENT
