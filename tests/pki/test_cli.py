"""``ostk pki ...`` in-process: verdicts, exit codes and JSON for every path.

Real fixture tokens are judged against openssl (the reference keystone used);
``--keystone`` paths run against the keystone stand-in over real HTTP.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path

import pytest

from ostk import cli
from ostk.cli import pki as pki_cli
from ostk.environment import Environment
from ostk.http import HttpSettings
from pki.testing import ADMIN_TOKEN

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "pki"
KSM = SHARED / "keystonemiddleware-5.3.0"
KSC = SHARED / "keystoneclient-master"
NOW = "2030-01-01T00:00:00Z"  # the clock openssl judges with below


def _certs(directory: Path) -> list[str]:
    return ["--signing-cert", str(directory / "certs" / "signing_cert.pem"),
            "--ca", str(directory / "certs" / "cacert.pem")]


def _tokens(directory: Path) -> list[Path]:
    return sorted(p for p in (directory / "cms").iterdir()
                  if p.suffix in (".pem", ".pkiz") and not p.name.startswith("revocation_list"))


class Result:
    def __init__(self, code: int, env: Environment) -> None:
        self.code = code
        self.out = env.stdout.getvalue()
        self.err = env.stderr.getvalue()

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def run(tmp_path, monkeypatch):
    # Fast retries: outage tests should not sleep through a real backoff.
    monkeypatch.setattr(pki_cli, "HTTP_SETTINGS",
                        HttpSettings(connect_timeout=2, read_timeout=5, retries=1, backoff=0.01))

    def _run(*argv: str, environ: dict | None = None, stdin: bytes = b"") -> Result:
        base = {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
        env = Environment.for_test({**base, **(environ or {})}, stdin=stdin, cwd=tmp_path)
        code = cli.main(list(argv), env=env)
        result = Result(code, env)
        assert "Traceback" not in result.err
        return result

    return _run


# Fixture tokens against openssl ------------------------------------------------------
@pytest.mark.parametrize("path", _tokens(KSM) + _tokens(KSC), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_fixture_verdicts_match_openssl(run, openssl, to_pem, path):
    directory = path.parent.parent
    result = run("pki", "verify", f"@{path}", *_certs(directory), "--now", NOW, "--json")
    document = result.json
    reference = openssl.verify(to_pem(path.read_text()), directory / "certs" / "signing_cert.pem",
                               directory / "certs" / "cacert.pem")
    # openssl judges the signature only; an expired token is still well signed.
    signature_ok = document["valid"] or document["reason"] == "expired"
    assert signature_ok == reference.ok, (document, reference.stderr)
    assert result.code == (0 if document["valid"] else 1)
    if directory == KSC and path.suffix == ".pkiz":
        assert document["reason"] == "bad-signature"  # the trap: signed by the 2013 key
    elif "expired" in path.name:
        assert document["reason"] == "expired"


@pytest.mark.parametrize("path", [p for p in _tokens(KSM) if "expired" not in p.name], ids=lambda p: p.name)
def test_valid_fixture_payload_equals_its_json(run, path):
    result = run("pki", "verify", f"@{path}", *_certs(KSM), "--now", "2020-01-01", "--json")
    assert result.code == 0
    document = result.json
    assert document["payload"] == json.loads(path.with_suffix(".json").read_text())
    assert set(document) >= {"valid", "reason", "format", "token_ids", "payload", "expires"}
    assert document["valid"] is True and document["reason"] is None
    assert document["token_ids"]["md5"] == hashlib.md5(path.read_text().strip().encode()).hexdigest()


def test_revoked_fixture_is_rejected_with_the_fixture_list(run):
    token = KSM / "cms" / "auth_v3_token_revoked.pkiz"
    for listing in ("revocation_list.pem", "revocation_list.pkiz"):
        result = run("pki", "verify", f"@{token}", *_certs(KSM), "--revocation-list",
                     str(KSM / "cms" / listing), "--json")
        assert result.code == 1
        assert result.json["reason"] == "revoked"
        assert result.json["format"] == "pkiz"
        assert result.json["token_ids"] == {"md5": "dc57ea171d2f93e4ff5fa01fe5711f2a"}


def test_unrevoked_fixture_passes_the_fixture_list(run):
    token = KSM / "cms" / "auth_v3_token_scoped.pkiz"
    result = run("pki", "verify", f"@{token}", *_certs(KSM), "--revocation-list",
                 str(KSM / "cms" / "revocation_list.pem"))
    assert result.code == 0
    assert result.out.startswith("valid PKIZ token")


def test_revoked_by_second_hash_algorithm(run, tmp_path, rsa_pki, make_payload):
    from pki.issuing import sign_revocation_list, sign_token

    token = sign_token(make_payload(), rsa_pki.signer)
    sha = hashlib.sha256(token.encode()).hexdigest()
    listing = tmp_path / "revoked.json"
    listing.write_text(json.dumps({"signed": sign_revocation_list([{"id": sha}], rsa_pki.signer)}))
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "signing_cert.pem").write_bytes(rsa_pki.signer.cert_pem())
    (certs / "cacert.pem").write_bytes(rsa_pki.ca.cert_pem())
    args = ["pki", "verify", token, *_certs(tmp_path), "--now", NOW, "--revocation-list", str(listing)]
    assert run(*args).code == 0  # md5 only: not listed
    result = run(*args, "--hash-algorithm", "md5", "--hash-algorithm", "sha256", "--json")
    assert result.code == 1 and result.json["reason"] == "revoked"
    assert set(result.json["token_ids"]) == {"md5", "sha256"}


# Bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "token",
    ["", "   ", "hello world", "MIIB", "MIIBxyz=", "PKIZ_", "PKIZ_eJw!!", "PKIZ_" + "A" * 30,
     "-----BEGIN CMS-----\nnope\n-----END CMS-----"],
)
def test_malformed_tokens_exit_1_with_json(run, token):
    result = run("pki", "verify", token, *_certs(KSM), "--json")
    assert result.code == 1
    assert result.json["valid"] is False and result.json["reason"] == "malformed"
    assert result.json["token_ids"]["md5"] == hashlib.md5(token.strip().encode()).hexdigest()


def test_huge_token_from_stdin_is_malformed(run):
    result = run("pki", "verify", "-", *_certs(KSM), "--json", stdin=b"MII" + b"A" * (3 * 1024 * 1024))
    assert result.code == 1 and result.json["reason"] == "malformed"


def test_non_utf8_token_file_is_malformed(run, tmp_path):
    (tmp_path / "t").write_bytes(b"\xff\xfe\x00garbage")
    result = run("pki", "verify", f"@{tmp_path / 't'}", *_certs(KSM))
    assert result.code == 1 and "malformed" in result.out


def test_token_from_stdin_and_file_agree(run):
    path = KSM / "cms" / "auth_token_scoped.pkiz"
    from_stdin = run("pki", "verify", "-", *_certs(KSM), "--json", stdin=path.read_bytes())
    from_file = run("pki", "verify", f"@{path}", *_certs(KSM), "--json")
    assert from_stdin.code == from_file.code == 0
    assert from_stdin.json == from_file.json


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["@/nonexistent/token"], 3, "cannot read"),
        (["MIIB", "--signing-cert", "/nonexistent.pem", "--ca", "/nonexistent.pem"], 3, ""),
        (["MIIB"], 2, "--keystone"),
        (["MIIB", "--signing-cert", str(KSM / "certs" / "signing_cert.pem")], 2, "--ca"),
        (["MIIB", "--now", "yesterday"], 2, "ISO"),
        (["MIIB", "--hash-algorithm", "nope"], 2, "nope"),
    ],
)
def test_usage_and_local_file_errors(run, args, code, message):
    result = run("pki", "verify", *args)
    assert result.code == code
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_garbage_certificate_file_is_exit_3(run, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    result = run("pki", "verify", "MIIB", "--signing-cert", str(bad), "--ca", str(bad))
    assert result.code == 3


@pytest.mark.parametrize("content", [b"", b"garbage", b'{"revoked": []}'])
def test_bad_revocation_list_file_is_exit_3(run, tmp_path, content):
    listing = tmp_path / "list"
    listing.write_bytes(content)
    token = KSM / "cms" / "auth_token_scoped.pkiz"
    result = run("pki", "verify", f"@{token}", *_certs(KSM), "--revocation-list", str(listing))
    assert result.code == 3


def test_revocation_list_signed_by_others_is_exit_3(run):
    # The trap directory's list is signed by the 2013 key, not its own certs.
    token = KSC / "cms" / "auth_token_scoped.pem"
    result = run("pki", "verify", f"@{token}", *_certs(KSC), "--revocation-list",
                 str(KSC / "cms" / "revocation_list.pkiz"))
    assert result.code == 3


def test_now_judges_expiry_and_certificates_at_that_time(run, tmp_path, rsa_pki, make_payload):
    from pki.issuing import sign_token

    token = sign_token(make_payload(expires="2030-06-01T00:00:00Z"), rsa_pki.signer)
    (tmp_path / "signing_cert.pem").write_bytes(rsa_pki.signer.cert_pem())
    (tmp_path / "cacert.pem").write_bytes(rsa_pki.ca.cert_pem())
    certs = ["--signing-cert", str(tmp_path / "signing_cert.pem"), "--ca", str(tmp_path / "cacert.pem")]
    assert run("pki", "verify", token, *certs, "--now", "2030-01-01T00:00:00").code == 0
    late = run("pki", "verify", token, *certs, "--now", "2030-07-01T00:00:00+00:00", "--json")
    assert late.code == 1 and late.json["reason"] == "expired"
    early = run("pki", "verify", token, *certs, "--now", "2020-01-01", "--json")
    assert early.code == 1 and early.json["reason"] == "cert-not-valid"


# decode / hash -------------------------------------------------------------------------
def test_decode_is_marked_unverified(run):
    token = KSM / "cms" / "auth_v3_token_scoped.pkiz"
    result = run("pki", "decode", f"@{token}")
    assert result.code == 0
    assert "UNVERIFIED" in result.out.splitlines()[0]
    assert "user_name1" in result.out
    document = run("pki", "decode", f"@{token}", "--json").json
    assert document["verified"] is False
    assert document["payload"] == json.loads(token.with_suffix(".json").read_text())
    assert document["summary"]["audit_ids"] == ["SLIXlXQUQZWUi9VJrqdXqA"]


def test_decode_does_not_check_signatures(run):
    # The trap token fails verification but decodes: decode never verifies.
    result = run("pki", "decode", f"@{KSC / 'cms' / 'auth_token_scoped.pkiz'}", "--json")
    assert result.code == 0 and result.json["verified"] is False


def test_decode_malformed_exit_1(run):
    result = run("pki", "decode", "PKIZ_notzlib", "--json")
    assert result.code == 1 and result.json["reason"] == "malformed"


def test_hash_matches_hashlib(run):
    token = (KSM / "cms" / "auth_v3_token_revoked.pkiz").read_text()
    result = run("pki", "hash", token + "\n", "--algorithm", "md5", "--algorithm", "sha256", "--json")
    assert result.json["token_ids"] == {
        "md5": "dc57ea171d2f93e4ff5fa01fe5711f2a",
        "sha256": hashlib.sha256(token.strip().encode()).hexdigest(),
    }
    text = run("pki", "hash", token)
    assert text.out == "md5  dc57ea171d2f93e4ff5fa01fe5711f2a\n"
    assert run("pki", "hash", token, "--algorithm", "shake_128").code == 2


# revoked -------------------------------------------------------------------------------
def test_revoked_shows_a_verified_file(run):
    result = run("pki", "revoked", "--revocation-list", str(KSM / "cms" / "revocation_list.pem"),
                 *_certs(KSM), "--json")
    assert result.code == 0
    assert result.json["count"] == 4
    assert result.json["revoked"][0]["id"] == "dc57ea171d2f93e4ff5fa01fe5711f2a"


def test_revoked_from_keystone_with_a_token(run, keystone):
    keystone.revoke(keystone.issue_token("demo"))
    result = run("pki", "revoked", "--keystone", keystone.url, "--os-token", ADMIN_TOKEN)
    assert result.code == 0
    assert result.out.startswith("1 revoked token(s) (signature verified)")


# --keystone and --check-revocation against the stand-in ---------------------------------
def test_verify_with_certificates_from_keystone(run, keystone, tmp_path):
    token = keystone.issue_token("demo")
    signing_dir = tmp_path / "signing"
    args = ["pki", "verify", token, "--keystone", keystone.url + "/v3", "--signing-dir", str(signing_dir)]
    assert run(*args).code == 0
    assert stat.S_IMODE(signing_dir.stat().st_mode) == 0o700
    assert (signing_dir / "signing_cert.pem").is_file()
    assert run(*args).code == 0
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 1  # cached in the signing dir


def test_verify_after_rotation_refetches(run, keystone, tmp_path):
    args = ["--keystone", keystone.url, "--signing-dir", str(tmp_path / "s")]
    assert run("pki", "verify", keystone.issue_token(), *args).code == 0
    keystone.rotate_certificates()
    assert run("pki", "verify", keystone.issue_token(), *args).code == 0
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 2


def test_v2_only_keystone(run, keystone, tmp_path):
    keystone.disabled_apis.add("v3")
    token = keystone.issue_token("demo", api="v2.0")
    victim = keystone.issue_token("demo", api="v2.0")
    keystone.revoke(victim)
    args = ["--keystone", keystone.url, "--signing-dir", str(tmp_path / "s"),
            "--check-revocation", "--os-token", ADMIN_TOKEN, "--json"]
    assert run("pki", "verify", token, *args).code == 0
    result = run("pki", "verify", victim, *args)
    assert result.code == 1 and result.json["reason"] == "revoked"
    assert keystone.count("/v2.0/tokens/revoked") == 1


def test_check_revocation_with_os_password_credentials(run, keystone, tmp_path):
    victim = keystone.issue_token("demo")
    keystone.revoke(victim)
    environ = {"OS_AUTH_URL": keystone.url + "/v3", "OS_USERNAME": "admin", "OS_PASSWORD": "secret",
               "OS_PROJECT_NAME": "admin"}
    result = run("pki", "verify", victim, "--keystone", keystone.url, "--signing-dir",
                 str(tmp_path / "s"), "--check-revocation", "--json", environ=environ)
    assert result.code == 1 and result.json["reason"] == "revoked"
    assert "secret" not in result.out + result.err


def test_check_revocation_with_clouds_yaml(run, keystone, tmp_path):
    (tmp_path / "clouds.yaml").write_text(
        "clouds:\n  pkitest:\n    auth:\n"
        f"      auth_url: {keystone.url}/v3\n      username: admin\n      password: secret\n"
        "      project_name: admin\n"
    )
    result = run("pki", "verify", keystone.issue_token("demo"), "--check-revocation",
                 "--signing-dir", str(tmp_path / "s"), "--keystone", keystone.url,
                 environ={"OS_CLOUD": "pkitest"})
    assert result.code == 0
    assert keystone.revocation_fetches == 1


def test_check_revocation_cache_time_is_honoured(run, keystone, tmp_path):
    args = ["--keystone", keystone.url, "--signing-dir", str(tmp_path / "s"), "--check-revocation",
            "--os-token", ADMIN_TOKEN, "--revocation-cache-time", "60"]
    token = keystone.issue_token("demo")
    for _ in range(3):
        assert run("pki", "verify", token, *args).code == 0
    assert keystone.revocation_fetches == 1
    keystone.revoke(token)
    assert run("pki", "verify", token, *args).code == 0  # the cached list is still fresh
    os.utime(tmp_path / "s" / "revoked.pem", (time.time() - 61,) * 2)
    assert run("pki", "verify", token, *args).code == 1
    assert keystone.revocation_fetches == 2


def test_outage_with_stale_list_within_and_beyond_max_age(run, keystone, tmp_path):
    args = ["--keystone", keystone.url, "--signing-dir", str(tmp_path / "s"), "--check-revocation",
            "--os-token", ADMIN_TOKEN, "--revocation-max-age", "100", "--json"]
    token = keystone.issue_token("demo")
    assert run("pki", "verify", token, *args).code == 0
    listing = tmp_path / "s" / "revoked.pem"
    os.utime(listing, (time.time() - 50,) * 2)
    with keystone.outage("503", paths=["/v3/auth/tokens/OS-PKI", "/v2.0/tokens"]):
        within = run("pki", "verify", token, *args)
        assert within.code == 0 and within.json["valid"] is True
        assert "revocation list" in within.err and "old" in within.err
        os.utime(listing, (time.time() - 101,) * 2)
        beyond = run("pki", "verify", token, *args)
    assert beyond.code == 4
    assert beyond.out == ""  # never a "valid" verdict
    assert "old" in beyond.err


def test_unreachable_keystone_is_exit_4(run, keystone, tmp_path):
    url = keystone.url
    keystone.stop()
    result = run("pki", "verify", "MIIB", "--keystone", url, "--signing-dir", str(tmp_path / "s"))
    assert result.code == 4
    assert "cannot reach" in result.err


def test_tampered_cached_list_is_refetched_by_the_cli(run, keystone, tmp_path):
    args = ["--keystone", keystone.url, "--signing-dir", str(tmp_path / "s"), "--check-revocation",
            "--os-token", ADMIN_TOKEN]
    victim = keystone.issue_token("demo")
    keystone.revoke(victim)
    assert run("pki", "verify", victim, *args).code == 1
    (tmp_path / "s" / "revoked.pem").write_text("-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n")
    assert run("pki", "verify", victim, *args).code == 1
    assert keystone.revocation_fetches == 2


def test_check_revocation_without_credentials_is_a_config_error(run, keystone, tmp_path):
    result = run("pki", "verify", "MIIB", "--keystone", keystone.url, "--signing-dir",
                 str(tmp_path / "s"), "--check-revocation")
    assert result.code == 3
    assert "credentials" in result.err


# setup / sign ----------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [[], ["--pkiz"]])
def test_setup_sign_verify_round_trip(run, tmp_path, extra, make_payload):
    assert run("pki", "setup", "--dir", str(tmp_path / "pki"), "--key-type", "ec").code == 0
    assert stat.S_IMODE((tmp_path / "pki" / "private").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "pki" / "private" / "signing_key.pem").stat().st_mode) == 0o600
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(make_payload()))
    signed = run("pki", "sign", str(payload), "--signing-cert", str(tmp_path / "pki/certs/signing_cert.pem"),
                 "--signing-key", str(tmp_path / "pki/private/signing_key.pem"), *extra)
    assert signed.code == 0
    token = signed.out.strip()
    assert token.startswith("PKIZ_" if extra else "MII")
    result = run("pki", "verify", token, *_certs(tmp_path / "pki"), "--now", NOW, "--json")
    assert result.code == 0 and result.json["payload"] == make_payload()


def test_sign_refuses_a_non_json_payload(run, tmp_path):
    run("pki", "setup", "--dir", str(tmp_path / "pki"), "--key-type", "ec")
    payload = tmp_path / "payload.json"
    payload.write_text("not json")
    result = run("pki", "sign", str(payload), "--signing-cert", str(tmp_path / "pki/certs/signing_cert.pem"),
                 "--signing-key", str(tmp_path / "pki/private/signing_key.pem"))
    assert result.code == 3


def test_help_texts_explain_exit_codes(run):
    result = run("pki", "verify", "--help")
    assert result.code == 0
    assert "Exit 0 valid" in result.out and "--check-revocation" in result.out
    assert "UNVERIFIED" in run("pki", "decode", "--help").out


@pytest.mark.parametrize("kind", ["slow", "truncate", "close"])
def test_keystone_faults_are_exit_4_with_one_line(run, keystone, tmp_path, monkeypatch, kind):
    monkeypatch.setattr(pki_cli, "HTTP_SETTINGS",
                        HttpSettings(connect_timeout=1, read_timeout=0.3, retries=0))
    with keystone.outage(kind, delay=1.0):
        result = run("pki", "verify", "MIIB", "--keystone", keystone.url, "--signing-dir",
                     str(tmp_path / "s"))
    assert result.code == 4
    assert len(result.err.strip().splitlines()) == 1


def test_open_signing_dir_is_warned_about_once(run, keystone, tmp_path):
    signing_dir = tmp_path / "open"
    signing_dir.mkdir()
    os.chmod(signing_dir, 0o755)
    result = run("pki", "verify", keystone.issue_token(), "--keystone", keystone.url, "--signing-dir",
                 str(signing_dir), "--check-revocation", "--os-token", ADMIN_TOKEN)
    assert result.code == 0
    assert result.err.count("accessible by others") == 1


def test_revoked_without_any_source_is_a_config_error(run):
    result = run("pki", "revoked")
    assert result.code == 3
    assert "needs a keystone" in result.err


def test_password_flags_log_in_to_the_keystone_given(run, keystone, tmp_path):
    # No OS_AUTH_URL: --keystone is where we log in (version discovery at its root).
    victim = keystone.issue_token("demo")
    keystone.revoke(victim)
    result = run("pki", "verify", victim, "--keystone", keystone.url, "--signing-dir", str(tmp_path / "s"),
                 "--check-revocation", "--os-username", "admin", "--os-password", "secret",
                 "--os-project-name", "admin", "--json")
    assert result.code == 1 and result.json["reason"] == "revoked"
    assert keystone.count("/v3/auth/tokens") == 1
