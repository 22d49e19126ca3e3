"""The proxy config enables what Swift's functional tests probe for, with keystone auth."""
from __future__ import annotations

import configparser
from pathlib import Path

from stack import swift
from stack.state import Layout, Secrets


def _proxy(tmp_path: Path, memcached_port: int | None, s3api: bool = True) -> configparser.RawConfigParser:
    text = swift.proxy_conf(
        Layout(tmp_path), port=8080, keystone_port=5000, memcached_port=memcached_port,
        secrets=Secrets("a", "service-secret", "s", "p"), s3api=s3api,
    )
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # SERVICE_service_roles is case-sensitive
    parser.read_string(text)
    return parser


def test_pipeline_has_keystone_auth_and_the_functional_test_middlewares(tmp_path: Path) -> None:
    conf = _proxy(tmp_path, 11211)
    pipeline = conf["pipeline:main"]["pipeline"].split()
    for name in ("cache", "authtoken", "s3api", "s3token", "keystoneauth", "staticweb", "domain_remap", "etag-quoter", "symlink",
                 "versioned_writes", "slo", "dlo", "tempurl", "bulk", "container-quotas", "account-quotas"):
        assert name in pipeline, name
        assert f"filter:{name}" in conf, name
    assert pipeline.index("authtoken") < pipeline.index("s3api") < pipeline.index("s3token") < pipeline.index("keystoneauth")
    assert pipeline[-1] == "proxy-server"
    auth = conf["filter:keystoneauth"]
    assert auth["reseller_prefix"] == "AUTH, SERVICE"
    assert auth["operator_roles"] == "admin, member"
    assert auth["SERVICE_service_roles"] == "service"
    token = conf["filter:authtoken"]
    assert token["delay_auth_decision"] == "True"
    assert token["service_token_roles_required"] == "False"
    assert token["password"] == "service-secret"
    assert conf["filter:domain_remap"]["storage_domain"] == swift.STORAGE_DOMAIN
    assert conf["app:proxy-server"]["allow_open_expired"] == "true"
    assert conf["filter:cache"]["memcache_servers"] == "127.0.0.1:11211"


def test_s3_api_is_only_in_the_pipeline_when_asked_for(tmp_path: Path) -> None:
    pipeline = _proxy(tmp_path, 11211, s3api=False)["pipeline:main"]["pipeline"].split()
    assert "s3api" not in pipeline and "s3token" not in pipeline
    assert pipeline.index("authtoken") + 1 == pipeline.index("keystoneauth")


def test_without_memcached_the_proxy_has_no_cache_to_retry(tmp_path: Path) -> None:
    pipeline = _proxy(tmp_path, None)["pipeline:main"]["pipeline"].split()
    assert "cache" not in pipeline and "ratelimit" not in pipeline
    assert "keystoneauth" in pipeline


def test_two_storage_policies(tmp_path: Path) -> None:
    parser = configparser.RawConfigParser()
    parser.read_string(swift.swift_conf(Secrets("a", "b", "suffix", "prefix")))
    assert parser["storage-policy:0"]["default"] == "yes"
    assert parser["storage-policy:1"]["name"] == "silver"
    assert set(swift.ring_names()) == {"account", "container", "object", "object-1"}
