"""``ostk pki`` under hostile input (issue 17, classes 2, 5 and 10): one line, the right exit, bounded time."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ostk import cli
from ostk.environment import Environment
from pki.issuing import (
    create_ca,
    create_signing_cert,
    sign_cms_der,
    sign_revocation_list,
)
from pki.revocation import RevocationCache, RevocationList, RevocationListError


def run(tmp_path: Path, *argv: str, stdin: bytes = b"") -> tuple[int, str]:
    env = Environment.for_test({"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")},
                               stdin=stdin, cwd=tmp_path)
    started = time.monotonic()
    code = cli.main(list(argv), env=env)
    assert time.monotonic() - started < 20
    err = env.stderr.getvalue()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 1, err
    return code, err


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    ca = create_ca()
    signer = create_signing_cert(ca)
    directory = tmp_path_factory.mktemp("certs")
    (directory / "signing_cert.pem").write_bytes(signer.cert_pem())
    (directory / "cacert.pem").write_bytes(ca.cert_pem())
    (directory / "signing_key.pem").write_bytes(signer.key_pem())
    return ca, signer, directory


@pytest.mark.parametrize("flags", [
    ["--key-size", "1"], ["--key-size", "-5"], ["--key-size", "100000"], ["--key-size", "x"],
    ["--days", "99999999999999"], ["--days", "0"], ["--days", "-3"],
    ["--key-type", "ec", "--key-size", "4096"],
])
def test_setup_arguments_out_of_range_are_usage_errors(tmp_path, flags):
    code, err = run(tmp_path, "pki", "setup", "--dir", str(tmp_path / "out"), *flags)
    assert code == 2 and err.startswith("error:")
    assert not (tmp_path / "out").exists()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_deeply_nested_revocation_list_file_is_refused_cleanly(tmp_path, material):
    _, _, certs = material
    for document in (_nested(100_000), '{"signed": ' + _nested(50_000) + "}"):
        path = tmp_path / "revoked.json"
        path.write_text(document)
        code, err = run(tmp_path, "pki", "revoked", "--revocation-list", str(path),
                        "--signing-cert", str(certs / "signing_cert.pem"), "--ca", str(certs / "cacert.pem"))
        assert code == 3 and "revoked.json" in err


def test_signed_but_deeply_nested_revocation_content_is_refused(material):
    ca, signer, _ = material
    from pki.certs import TrustStore

    content = ('{"revoked": ' + _nested(100_000) + "}").encode()
    der = sign_cms_der(content, signer)
    with pytest.raises(RevocationListError, match="nested"):
        RevocationList.from_signed(der, TrustStore([signer.cert], [ca.cert]))
    shallow_but_deep = ('{"revoked": [' + _nested(100) + "]}").encode()
    with pytest.raises(RevocationListError):
        RevocationList.from_signed(sign_cms_der(shallow_but_deep, signer), TrustStore([signer.cert], [ca.cert]))


def test_a_deeply_nested_payload_to_sign_is_refused(tmp_path, material):
    _, _, certs = material
    for document in ('{"token": ' + _nested(100_000) + "}", '{"token": ' + _nested(200) + "}"):
        code, err = run(tmp_path, "pki", "sign", "-", "--signing-cert", str(certs / "signing_cert.pem"),
                        "--signing-key", str(certs / "signing_key.pem"), stdin=document.encode())
        assert code == 3 and "nested" in err


def test_stale_temp_files_of_a_killed_write_are_cleaned_on_the_next_run(tmp_path, material):
    ca, signer, _ = material
    signing_dir = tmp_path / "signing"
    signing_dir.mkdir(mode=0o700)
    stale = [signing_dir / ".revoked.pem.k1ll3d.tmp", signing_dir / ".signing_cert.pem.abc.tmp"]
    fresh = signing_dir / ".revoked.pem.writing.tmp"
    foreign = signing_dir / ".somebody-elses.pem.x.tmp"
    for path in (*stale, fresh, foreign):
        path.write_text("half a list")
    old = time.time() - 3600
    for path in (*stale, foreign):
        os.utime(path, (old, old))
    from pki.certs import TrustStore

    cache = RevocationCache(signing_dir, lambda: json.dumps({"signed": sign_revocation_list([], signer)}),
                            TrustStore([signer.cert], [ca.cert]))
    assert len(cache.get()) == 0
    assert not any(path.exists() for path in stale)
    assert fresh.exists() and foreign.exists()


@pytest.mark.parametrize("command", ["verify", "revoked"])
def test_a_silent_keystone_is_bounded_by_the_deadline(tmp_path, command):
    from pki.testing import ADMIN_TOKEN, KeystoneStandIn

    with KeystoneStandIn() as keystone, keystone.outage("slow", delay=30):
        token = keystone.issue_token("demo")
        started = time.monotonic()
        argv = ["--timeout", "3", "pki", command]
        argv += [token] if command == "verify" else []
        code, err = run(tmp_path, *argv, "--keystone", keystone.url, "--os-token", ADMIN_TOKEN)
        elapsed = time.monotonic() - started
    assert code == 4, err
    assert elapsed < 10
    assert "127.0.0.1" in err or "keystone" in err
