"""Where a patch set's builds come from: Gerrit comments, Zuul's buildset and builds APIs.

- :class:`CommentBuilds`: the job lines of the latest CI comment per pipeline
  (always available; the only source for Jenkins-era changes).
- :class:`BuildsetBuilds`: when a comment links its buildset
  (``.../buildset/<uuid>``, zuul/zuul ``formatItemUrl``), Zuul's buildset API
  is the source of truth for which builds were reported — it survives Zuul
  cutting a long comment ("... (truncated)") and names every final build.
- :class:`BuildsApiBuilds`: ``/api/tenant/T/builds?change=&patchset=&final=true``
  when a Zuul is configured: one request describes every build (no request per
  job), and it knows builds no comment reported yet. ``final=true`` keeps the
  attempts Zuul retried (``RETRY``) out: a retried attempt is not a failure.

:class:`BuildDiscovery` combines them into :class:`JobEntry` records.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urljoin

import requests

from ostk.errors import OstkError
from recheck.boundary import MalformedAnswer
from recheck.comments import CIComment
from recheck.review.pipelines import PipelineRules
from recheck.review.types import JobEntry
from recheck.zuul import Build, ZuulClient, ZuulPage, parse_zuul_url


class ZuulClients:
    """The configured Zuul (if any) and the ones the links point at, one client each."""

    def __init__(self, configured: ZuulClient | None, session: requests.Session) -> None:
        self.configured = configured
        self.session = session
        self._by_page: dict[tuple[str, str | None], ZuulClient] = {}

    def for_page(self, page: ZuulPage) -> ZuulClient:
        if self.configured is not None and (self.configured.base_url, self.configured.tenant) == (page.base, page.tenant):
            return self.configured
        key = (page.base, page.tenant)
        if key not in self._by_page:
            self._by_page[key] = ZuulClient.for_page(page, session=self.session)
        return self._by_page[key]

    def absolute(self, url: str) -> str | None:
        """A report link made absolute: ``build/<uuid>`` is relative to the tenant's web root."""
        if url.startswith(("http://", "https://")):
            return url
        if self.configured is None:
            return None
        return urljoin(self.configured.web_root, url)


@dataclass(frozen=True)
class Discovered:
    """The jobs of a patch set, and what the sources said besides."""

    jobs: tuple[JobEntry, ...]
    #: Reports without jobs ("depends on a change that failed to merge", merge conflicts, config errors).
    problems: tuple[CIComment, ...] = ()
    warnings: tuple[str, ...] = ()


class CommentBuilds:
    """The jobs listed in one CI comment."""

    def __init__(self, zuul: ZuulClients, rules: PipelineRules) -> None:
        self.zuul = zuul
        self.rules = rules

    def jobs(self, comment: CIComment) -> list[JobEntry]:
        entries = []
        for job in comment.jobs:
            url = self.zuul.absolute(job.url) if job.url else None
            entries.append(
                JobEntry(
                    name=job.name,
                    result=job.result,
                    pipeline=comment.pipeline,
                    voting=job.voting,
                    url=url,
                    error=job.error,
                    zuul_v3=comment.zuul_v3,
                    pipeline_votes=self.rules.votes(comment.pipeline),
                )
            )
        return entries


class BuildsetBuilds:
    """The final builds of the buildset a comment links."""

    def __init__(self, zuul: ZuulClients, rules: PipelineRules) -> None:
        self.zuul = zuul
        self.rules = rules

    def jobs(self, comment: CIComment) -> list[JobEntry] | None:
        """The buildset's jobs, or None when the comment links none (or it cannot be resolved)."""
        url = self.zuul.absolute(comment.buildset_url) if comment.buildset_url else None
        page = parse_zuul_url(url) if url else None
        if page is None or page.kind != "buildset":
            return None
        buildset = self.zuul.for_page(page).buildset(page.uuid)
        return [
            _entry(build, comment.pipeline or buildset.pipeline, self.rules)
            for build in buildset.builds
            if build.final and build.result is not None
        ]


class BuildsApiBuilds:
    """Every final build of a patch set, from the configured Zuul's builds API."""

    def __init__(self, client: ZuulClient, rules: PipelineRules) -> None:
        self.client = client
        self.rules = rules

    def builds(self, change: int, patchset: int) -> list[Build]:
        return self.client.builds(change, patchset)


class BuildDiscovery:
    """Combines the sources above into the jobs of one patch set."""

    def __init__(self, zuul: ZuulClients, rules: PipelineRules) -> None:
        self.zuul = zuul
        self.rules = rules
        self.comments = CommentBuilds(zuul, rules)
        self.buildsets = BuildsetBuilds(zuul, rules)
        self.api = BuildsApiBuilds(zuul.configured, rules) if zuul.configured is not None else None

    def discover(
        self, change: int, patchset: int, comments: Sequence[CIComment], *, pipeline: str | None = None
    ) -> Discovered:
        warnings: list[str] = []
        problems = tuple(c for c in comments if c.problem and (pipeline is None or c.pipeline == pipeline))
        entries: list[JobEntry] = []
        for comment in comments:
            if comment.problem or (pipeline is not None and comment.pipeline != pipeline):
                continue
            from_buildset = None
            try:
                from_buildset = self.buildsets.jobs(comment)
            except MalformedAnswer:
                raise
            except OstkError as exc:
                warnings.append(f"Zuul buildset API unavailable ({exc}): using the comment's job list")
            if from_buildset is not None:
                entries.extend(from_buildset)
                continue
            if comment.truncated:
                warnings.append(
                    f"Zuul cut its {comment.pipeline} comment short (truncated): jobs may be missing"
                    + ("" if self.api else "; pass --zuul to read them from Zuul")
                )
            entries.extend(self.comments.jobs(comment))
        if self.api is None:
            return Discovered(tuple(entries), problems, tuple(warnings))
        try:
            builds = self.api.builds(change, patchset)
        except MalformedAnswer:
            raise
        except OstkError as exc:
            warnings.append(f"Zuul builds API unavailable: {exc}")
            return Discovered(tuple(entries), problems, tuple(warnings))
        return Discovered(tuple(self._merge(entries, builds, pipeline)), problems, tuple(warnings))

    def _merge(self, entries: list[JobEntry], builds: list[Build], pipeline: str | None) -> list[JobEntry]:
        by_uuid = {b.uuid: b for b in builds}
        merged = []
        for entry in entries:
            page = parse_zuul_url(entry.url) if entry.url else None
            build = by_uuid.get(page.uuid) if page is not None else None
            merged.append(replace(entry, build=build) if build is not None and entry.build is None else entry)
        reported = {(e.pipeline, e.name) for e in merged}
        latest: dict[tuple[str | None, str], Build] = {}
        for build in builds:
            key = (build.pipeline, build.job_name)
            if key in reported or build.result is None or (pipeline is not None and build.pipeline != pipeline):
                continue
            if key not in latest or (build.end_time or "") > (latest[key].end_time or ""):
                latest[key] = build
        merged.extend(_entry(build, build.pipeline, self.rules) for build in latest.values())
        return merged


def _entry(build: Build, pipeline: str | None, rules: PipelineRules) -> JobEntry:
    return JobEntry(
        name=build.job_name,
        result=build.result or "",
        pipeline=pipeline,
        voting=build.voting,
        url=None,
        error=build.error_detail,
        build=build,
        pipeline_votes=rules.votes(pipeline),
    )



