"""pki.middleware: auth_token's contract, against a PKI-era keystone stand-in over real HTTP."""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ostk.errors import ConfigError
from pki.issuing import sign_token
from pki.middleware import PkiAuthProtocol, filter_factory
from pki.testing import KeystoneStandIn


class Response:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes, environ: dict[str, Any]):
        self.status = status
        self.code = int(status[:3])
        self.headers = dict(headers)
        self.body = body
        self.environ = environ


def downstream(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The service: echoes what it was told about the caller."""
    status = environ.get("test.status", "200 OK")
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]


def call(app: Any, token: str | None = None, **headers: str) -> Response:
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    if token is not None:
        environ["HTTP_X_AUTH_TOKEN"] = token
    for name, value in headers.items():
        environ[name if name.startswith(("HTTP_", "test.")) else "HTTP_" + name.upper()] = value
    seen: list[Any] = []
    body = b"".join(app(environ, lambda status, hdrs, exc=None: seen.append((status, hdrs))))
    return Response(seen[0][0], seen[0][1], body, environ)


def options(ks: KeystoneStandIn, signing_dir: Path, **extra: str) -> dict[str, str]:
    base = {
        "www_authenticate_uri": f"{ks.url}/v3",
        "auth_url": ks.url,
        "auth_type": "password",
        "username": "admin",
        "password": "secret",
        "project_name": "admin",
        "user_domain_id": "default",
        "project_domain_id": "default",
        "signing_dir": str(signing_dir),
        "revocation_cache_time": "0.2",
    }
    base.update(extra)
    return base


@pytest.fixture
def make_filter(keystone: KeystoneStandIn, tmp_path: Path):
    def make(**extra: str) -> PkiAuthProtocol:
        return filter_factory({}, **options(keystone, tmp_path / "signing", **extra))(downstream)
    return make


def test_a_valid_pki_token_gets_auth_tokens_headers_and_environment(keystone, make_filter):
    token = keystone.issue_token("demo")
    response = call(make_filter(), token)
    env = response.environ
    assert response.code == 200
    assert env["HTTP_X_IDENTITY_STATUS"] == "Confirmed"
    user = keystone.users["demo"]
    assert env["HTTP_X_USER_ID"] == user.user_id
    assert env["HTTP_X_USER_NAME"] == env["HTTP_X_USER"] == "demo"
    assert env["HTTP_X_USER_DOMAIN_ID"] == env["HTTP_X_PROJECT_DOMAIN_ID"] == "default"
    assert env["HTTP_X_USER_DOMAIN_NAME"] == env["HTTP_X_PROJECT_DOMAIN_NAME"] == "Default"
    assert env["HTTP_X_PROJECT_NAME"] == env["HTTP_X_TENANT_NAME"] == env["HTTP_X_TENANT"] == "demo"
    assert env["HTTP_X_PROJECT_ID"] == env["HTTP_X_TENANT_ID"]
    assert env["HTTP_X_ROLES"] == env["HTTP_X_ROLE"] == "member"
    assert env["HTTP_X_IS_ADMIN_PROJECT"] == "True"
    assert env["keystone.token_info"]["token"]["user"]["name"] == "demo"
    auth = env["keystone.token_auth"]
    assert auth.has_user_token and not auth.has_service_token
    assert auth.user.user_id == user.user_id and auth.user.auth_token == token
    catalog = json.loads(env["HTTP_X_SERVICE_CATALOG"])
    assert catalog[0]["type"] == "identity" and "publicURL" in catalog[0]["endpoints"][0]


def test_pkiz_and_v2_tokens_are_accepted(keystone, make_filter):
    app = make_filter(include_service_catalog="false")
    pkiz = call(app, keystone.issue_token("demo", token_format="pkiz"))
    v2 = call(app, keystone.issue_token("demo", api="v2.0"))
    assert pkiz.code == v2.code == 200
    assert "HTTP_X_SERVICE_CATALOG" not in pkiz.environ
    assert "access" in v2.environ["keystone.token_info"]
    assert v2.environ["HTTP_X_TENANT_NAME"] == "demo" and v2.environ["HTTP_X_ROLES"] == "member"


def test_spoofed_identity_headers_are_removed_before_anything_else(keystone, make_filter):
    spoof = {
        "X_IDENTITY_STATUS": "Confirmed", "X_ROLES": "admin", "X_ROLE": "admin",
        "X_USER_ID": "root", "X_PROJECT_ID": "victim", "X_SERVICE_ROLES": "service",
        "X_SERVICE_CATALOG": "[]", "X_TENANT_ID": "victim", "X_IS_ADMIN_PROJECT": "True",
    }
    refused = call(make_filter(), None, **spoof)
    assert refused.code == 401
    delayed = call(make_filter(delay_auth_decision="true"), None, **spoof)
    assert delayed.code == 200
    assert delayed.environ["HTTP_X_IDENTITY_STATUS"] == "Invalid"
    for key in spoof:
        if key != "X_IDENTITY_STATUS":
            assert "HTTP_" + key not in delayed.environ, key
    valid = call(make_filter(), keystone.issue_token("demo"), **spoof)
    assert valid.environ["HTTP_X_ROLES"] == "member"
    assert valid.environ["HTTP_X_PROJECT_ID"] != "victim"
    assert "HTTP_X_SERVICE_ROLES" not in valid.environ


def test_invalid_expired_and_garbage_tokens_get_401_with_www_authenticate(keystone, make_filter):
    app = make_filter()
    for token in ("garbage", keystone.issue_token("demo", expires_in=-5), "MII" + "A" * 40, "PKIZ_!!"):
        response = call(app, token)
        assert response.code == 401, token[:20]
        assert response.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.url}/v3"'
        assert json.loads(response.body)["error"]["code"] == 401
    assert call(make_filter(delay_auth_decision="1"), "garbage").environ["HTTP_X_IDENTITY_STATUS"] == "Invalid"


def test_a_401_from_the_application_carries_www_authenticate(keystone, make_filter):
    response = call(make_filter(), keystone.issue_token("demo"), **{"test.status": "401 Unauthorized"})
    assert response.code == 401
    assert response.headers["WWW-Authenticate"].startswith('Keystone uri="')


def test_a_token_signed_by_someone_else_is_rejected(keystone, make_filter, tmp_path):
    with KeystoneStandIn() as other:
        forged = other.issue_token("demo")
    assert call(make_filter(), forged).code == 401


def test_revoked_token_is_refused_after_the_list_refresh_even_when_cached(keystone, make_filter):
    app = make_filter()
    token = keystone.issue_token("demo")
    assert call(app, token).code == 200
    keystone.revoke(token)
    time.sleep(0.3)  # revocation_cache_time = 0.2
    assert call(app, token).code == 401
    assert call(app, keystone.issue_token("demo")).code == 200


def test_revocation_outage_within_max_age_serves_beyond_it_503_never_a_pass(keystone, make_filter):
    app = make_filter(revocation_max_age="1", delay_auth_decision="true")
    token = keystone.issue_token("demo")
    assert call(app, token).code == 200
    with keystone.outage("503", paths=["/v3/auth/tokens/OS-PKI"]):
        time.sleep(0.3)
        assert call(app, token).code == 200  # the list is 0.3 s old: still trusted
        time.sleep(1.0)
        response = call(app, token)
        assert response.code == 503
        assert "HTTP_X_IDENTITY_STATUS" not in response.environ or response.environ[
            "HTTP_X_IDENTITY_STATUS"] != "Confirmed"
        assert call(app, keystone.issue_token("demo")).code == 503
    time.sleep(0.3)
    assert call(app, token).code == 200


def test_certificates_come_from_the_signing_dir_when_present(keystone, tmp_path):
    keystone.write_certificates(_private(tmp_path / "signing"))
    app = filter_factory({}, **options(keystone, tmp_path / "signing"))(downstream)
    assert call(app, keystone.issue_token("demo")).code == 200
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 0


def test_a_rotated_signing_key_is_fetched_again(keystone, make_filter):
    app = make_filter()
    assert call(app, keystone.issue_token("demo")).code == 200
    keystone.rotate_certificates()
    assert call(app, keystone.issue_token("demo")).code == 200
    assert keystone.count("/v3/OS-SIMPLE-CERT/certificates") == 2


def test_tokens_over_8_kib_are_accepted_and_over_64_kib_refused(keystone, make_filter):
    big = keystone.issue_token("demo")
    payload = keystone.payload_of(big)
    payload["token"]["catalog"] += [
        {"type": f"service-{i}", "id": str(i), "endpoints": [
            {"id": f"e{i}", "interface": "public", "region": "RegionOne", "url": f"http://svc-{i}.example/v1"}]}
        for i in range(120)
    ]
    token = sign_token(payload, keystone.signer)
    assert len(token) > 8 * 1024, token[:10]
    response = call(make_filter(), token)
    assert response.code == 200
    assert len(json.loads(response.environ["HTTP_X_SERVICE_CATALOG"])) == 121
    assert call(make_filter(), "MII" + "A" * (70 * 1024)).code == 401


def test_a_pkiz_bomb_is_refused_quickly(make_filter):
    bomb = "PKIZ_" + base64.urlsafe_b64encode(zlib.compress(b"A" * (32 * 1024 * 1024), 9)).decode()
    assert len(bomb) < 64 * 1024
    started = time.monotonic()
    assert call(make_filter(), bomb).code == 401
    assert time.monotonic() - started < 2.0


def test_concurrent_requests_share_one_verification_and_one_list_fetch(keystone, make_filter):
    app = make_filter(revocation_cache_time="30")
    token = keystone.issue_token("demo")
    assert call(app, token).code == 200
    keystone.reset_counts()
    barrier = threading.Barrier(16)

    def one(_: int) -> int:
        barrier.wait()
        return call(app, token).code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(one, range(64)))
    assert codes == [200] * 64
    assert app._verifier is not None and app._verifier.stats.verified == 1
    assert keystone.revocation_fetches == 0


def test_memcached_shares_validated_tokens_between_workers(keystone, make_filter, memcached):
    token = keystone.issue_token("demo")
    first = make_filter(memcached_servers=memcached)
    second = make_filter(memcached_servers=memcached)
    assert call(first, token).code == 200
    response = call(second, token)
    assert response.code == 200 and response.environ["HTTP_X_USER_NAME"] == "demo"
    assert second._verifier is None or second._verifier.stats.verified == 0
    keystone.revoke(token)
    time.sleep(0.3)
    assert call(second, token).code == 401  # a cached token is still checked for revocation


def test_a_memcache_protection_it_cannot_give_keeps_tokens_out_of_memcached(
    keystone, make_filter, memcached, caplog
):
    # auth_token MACs or encrypts what it stores; this filter cannot, so it
    # stores nothing there rather than plain validated tokens (and says so).
    with caplog.at_level(logging.WARNING, logger="pki.middleware"):
        first = make_filter(memcached_servers=memcached, memcache_security_strategy="ENCRYPT",
                            memcache_secret_key="s3cret")
    assert "memcache_security_strategy = ENCRYPT is not implemented" in caplog.text
    second = make_filter(memcached_servers=memcached, memcache_security_strategy="mac")
    token = keystone.issue_token("demo")
    assert call(first, token).code == 200
    assert call(second, token).code == 200
    # Nothing shared: the second filter verified the token itself.
    assert second._verifier is not None and second._verifier.stats.verified == 1
    # "None" is auth_token's word for no protection: memcached is used as asked.
    other = keystone.issue_token("demo")
    plain = [make_filter(memcached_servers=memcached, memcache_security_strategy="None") for _ in range(2)]
    assert [call(app, other).code for app in plain] == [200, 200]
    assert plain[1]._verifier is None or plain[1]._verifier.stats.verified == 0


def test_memcached_down_is_a_cache_miss_not_an_error(keystone, make_filter, free_port):
    app = make_filter(memcached_servers=f"127.0.0.1:{free_port}")
    token = keystone.issue_token("demo")
    started = time.monotonic()
    assert [call(app, token).code for _ in range(5)] == [200] * 5
    assert time.monotonic() - started < 5
    assert app.token_cache.errors >= 1  # type: ignore[attr-defined]


def test_non_pki_tokens_are_validated_online_or_rejected(keystone, make_filter):
    uuid_token = keystone.issue_token("demo", token_format="uuid")
    online = call(make_filter(), uuid_token)
    assert online.code == 200 and online.environ["HTTP_X_USER_NAME"] == "demo"
    assert call(make_filter(), "0" * 32).code == 401
    assert call(make_filter(non_pki_tokens="reject"), uuid_token).code == 401


def test_service_tokens_set_the_service_headers(keystone, make_filter):
    response = call(make_filter(), keystone.issue_token("demo"),
                    X_SERVICE_TOKEN=keystone.issue_token("admin"))
    assert response.environ["HTTP_X_SERVICE_IDENTITY_STATUS"] == "Confirmed"
    assert response.environ["HTTP_X_SERVICE_ROLES"] == "admin"
    assert response.environ["keystone.token_auth"].has_service_token
    bad = call(make_filter(), keystone.issue_token("demo"), X_SERVICE_TOKEN="garbage")
    assert bad.code == 401


def test_unknown_options_warn_and_bad_values_refuse_to_start(keystone, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="pki.middleware"):
        filter_factory({"log_level": "debug"}, **options(keystone, tmp_path, no_such_option="1"))
    assert "no_such_option" in caplog.text and "log_level" not in caplog.text
    for bad in ({"token_cache_time": "-1"}, {"hash_algorithms": "md99"},
                {"delay_auth_decision": "maybe"}, {"auth_url": "ftp://x"}, {"non_pki_tokens": "x"}):
        with pytest.raises(ConfigError):
            filter_factory({}, **options(keystone, tmp_path, **bad))


def test_the_old_admin_options_fetch_the_revocation_list(keystone, tmp_path):
    conf = {"identity_uri": keystone.url, "admin_user": "admin", "admin_password": "secret",
            "admin_tenant_name": "admin", "signing_dir": str(tmp_path / "s"), "auth_uri": keystone.url}
    app = filter_factory({}, **conf)(downstream)
    assert call(app, keystone.issue_token("demo")).code == 200
    assert keystone.revocation_fetches == 1


def test_no_credentials_means_no_revocation_list_so_503(keystone, tmp_path):
    app = filter_factory({}, signing_dir=str(tmp_path / "s"), auth_url=keystone.url)(downstream)
    assert call(app, keystone.issue_token("demo")).code == 503


def _private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def test_a_head_request_is_answered_without_a_body(make_filter):
    environ = {"REQUEST_METHOD": "HEAD", "PATH_INFO": "/"}
    seen: list[Any] = []
    body = b"".join(make_filter()(environ, lambda status, headers, exc=None: seen.append(status)))
    assert seen == ["401 Unauthorized"] and body == b""
