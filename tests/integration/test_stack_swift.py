"""A real swift behind keystoneauth, started through stack."""
from __future__ import annotations

import json
import socket
import subprocess
import uuid

import pytest
import requests
import swiftclient

from ostk.auth import keystone_session
from stack import PortInUse, Stack, local_stack, processes

pytestmark = pytest.mark.integration


def _user_with_role(stack: Stack, role: str) -> tuple[str, str, str]:
    """A new project and user holding ``role`` on it: (user name, password, project id)."""
    admin = keystone_session(stack.admin)
    base = stack.keystone_url
    suffix = uuid.uuid4().hex[:8]
    project = admin.post(f"{base}/projects", json={"project": {"name": f"p-{suffix}", "domain_id": "default"}}).json()["project"]
    password = uuid.uuid4().hex
    user = admin.post(f"{base}/users", json={"user": {
        "name": f"u-{suffix}", "domain_id": "default", "password": password}}).json()["user"]
    role_id = admin.get(f"{base}/roles", params={"name": role}).json()["roles"][0]["id"]
    admin.put(f"{base}/projects/{project['id']}/users/{user['id']}/roles/{role_id}")
    return user["name"], password, project["id"]


def _connection(stack: Stack, user: str, password: str, project_id: str) -> swiftclient.Connection:
    return swiftclient.Connection(
        authurl=stack.keystone_url, user=user, key=password, auth_version="3", retries=0,
        os_options={"project_id": project_id, "user_domain_id": "default"},
    )


def test_a_keystone_member_can_put_and_get_an_object(swift_stack: Stack) -> None:
    user, password, project_id = _user_with_role(swift_stack, "member")
    conn = _connection(swift_stack, user, password, project_id)
    url, _token = conn.get_auth()
    assert url == f"{swift_stack.swift_url}/v1/AUTH_{project_id}"
    conn.put_container("box")
    conn.put_object("box", "greeting", b"hello swift")
    headers, body = conn.get_object("box", "greeting")
    assert body == b"hello swift"
    assert headers["content-length"] == "11"


def test_a_user_without_an_operator_role_is_refused(swift_stack: Stack) -> None:
    user, password, project_id = _user_with_role(swift_stack, "reader")
    conn = _connection(swift_stack, user, password, project_id)
    with pytest.raises(swiftclient.ClientException) as caught:
        conn.put_container("forbidden")
    assert caught.value.http_status == 403


def test_anonymous_requests_are_refused(swift_stack: Stack) -> None:
    answer = requests.get(f"{swift_stack.swift_url}/v1/AUTH_nobody/c", timeout=30)
    assert answer.status_code == 401


S3_SCRIPT = """
import json, sys
import boto3
from botocore.config import Config
access, secret, endpoint = sys.argv[1:4]
s3 = boto3.client("s3", aws_access_key_id=access, aws_secret_access_key=secret, endpoint_url=endpoint,
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
s3.create_bucket(Bucket="s3box")
s3.put_object(Bucket="s3box", Key="k", Body=b"via s3")
body = s3.get_object(Bucket="s3box", Key="k")["Body"].read().decode()
print(json.dumps({"body": body, "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]]}))
"""


def test_s3_api_with_keystone_ec2_credentials_when_asked_for(swift_stack: Stack) -> None:
    # Its own stack: the session's proxy keeps S3 off, as Swift's functional
    # tests expect unless test.conf holds an EC2 credential.
    assert "s3api" not in requests.get(f"{swift_stack.swift_url}/info", timeout=30).json()
    with local_stack(swift=True, s3api=True) as stack:
        assert stack.status().s3api
        user, password, project_id = _user_with_role(stack, "member")
        admin = keystone_session(stack.admin)
        user_id = admin.get(f"{stack.keystone_url}/users", params={"name": user}).json()["users"][0]["id"]
        credential = admin.post(
            f"{stack.keystone_url}/users/{user_id}/credentials/OS-EC2", json={"tenant_id": project_id}
        ).json()["credential"]
        # boto3 lives in the swift venv (swift-functest.txt), where the functional tests run.
        result = subprocess.run(
            [str(stack.swift_python), "-c", S3_SCRIPT, credential["access"], credential["secret"], stack.swift_url],
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert json.loads(result.stdout) == {"body": "via s3", "buckets": ["s3box"]}
        # The same object through the Swift API of that project.
        _headers, body = _connection(stack, user, password, project_id).get_object("s3box", "k")
        assert body == b"via s3"

        # Turning it off restarts just the proxy.
        status = stack.up(s3api=False)
        assert status.started == ("proxy",) and not status.s3api
        assert "s3api" not in requests.get(f"{stack.swift_url}/info", timeout=30).json()


def test_info_advertises_the_middlewares_the_functional_tests_need(swift_stack: Stack) -> None:
    info = requests.get(f"{swift_stack.swift_url}/info", timeout=30).json()
    for name in ("staticweb", "domain_remap", "symlink", "slo", "tempurl", "bulk_upload",
                 "account_quotas", "container_quotas", "versioned_writes", "object_versioning", "etag_quoter"):
        assert name in info, name
    assert {p["name"] for p in info["swift"]["policies"]} == {"gold", "silver"}
    assert info["swift"]["version"].startswith(swift_stack.swift_version)
    assert swift_stack.swift_python.is_file()


def test_a_failure_midway_stops_what_that_up_started(swift_stack: Stack) -> None:
    records = swift_stack.process_records()
    for name in ("proxy", "object"):
        processes.stop(records[name])
    with socket.socket() as holder:
        # The proxy's port is taken by a stranger: up restarts the object
        # server, then must fail on the proxy and stop the object server again.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", swift_stack.swift_port))
        holder.listen()
        with pytest.raises(PortInUse, match=f"proxy: port 127.0.0.1:{swift_stack.swift_port} is already in use"):
            swift_stack.up(swift=True)
        status = {s.name: s for s in swift_stack.status().services}
        assert not status["object"].running and not status["proxy"].running
        assert status["keystone"].running and status["account"].running
        assert "object" not in swift_stack.process_records()
    restored = swift_stack.up(swift=True)
    assert set(restored.started) == {"object", "proxy"}
    assert restored.running
