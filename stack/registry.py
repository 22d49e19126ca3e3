"""Swift's entries in keystone: service project and user, roles, catalog.

Every step is get-or-create, so running it again (after a crash half-way,
or on a later ``up``) changes nothing that is already right.
"""
from __future__ import annotations

from typing import Any

from ostk.auth import AuthConfig, keystone_errors, keystone_session
from ostk.catalog import OBJECT_STORE_NAME, OBJECT_STORE_TYPE, Endpoint, object_store_url, plan_endpoints

#: Roles Swift's keystoneauth setup refers to (bootstrap makes admin/member/reader).
ROLES = ("member", "service", "ResellerAdmin")


def register_swift(admin: AuthConfig, *, keystone_v3: str, swift_port: int, service_password: str) -> None:
    """Create the ``swift`` service user and the ``object-store`` endpoints."""
    session = keystone_session(admin, timeout=60)
    with keystone_errors("registering swift in keystone"):
        roles: dict[str, dict[str, Any] | None] = {
            name: _ensure(session, keystone_v3, "roles", {"name": name}) for name in ROLES
        }
        roles["admin"] = _find(session, keystone_v3, "roles", {"name": "admin"})
        project = _ensure(session, keystone_v3, "projects", {"name": "service", "domain_id": "default"})
        user = _find(session, keystone_v3, "users", {"name": "swift", "domain_id": "default"})
        if user is None:
            user = _create(session, keystone_v3, "users", {
                "name": "swift", "domain_id": "default", "password": service_password,
                "default_project_id": project["id"], "enabled": True,
            })
        else:
            session.patch(f"{keystone_v3}/users/{user['id']}", json={"user": {"password": service_password}})
        for role in ("admin", "service"):
            assigned = roles.get(role)
            if assigned:
                session.put(f"{keystone_v3}/projects/{project['id']}/users/{user['id']}/roles/{assigned['id']}")
        service = _ensure(session, keystone_v3, "services", {"type": OBJECT_STORE_TYPE, "name": OBJECT_STORE_NAME})
        url = object_store_url(f"http://127.0.0.1:{swift_port}")
        listed = session.get(f"{keystone_v3}/endpoints", params={"service_id": service["id"]}).json()["endpoints"]
        existing = [Endpoint(e["id"], e["interface"], e["url"], e.get("region_id")) for e in listed]
        # The stack owns its keystone: an endpoint with another URL is stale.
        plan = plan_endpoints(existing, url, "RegionOne", replace_stale=True)
        for stale in plan.delete:
            session.delete(f"{keystone_v3}/endpoints/{stale.id}")
        for interface in plan.create:
            _create(session, keystone_v3, "endpoints", {
                "service_id": service["id"], "interface": interface, "url": url,
                "region_id": "RegionOne", "enabled": True,
            })


#: devstack's accounts (openstack/devstack lib/keystone create_keystone_accounts):
#: project -> (user, roles of that user there). Their password is the admin's,
#: as in devstack, so devstack's clouds.yaml names work unchanged.
DEMO_ACCOUNTS = {
    "demo": ("demo", ("member", "anotherrole")),
    "alt_demo": ("alt_demo", ("admin", "anotherrole")),
}


def register_demo(admin: AuthConfig, *, keystone_v3: str) -> None:
    """devstack's demo and alt_demo projects and users; the admin exempt from lockout.

    ``[security_compliance] lockout_failure_attempts`` would otherwise lock
    the stack's admin for a while after two wrong passwords (a test of a bad
    login, a typo), and every later admin login would fail meanwhile.
    """
    session = keystone_session(admin, timeout=60)
    password = admin.password or ""
    with keystone_errors("creating devstack's demo users in keystone"):
        roles = {name: _ensure(session, keystone_v3, "roles", {"name": name})
                 for name in ("admin", "member", "reader", "anotherrole", *ROLES)}
        admin_user = _find(session, keystone_v3, "users", {"name": "admin", "domain_id": "default"})
        if admin_user is not None:
            session.patch(f"{keystone_v3}/users/{admin_user['id']}",
                          json={"user": {"options": {"ignore_lockout_failure_attempts": True}}})
        _ensure(session, keystone_v3, "projects", {"name": "invisible_to_admin", "domain_id": "default"})
        for project_name, (user_name, user_roles) in DEMO_ACCOUNTS.items():
            project = _ensure(session, keystone_v3, "projects", {"name": project_name, "domain_id": "default"})
            user = _find(session, keystone_v3, "users", {"name": user_name, "domain_id": "default"})
            if user is None:
                user = _create(session, keystone_v3, "users", {
                    "name": user_name, "domain_id": "default", "password": password,
                    "default_project_id": project["id"], "enabled": True,
                    "options": {"ignore_lockout_failure_attempts": True},
                })
            for role in user_roles:
                session.put(f"{keystone_v3}/projects/{project['id']}/users/{user['id']}/roles/{roles[role]['id']}")
            if admin_user is not None and project_name == "demo":
                session.put(
                    f"{keystone_v3}/projects/{project['id']}/users/{admin_user['id']}/roles/{roles['admin']['id']}"
                )


def _find(session: Any, base: str, collection: str, attrs: dict[str, str]) -> dict[str, Any] | None:
    items = session.get(f"{base}/{collection}", params=attrs).json()[collection]
    if collection == "services":
        items = [i for i in items if i.get("type") == attrs.get("type")]
    return items[0] if items else None


def _create(session: Any, base: str, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    singular = collection[:-1]
    created: dict[str, Any] = session.post(f"{base}/{collection}", json={singular: body}).json()[singular]
    return created


def _ensure(session: Any, base: str, collection: str, attrs: dict[str, str]) -> dict[str, Any]:
    query = {k: v for k, v in attrs.items() if not (collection == "services" and k == "name")}
    return _find(session, base, collection, query) or _create(session, base, collection, attrs)
