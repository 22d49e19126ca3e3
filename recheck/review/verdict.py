"""The verdict step of the review workflow: is it the change or the gate?

Started as soon as the failed jobs are known (its look-ups run while the
jobs' own logs download), applied where the report is assembled (after the
bug search), and consulted by the post policy: see :mod:`recheck.verdict`
(the rules) and :mod:`recheck.history` (the evidence). Other changes'
builds are read through the review's own log locator (Zuul manifest,
probes) and analysis cache, without progress bars.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ostk.http import build_session
from recheck.gerrit import Change, GerritClient
from recheck.history import HTTP_SETTINGS as HISTORY_HTTP
from recheck.history import Judging
from recheck.logcache import LogCache
from recheck.models import LogAnalysis, Report
from recheck.review.builds import ZuulClients
from recheck.review.download import LogAnalyser
from recheck.review.types import JobEntry
from recheck.verdict import INFRA_RESULTS, ReviewVerdict, VerdictKind, with_verdicts
from recheck.zuul import Build, ZuulClient, parse_build_page


@dataclass
class VerdictStep:
    """One review's verdict: start, apply to the report, and what ``--post`` may post."""

    cache: LogCache | None
    #: False: no look-ups on other changes (``--no-history``).
    history: bool = True
    #: Post a ``recheck - <job>: <failure>`` even when the change broke the job (``--force``).
    force: bool = False
    #: Reads other changes' builds (the review's locator and cache, no progress bars).
    analyser: LogAnalyser | None = None
    decided: ReviewVerdict | None = None

    def start(
        self, change: Change, patchset: int, entries: Sequence[JobEntry], gerrit: GerritClient, zuul: ZuulClients
    ) -> Judging:
        failed = [e for e in entries if e.failed and e.voting and e.pipeline_votes]
        return Judging(
            [e.name for e in failed],
            change=change.number,
            patchset=patchset,
            branch=change.branch or None,
            zuul=_zuul_of(failed, zuul),
            gerrit=gerrit,
            cache_dir=self.cache.directory.parent / "history" if self.cache is not None else None,
            history=self.history,
            # Jobs that ran no tests (NODE_FAILURE...) have nothing to compare.
            prefetch=[e.name for e in failed if e.result.upper() not in INFRA_RESULTS],
            analyser=build_reader(self.analyser) if self.analyser is not None else None,
            on_cancel=self.analyser.cancel if self.analyser is not None else None,
            # History is an extra: quick retries, within the review's own deadline.
            session=build_session(HISTORY_HTTP, deadline=getattr(gerrit.session, "deadline", None)),
        )

    def apply(self, report: Report, judging: Judging) -> Report:
        self.decided = judging.decide(report.jobs)
        return with_verdicts(report, self.decided)

    def to_post(self, report: Report) -> Report:
        """The report the post policy sees: with ``--force``, a ``change`` verdict's comment as the suggestion."""
        if (
            self.force
            and self.decided is not None
            and self.decided.forced
            and report.verdict is not None
            and report.verdict.kind is VerdictKind.CHANGE
        ):
            note = f"posted despite the verdict (--force): {self.decided.forced!r}"
            return replace(report, suggestion=self.decided.forced, warnings=(*report.warnings, note))
        return report



def build_reader(analyser: LogAnalyser) -> Callable[[Build], LogAnalysis | None]:
    """Another change's build → its analysis, through ``analyser`` (locator, cache, engine)."""

    def read(build: Build) -> LogAnalysis | None:
        entry = JobEntry(
            name=build.job_name, result=build.result or "FAILURE", pipeline=build.pipeline,
            voting=build.voting, url=None, build=build,
        )
        return analyser.analyse_job(entry).analysis

    return read


def _zuul_of(failed: Sequence[JobEntry], zuul: ZuulClients) -> ZuulClient | None:
    """The configured Zuul, else the one the CI comment's build pages are on."""
    if zuul.configured is not None:
        return zuul.configured
    for entry in failed:
        url = zuul.absolute(entry.url) if entry.url else None
        page = parse_build_page(url) if url else None
        if page is not None:
            return zuul.for_page(page)
    return None
