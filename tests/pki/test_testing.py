"""The public keystone stand-in: real HTTP, the PKI-era API shapes, steerable faults."""
from __future__ import annotations

import socket

import pytest
import requests

from ostk.auth import AuthConfig, keystone_session
from pki.certs import TrustStore
from pki.errors import Reason, TokenInvalid
from pki.revocation import RevocationList
from pki.testing import ADMIN_TOKEN, KeystoneStandIn
from pki.token import decode
from pki.verify import verify_token


def _trust(ks):
    return TrustStore([ks.signer.cert], [ks.ca.cert])


def test_binds_loopback_on_a_free_port_and_stops():
    with KeystoneStandIn() as a, KeystoneStandIn() as b:
        assert a.url.startswith("http://127.0.0.1:") and a.port != b.port
        port = a.port
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_v3_password_login_issues_a_pki_token(keystone):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "password": "secret", "domain": {"id": "default"}}}},
        "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
    response = requests.post(keystone.url + "/v3/auth/tokens", json=body, timeout=10)
    assert response.status_code == 201
    token = response.headers["X-Subject-Token"]
    assert token.startswith("MII")
    verified = verify_token(token, _trust(keystone))
    assert verified.payload == response.json()
    assert verified.decoded.summary.user_name == "demo"
    assert verified.decoded.summary.project_name == "demo"
    assert keystone.count("/v3/auth/tokens") == 1


def test_v2_login_issues_a_pkiz_token_with_the_id_in_the_body():
    with KeystoneStandIn(token_format="pkiz") as ks:
        body = {"auth": {"passwordCredentials": {"username": "admin", "password": "secret"},
                         "tenantName": "admin"}}
        response = requests.post(ks.url + "/v2.0/tokens", json=body, timeout=10)
        assert response.status_code == 200
        token = response.json()["access"]["token"]["id"]
        assert token.startswith("PKIZ_")
        decoded = decode(token)
        assert decoded.format == "pkiz" and decoded.summary.version == "v2"
        assert decoded.payload["access"]["token"]["id"] == "placeholder"  # as keystone signed it
        verify_token(token, _trust(ks))


def test_wrong_password_is_401(keystone):
    body = {"auth": {"passwordCredentials": {"username": "admin", "password": "nope"}}}
    assert requests.post(keystone.url + "/v2.0/tokens", json=body, timeout=10).status_code == 401


def test_keystoneauth_discovers_and_logs_in(keystone):
    session = keystone_session(AuthConfig(auth_url=keystone.url + "/v3", username="admin",
                                          password="secret", project_name="admin"))
    token = session.get_token()
    verify_token(token, _trust(keystone))
    assert keystone.count("/v3") == 1  # version discovery happened over HTTP


def test_certificates_are_served_on_both_api_versions(keystone):
    for path in ("/v3/OS-SIMPLE-CERT/certificates", "/v2.0/certificates/signing"):
        assert requests.get(keystone.url + path, timeout=10).content == keystone.signing_cert_pem
    for path in ("/v3/OS-SIMPLE-CERT/ca", "/v2.0/certificates/ca"):
        assert requests.get(keystone.url + path, timeout=10).content == keystone.ca_pem


def test_revocation_list_is_signed_and_needs_an_admin_token(keystone):
    url = keystone.url + "/v3/auth/tokens/OS-PKI/revoked"
    assert requests.get(url, timeout=10).status_code == 401
    victim = keystone.issue_token("demo")
    keystone.revoke(victim)
    demo = keystone.issue_token("demo")
    assert requests.get(url, headers={"X-Auth-Token": demo}, timeout=10).status_code == 403
    response = requests.get(url, headers={"X-Auth-Token": ADMIN_TOKEN}, timeout=10)
    listing = RevocationList.from_signed(response.content, _trust(keystone))
    verified = verify_token(victim, _trust(keystone))
    assert listing.is_revoked(list(verified.token_ids.values()), [])
    assert listing.is_revoked([], verified.decoded.summary.audit_ids)
    with pytest.raises(TokenInvalid) as info:
        verify_token(victim, _trust(keystone), revocation=listing)
    assert info.value.reason is Reason.REVOKED


def test_outages_and_counts(keystone):
    url = keystone.url + "/v3/OS-SIMPLE-CERT/ca"
    with keystone.outage("503"):
        assert requests.get(url, timeout=10).status_code == 503
    with keystone.outage("close"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=10)
    with keystone.outage("503", paths=["/v2.0"]):
        assert requests.get(url, timeout=10).status_code == 200
    assert keystone.count(url.replace(keystone.url, "")) == 3
    keystone.reset_counts()
    assert keystone.count() == 0


def test_rotation_with_a_new_ca_invalidates_old_trust(keystone):
    old = _trust(keystone)
    keystone.rotate_certificates(new_ca=True)
    token = keystone.issue_token()
    with pytest.raises(TokenInvalid):
        verify_token(token, old)
    verify_token(token, _trust(keystone))


def test_disabled_v3_answers_404_and_discovery_lists_only_v2(keystone):
    keystone.disabled_apis.add("v3")
    assert requests.get(keystone.url + "/v3/OS-SIMPLE-CERT/ca", timeout=10).status_code == 404
    versions = requests.get(keystone.url + "/", timeout=10).json()["versions"]["values"]
    assert [v["id"] for v in versions] == ["v2.0"]


def test_write_certificates(keystone, tmp_path):
    signing, ca = keystone.write_certificates(tmp_path)
    verify_token(keystone.issue_token(), TrustStore.from_files(signing, ca))
