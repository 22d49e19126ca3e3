"""Revocation lists: verified before use, set lookups, and the shared on-disk cache.

The cache tests run against the keystone stand-in over real HTTP and count
the requests it receives.
"""
from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from ostk.errors import ServiceError
from ostk.http import HttpSettings, build_session
from pki.certs import TrustStore
from pki.issuing import create_ca, create_signing_cert, sign_revocation_list
from pki.keystone import KeystoneSource
from pki.revocation import (
    RevocationCache,
    RevocationList,
    RevocationListError,
    RevocationUnavailable,
    RevokedToken,
)
from pki.testing import ADMIN_TOKEN

KSM = "keystonemiddleware-5.3.0"
REVOKED_V3_PKIZ_ID = "dc57ea171d2f93e4ff5fa01fe5711f2a"  # md5 of auth_v3_token_revoked.pkiz


def _fixture_trust(pki_fixtures: Path, directory: str = KSM) -> TrustStore:
    certs = pki_fixtures / directory / "certs"
    return TrustStore.from_files(certs / "signing_cert.pem", certs / "cacert.pem")


# RevocationList ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["revocation_list.pem", "revocation_list.pkiz"])
def test_fixture_list_verifies_and_lists_the_revoked_token(pki_fixtures, name):
    data = (pki_fixtures / KSM / "cms" / name).read_bytes()
    listing = RevocationList.from_signed(data, _fixture_trust(pki_fixtures))
    expected = json.loads((pki_fixtures / KSM / "cms" / "revocation_list.json").read_text())
    assert [e.id for e in listing.entries] == [e["id"] for e in expected["revoked"]]
    assert listing.is_revoked([REVOKED_V3_PKIZ_ID], [])
    assert not listing.is_revoked(["0" * 32], [])


def test_keystone_json_and_der_forms_are_accepted(pki_fixtures):
    pem = (pki_fixtures / KSM / "cms" / "revocation_list.pem").read_text()
    trust = _fixture_trust(pki_fixtures)
    from_json = RevocationList.from_signed(json.dumps({"signed": pem}), trust)
    from pki.cms import pem_to_der

    from_der = RevocationList.from_signed(pem_to_der(pem), trust)
    assert from_json.entries == from_der.entries
    assert len(from_json) == 4


def test_unsigned_json_list_is_refused(pki_fixtures):
    unsigned = (pki_fixtures / KSM / "cms" / "revocation_list.json").read_bytes()
    with pytest.raises(RevocationListError, match="unsigned"):
        RevocationList.from_signed(unsigned, _fixture_trust(pki_fixtures))


def test_trap_directory_list_fails_against_its_own_certs(pki_fixtures):
    # keystoneclient-master's revocation_list.pkiz was signed by the 2013 key.
    data = (pki_fixtures / "keystoneclient-master" / "cms" / "revocation_list.pkiz").read_bytes()
    with pytest.raises(RevocationListError) as info:
        RevocationList.from_signed(data, _fixture_trust(pki_fixtures, "keystoneclient-master"))
    assert info.value.reason is not None


def test_list_signed_by_another_ca_is_refused(rsa_pki):
    other_ca = create_ca()
    other = create_signing_cert(other_ca)
    signed = sign_revocation_list([{"id": "a" * 32}], other)
    trust = TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert])
    with pytest.raises(RevocationListError):
        RevocationList.from_signed(signed, trust)


def test_tampered_signed_content_is_refused(rsa_pki):
    signed = sign_revocation_list([{"id": "a" * 32, "expires": "2030-01-01T00:00:00Z"}], rsa_pki.signer)
    trust = TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert])
    from pki.cms import der_to_pem, pem_to_der

    der = bytearray(pem_to_der(signed))
    index = der.find(b"a" * 32)
    der[index] = ord("b")
    with pytest.raises(RevocationListError):
        RevocationList.from_signed(der_to_pem(bytes(der)), trust)


@pytest.mark.parametrize("data", [b"", b"   ", b"{", b'{"signed": 3}', b"PKIZ_!!!", b"MII***", b"\xff\xfe"])
def test_malformed_inputs_raise_list_errors(rsa_pki, data):
    trust = TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert])
    with pytest.raises(RevocationListError):
        RevocationList.from_signed(data, trust)


def test_lookups_by_any_hash_and_by_audit_id():
    listing = RevocationList.from_entries(
        [RevokedToken("ABCDEF", audit_id="audit-x"), RevokedToken("123456")]
    )
    assert listing.is_revoked(["zzz", "abcdef"], [])  # second algorithm's id matches
    assert listing.is_revoked([], ["audit-x"])
    assert not listing.is_revoked(["zzz"], ["audit-y"])


def test_lookup_cost_does_not_grow_with_list_size():
    small = RevocationList.from_entries(RevokedToken(f"{i:032x}") for i in range(1_000))
    big = RevocationList.from_entries(RevokedToken(f"{i:032x}") for i in range(100_000))
    probe = ["f" * 32]

    def rate(listing):
        start = time.perf_counter()
        for _ in range(20_000):
            listing.is_revoked(probe, ("audit",))
        return time.perf_counter() - start

    rate(small), rate(big)  # warm up
    # A linear scan would make the big list ~100x slower; allow generous noise.
    assert rate(big) < rate(small) * 5 + 0.05


# RevocationCache against the stand-in ---------------------------------------------
FAST = HttpSettings(connect_timeout=2, read_timeout=5, retries=1, backoff=0.01)


def _cache(ks, directory, **kwargs):
    source = KeystoneSource(ks.url, http_session=build_session(FAST), token=ADMIN_TOKEN)
    trust = source.fetch_certificates().trust_store()
    return RevocationCache(directory, source.fetch_revocation_list, trust, **kwargs)


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_signing_dir_is_created_private(keystone, tmp_path):
    cache = _cache(keystone, tmp_path / "signing")
    assert stat.S_IMODE((tmp_path / "signing").stat().st_mode) == 0o700
    assert cache.warnings == []


def test_open_signing_dir_is_warned_about(keystone, tmp_path):
    directory = tmp_path / "signing"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    cache = _cache(keystone, directory)
    assert any("accessible by others" in w for w in cache.warnings)


def test_list_is_fetched_once_per_cache_window(keystone, tmp_path):
    token = keystone.issue_token("demo")
    keystone.revoke(token)
    cache = _cache(keystone, tmp_path, cache_time=60)
    for _ in range(5):
        assert len(cache.get()) == 1
    assert keystone.revocation_fetches == 1
    # A second cache (another process, after a restart) shares the file.
    other = _cache(keystone, tmp_path, cache_time=60)
    assert len(other.get()) == 1
    assert keystone.revocation_fetches == 1
    stored = (tmp_path / "revoked.pem").read_text()
    assert stored.startswith("-----BEGIN CMS-----")  # the *signed* list is kept
    assert stat.S_IMODE((tmp_path / "revoked.pem").stat().st_mode) == 0o600


def test_stale_file_is_refreshed_and_new_revocations_seen(keystone, tmp_path):
    cache = _cache(keystone, tmp_path, cache_time=10)
    assert len(cache.get()) == 0
    token = keystone.issue_token("demo")
    keystone.revoke(token)
    assert len(cache.get()) == 0  # still fresh: no request
    assert keystone.revocation_fetches == 1
    _age(tmp_path / "revoked.pem", 11)
    assert len(cache.get()) == 1
    assert keystone.revocation_fetches == 2


def test_tampered_cache_file_is_rejected_and_refetched(keystone, tmp_path):
    keystone.revoke(keystone.issue_token("demo"))
    cache = _cache(keystone, tmp_path, cache_time=60)
    real_id = cache.get().entries[0].id
    # Forge a list that revokes nothing, signed by a key keystone never had.
    forger = create_signing_cert(create_ca())
    (tmp_path / "revoked.pem").write_text(sign_revocation_list([], forger))
    fresh = _cache(keystone, tmp_path, cache_time=60)
    assert [e.id for e in fresh.get().entries] == [real_id]
    assert keystone.revocation_fetches == 2
    assert "BEGIN CMS" in (tmp_path / "revoked.pem").read_text()


@pytest.mark.parametrize("kind", ["503", "close"])
def test_outage_uses_stale_list_within_max_age(keystone, tmp_path, kind):
    keystone.revoke(keystone.issue_token("demo"))
    cache = _cache(keystone, tmp_path, cache_time=10, max_stale_age=120)
    cache.get()
    _age(tmp_path / "revoked.pem", 60)
    with keystone.outage(kind, paths=["/v3/auth", "/v2.0/tokens"]):
        listing = cache.get()
    assert len(listing) == 1
    assert cache.state.stale and cache.state.age >= 59
    assert cache.state.error


def test_outage_beyond_max_age_fails_closed(keystone, tmp_path):
    cache = _cache(keystone, tmp_path, cache_time=10, max_stale_age=30)
    cache.get()
    _age(tmp_path / "revoked.pem", 31)
    with keystone.outage("503", paths=["/v3/auth", "/v2.0/tokens"]):
        with pytest.raises(RevocationUnavailable, match="old") as info:
            cache.is_revoked(["x"], [])
    assert isinstance(info.value, ServiceError)


def test_outage_without_any_cached_list_fails_closed(keystone, tmp_path):
    cache = _cache(keystone, tmp_path)
    with keystone.outage("close", paths=["/v3/auth", "/v2.0/tokens"]):
        with pytest.raises(RevocationUnavailable, match="none is cached"):
            cache.get()


def test_failed_fetch_is_not_retried_within_the_window(keystone, tmp_path):
    cache = _cache(keystone, tmp_path, cache_time=10, max_stale_age=300)
    cache.get()
    _age(tmp_path / "revoked.pem", 20)
    with keystone.outage("503", paths=["/v3/auth", "/v2.0/tokens"]):
        keystone.reset_counts()
        for _ in range(5):
            cache.get()
        attempts = keystone.revocation_fetches
    # One fetch (plus its retry, and the v2 fallback is not tried on 503).
    assert 1 <= attempts <= 2


def test_list_from_keystone_that_does_not_verify_is_not_cached(keystone, tmp_path):
    cache = _cache(keystone, tmp_path, cache_time=10, max_stale_age=300)
    cache.get()
    before = (tmp_path / "revoked.pem").read_bytes()
    _age(tmp_path / "revoked.pem", 20)
    keystone.rotate_certificates(new_ca=True)  # keystone now signs with a CA we do not trust
    listing = cache.get()  # served from the stale, verified copy
    assert cache.state.stale and "signature" in cache.state.error
    assert (tmp_path / "revoked.pem").read_bytes() == before
    assert len(listing) == 0


def test_readers_never_see_a_torn_file(keystone, tmp_path):
    for i in range(300):
        keystone.revoke_id(f"{i:032x}")
    writer = _cache(keystone, tmp_path, cache_time=0)
    writer.get()
    errors: list[BaseException] = []

    def failing_fetch():
        raise ServiceError("reader never fetches")

    def read():
        reader = RevocationCache(tmp_path, failing_fetch, writer._current_trust(), cache_time=0,
                                 max_stale_age=3600)
        for _ in range(60):
            try:
                assert len(reader.get()) == 300
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in range(10):
        writer.refresh()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []


_WORKER = r"""
import sys, time
from ostk.http import HttpSettings, build_session
from pki.certs import TrustStore
from pki.keystone import KeystoneSource
from pki.revocation import RevocationCache
url, token, directory, signing, ca, start = sys.argv[1:7]
source = KeystoneSource(url, http_session=build_session(HttpSettings(retries=0)), token=token)
cache = RevocationCache(directory, source.fetch_revocation_list,
                        TrustStore.from_files(signing, ca), cache_time=30)
time.sleep(max(0.0, float(start) - time.time()))
deadline = time.time() + 1.0
checks = 0
while time.time() < deadline:
    checks += not cache.is_revoked(["0" * 32], [])
print(checks)
"""


def test_concurrent_processes_fetch_at_most_once_per_window(keystone, tmp_path):
    import subprocess
    import sys

    signing, ca = keystone.write_certificates(tmp_path)
    directory = tmp_path / "signing"
    start = time.time() + 2.0  # all processes begin together, after their imports
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, keystone.url, ADMIN_TOKEN, str(directory),
             str(signing), str(ca), str(start)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), results
    assert all(int(out) > 0 for out, _ in results)
    assert keystone.revocation_fetches == 1


def test_rotated_list_signer_triggers_one_trust_refresh(keystone, tmp_path):
    source = KeystoneSource(keystone.url, http_session=build_session(FAST), token=ADMIN_TOKEN)
    old_trust = source.fetch_certificates().trust_store()
    keystone.rotate_certificates()
    refreshed = []

    def refresh():
        refreshed.append(1)
        return source.fetch_certificates().trust_store()

    cache = RevocationCache(tmp_path, source.fetch_revocation_list, old_trust, refresh_trust=refresh)
    assert len(cache.get()) == 0 and not cache.state.stale
    assert refreshed == [1]


# Fuzz: whatever the bytes, only the documented exception escapes ------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def fuzz_trust():
    ca = create_ca(key_type="ec")
    return TrustStore([create_signing_cert(ca, key_type="ec").cert], [ca.cert])


_PREFIXES = st.sampled_from([b"", b"{", b'{"signed": "', b"-----BEGIN CMS-----\n", b"PKIZ_", b"MII", b"0\x82"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=_PREFIXES, body=st.binary(max_size=300))
def test_any_input_gives_a_list_or_a_list_error(fuzz_trust, prefix, body):
    try:
        RevocationList.from_signed(prefix + body, fuzz_trust)
    except RevocationListError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(["", "PKIZ_", "MII", "-----BEGIN CMS-----\n"]), body=st.text(max_size=200))
def test_any_signed_json_gives_a_list_or_a_list_error(fuzz_trust, prefix, body):
    try:
        RevocationList.from_signed(json.dumps({"signed": prefix + body}), fuzz_trust)
    except RevocationListError:
        pass
