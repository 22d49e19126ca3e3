"""Zuul's REST API: a build's log URL and artifacts, and a change's builds.

Zuul comments link the build page (``https://zuul.opendev.org/t/<tenant>/
build/<uuid>``); the logs are wherever ``GET /api/tenant/<tenant>/build/
<uuid>`` says (``log_url``, a directory ending in ``/``). Newer servers nest
``project``, ``change`` and ``patchset`` under ``ref``; older ones keep them
at the top level, so both are read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from ostk.errors import ServiceError
from ostk.http import build_session, get_json

_BUILD_PAGE = re.compile(r"^(?P<base>.*?)/(?:t/(?P<tenant>[^/]+)/build|api/tenant/(?P<api>[^/]+)/build)/(?P<uuid>[0-9a-f]{32})/?$")


@dataclass(frozen=True)
class Artifact:
    """A file a build published (``{"name", "url"}`` in Zuul's API)."""

    name: str
    url: str


@dataclass(frozen=True)
class Build:
    """One Zuul build, as the API describes it."""

    uuid: str
    job_name: str
    result: str | None
    voting: bool
    #: The log directory (ends with ``/``), or None when the build left no logs.
    log_url: str | None
    pipeline: str | None = None
    project: str | None = None
    change: int | None = None
    patchset: int | None = None
    error_detail: str | None = None
    artifacts: tuple[Artifact, ...] = ()
    end_time: str | None = None


@dataclass(frozen=True)
class BuildPage:
    """A parsed Zuul build page URL."""

    base: str
    tenant: str
    uuid: str


def parse_build_page(url: str) -> BuildPage | None:
    """``https://zuul.opendev.org/t/openstack/build/<uuid>`` → its parts; None for other URLs."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    match = _BUILD_PAGE.match(f"{parts.scheme}://{parts.netloc}{parts.path}")
    if not match:
        return None
    return BuildPage(match.group("base"), match.group("tenant") or match.group("api"), match.group("uuid"))


class ZuulClient:
    """Talks to one Zuul tenant.

    >>> zuul = ZuulClient("https://zuul.opendev.org", "openstack")
    >>> zuul.build("4c2a...").log_url
    """

    def __init__(self, base_url: str, tenant: str, *, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.tenant = tenant
        self.session = session or build_session()

    @classmethod
    def from_url(cls, url: str, *, tenant: str | None = None, session: requests.Session | None = None) -> ZuulClient:
        """A client for ``--zuul URL``: a base URL, or one ending ``/t/<tenant>`` (tenant from the URL)."""
        base = url.rstrip("/")
        match = re.match(r"^(?P<base>.*?)/(?:t|api/tenant)/(?P<tenant>[^/]+)$", base)
        if match:
            return cls(match.group("base"), match.group("tenant"), session=session)
        return cls(base, tenant or "openstack", session=session)

    def build(self, uuid: str) -> Build:
        """One build by uuid."""
        url = f"{self.base_url}/api/tenant/{self.tenant}/build/{uuid}"
        data = get_json(self.session, url, what=f"reading Zuul build {uuid}")
        if not isinstance(data, dict):
            raise ServiceError(f"reading Zuul build {uuid}: unexpected answer")
        return build_from_json(data)

    def builds(self, change: int, patchset: int, *, result: str | None = None, limit: int = 200) -> list[Build]:
        """The builds of one patch set (all pipelines), newest first."""
        params: dict[str, Any] = {"change": change, "patchset": patchset, "limit": limit}
        if result:
            params["result"] = result
        url = f"{self.base_url}/api/tenant/{self.tenant}/builds"
        data = get_json(self.session, url, what=f"listing Zuul builds of {change},{patchset}", params=params)
        if not isinstance(data, list):
            raise ServiceError(f"listing Zuul builds of {change},{patchset}: unexpected answer")
        return [build_from_json(item) for item in data if isinstance(item, dict)]


def build_from_json(data: dict[str, Any]) -> Build:
    """A :class:`Build` from Zuul's JSON (``ref{...}`` or top-level project/change/patchset)."""
    ref = data.get("ref") if isinstance(data.get("ref"), dict) else {}
    buildset = data.get("buildset") if isinstance(data.get("buildset"), dict) else {}

    def pick(key: str) -> Any:
        for source in (ref, data, buildset):
            if source.get(key) not in (None, ""):
                return source[key]
        return None

    artifacts = tuple(
        Artifact(str(item.get("name", "")), str(item["url"]))
        for item in data.get("artifacts") or []
        if isinstance(item, dict) and item.get("url")
    )
    return Build(
        uuid=str(data.get("uuid", "")),
        job_name=str(data.get("job_name", "")),
        result=data.get("result"),
        voting=bool(data.get("voting", True)),
        log_url=data.get("log_url") or None,
        pipeline=pick("pipeline"),
        project=pick("project"),
        change=_int(pick("change")),
        patchset=_int(pick("patchset")),
        error_detail=data.get("error_detail"),
        artifacts=artifacts,
        end_time=data.get("end_time"),
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
