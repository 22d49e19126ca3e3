"""Shared material for the pki core tests: fixture paths, generated PKI, and openssl as referee.

openssl is the reference implementation here (keystone and keystoneclient
shelled out to it), so tests run the real ``openssl cms`` and compare verdicts.
"""
from __future__ import annotations

import base64
import datetime
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from pki.issuing import KeyPair, create_ca, create_signing_cert
from pki.testing import KeystoneStandIn

#: The clock every comparison with openssl uses (``-attime``): after the 2022
#: keystoneclient certs were issued, before any fixture cert expires.
NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)

FIXTURE_DIRS = ("keystonemiddleware-5.3.0", "keystoneclient-master")


def token_to_pem(text: str) -> str:
    """A PKI/PKIZ token back to CMS PEM, written independently of pki.token."""
    text = text.strip()
    if text.startswith("PKIZ_"):
        return zlib.decompress(base64.urlsafe_b64decode(text[5:])).decode("ascii")
    if text.startswith("-----BEGIN"):
        return text
    body = text.replace("-", "/")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CMS-----\n" + "\n".join(lines) + "\n-----END CMS-----\n"


@dataclass(frozen=True)
class OpensslVerdict:
    ok: bool
    stderr: str
    content: bytes

    @property
    def reason(self) -> str | None:
        """Our Reason value for openssl's error message (None when valid or unmapped)."""
        if self.ok:
            return None
        err = self.stderr.lower()
        table = [
            ("signer certificate not found", "unknown-signer"),
            ("certificate has expired", "cert-not-valid"),
            ("certificate is not yet valid", "cert-not-valid"),
            ("unsupported certificate purpose", "untrusted-signer"),
            ("unsuitable certificate purpose", "untrusted-signer"),
            ("unable to get local issuer certificate", "untrusted-signer"),
            ("unable to get issuer certificate", "untrusted-signer"),
            ("self-signed certificate", "untrusted-signer"),
            ("invalid ca certificate", "untrusted-signer"),
            ("unhandled critical extension", "untrusted-signer"),
            ("certificate signature failure", "untrusted-signer"),
            ("digest failure", "bad-signature"),
            ("content verify error", "bad-signature"),
            ("signature failure", "bad-signature"),
            ("signerinfo_verify:verification failure", "bad-signature"),
            ("decode error", "malformed"),
            ("error reading", "malformed"),
            ("asn1", "malformed"),
        ]
        for needle, reason in table:
            if needle in err:
                return reason
        return "unmapped"


class Openssl:
    """Runs the real openssl binary the way keystoneclient did."""

    def verify(
        self,
        cms_pem: str,
        signing_cert: Path,
        ca_cert: Path,
        *,
        now: datetime.datetime = NOW,
    ) -> OpensslVerdict:
        proc = subprocess.run(
            [
                "openssl", "cms", "-verify",
                "-certfile", str(signing_cert),
                "-CAfile", str(ca_cert),
                "-inform", "PEM",
                "-nosmimecap", "-nodetach", "-nocerts", "-noattr",
                "-attime", str(int(now.timestamp())),
                "-binary",
            ],
            input=cms_pem.encode("ascii"),
            capture_output=True,
            timeout=60,
            check=False,
        )
        return OpensslVerdict(proc.returncode == 0, proc.stderr.decode(errors="replace"),
                              proc.stdout)

    def sign(
        self,
        content: bytes,
        signing_cert: Path,
        signing_key: Path,
        *,
        digest: str = "sha256",
        attributes: bool = False,
        tmp_path: Path,
    ) -> str:
        source = tmp_path / "content.bin"
        source.write_bytes(content)
        args = [
            "openssl", "cms", "-sign", "-in", str(source), "-binary",
            "-nosmimecap", "-nodetach", "-nocerts",
            "-outform", "PEM", "-signer", str(signing_cert), "-inkey", str(signing_key),
            "-md", digest,
        ]
        if not attributes:
            args.append("-noattr")
        proc = subprocess.run(args, capture_output=True, timeout=60, check=True)
        return proc.stdout.decode("ascii")


@pytest.fixture(scope="session")
def openssl() -> Openssl:
    return Openssl()


@pytest.fixture(scope="session")
def pki_fixtures(shared_fixtures: Path) -> Path:
    return shared_fixtures / "pki"


@dataclass(frozen=True)
class Pki:
    """A generated CA and signing cert (RSA 2048, valid around NOW)."""

    ca: KeyPair
    signer: KeyPair


@pytest.fixture(scope="session")
def rsa_pki() -> Pki:
    start = NOW - datetime.timedelta(days=365)
    ca = create_ca(not_before=start, days=3650)
    return Pki(ca, create_signing_cert(ca, not_before=start, days=3650))


@pytest.fixture(scope="session")
def ec_pki() -> Pki:
    start = NOW - datetime.timedelta(days=365)
    ca = create_ca(key_type="ec", not_before=start, days=3650)
    return Pki(ca, create_signing_cert(ca, key_type="ec", not_before=start, days=3650))


def v3_payload(expires: str = "2038-01-18T21:14:07Z", audit_id: str = "audit-1") -> dict:
    return {
        "token": {
            "methods": ["password"],
            "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}],
            "catalog": [{"type": "object-store", "endpoints": []}, {"type": "identity"}],
            "expires_at": expires,
            "issued_at": "2029-12-31T00:00:00.000000Z",
            "audit_ids": [audit_id],
        }
    }


@pytest.fixture
def payload() -> dict:
    return v3_payload()


@pytest.fixture(scope="session")
def now() -> datetime.datetime:
    """The fixed clock shared with openssl's ``-attime``."""
    return NOW


@pytest.fixture(scope="session")
def to_pem():
    """Token → CMS PEM, independently of pki.token (see :func:`token_to_pem`)."""
    return token_to_pem


@pytest.fixture(scope="session")
def make_payload():
    """Build a v3 token payload: ``make_payload(expires=..., audit_id=...)``."""
    return v3_payload


@pytest.fixture(scope="module")
def material():
    """One RSA CA and signing cert per module: key generation is the slow part."""
    ca = create_ca()
    return ca, create_signing_cert(ca)


@pytest.fixture
def keystone(material):
    """A PKI-era keystone stand-in on 127.0.0.1, signing with ``material``."""
    with KeystoneStandIn(ca=material[0], signer=material[1]) as ks:
        yield ks


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def memcached(free_port: int):
    """A real memcached on 127.0.0.1 (Debian's package); yields "host:port"."""
    import os
    import shutil
    import socket
    import time

    program = shutil.which("memcached") or "/usr/bin/memcached"
    argv = [program, "-l", "127.0.0.1", "-p", str(free_port), "-U", "0", "-m", "16"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", free_port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("memcached did not start") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{free_port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
