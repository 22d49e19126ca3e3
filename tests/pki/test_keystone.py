"""Fetching certificates and revocation lists from a (stand-in) PKI-era keystone over HTTP."""
from __future__ import annotations

import stat

import pytest

from ostk.auth import AuthConfig, keystone_session
from ostk.errors import AuthFailed, ConnectionFailed, HTTPError, NotFound, ServiceError
from ostk.http import HttpSettings, build_session
from pki.keystone import CertificateCache, KeystoneSource, keystone_root, signing_dir_for
from pki.revocation import RevocationList
from pki.testing import ADMIN_TOKEN, CERT_PATHS
from pki.verify import verify_token

FAST = HttpSettings(connect_timeout=2, read_timeout=5, retries=1, backoff=0.01)


def _source(ks, **kwargs):
    kwargs.setdefault("http_session", build_session(FAST))
    return KeystoneSource(ks.url, **kwargs)


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("http://h:5000", "http://h:5000"),
        ("http://h:5000/", "http://h:5000"),
        ("http://h:5000/v3/", "http://h:5000"),
        ("http://h:5000/identity/v2.0", "http://h:5000/identity"),
        ("http://h/v3x", "http://h/v3x"),
    ],
)
def test_keystone_root_strips_the_version(url, root):
    assert keystone_root(url) == root


def test_certificates_come_from_v3_and_verify_tokens(keystone):
    fetched = _source(keystone).fetch_certificates()
    assert fetched.api == "v3"
    assert fetched.signing_pem == keystone.signing_cert_pem
    token = keystone.issue_token("demo")
    assert verify_token(token, fetched.trust_store()).decoded.summary.user_name == "demo"
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates", "/v3/OS-SIMPLE-CERT/ca") == 2
    assert keystone.count("/v2.0/certificates/signing") == 0


def test_v2_only_keystone_is_used_after_v3_404(keystone):
    keystone.disabled_apis.add("v3")
    fetched = _source(keystone).fetch_certificates()
    assert fetched.api == "v2.0"
    assert fetched.ca_pem == keystone.ca_pem
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 1
    assert keystone.count("/v2.0/certificates/signing", "/v2.0/certificates/ca") == 2
    signed = _source(keystone, token=ADMIN_TOKEN).fetch_revocation_list()
    assert RevocationList.from_signed(signed, fetched.trust_store()).entries == ()
    assert keystone.count("/v2.0/tokens/revoked") == 1


def test_no_pki_api_at_all_is_not_found(keystone):
    keystone.disabled_apis.update({"v3", "v2.0"})
    with pytest.raises(NotFound):
        _source(keystone).fetch_certificates()


def test_revocation_list_with_a_keystoneauth_admin_session(keystone):
    victim = keystone.issue_token("demo")
    keystone.revoke(victim)
    session = keystone_session(AuthConfig(auth_url=keystone.url + "/v3", username="admin",
                                          password="secret", project_name="admin"))
    source = KeystoneSource(keystone.url, auth_session=session)
    trust = source.fetch_certificates().trust_store()
    listing = RevocationList.from_signed(source.fetch_revocation_list(), trust)
    assert len(listing) == 1
    assert keystone.count("/v3/auth/tokens") == 1  # logged in once, over HTTP


def test_revocation_list_refused_to_a_non_admin(keystone):
    demo = keystone.issue_token("demo")
    with pytest.raises(AuthFailed) as info:
        _source(keystone, token=demo).fetch_revocation_list()
    assert info.value.status == 403


def test_revocation_list_refused_to_a_revoked_token(keystone):
    admin = keystone.issue_token("admin")
    keystone.revoke(admin)
    with pytest.raises(AuthFailed) as info:
        _source(keystone, token=admin).fetch_revocation_list()
    assert info.value.status == 401


def test_revocation_list_needs_credentials(keystone):
    with pytest.raises(ServiceError, match="admin credentials"):
        _source(keystone).fetch_revocation_list()


def test_bad_password_through_keystoneauth_is_auth_failed(keystone):
    session = keystone_session(AuthConfig(auth_url=keystone.url + "/v3", username="admin",
                                          password="wrong", project_name="admin"))
    with pytest.raises(AuthFailed):
        KeystoneSource(keystone.url, auth_session=session).fetch_revocation_list()


def test_503_after_retries_is_an_http_error(keystone):
    with keystone.outage("503"):
        with pytest.raises(HTTPError) as info:
            _source(keystone).fetch_certificates()
    assert info.value.status == 503
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 2  # one retry


def test_dropped_connection_is_connection_failed(keystone):
    with keystone.outage("close"):
        with pytest.raises(ServiceError):
            _source(keystone).fetch_certificates()


def test_unreachable_keystone_is_connection_failed(keystone):
    url = keystone.url
    keystone.stop()
    with pytest.raises(ConnectionFailed):
        KeystoneSource(url, http_session=build_session(FAST)).fetch_certificates()


def test_slow_keystone_times_out(keystone):
    settings = HttpSettings(connect_timeout=1, read_timeout=0.3, retries=0)
    with keystone.outage("slow", delay=1.0):
        with pytest.raises(ServiceError, match="did not answer in time"):
            KeystoneSource(keystone.url, http_session=build_session(settings)).fetch_certificates()


def test_certificate_cache_fetches_once_and_survives_restarts(keystone, tmp_path):
    directory = tmp_path / "signing"
    first = CertificateCache(directory, _source(keystone)).trust()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert (directory / "signing_cert.pem").read_bytes() == keystone.signing_cert_pem
    again = CertificateCache(directory, _source(keystone)).trust()
    assert keystone.count(*CERT_PATHS) == 2
    token = keystone.issue_token()
    verify_token(token, first)
    verify_token(token, again)


def test_certificate_cache_refresh_picks_up_rotation(keystone, tmp_path):
    cache = CertificateCache(tmp_path, _source(keystone))
    cache.trust()
    keystone.rotate_certificates()
    token = keystone.issue_token()
    verify_token(token, cache.refresh())
    assert (tmp_path / "signing_cert.pem").read_bytes() == keystone.signing_cert_pem


def test_corrupted_cached_certificates_are_fetched_again(keystone, tmp_path):
    cache = CertificateCache(tmp_path, _source(keystone))
    cache.trust()
    (tmp_path / "signing_cert.pem").write_text("garbage")
    verify_token(keystone.issue_token(), cache.trust())
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 2


def test_default_signing_dir_is_per_keystone(tmp_path):
    a = signing_dir_for(tmp_path, "http://127.0.0.1:5000/v3")
    b = signing_dir_for(tmp_path, "http://127.0.0.1:35357/")
    assert a != b and a.parent == tmp_path / "pki"
    assert signing_dir_for(tmp_path, "http://127.0.0.1:5000") == a


def test_truncated_answer_is_a_service_error(keystone):
    from ostk.errors import TruncatedDownload

    with keystone.outage("truncate", paths=["/v3/OS-SIMPLE-CERT"]):
        with pytest.raises(TruncatedDownload):
            _source(keystone).fetch_certificates()
