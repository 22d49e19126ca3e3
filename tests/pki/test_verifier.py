"""The service verifier: verdict cache with TTL, revocation on every call, rotation, threads."""
from __future__ import annotations

import datetime
import threading

import pytest

from ostk.http import HttpSettings, build_session
from pki.certs import TrustStore
from pki.errors import Reason, TokenInvalid
from pki.issuing import create_ca, create_signing_cert, sign_token
from pki.keystone import CertificateCache, KeystoneSource
from pki.revocation import RevocationCache, RevocationList, RevokedToken
from pki.testing import ADMIN_TOKEN, CERT_PATHS
from pki.verifier import Verifier

FAST = HttpSettings(connect_timeout=2, read_timeout=5, retries=1, backoff=0.01)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MutableRevocation:
    """A revocation check whose answer the test changes, counting calls."""

    def __init__(self) -> None:
        self.listing = RevocationList.from_entries([])
        self.calls = 0

    def is_revoked(self, token_ids, audit_ids):
        self.calls += 1
        return self.listing.is_revoked(token_ids, audit_ids)


@pytest.fixture
def trust(keystone):
    return TrustStore([keystone.signer.cert], [keystone.ca.cert])


def test_second_verification_comes_from_the_cache(keystone, trust):
    verifier = Verifier(trust)
    token = keystone.issue_token("demo")
    first = verifier.verify(token)
    second = verifier.verify(token)
    assert second is first
    assert verifier.stats.verified == 1 and verifier.stats.cache_hits == 1


def test_revocation_is_checked_on_every_call_even_when_cached(keystone, trust):
    revocation = MutableRevocation()
    verifier = Verifier(trust, revocation=revocation)
    token = keystone.issue_token("demo")
    verified = verifier.verify(token)
    verifier.verify(token)
    assert revocation.calls == 2
    revocation.listing = RevocationList.from_entries([RevokedToken(verified.token_ids["md5"])])
    with pytest.raises(TokenInvalid) as info:
        verifier.verify(token)
    assert info.value.reason is Reason.REVOKED


def test_revocation_by_audit_id_and_by_second_hash(keystone, trust):
    revocation = MutableRevocation()
    verifier = Verifier(trust, revocation=revocation, hash_algorithms=("md5", "sha256"))
    token = keystone.issue_token("demo")
    verified = verifier.verify(token)
    revocation.listing = RevocationList.from_entries([RevokedToken(verified.token_ids["sha256"])])
    with pytest.raises(TokenInvalid, match="revoked"):
        verifier.verify(token)
    audit = verified.decoded.summary.audit_ids[0]
    revocation.listing = RevocationList.from_entries([RevokedToken("x", audit_id=audit)])
    with pytest.raises(TokenInvalid, match="revoked"):
        verifier.verify(token)


def test_cached_verdict_expires_after_the_ttl(keystone, trust):
    clock = Clock()
    verifier = Verifier(trust, cache_ttl=60, clock=clock)
    token = keystone.issue_token()
    verifier.verify(token)
    clock.now += 59
    verifier.verify(token)
    clock.now += 2
    verifier.verify(token)
    assert verifier.stats.verified == 2 and verifier.stats.cache_hits == 1


def test_cached_token_is_rejected_once_it_expires(keystone, trust):
    verifier = Verifier(trust, cache_ttl=3600)
    token = keystone.issue_token(expires_in=120)
    verifier.verify(token)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=300)
    with pytest.raises(TokenInvalid) as info:
        verifier.verify(token, now=later)
    assert info.value.reason is Reason.EXPIRED


def test_invalid_tokens_are_not_cached(keystone, trust):
    verifier = Verifier(trust)
    for _ in range(2):
        with pytest.raises(TokenInvalid) as info:
            verifier.verify("MIInot-a-token")
        assert info.value.reason is Reason.MALFORMED
    assert verifier.stats.cache_hits == 0


def test_cache_is_bounded(keystone, trust):
    verifier = Verifier(trust, max_cached=2)
    tokens = [keystone.issue_token() for _ in range(3)]
    for token in tokens:
        verifier.verify(token)
    verifier.verify(tokens[0])  # evicted: verified again
    assert verifier.stats.verified == 4


def test_rotation_refetches_certificates_once(keystone, tmp_path):
    source = KeystoneSource(keystone.url, http_session=build_session(FAST))
    verifier = Verifier(certificates=CertificateCache(tmp_path, source))
    verifier.verify(keystone.issue_token())
    keystone.rotate_certificates()
    rotated = keystone.issue_token()
    assert verifier.verify(rotated).decoded.summary.user_name == "admin"
    assert verifier.stats.cert_refreshes == 1
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 2


def test_forged_signer_after_refetch_is_still_unknown(keystone, tmp_path):
    source = KeystoneSource(keystone.url, http_session=build_session(FAST))
    verifier = Verifier(certificates=CertificateCache(tmp_path, source), cert_refresh_interval=3600)
    forger = create_signing_cert(create_ca())
    payload = {"token": {"expires_at": "2099-01-01T00:00:00Z", "user": {"name": "x"}, "audit_ids": ["a"]}}
    for _ in range(3):
        with pytest.raises(TokenInvalid) as info:
            verifier.verify(sign_token(payload, forger))
        assert info.value.reason is Reason.UNKNOWN_SIGNER
    # Only one re-fetch: forged tokens cannot make us hammer keystone.
    assert verifier.stats.cert_refreshes == 1
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 2


def test_unknown_signer_without_a_source_is_not_refetched(keystone, trust):
    keystone.rotate_certificates()
    with pytest.raises(TokenInvalid) as info:
        Verifier(trust).verify(keystone.issue_token())
    assert info.value.reason is Reason.UNKNOWN_SIGNER


def test_threads_share_one_verifier(keystone, trust):
    revocation = MutableRevocation()
    verifier = Verifier(trust, revocation=revocation)
    tokens = [keystone.issue_token(), keystone.issue_token("demo")]
    failures: list[BaseException] = []

    def work():
        try:
            for i in range(50):
                verifier.verify(tokens[i % 2])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    stats = verifier.stats
    assert stats.verified + stats.cache_hits == 200
    assert stats.verified <= 8  # at most one miss per token per thread
    assert revocation.calls == 200


def test_verifier_with_the_revocation_cache_over_http(keystone, tmp_path):
    source = KeystoneSource(keystone.url, http_session=build_session(FAST), token=ADMIN_TOKEN)
    certificates = CertificateCache(tmp_path, source)
    verifier = Verifier(certificates=certificates)
    verifier.revocation = RevocationCache(tmp_path, source.fetch_revocation_list,
                                          lambda: verifier.trust, cache_time=60)
    token = keystone.issue_token("demo")
    for _ in range(10):
        verifier.verify(token)
    assert keystone.revocation_fetches == 1
    assert keystone.count(*CERT_PATHS) == 2


def test_revocation_list_from_a_rotated_key_refreshes_certificates(keystone, tmp_path):
    source = KeystoneSource(keystone.url, http_session=build_session(FAST), token=ADMIN_TOKEN)
    verifier = Verifier(certificates=CertificateCache(tmp_path, source))
    verifier.revocation = RevocationCache(tmp_path, source.fetch_revocation_list, lambda: verifier.trust,
                                          cache_time=0, refresh_trust=verifier.refresh_trust)
    old_token = keystone.issue_token("demo")
    verifier.verify(old_token)
    keystone.rotate_certificates()  # the list is now signed by a key we have not seen
    victim = keystone.issue_token("demo")
    keystone.revoke(victim)
    # The old token still verifies with the old certs; the list, signed by the
    # new key, made the verifier fetch the certificates again.
    verifier.forget()
    assert verifier.verify(old_token)
    assert verifier.stats.cert_refreshes == 1
    assert verifier.revocation.state.stale is False
    with pytest.raises(TokenInvalid) as info:
        verifier.verify(victim)
    assert info.value.reason is Reason.REVOKED
    assert verifier.stats.cert_refreshes == 1
