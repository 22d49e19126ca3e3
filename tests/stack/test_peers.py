"""Config written for other projects' suites agrees with the stack's own configuration."""
from __future__ import annotations

import configparser
from pathlib import Path

import yaml

from ostk.auth import write_clouds
from stack import Stack, keystone, swift
from stack.peers import swiftclient_test_conf, tempest_conf
from stack.state import Layout, Secrets


def _stack(tmp_path: Path) -> Stack:
    stack = Stack(tmp_path / "stack", keystone_port=15999, swift_port=18999)
    stack.layout.root.mkdir()
    import json
    from dataclasses import asdict
    stack.layout.secrets_file.write_text(json.dumps(asdict(Secrets.generate())))
    return stack


def test_tempest_conf_declares_what_keystone_and_swift_are_configured_with(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    tempest = configparser.ConfigParser()
    tempest.read_string(tempest_conf(stack, tmp_path))
    ks = configparser.ConfigParser(interpolation=None)
    ks.read_string(keystone.config_text(Layout(tmp_path), 15999))
    compliance = ks["security_compliance"]
    assert tempest["identity"]["user_lockout_failure_attempts"] == compliance["lockout_failure_attempts"]
    assert tempest["identity"]["user_lockout_duration"] == compliance["lockout_duration"]
    assert tempest["identity"]["user_unique_last_password_count"] == compliance["unique_last_password_count"]
    assert tempest["identity"]["user_minimum_password_age"] == compliance["minimum_password_age"]
    assert tempest["identity"]["uri_v3"] == "http://127.0.0.1:15999/v3"
    realms = configparser.ConfigParser()
    realms.read_string(swift.container_sync_realms(18999))
    realm = tempest["object-storage"]["realm_name"]
    assert realm in realms and f"cluster_{tempest['object-storage']['cluster_name']}" in realms[realm]


def test_swiftclient_conf_uses_a_tempauth_account_the_proxy_serves(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    conf = configparser.ConfigParser()
    conf.read_string(swiftclient_test_conf(stack))
    proxy = swift.proxy_conf(stack.layout, port=18999, keystone_port=15999, memcached_port=None,
                             secrets=Secrets.generate(), tempauth=True)
    served = configparser.ConfigParser(interpolation=None)
    served.read_string(proxy)
    func = conf["func_test"]
    assert served["filter:tempauth"][f"user_{func['account']}_{func['username']}"].split()[0] == func["password"]
    assert " tempauth " in served["pipeline:main"]["pipeline"]
    assert " crossdomain " in served["pipeline:main"]["pipeline"]


def test_devstack_cloud_names_are_written_beside_existing_clouds(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"mine": {"auth": {"auth_url": "http://x"}}}}))

    write_clouds(path, stack.clouds())

    clouds = yaml.safe_load(path.read_text())["clouds"]
    assert set(clouds) == {"mine", "ostk-local", "devstack", "devstack-admin", "devstack-alt", "devstack-system-admin"}
    assert clouds["devstack"]["auth"]["username"] == "demo" and clouds["devstack"]["auth"]["project_name"] == "demo"
    assert clouds["devstack-alt"]["auth"]["project_name"] == "alt_demo"
    assert clouds["devstack-system-admin"]["auth"]["system_scope"] == "all"
    assert "project_name" not in clouds["devstack-system-admin"]["auth"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
