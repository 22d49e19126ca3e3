"""The builds of a window, from Zuul's builds API.

zuul/zuul ``zuul/web/__init__.py`` (``ZuulWebAPI.builds``): ``GET
/api/tenant/<t>/builds`` takes ``project`` (repeatable), ``pipeline``,
``result``, ``final``, ``limit`` (default 50) and ``skip``, and answers
newest first (by build id). It has no time filter, so :func:`list_builds`
pages with ``limit``/``skip`` until a whole page ended before the window's
start. ``final=true`` leaves out attempts Zuul retried (``result: RETRY``).

Each page is asked with :meth:`recheck.zuul.ZuulClient.list_builds` (the
review workflow's client); this module adds only the window: where to stop.
Several projects are listed one after the other (the client takes one).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import requests

from recheck.gate.models import GateBuild, GateWindow, parse_time
from recheck.zuul import Build, ZuulClient

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
    """The final builds of ``pipeline`` that ended inside ``window``, newest first (per project)."""
    client = ZuulClient(zuul_url.rstrip("/"), tenant, session=session)
    seen: set[str] = set()
    wanted: list[str | None] = list(projects) or [None]
    for project in wanted:
        for build in _window_pages(client, window, pipeline, project, page_size):
            if build.uuid not in seen:
                seen.add(build.uuid)
                yield build


def _window_pages(
    client: ZuulClient, window: GateWindow, pipeline: str | None, project: str | None, page_size: int
) -> Iterator[GateBuild]:
    skip = 0
    for _page in range(MAX_PAGES):
        page = client.list_builds(pipeline=pipeline, project=project, final=True, limit=page_size, skip=skip)
        in_window = False
        for item in page:
            build = gate_build(item, client.web_root)
            if build is None:
                continue
            if build.end_time >= window.since:
                # Ids follow start times, so a later page can still end inside the window.
                in_window = True
                if build.end_time < window.until:
                    yield build
        if len(page) < page_size or not in_window:
            return
        skip += len(page)


def gate_build(build: Build, web_root: str) -> GateBuild | None:
    """A :class:`GateBuild` from the builds API; None for unfinished builds."""
    if not build.end_time or not build.result:
        return None
    try:
        end_time = parse_time(build.end_time)
    except ValueError:
        return None
    log_url = build.log_url
    if log_url and not log_url.endswith("/"):
        log_url += "/"
    return GateBuild(
        uuid=build.uuid,
        job_name=build.job_name,
        result=build.result,
        project=build.project or "",
        pipeline=build.pipeline or "",
        end_time=end_time,
        change=build.change,
        patchset=build.patchset,
        log_url=log_url,
        url=f"{web_root}build/{build.uuid}",
        artifacts=build.artifacts,
    )
