"""Swift's object-store entry in a keystone catalog: one definition for every package that registers it.

``stack`` (registering its own swift) and ``swiftfunc`` (provisioning a
cloud for Swift's functional tests) both decide the same thing: which
object-store endpoints exist, which to create, and (for a stack that owns
its keystone) which stale ones to replace. The decision is a pure function
here; each caller talks to keystone in its own way.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: The catalog type and name of Swift's service.
OBJECT_STORE_TYPE = "object-store"
OBJECT_STORE_NAME = "swift"
#: Interfaces the object-store endpoints are registered on.
ENDPOINT_INTERFACES = ("public", "internal", "admin")


def object_store_url(swift_url: str) -> str:
    """The endpoint URL template keystoneauth fills per project: ``<swift>/v1/AUTH_%(project_id)s``."""
    return swift_url.rstrip("/") + "/v1/AUTH_%(project_id)s"


@dataclass(frozen=True)
class Endpoint:
    """An endpoint of the object-store service as keystone lists it."""

    id: str
    interface: str
    url: str
    #: None for an endpoint without a region.
    region: str | None = None


@dataclass(frozen=True)
class EndpointPlan:
    """What to do so that every interface has an object-store endpoint."""

    #: Interfaces that need a new endpoint.
    create: tuple[str, ...]
    #: Endpoints to delete first (only with ``replace_stale``): another URL on an interface.
    delete: tuple[Endpoint, ...]
    #: Interface -> the endpoint left as it is.
    kept: dict[str, Endpoint]


def plan_endpoints(existing: Iterable[Endpoint], url: str, region: str, *, replace_stale: bool) -> EndpointPlan:
    """Compare ``existing`` with the wanted ``url`` on every interface of ``region``.

    ``replace_stale=False`` (a shared cloud) keeps an endpoint with another
    URL; ``True`` (a stack that owns its keystone) replaces it. An endpoint
    without a region counts as being in ``region``.
    """
    mine = [e for e in existing if (e.region or region) == region]
    create: list[str] = []
    delete: list[Endpoint] = []
    kept: dict[str, Endpoint] = {}
    for interface in ENDPOINT_INTERFACES:
        found = [e for e in mine if e.interface == interface]
        right = [e for e in found if e.url == url]
        if right:
            kept[interface] = right[0]
        elif found and not replace_stale:
            kept[interface] = found[0]
        else:
            delete += found
            create.append(interface)
    return EndpointPlan(create=tuple(create), delete=tuple(delete), kept=kept)
