"""ostk.auth against the real keystone the suite starts (``keystone_stack``)."""
from __future__ import annotations

import dataclasses

import pytest
import yaml
from scripted_server import free_port

from ostk import auth
from ostk.errors import AuthFailed, ConnectionFailed

pytestmark = pytest.mark.integration


def _token(config: auth.AuthConfig) -> str:
    session = auth.keystone_session(config, timeout=20)
    with auth.keystone_errors("getting a token"):
        return session.get_token()


def test_os_variables_give_a_working_session(keystone_stack, tmp_path):
    config = auth.resolve({}, {"HOME": str(tmp_path), **keystone_stack.os_environ()}, tmp_path)
    assert _token(config)


def test_clouds_yaml_gives_a_working_session(keystone_stack, tmp_path):
    admin = keystone_stack.admin
    (tmp_path / "clouds.yaml").write_text(
        yaml.safe_dump(
            {
                "clouds": {
                    "probe": {
                        "auth": {
                            "auth_url": admin.auth_url,
                            "username": admin.username,
                            "password": admin.password,
                            "project_name": admin.project_name,
                            "user_domain_name": "Default",
                            "project_domain_name": "Default",
                        }
                    }
                }
            }
        )
    )
    config = auth.resolve({"cloud": "probe"}, {"HOME": str(tmp_path)}, tmp_path)
    assert _token(config)


def test_devstacks_system_admin_cloud_gives_a_system_scoped_token(keystone_stack, tmp_path):
    # `ostk stack env --write-clouds-yaml` writes devstack's names; the
    # system-admin one has `system_scope: all` and no project.
    from ostk.cli import main

    clouds = tmp_path / "clouds.yaml"
    assert main(["stack", "env", "--dir", str(keystone_stack.directory), "--write-clouds-yaml", str(clouds)]) == 0
    config = auth.resolve({"cloud": "devstack-system-admin"}, {"HOME": str(tmp_path)}, tmp_path)
    assert config.system_scope == "all" and config.project_name is None
    session = auth.keystone_session(config, timeout=20)
    with auth.keystone_errors("getting a token"):
        access = session.auth.get_access(session)
    assert access.system_scoped and not access.project_scoped
    # The same from OS_* variables.
    environ = {k: v for k, v in keystone_stack.os_environ().items() if k != "OS_PROJECT_NAME"}
    config = auth.resolve({}, {"HOME": str(tmp_path), **environ, "OS_SYSTEM_SCOPE": "all"}, tmp_path)
    session = auth.keystone_session(config, timeout=20)
    with auth.keystone_errors("getting a token"):
        assert session.auth.get_access(session).system_scoped


def test_wrong_password_is_auth_failed_exit_4(keystone_stack):
    config = dataclasses.replace(keystone_stack.admin, password="not-the-password")
    with pytest.raises(AuthFailed) as info:
        _token(config)
    assert info.value.exit_status == 4
    assert "not-the-password" not in str(info.value)


def test_unreachable_keystone_is_connection_failed():
    config = auth.AuthConfig(
        auth_url=f"http://127.0.0.1:{free_port()}/v3", username="u", password="p", project_name="p"
    )
    with pytest.raises(ConnectionFailed):
        _token(config)
