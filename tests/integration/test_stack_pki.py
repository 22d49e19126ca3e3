"""Swift's proxy with pki.middleware in authtoken's place ('ostk stack up --swift --pki').

PKI tokens are issued by pki.testing's stand-in for the stack's *real*
keystone users and projects (their real ids); the stand-in also serves the
certificates and the signed revocation list on the port the stack's proxy
config names, and takes the swift service user's real keystone token as an
admin token. Swift's keystoneauth then decides exactly as it does behind
keystonemiddleware's authtoken (roles, ACLs by id and by v3 name).
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from ostk.auth import keystone_session
from pki.testing import KeystoneStandIn, StandInUser
from stack import Stack

pytestmark = pytest.mark.integration


class Account:
    def __init__(self, name: str, password: str, user_id: str, project: str, project_id: str, role: str):
        self.name, self.password, self.user_id = name, password, user_id
        self.project, self.project_id, self.role = project, project_id, role


def _real_account(stack: Stack, role: str) -> Account:
    """A new keystone project and user holding ``role`` on it."""
    admin = keystone_session(stack.admin)
    base = stack.keystone_url
    suffix = uuid.uuid4().hex[:8]
    project = admin.post(f"{base}/projects", json={"project": {"name": f"pki-{suffix}", "domain_id": "default"}}
                         ).json()["project"]
    password = uuid.uuid4().hex
    user = admin.post(f"{base}/users", json={"user": {
        "name": f"pki-u-{suffix}", "domain_id": "default", "password": password}}).json()["user"]
    role_id = admin.get(f"{base}/roles", params={"name": role}).json()["roles"][0]["id"]
    admin.put(f"{base}/projects/{project['id']}/users/{user['id']}/roles/{role_id}")
    return Account(user["name"], password, user["id"], project["name"], project["id"], role)


@pytest.fixture(scope="module")
def pki_stack(swift_stack: Stack) -> Iterator[tuple[Stack, KeystoneStandIn]]:
    status = swift_stack.up(pki=True)
    assert status.started == ("proxy",) and status.pki_keystone_url
    port = int(status.pki_keystone_url.rsplit(":", 1)[1])
    admin = keystone_session(swift_stack.admin)

    def real_service_token(token: str) -> bool:
        # The proxy logs in to the real keystone as 'swift'; that token fetches the list.
        answer = admin.get(f"{swift_stack.keystone_url}/auth/tokens", headers={"X-Subject-Token": token},
                           raise_exc=False)
        roles = {r["name"] for r in answer.json().get("token", {}).get("roles", [])} if answer.ok else set()
        return bool(roles & {"admin", "service"})

    with KeystoneStandIn(port=port, accept_token=real_service_token) as keystone:
        try:
            yield swift_stack, keystone
        finally:
            swift_stack.up(pki=False)  # the rest of the session runs behind authtoken again


def _pki_token(keystone: KeystoneStandIn, account: Account, **kw: object) -> str:
    keystone.users[account.name] = StandInUser(
        account.name, account.password, project=account.project, roles=(account.role,),
        id=account.user_id, project_id=account.project_id,
    )
    return keystone.issue_token(account.name, **kw)  # type: ignore[arg-type]


def _url(stack: Stack, account: Account, path: str = "") -> str:
    return f"{stack.swift_url}/v1/AUTH_{account.project_id}{path}"


def test_a_member_puts_and_gets_an_object_with_a_pki_token(pki_stack) -> None:
    stack, keystone = pki_stack
    member = _real_account(stack, "member")
    for fmt in ("pki", "pkiz"):
        token = _pki_token(keystone, member, token_format=fmt)
        headers = {"X-Auth-Token": token}
        assert requests.put(_url(stack, member, "/box"), headers=headers, timeout=60).status_code in (201, 202)
        put = requests.put(_url(stack, member, f"/box/{fmt}"), data=b"hello pki", headers=headers, timeout=60)
        assert put.status_code == 201, put.text
        got = requests.get(_url(stack, member, f"/box/{fmt}"), headers=headers, timeout=60)
        assert got.status_code == 200 and got.content == b"hello pki"


def test_a_user_without_an_operator_role_gets_403(pki_stack) -> None:
    stack, keystone = pki_stack
    reader = _real_account(stack, "reader")
    token = _pki_token(keystone, reader)
    assert requests.put(_url(stack, reader, "/nope"), headers={"X-Auth-Token": token}, timeout=60).status_code == 403


def test_no_or_a_bad_token_gets_401_with_www_authenticate(pki_stack) -> None:
    stack, keystone = pki_stack
    member = _real_account(stack, "member")
    for headers in ({}, {"X-Auth-Token": "MIIgarbage"}, {"X-Auth-Token": _pki_token(keystone, member, expires_in=-1)}):
        answer = requests.get(_url(stack, member), headers=headers, timeout=60)
        assert answer.status_code == 401
        # Swift's keystoneauth adds its realm; authtoken (and we) add keystone's URI.
        assert f'Keystone uri="{stack.keystone_url}"' in answer.headers["WWW-Authenticate"]


def test_keystoneauth_reads_the_identity_as_from_authtoken(pki_stack) -> None:
    """ACLs by ids and by v3 names only work when user/project ids, domains and
    keystone.token_info are what authtoken gave."""
    stack, keystone = pki_stack
    owner, by_id, by_name = (_real_account(stack, "member") for _ in range(3))
    owner_headers = {"X-Auth-Token": _pki_token(keystone, owner)}
    for container, acl in (("by-id", f"{by_id.project_id}:{by_id.user_id}"),
                           ("by-name", f"{by_name.project}:{by_name.name}")):
        put = requests.put(_url(stack, owner, f"/{container}"), timeout=60,
                           headers={**owner_headers, "X-Container-Read": acl})
        assert put.status_code in (201, 202)
        assert requests.put(_url(stack, owner, f"/{container}/o"), data=b"shared", headers=owner_headers,
                            timeout=60).status_code == 201
    for reader, container in ((by_id, "by-id"), (by_name, "by-name")):
        headers = {"X-Auth-Token": _pki_token(keystone, reader)}
        assert requests.get(_url(stack, owner, f"/{container}/o"), headers=headers, timeout=60).content == b"shared"
        other = "by-name" if container == "by-id" else "by-id"
        assert requests.get(_url(stack, owner, f"/{other}/o"), headers=headers, timeout=60).status_code == 403
    # A real keystone (Fernet) token goes online through the same filter.
    fernet = keystone_session(stack.admin).get_token()
    assert requests.head(f"{stack.swift_url}/v1/AUTH_{keystone_session(stack.admin).get_project_id()}",
                         headers={"X-Auth-Token": fernet}, timeout=60).status_code in (200, 204)


def test_a_revoked_token_gets_401_after_the_list_refresh(pki_stack) -> None:
    stack, keystone = pki_stack
    member = _real_account(stack, "member")
    token = _pki_token(keystone, member)
    headers = {"X-Auth-Token": token}
    assert requests.put(_url(stack, member, "/c"), headers=headers, timeout=60).status_code in (201, 202)
    keystone.revoke(token)
    time.sleep(3.5)  # revocation_cache_time = 2 in the stack's proxy config
    assert requests.get(_url(stack, member, "/c"), headers=headers, timeout=60).status_code == 401
    fresh = {"X-Auth-Token": _pki_token(keystone, member)}
    assert requests.get(_url(stack, member, "/c"), headers=fresh, timeout=60).status_code == 204


def test_a_revocation_outage_beyond_max_age_gets_503(pki_stack) -> None:
    stack, keystone = pki_stack
    member = _real_account(stack, "member")
    headers = {"X-Auth-Token": _pki_token(keystone, member)}
    assert requests.head(_url(stack, member), headers=headers, timeout=60).status_code in (200, 204)
    with keystone.outage("close", paths=["/v3/auth/tokens/OS-PKI", "/v2.0/tokens/revoked"]):
        time.sleep(3)
        assert requests.head(_url(stack, member), headers=headers, timeout=60).status_code in (200, 204)  # within 10 s
        time.sleep(9)
        assert requests.head(_url(stack, member), headers=headers, timeout=60).status_code == 503
        assert requests.get(_url(stack, member), headers=headers, timeout=60).status_code == 503
    time.sleep(2.5)
    assert requests.head(_url(stack, member), headers=headers, timeout=60).status_code in (200, 204)
