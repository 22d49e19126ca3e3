"""What a service sees of a validated token: auth_token's headers and environment.

The header set and the values are keystonemiddleware's
(``keystonemiddleware/auth_token/_request.py``: ``_HEADER_TEMPLATE``,
``_DEPRECATED_HEADER_MAP``, ``set_user_headers``,
``set_service_catalog_headers`` with ``_normalize_catalog``); the values
come from keystoneauth's ``AccessInfo``, as there, so a v2 and a v3 token
give exactly what auth_token gave. ``keystone.token_auth`` is a
keystoneauth plugin like ``auth_token/_user_plugin.py``'s
``UserAuthPlugin`` (``user``, ``service``, ``has_user_token``...).

An :class:`Identity` is built once per validated token and cached with it,
so a request served from the cache only copies a few strings.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from keystoneauth1 import access
from keystoneauth1.identity import base as identity_base

from pki.errors import Reason, TokenInvalid

__all__ = ["Identity", "TokenAuth", "auth_header_keys", "identity_from_payload"]

#: header template -> AccessInfo attribute (``_request.py`` ``_HEADER_TEMPLATE``)
_HEADER_TEMPLATE = {
    "X%s-Domain-Id": "domain_id",
    "X%s-Domain-Name": "domain_name",
    "X%s-Project-Id": "project_id",
    "X%s-Project-Name": "project_name",
    "X%s-Project-Domain-Id": "project_domain_id",
    "X%s-Project-Domain-Name": "project_domain_name",
    "X%s-User-Id": "user_id",
    "X%s-User-Name": "username",
    "X%s-User-Domain-Id": "user_domain_id",
    "X%s-User-Domain-Name": "user_domain_name",
}
#: old header -> the header it copies (``_DEPRECATED_HEADER_MAP``)
_DEPRECATED = {
    "X-Role": "X-Roles",
    "X-User": "X-User-Name",
    "X-Tenant-Id": "X-Project-Id",
    "X-Tenant-Name": "X-Project-Name",
    "X-Tenant": "X-Project-Name",
}
_PREFIXES = ("", "-Service")


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def auth_header_keys() -> tuple[str, ...]:
    """Every WSGI key of a header auth_token sets: stripped from each request
    first, so a client cannot send its own identity (``remove_auth_headers``)."""
    names = [
        "X-Service-Catalog",
        "X-Identity-Status",
        "X-Service-Identity-Status",
        "X-Is-Admin-Project",
        "OpenStack-System-Scope",
        *_DEPRECATED,
    ]
    for template in _HEADER_TEMPLATE:
        names.extend(template % prefix for prefix in _PREFIXES)
    names.extend(f"X{prefix}-Roles" for prefix in _PREFIXES)
    return tuple(_environ_key(name) for name in names)


def _normalize_catalog(catalog: list[Any]) -> list[dict[str, Any]]:
    """A v3 catalog in the v2 shape auth_token put in X-Service-Catalog."""
    services = []
    for v3_service in catalog:
        if not isinstance(v3_service, dict):
            continue
        service: dict[str, Any] = {"type": v3_service.get("type")}
        if "name" in v3_service:
            service["name"] = v3_service["name"]
        regions: dict[Any, dict[str, Any]] = {}
        for endpoint in v3_service.get("endpoints", []) or []:
            if not isinstance(endpoint, dict):
                continue
            region_name = endpoint.get("region")
            region = regions.setdefault(region_name, {"region": region_name} if region_name else {})
            region[str(endpoint.get("interface", "")).lower() + "URL"] = endpoint.get("url")
        service["endpoints"] = list(regions.values())
        services.append(service)
    return services


@dataclass(frozen=True)
class Identity:
    """A validated token as auth_token presented it to the application."""

    #: The token data (``keystone.token_info``): ``{"token": ...}`` or ``{"access": ...}``.
    token_info: Mapping[str, Any] = field(repr=False)
    #: WSGI environ key -> value of every identity header (None values left out).
    headers: tuple[tuple[str, str], ...]
    #: The X-Service-Catalog header value, or None when the token has no catalog.
    catalog_header: str | None = field(repr=False, default=None)
    #: The token's audit ids (revocation lists may name them).
    audit_ids: tuple[str, ...] = ()
    #: The ``X-Service-*`` headers, for when it came as ``X-Service-Token``.
    service_headers: tuple[tuple[str, str], ...] = ()
    #: When the token (or the cache's trust in it) ends, epoch seconds.
    expires_at: float = float("inf")

    def access_info(self, token: str) -> access.AccessInfo:
        """keystoneauth's view of the token (as ``keystone.token_auth.user``)."""
        return access.create(body=dict(self.token_info), auth_token=token)


def _auth_headers(ref: access.AccessInfo, prefix: str) -> dict[str, Any]:
    """``_request.py``'s ``_set_auth_headers``: roles, system scope, the templates."""
    values: dict[str, Any] = {f"X{prefix}-Roles": ",".join(ref.role_names or ())}
    if ref.system_scoped:
        system = getattr(ref, "system", None) or {}
        values["OpenStack-System-Scope"] = "all" if system.get("all") else None
    for template, attribute in _HEADER_TEMPLATE.items():
        values[template % prefix] = getattr(ref, attribute)
    return values


def _environ(values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    # auth_token stored None for absent values; leaving them out reads the same
    # through environ.get() and keeps every WSGI value a str.
    return tuple((_environ_key(name), str(value)) for name, value in values.items() if value is not None)


def _audit_ids(payload: Mapping[str, Any]) -> tuple[str, ...]:
    token = payload.get("token")
    if not isinstance(token, dict):
        access_doc = payload.get("access")
        token = access_doc.get("token") if isinstance(access_doc, dict) else None
    ids = token.get("audit_ids") if isinstance(token, dict) else None
    return tuple(a for a in ids if isinstance(a, str)) if isinstance(ids, list) else ()


def identity_from_payload(payload: Mapping[str, Any], token: str = "", expires_at: float = float("inf")) -> Identity:
    """The headers auth_token set for a valid user token carrying ``payload``.

    A payload keystoneauth cannot read (a verified token with odd fields)
    raises ``TokenInvalid(MALFORMED)``: never a crash in the service.
    """
    try:
        return _identity(payload, token, expires_at)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise TokenInvalid(Reason.MALFORMED, f"token data unreadable ({type(exc).__name__})") from None


def _identity(payload: Mapping[str, Any], token: str, expires_at: float) -> Identity:
    ref = access.create(body=dict(payload), auth_token=token or None)
    values = _auth_headers(ref, "")
    values["X-Is-Admin-Project"] = "True" if ref.is_admin_project else "False"
    for old, new in _DEPRECATED.items():
        values[old] = values[new]
    catalog_header = None
    if ref.has_service_catalog():
        catalog = ref.service_catalog.catalog
        if getattr(ref, "version", None) == "v3":
            catalog = _normalize_catalog(catalog)
        catalog_header = json.dumps(catalog)
    return Identity(
        token_info=payload,
        headers=_environ(values),
        service_headers=_environ(_auth_headers(ref, "-Service")),
        catalog_header=catalog_header,
        audit_ids=_audit_ids(payload),
        expires_at=expires_at,
    )


class TokenAuth(identity_base.BaseIdentityPlugin):
    """``keystone.token_auth``: the user (and service) token as a keystoneauth
    plugin, the shape of auth_token's ``_user_plugin.UserAuthPlugin``."""

    def __init__(self, user: access.AccessInfo | None, service: access.AccessInfo | None = None) -> None:
        super().__init__(reauthenticate=False)
        self.user = user
        self.service = service

    @property
    def has_user_token(self) -> bool:
        return bool(self.user)

    @property
    def has_service_token(self) -> bool:
        return bool(self.service)

    def get_auth_ref(self, session: Any) -> access.AccessInfo:
        # A validated token cannot be renewed from here.
        if self.user is None:
            raise ValueError("no user token")
        return self.user
