"""The stack's entries in keystone: devstack's demo accounts; swift's service user, roles, catalog.

Every step is get-or-create, so running it again (after a crash half-way,
or on a later ``up``) changes nothing that is already right. Both take a
keystoneauth session (:func:`ostk.auth.keystone_session`): one token serves
both, and the roles are listed once.
"""
from __future__ import annotations

from typing import Any

from ostk.auth import AuthConfig, keystone_errors, keystone_session
from ostk.catalog import OBJECT_STORE_NAME, OBJECT_STORE_TYPE, Endpoint, object_store_url, plan_endpoints

#: Roles Swift's keystoneauth setup refers to (bootstrap makes admin/member/reader).
ROLES = ("member", "service", "ResellerAdmin")


def admin_session(admin: AuthConfig) -> Any:
    """A keystoneauth session of the stack's admin for :func:`register_demo` and :func:`register_swift`.

    Its token is fetched here, once, so that threads can share the session.
    """
    session = keystone_session(admin, timeout=60)
    with keystone_errors("authenticating as the stack's admin"):
        session.get_token()
    return session


def register_swift(session: Any, *, keystone_v3: str, swift_port: int, service_password: str) -> None:
    """Create the ``swift`` service user and the ``object-store`` endpoints."""
    with keystone_errors("registering swift in keystone"):
        roles = _ensure_roles(session, keystone_v3, ("admin", *ROLES))
        project = _ensure(session, keystone_v3, "projects", {"name": "service", "domain_id": "default"})
        user, created = _create_or_find(session, keystone_v3, "users", {
            "name": "swift", "domain_id": "default", "password": service_password,
            "default_project_id": project["id"], "enabled": True,
        })
        if not created:
            session.patch(f"{keystone_v3}/users/{user['id']}", json={"user": {"password": service_password}})
        for role in ("admin", "service"):
            session.put(f"{keystone_v3}/projects/{project['id']}/users/{user['id']}/roles/{roles[role]['id']}")
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


def register_demo(session: Any, admin: AuthConfig, *, keystone_v3: str) -> None:
    """devstack's demo and alt_demo projects and users; the admin exempt from lockout.

    ``[security_compliance] lockout_failure_attempts`` would otherwise lock
    the stack's admin for a while after two wrong passwords (a test of a bad
    login, a typo), and every later admin login would fail meanwhile.
    """
    password = admin.password or ""
    with keystone_errors("creating devstack's demo users in keystone"):
        roles = _ensure_roles(session, keystone_v3, ("admin", "member", "reader", "anotherrole", *ROLES))
        admin_user = _find(session, keystone_v3, "users", {"name": "admin", "domain_id": "default"})
        if admin_user is not None:
            session.patch(f"{keystone_v3}/users/{admin_user['id']}",
                          json={"user": {"options": {"ignore_lockout_failure_attempts": True}}})
        _ensure(session, keystone_v3, "projects", {"name": "invisible_to_admin", "domain_id": "default"})
        for project_name, (user_name, user_roles) in DEMO_ACCOUNTS.items():
            project = _ensure(session, keystone_v3, "projects", {"name": project_name, "domain_id": "default"})
            user = _ensure(session, keystone_v3, "users", {
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


def _ensure_roles(session: Any, base: str, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The global roles called ``names``, created if missing: one listing, not one query per role."""
    listed = session.get(f"{base}/roles").json()["roles"]
    found = {role["name"]: role for role in listed if role.get("domain_id") is None}
    for name in names:
        if name not in found:
            # Another registration may be creating it at this moment.
            found[name] = _create_or_find(session, base, "roles", {"name": name})[0]
    return {name: found[name] for name in names}


def _find(session: Any, base: str, collection: str, attrs: dict[str, str]) -> dict[str, Any] | None:
    items = session.get(f"{base}/{collection}", params=attrs).json()[collection]
    if collection == "services":
        items = [i for i in items if i.get("type") == attrs.get("type")]
    return items[0] if items else None


def _create(session: Any, base: str, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    singular = collection[:-1]
    created: dict[str, Any] = session.post(f"{base}/{collection}", json={singular: body}).json()[singular]
    return created


def _ensure(session: Any, base: str, collection: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """The entity with ``attrs``, created if missing.

    Projects, users and roles have unique names (per domain): they are
    created first and looked up only when keystone answers 409, one request
    for a new stack instead of two. Services are not unique: looked up first.
    """
    if collection == "services":
        query = {k: v for k, v in attrs.items() if k != "name"}
        return _find(session, base, collection, query) or _create(session, base, collection, attrs)
    return _create_or_find(session, base, collection, attrs)[0]


def _create_or_find(session: Any, base: str, collection: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(entity, True) if created; (the existing one, False) if its name is taken."""
    from keystoneauth1 import exceptions as ks_exceptions  # imported when used: `ostk` starts faster

    try:
        return _create(session, base, collection, body), True
    except ks_exceptions.Conflict:
        found = _find(session, base, collection, {k: body[k] for k in ("name", "domain_id") if k in body})
        if found is None:
            raise
        return found, False
