"""Zuul's REST API: builds, buildsets, and the URLs people paste.

Shapes follow zuul/zuul ``zuul/web/__init__.py`` (``BuildConverter.toDict``,
``BuildsetConverter.toDict``, ``RefConverter``): a build has ``uuid``,
``job_name``, ``result``, ``voting``, ``log_url``, ``error_detail``, ``final``,
``artifacts`` (``name``, ``url``, optional ``metadata``) and ``ref``
(``project``, ``change``, ``patchset`` — a string — ...); the builds list adds
``pipeline`` and ``buildset``. Older servers keep project/change/patchset at
the top level; both are read. ``GET /api/tenant/T/builds`` returns retried
attempts too (``result: RETRY``, ``final: false``) unless asked ``final=true``.

A whitelabeled tenant serves its pages at the site root (``/build/<uuid>``)
and its API under ``/api/`` instead of ``/t/T/`` and ``/api/tenant/T/``.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import msgspec
import requests

from ostk.http import build_session, get_json
from recheck.boundary import MalformedAnswer, as_int, validate

#: Zuul's own default page size is 50; 100 keeps the requests few and the answers small.
PAGE_SIZE = 100

_UUID = r"[0-9a-f]{32}"
# <base>[/t/<tenant>]/(build|buildset)/<uuid>[/logs|/console|/log/<path>|/artifacts|...]
_PAGE = re.compile(
    rf"^(?P<base>.*?)(?:/t/(?P<tenant>[^/]+)|/api/tenant/(?P<api>[^/]+)|(?P<wl_api>/api))?"
    rf"/(?P<kind>build|buildset)/(?P<uuid>{_UUID})(?:/.*)?$"
)


@dataclass(frozen=True)
class Artifact:
    """A file a build published (``{"name", "url", "metadata"}`` in Zuul's API)."""

    name: str
    url: str
    #: ``metadata.type``: ``zuul_manifest`` for the log manifest, ``unit_test_report``...
    type: str | None = None


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
    #: False for an attempt Zuul retried (``result: RETRY``): not the job's outcome.
    final: bool = True
    buildset: str | None = None


@dataclass(frozen=True)
class Buildset:
    """One reported buildset: the builds a CI comment is about."""

    uuid: str
    pipeline: str | None
    result: str | None
    message: str | None
    project: str | None
    change: int | None
    patchset: int | None
    builds: tuple[Build, ...]


@dataclass(frozen=True)
class ZuulPage:
    """A parsed Zuul web URL: a build or buildset page (any of its tabs)."""

    base: str
    #: None for a whitelabeled tenant (pages at the site root).
    tenant: str | None
    kind: str
    uuid: str


def parse_zuul_url(url: str) -> ZuulPage | None:
    """A Zuul build/buildset page or API URL → its parts; None for other URLs.

    >>> parse_zuul_url("https://zuul.opendev.org/t/openstack/build/" + "0" * 32 + "/logs").tenant
    'openstack'
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    match = _PAGE.match(f"{parts.scheme}://{parts.netloc}{parts.path}")
    if not match:
        return None
    tenant = match.group("tenant") or match.group("api")
    return ZuulPage(match.group("base"), tenant, match.group("kind"), match.group("uuid"))


def parse_build_page(url: str) -> ZuulPage | None:
    """Like :func:`parse_zuul_url`, for build pages only."""
    page = parse_zuul_url(url)
    return page if page is not None and page.kind == "build" else None


# -- the API's shapes (validated at the boundary) ------------------------------------
class _ArtifactDoc(msgspec.Struct):
    url: str
    name: str = ""
    metadata: dict[str, Any] | None = None


class _RefDoc(msgspec.Struct):
    project: str | None = None
    change: int | str | None = None
    patchset: int | str | None = None


class _BuildsetRefDoc(msgspec.Struct):
    uuid: str | None = None


class _BuildDoc(msgspec.Struct):
    uuid: str
    job_name: str
    result: str | None = None
    voting: bool = True
    log_url: str | None = None
    error_detail: str | None = None
    final: bool = True
    start_time: str | None = None
    end_time: str | None = None
    pipeline: str | None = None
    artifacts: list[_ArtifactDoc] = []
    ref: _RefDoc | None = None
    buildset: _BuildsetRefDoc | None = None
    # Older servers: at the top level.
    project: str | None = None
    change: int | str | None = None
    patchset: int | str | None = None


class _BuildsetDoc(msgspec.Struct):
    uuid: str
    pipeline: str | None = None
    result: str | None = None
    message: str | None = None
    refs: list[_RefDoc] = []
    builds: list[_BuildDoc] = []
    project: str | None = None
    change: int | str | None = None
    patchset: int | str | None = None


class ZuulClient:
    """Talks to one Zuul tenant (``tenant=None``: a whitelabeled one).

    >>> zuul = ZuulClient("https://zuul.opendev.org", "openstack")
    >>> [b.job_name for b in zuul.list_builds(change=123456, patchset=2, result="FAILURE")]
    """

    def __init__(self, base_url: str, tenant: str | None, *, session: requests.Session | None = None) -> None:
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

    @classmethod
    def for_page(cls, page: ZuulPage, *, session: requests.Session | None = None) -> ZuulClient:
        return cls(page.base, page.tenant, session=session)

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/api/tenant/{self.tenant}" if self.tenant else f"{self.base_url}/api"

    @property
    def web_root(self) -> str:
        """What Zuul joins relative report links to (``build/<uuid>``)."""
        return f"{self.base_url}/t/{self.tenant}/" if self.tenant else f"{self.base_url}/"

    def build(self, uuid: str) -> Build:
        """One build by uuid."""
        what = f"reading Zuul build {uuid}"
        data = get_json(self.session, f"{self.api_root}/build/{uuid}", what=what)
        return _build(validate(data, _BuildDoc, source=f"Zuul build {uuid}", error=MalformedAnswer), what)

    def buildset(self, uuid: str) -> Buildset:
        """One buildset with its builds (every attempt: filter on ``final``)."""
        what = f"reading Zuul buildset {uuid}"
        data = get_json(self.session, f"{self.api_root}/buildset/{uuid}", what=what)
        doc = validate(data, _BuildsetDoc, source=f"Zuul buildset {uuid}", error=MalformedAnswer)
        ref = doc.refs[0] if doc.refs else _RefDoc(doc.project, doc.change, doc.patchset)
        return Buildset(
            uuid=doc.uuid,
            pipeline=doc.pipeline,
            result=doc.result,
            message=doc.message,
            project=ref.project,
            change=as_int(ref.change, source=what, error=MalformedAnswer),
            patchset=as_int(ref.patchset, source=what, error=MalformedAnswer),
            builds=tuple(_build(b, what, pipeline=doc.pipeline) for b in doc.builds),
        )

    def list_builds(
        self,
        *,
        change: int | None = None,
        patchset: int | None = None,
        project: str | Sequence[str] | None = None,
        pipeline: str | None = None,
        job_name: str | None = None,
        result: str | None = None,
        final: bool | None = True,
        complete: bool | None = None,
        limit: int = PAGE_SIZE,
        skip: int = 0,
    ) -> list[Build]:
        """One page of builds, newest first (by build id), filtered like Zuul's builds API.

        ``project`` may be several (the API repeats the parameter). ``final=True``
        (the default) drops the attempts Zuul retried; ``None`` returns every
        attempt. ``complete=True`` leaves out builds still running. Page on with
        ``skip``; :meth:`iter_builds` does it.
        """
        params: list[tuple[str, str]] = [("limit", str(limit)), ("skip", str(skip))]
        projects = [project] if isinstance(project, str) else list(project or ())
        params += [("project", name) for name in projects]
        for key, value in (("change", change), ("patchset", patchset), ("pipeline", pipeline),
                           ("job_name", job_name), ("result", result)):
            if value is not None:
                params.append((key, str(value)))
        for key, flag in (("final", final), ("complete", complete)):
            if flag is not None:
                params.append((key, "true" if flag else "false"))
        what = "listing Zuul builds"
        data = get_json(self.session, f"{self.api_root}/builds", what=what, params=params)
        docs = validate(data, list[_BuildDoc], source="Zuul builds", error=MalformedAnswer)
        builds = [_build(doc, what) for doc in docs]
        # A server that ignores final= still marks each build.
        return [b for b in builds if b.final] if final else builds

    def iter_builds(self, *, max_builds: int = 1000, **filters: Any) -> Iterator[Build]:
        """Every build matching ``filters`` (see :meth:`list_builds`), paging up to ``max_builds``."""
        skip = 0
        while skip < max_builds:
            page = self.list_builds(limit=min(PAGE_SIZE, max_builds - skip), skip=skip, **filters)
            yield from page
            if len(page) < PAGE_SIZE:
                return
            skip += len(page)

    def builds(self, change: int, patchset: int, *, result: str | None = None, limit: int = 200) -> list[Build]:
        """The final builds of one patch set (all pipelines), newest first."""
        return list(self.iter_builds(change=change, patchset=patchset, result=result, max_builds=limit))


def build_from_json(data: Any, *, source: str = "Zuul build") -> Build:
    """A :class:`Build` from Zuul's JSON (``ref{...}`` or top-level project/change/patchset)."""
    return _build(validate(data, _BuildDoc, source=source, error=MalformedAnswer), f"reading {source}")


def _build(doc: _BuildDoc, what: str, *, pipeline: str | None = None) -> Build:
    ref = doc.ref or _RefDoc()
    log_url = doc.log_url or None
    return Build(
        uuid=doc.uuid,
        job_name=doc.job_name,
        result=doc.result,
        voting=doc.voting,
        log_url=log_url,
        pipeline=doc.pipeline or pipeline,
        project=ref.project or doc.project,
        change=as_int(ref.change if ref.change is not None else doc.change, source=what, error=MalformedAnswer),
        patchset=as_int(ref.patchset if ref.patchset is not None else doc.patchset, source=what, error=MalformedAnswer),
        error_detail=doc.error_detail,
        # Zuul makes artifact URLs absolute against the log URL; old records may not be.
        artifacts=tuple(
            Artifact(a.name, urljoin(log_url or "", a.url), _meta_type(a.metadata)) for a in doc.artifacts
        ),
        end_time=doc.end_time,
        final=doc.final,
        buildset=doc.buildset.uuid if doc.buildset else None,
    )


def _meta_type(metadata: dict[str, Any] | None) -> str | None:
    value = (metadata or {}).get("type")
    return value if isinstance(value, str) else None
