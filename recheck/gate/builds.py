"""The builds of a window, from Zuul's builds API.

zuul/zuul ``zuul/web/__init__.py`` (``ZuulWebAPI.builds``): ``GET
/api/tenant/<t>/builds`` takes ``project`` (repeatable), ``pipeline``,
``result``, ``final``, ``limit`` (default 50) and ``skip``, and answers
newest first (by build id). It has no time filter, so :func:`list_builds`
pages with ``limit``/``skip`` until a whole page ended before the window's
start. ``final=true`` leaves out attempts Zuul retried (``result: RETRY``).

This module is the one place that pages Zuul; when ``recheck.review`` grows
its own builds listing, only :func:`list_builds` changes.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import requests

from ostk.errors import ServiceError
from ostk.http import get_json
from recheck.gate.models import GateBuild, GateWindow, parse_time
from recheck.zuul import build_from_json

#: Builds per page: Zuul's own web UI asks for 50; bigger pages mean fewer round trips.
PAGE_SIZE = 100
#: A safety stop: a window of a few days on OpenDev is well under this.
MAX_PAGES = 2000


def list_builds(
    session: requests.Session,
    zuul_url: str,
    tenant: str,
    window: GateWindow,
    *,
    pipeline: str | None = "gate",
    projects: Sequence[str] = (),
    page_size: int = PAGE_SIZE,
) -> Iterator[GateBuild]:
    """The final builds of ``pipeline`` that ended inside ``window``, newest first."""
    url = f"{zuul_url.rstrip('/')}/api/tenant/{tenant}/builds"
    base: list[tuple[str, str]] = [("final", "true"), ("complete", "true")]
    if pipeline:
        base.append(("pipeline", pipeline))
    base += [("project", project) for project in projects]
    skip = 0
    for _page in range(MAX_PAGES):
        params = base + [("limit", str(page_size)), ("skip", str(skip))]
        data = get_json(session, url, what=f"listing Zuul builds ({tenant})", params=params)
        if not isinstance(data, list):
            raise ServiceError(f"listing Zuul builds ({tenant}): expected a list, got {type(data).__name__}")
        in_window = False
        for item in data:
            build = gate_build(item, zuul_url, tenant)
            if build is None:
                continue
            if build.end_time >= window.since:
                # Ids follow start times, so a later page can still end inside the window.
                in_window = True
                if build.end_time < window.until:
                    yield build
        if len(data) < page_size or not in_window:
            return
        skip += len(data)


def gate_build(item: Any, zuul_url: str, tenant: str) -> GateBuild | None:
    """A :class:`GateBuild` from one entry of the builds API; None for unfinished or malformed ones."""
    if not isinstance(item, dict) or not item.get("uuid") or not item.get("end_time") or not item.get("result"):
        return None
    build = build_from_json(item)
    try:
        end_time = parse_time(str(item["end_time"]))
    except ValueError:
        return None
    log_url = build.log_url
    if log_url and not log_url.endswith("/"):
        log_url += "/"
    return GateBuild(
        uuid=build.uuid,
        job_name=build.job_name,
        result=str(build.result),
        project=build.project or "",
        pipeline=build.pipeline or "",
        end_time=end_time,
        change=build.change,
        patchset=build.patchset,
        log_url=log_url,
        url=f"{zuul_url.rstrip('/')}/t/{tenant}/build/{build.uuid}",
        artifacts=tuple((a.name, a.url) for a in build.artifacts),
    )
