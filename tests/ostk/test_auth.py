"""Resolving keystone credentials from flags, OS_* variables and clouds.yaml."""
from __future__ import annotations

import argparse

import pytest

from ostk import auth
from ostk.errors import ConfigError

CLOUDS = """
clouds:
  devstack:
    auth:
      auth_url: http://keystone.example:5000/v3
      username: admin
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    verify: false
  other:
    auth:
      auth_url: http://other:5000/v3
      username: demo
      password: demo-pw
"""
SECURE = """
clouds:
  devstack:
    auth:
      password: from-secure-yaml
"""


@pytest.fixture
def home(tmp_path):
    config = tmp_path / ".config" / "openstack"
    config.mkdir(parents=True)
    (config / "clouds.yaml").write_text(CLOUDS)
    (config / "secure.yaml").write_text(SECURE)
    return tmp_path


def test_os_variables_are_used_without_a_cloud(tmp_path):
    environ = {
        "HOME": str(tmp_path),
        "OS_AUTH_URL": "http://127.0.0.1:5000/v3",
        "OS_USERNAME": "admin",
        "OS_PASSWORD": "pw",
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_INSECURE": "true",
    }
    config = auth.resolve({}, environ, tmp_path)
    assert (config.auth_url, config.username, config.password, config.project_name) == (
        "http://127.0.0.1:5000/v3", "admin", "pw", "admin",
    )
    assert config.user_domain_name == "Default"
    assert config.insecure is True
    config.require_auth()


def test_tenant_name_is_an_alias_for_project_name(tmp_path):
    config = auth.resolve({}, {"HOME": str(tmp_path), "OS_TENANT_NAME": "demo"}, tmp_path)
    assert config.project_name == "demo"


def test_cloud_from_clouds_yaml_merges_secure_yaml(home):
    config = auth.resolve({"cloud": "devstack"}, {"HOME": str(home)}, home)
    assert config.auth_url == "http://keystone.example:5000/v3"
    assert config.password == "from-secure-yaml"
    assert config.region_name == "RegionOne"
    assert config.insecure is True
    assert config.cloud == "devstack"


def test_os_cloud_variable_selects_the_cloud_and_ignores_other_os_vars(home):
    environ = {"HOME": str(home), "OS_CLOUD": "other", "OS_USERNAME": "ignored"}
    config = auth.resolve({}, environ, home)
    assert config.username == "demo"
    assert config.password == "demo-pw"


def test_flags_override_the_cloud(home):
    config = auth.resolve({"cloud": "other", "username": "flag-user"}, {"HOME": str(home)}, home)
    assert config.username == "flag-user"
    assert config.auth_url == "http://other:5000/v3"


def test_clouds_yaml_in_the_current_directory_comes_first(home, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("project")
    (cwd / "clouds.yaml").write_text("clouds:\n  other:\n    auth:\n      auth_url: http://local:5000\n")
    config = auth.resolve({"cloud": "other"}, {"HOME": str(home)}, cwd)
    assert config.auth_url == "http://local:5000"


def test_unknown_cloud_is_a_config_error(home):
    with pytest.raises(ConfigError) as info:
        auth.resolve({"cloud": "nope"}, {"HOME": str(home)}, home)
    assert "'nope' not found" in str(info.value)


def test_broken_clouds_yaml_is_a_config_error(tmp_path):
    (tmp_path / "clouds.yaml").write_text("clouds: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        auth.resolve({"cloud": "x"}, {"HOME": str(tmp_path)}, tmp_path)
    assert "not valid YAML" in str(info.value)


def test_missing_credentials_are_named():
    with pytest.raises(ConfigError, match="no keystone URL"):
        auth.AuthConfig(username="u", password="p").require_auth()
    with pytest.raises(ConfigError, match="no credentials"):
        auth.AuthConfig(auth_url="http://k").require_auth()


def test_password_and_token_are_not_in_repr():
    config = auth.AuthConfig(auth_url="http://k", username="u", password="hunter2", token="tok123")
    assert "hunter2" not in repr(config) and "tok123" not in repr(config)


def test_flags_from_args_reads_the_added_arguments():
    parser = argparse.ArgumentParser()
    auth.add_auth_arguments(parser)
    args = parser.parse_args(["--os-cloud", "c", "--os-username", "u", "--insecure"])
    assert auth.flags_from_args(args) == {"cloud": "c", "username": "u", "insecure": True}
