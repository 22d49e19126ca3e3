"""Configuration for other projects' test suites against a running stack.

What devstack writes for them (openstack/devstack ``lib/tempest``,
``functions-common`` write_clouds_yaml), with this stack's URLs and secrets:
tempest's ``tempest.conf`` (identity + object storage) and python-swiftclient's
functional ``test.conf``. openstacksdk reads devstack's clouds.yaml names
(:meth:`stack.Stack.clouds`).
"""
from __future__ import annotations

from pathlib import Path

from stack import keystone, swift
from stack.stack import Stack


def tempest_conf(stack: Stack, workspace: Path) -> str:
    """tempest.conf for ``tempest.api.identity`` and ``tempest.api.object_storage``.

    The values that must match the stack's own configuration come from the
    same constants: keystone's ``[security_compliance]`` and swift's
    container-sync realm.
    """
    admin = stack.admin
    return f"""# Written by ostk (stack.peers.tempest_conf); values as devstack's lib/tempest writes them.
[DEFAULT]
log_file = {workspace / "tempest.log"}
use_stderr = false
debug = false

[oslo_concurrency]
lock_path = {workspace / "locks"}

[auth]
use_dynamic_credentials = true
create_isolated_networks = false
admin_username = admin
admin_password = {admin.password}
admin_project_name = admin
admin_domain_name = Default

[identity]
uri_v3 = {stack.keystone_url}
auth_version = v3
region = RegionOne
user_lockout_failure_attempts = {keystone.LOCKOUT_FAILURE_ATTEMPTS}
user_lockout_duration = {keystone.LOCKOUT_DURATION}
user_unique_last_password_count = {keystone.UNIQUE_LAST_PASSWORD_COUNT}
user_minimum_password_age = {keystone.MINIMUM_PASSWORD_AGE}

[identity-feature-enabled]
security_compliance = true
project_tags = true
application_credentials = true
access_rules = true
trust = true

[service_available]
swift = true
nova = false
neutron = false
glance = false
cinder = false

[object-storage]
region = RegionOne
operator_role = member
reseller_admin_role = ResellerAdmin
realm_name = {swift.SYNC_REALM}
cluster_name = {swift.SYNC_CLUSTER}
container_sync_interval = {swift.CONTAINER_SYNC_INTERVAL}

[object-storage-feature-enabled]
discoverable_apis = all
container_sync = true
object_versioning = true
discoverability = true
"""


def swiftclient_test_conf(stack: Stack) -> str:
    """python-swiftclient's functional test.conf: v1 auth through tempauth (``up --tempauth``)."""
    account, user, password, _groups = swift.TEMPAUTH_USERS[0]
    return f"""# Written by ostk (stack.peers.swiftclient_test_conf).
[func_test]
auth_uri = {stack.swift_url}/auth/v1.0
auth_version = 1
account = {account}
username = {user}
password = {password}
"""
