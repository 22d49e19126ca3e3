"""Token payloads as PKI-era keystone signed them (v2 ``access``, v3 ``token``)."""
from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StandInUser", "catalog", "iso", "payload"]


@dataclass(frozen=True)
class StandInUser:
    """A user the stand-in knows, with the project and roles its tokens carry."""

    name: str
    password: str = field(repr=False)
    project: str = "admin"
    roles: tuple[str, ...] = ("admin",)
    id: str = ""
    #: the project's id (default: derived from its name)
    project_id: str = ""

    @property
    def user_id(self) -> str:
        return self.id or hashlib.md5(self.name.encode()).hexdigest()


def iso(moment: _dt.datetime) -> str:
    """keystone's timestamp form: microseconds and a Z."""
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def catalog(api: str, base: str) -> list[dict[str, Any]]:
    """The identity-only catalog of a v2 or v3 token, endpoints at ``base``."""
    if api == "v2.0":
        return [
            {
                "type": "identity",
                "name": "keystone",
                "endpoints": [
                    {
                        "region": "RegionOne",
                        "publicURL": f"{base}/v2.0",
                        "internalURL": f"{base}/v2.0",
                        "adminURL": f"{base}/v2.0",
                    }
                ],
                "endpoints_links": [],
            }
        ]
    return [
        {
            "type": "identity",
            "name": "keystone",
            "id": "identity",
            "endpoints": [
                {"id": f"identity-{iface}", "interface": iface, "region": "RegionOne",
                 "region_id": "RegionOne", "url": f"{base}/v3"}
                for iface in ("public", "internal", "admin")
            ],
        }
    ]


def payload(
    user: StandInUser,
    base: str,
    *,
    api: str,
    now: _dt.datetime,
    expires: _dt.datetime,
    audit_id: str,
    methods: Sequence[str],
) -> dict[str, Any]:
    """A v2 (``access``) or v3 (``token``) token payload as keystone signed it."""
    project_id = user.project_id or hashlib.md5(user.project.encode()).hexdigest()
    roles = [{"id": hashlib.md5(r.encode()).hexdigest(), "name": r} for r in user.roles]
    if api == "v2.0":
        tenant = {"id": project_id, "name": user.project, "enabled": True, "description": None}
        return {
            "access": {
                "token": {
                    "id": "placeholder",
                    "expires": iso(expires).replace(".000000", ""),
                    "issued_at": iso(now),
                    "audit_ids": [audit_id],
                    "tenant": tenant,
                },
                "serviceCatalog": catalog("v2.0", base),
                "user": {
                    "id": user.user_id,
                    "name": user.name,
                    "username": user.name,
                    "roles": [{"name": r["name"]} for r in roles],
                    "roles_links": [],
                },
                "metadata": {"is_admin": 0, "roles": [r["id"] for r in roles]},
            }
        }
    domain = {"id": "default", "name": "Default"}
    return {
        "token": {
            "methods": list(methods),
            "user": {"id": user.user_id, "name": user.name, "domain": domain},
            "project": {"id": project_id, "name": user.project, "domain": domain},
            "roles": roles,
            "catalog": catalog("v3", base),
            "expires_at": iso(expires),
            "issued_at": iso(now),
            "audit_ids": [audit_id],
        }
    }
