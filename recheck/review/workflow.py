"""The review workflow, step by step: change → builds → logs → failures → bugs → report → post.

Each step is one object (see the package docstring); this module only wires
them and assembles the :class:`recheck.models.Report`.
"""
from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from ostk.errors import NotFound, UsageError
from ostk.http import Deadline, build_session, current_deadline
from recheck.comments import CIComment, ci_comments, latest_per_pipeline
from recheck.gerrit import Change, GerritClient, GerritCredentials, ambiguous
from recheck.history import Judging
from recheck.launchpad import DEFAULT_LAUNCHPAD, LaunchpadClient
from recheck.launchpad import HTTP_SETTINGS as LAUNCHPAD_SETTINGS
from recheck.logcache import LogCache
from recheck.models import Failure, FailureKind, JobReport, Report, ReviewRef
from recheck.review import child
from recheck.review.bugs import LaunchpadSearch
from recheck.review.builds import BuildDiscovery, ZuulClients
from recheck.review.download import DEFAULT_WORKERS, AnalyserOptions, LogAnalyser
from recheck.review.locate import LogLocator
from recheck.review.pipelines import PipelineRules
from recheck.review.policy import PostPolicy
from recheck.review.types import JobEntry, JobOutcome, NoProgress, ReviewProgress
from recheck.review.verdict import VerdictStep
from recheck.reviewref import DEFAULT_TENANT, ReviewTarget, gerrit_base, parse_review
from recheck.suggestion import suggest
from recheck.zuul import ZuulClient, parse_build_page

_RESULT_FAILURES = {
    "NODE_FAILURE": (FailureKind.INFRA, "no test node could be provided (NODE_FAILURE)"),
    "RETRY_LIMIT": (FailureKind.INFRA, "the job was retried until the retry limit (RETRY_LIMIT)"),
    "TIMED_OUT": (FailureKind.TIMEOUT, "the job ran out of time (TIMED_OUT)"),
    "POST_FAILURE": (FailureKind.INFRA, "a post-run playbook failed (POST_FAILURE)"),
    "ERROR": (FailureKind.INFRA, "Zuul could not run the job (ERROR)"),
}
_PROBLEM_NOTES = {
    "dependency": "nothing to recheck here: fix or recheck that change first",
    "merge": "Zuul could not merge the change: rebase it, a recheck will not help",
    "config": "Zuul reported a configuration error: fix the configuration, a recheck will not help",
}


def check_review(
    review: str | ReviewTarget,
    *,
    gerrit: str | GerritClient | None = None,
    zuul: str | ZuulClient | None = None,
    tenant: str | None = None,
    launchpad: str | LaunchpadClient | None = None,
    patchset: int | None = None,
    pipeline: str | None = None,
    include_all: bool = False,
    post: bool = False,
    confirm: Callable[[str, Report], bool] | None = None,
    cache: LogCache | None = None,
    signatures: Any = None,
    every_line: bool = False,
    pipelines: PipelineRules | None = None,
    progress: ReviewProgress | None = None,
    session: requests.Session | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    workers: int = DEFAULT_WORKERS,
    now: _dt.datetime | None = None,
    process_threshold: int | None = child.PROCESS_THRESHOLD,
    history: bool = True,
    force: bool = False,
    timeout: float | None = None,
) -> Report:
    """Analyse the failed CI jobs of a review; suggest (and with ``post=True`` post) a recheck.

    ``gerrit``/``zuul``/``launchpad`` are base URLs or ready clients; when
    ``gerrit`` is None it comes from the review URL, ``OSTK_GERRIT_URL``, the
    ``.gitreview`` of ``cwd``, else review.opendev.org (``environ`` defaults
    to ``os.environ``: it also holds the Gerrit credentials for posting).
    ``pipeline`` restricts the review to one pipeline; for a pipeline that
    casts no vote (``pipelines``, OpenDev's by default) the suggestion is its
    trigger (``check experimental``). ``signatures``/``every_line`` are the
    offline signatures and how widely they are checked. ``confirm(comment,
    report)`` is asked before posting (return False to skip). Raises
    :class:`recheck.review.RecheckRefused` when posting is refused,
    ``ServiceError`` when Gerrit fails or a service answers with a wrong
    shape; per-job log problems and a Launchpad outage become warnings. Logs
    of ``process_threshold`` bytes or more are analysed in child processes
    when there is more than one CPU (None: never). ``timeout`` bounds every
    remote call of the review together (an :class:`ostk.http.Deadline`; the
    CLI's ``--timeout`` sets one for the whole command).

    Every failed voting job gets a verdict (``recheck.verdict``; evidence from
    ``recheck.history``): ``history=False`` skips the look-ups on other changes.
    With ``post=True`` a ``change`` verdict refuses to post
    (``RefusalReason.CAUSED_BY_CHANGE``) unless ``force=True``, which posts
    ``recheck - <job>: <failure>``.
    """
    environ = dict(environ if environ is not None else os.environ)
    deadline = Deadline(timeout, "the review's remote calls") if timeout else current_deadline()
    session = session or build_session(deadline=deadline)
    target = parse_review(review) if isinstance(review, str) else review
    zuul_clients = ZuulClients(_zuul_client(zuul, tenant, session), session)
    rules = pipelines or PipelineRules()
    gerrit_client = _gerrit_client(gerrit, target, environ, cwd, session)
    options = AnalyserOptions(
        signatures=signatures,
        every_line=every_line,
        workers=workers,
        process_threshold=process_threshold if child.usable_cpus() > 1 else None,
        cache=cache,
    )
    workflow = _Workflow(
        target=target,
        gerrit=gerrit_client,
        zuul=zuul_clients,
        tenant=tenant,
        rules=rules,
        bugs=LaunchpadSearch(
            launchpad if isinstance(launchpad, LaunchpadClient) else LaunchpadClient(
                launchpad or environ.get("OSTK_LAUNCHPAD_URL") or DEFAULT_LAUNCHPAD,
                session=build_session(LAUNCHPAD_SETTINGS, deadline=deadline),
                # Bug searches are cached beside the analyses (for an hour) when there is a cache.
                cache_dir=cache.directory.parent / "launchpad" if cache is not None else None,
            ),
            now=now,
        ),
        analyser=LogAnalyser(
            session=session,
            locate=LogLocator(zuul_clients, session).locate,
            progress=progress or NoProgress(),
            options=options,
        ),
        policy=PostPolicy(
            gerrit_client, lock_dir=cache.directory.parent / "locks" if cache is not None else None, deadline=deadline
        ),
        verdict=VerdictStep(
            cache=cache,
            history=history,
            force=force,
            # Other changes' logs: the same locator, options and cache, no progress bars.
            analyser=LogAnalyser(
                session=session,
                locate=LogLocator(zuul_clients, session).locate,
                progress=NoProgress(),
                options=options,
            ),
        ),
    )
    return workflow.run(patchset=patchset, pipeline=pipeline, include_all=include_all, post=post, confirm=confirm)


def _gerrit_client(
    gerrit: str | GerritClient | None,
    target: ReviewTarget,
    environ: Mapping[str, str],
    cwd: Path | None,
    session: requests.Session,
) -> GerritClient:
    if isinstance(gerrit, GerritClient):
        return gerrit
    base = gerrit or target.gerrit or gerrit_base(None, environ, cwd)
    host = urlsplit(base).hostname or ""
    return GerritClient(base, session=session, credentials=GerritCredentials.from_environ(environ, host))


def _zuul_client(zuul: str | ZuulClient | None, tenant: str | None, session: requests.Session) -> ZuulClient | None:
    if isinstance(zuul, ZuulClient) or zuul is None:
        return zuul
    return ZuulClient.from_url(zuul, tenant=tenant, session=session)


@dataclass
class _Workflow:
    target: ReviewTarget
    gerrit: GerritClient
    zuul: ZuulClients
    tenant: str | None
    rules: PipelineRules
    bugs: LaunchpadSearch
    analyser: LogAnalyser
    policy: PostPolicy
    verdict: VerdictStep

    def run(
        self,
        *,
        patchset: int | None,
        pipeline: str | None,
        include_all: bool,
        post: bool,
        confirm: Callable[[str, Report], bool] | None,
    ) -> Report:
        number, build_patchset, build_pipeline = self._change_number()
        pipeline = pipeline or build_pipeline
        change = self.gerrit.change(number)
        chosen = patchset or self.target.patchset or build_patchset or change.current_patchset
        if chosen > change.current_patchset or chosen < 1:
            raise UsageError(
                f"change {change.number} has no patch set {chosen} (latest is {change.current_patchset})"
            )
        comments = latest_per_pipeline(ci_comments(change.messages), chosen)
        found = BuildDiscovery(self.zuul, self.rules).discover(change.number, chosen, comments, pipeline=pipeline)
        warnings = list(found.warnings)
        if not found.jobs and not found.problems:
            where = f" in the {pipeline} pipeline" if pipeline else ""
            warnings.append(f"no CI results found for patch set {chosen}{where}")
        selected = [e for e in found.jobs if include_all or e.failed]
        asked = pipeline is not None
        analyse = [e for e in selected if e.failed and ((e.voting and (e.pipeline_votes or asked)) or include_all)]
        judging = self.verdict.start(change, chosen, selected, self.gerrit, self.zuul)
        try:
            outcomes = self.analyser.analyse_all(analyse)
            report = self._assemble(change, chosen, selected, outcomes, found.problems, warnings, pipeline, judging)
        except BaseException:
            judging.cancel()
            raise
        if post:
            to_post = self.verdict.to_post(report)
            if self.policy.post(to_post, change, chosen, pipeline=pipeline, confirm=confirm):
                report = replace(report, posted=True, warnings=to_post.warnings)
            else:
                report = replace(report, warnings=(*report.warnings, "not posted: not confirmed"))
        return report

    def _change_number(self) -> tuple[int, int | None, str | None]:
        target = self.target
        if target.change is not None:
            return target.change, None, None
        if target.change_id:
            candidates = self.gerrit.query_change_id(target.change_id)
            if not candidates:
                raise NotFound(
                    f"no change with Change-Id {target.change_id} on {self.gerrit.base_url}",
                    status=404,
                    url=self.gerrit.base_url,
                )
            if len(candidates) > 1:
                raise ambiguous(target.change_id, candidates)
            return candidates[0].number, None, None
        assert target.zuul and (target.zuul_build or target.zuul_buildset)
        client = self.zuul.configured if self.zuul.configured is not None and target.zuul == self.zuul.configured.base_url else None
        client = client or ZuulClient(target.zuul, target.tenant if target.tenant is not None or target.whitelabel else (self.tenant or DEFAULT_TENANT), session=self.zuul.session)
        if target.zuul_buildset:
            buildset = client.buildset(target.zuul_buildset)
            if buildset.change is None:
                raise UsageError(f"Zuul buildset {target.zuul_buildset} did not run on a Gerrit change")
            return buildset.change, buildset.patchset, buildset.pipeline
        assert target.zuul_build
        build = client.build(target.zuul_build)
        if build.change is None:
            raise UsageError(f"Zuul build {target.zuul_build} did not run on a Gerrit change")
        return build.change, build.patchset, None

    # -- the report -------------------------------------------------------------------
    def _assemble(
        self,
        change: Change,
        patchset: int,
        entries: Sequence[JobEntry],
        outcomes: Mapping[str, JobOutcome],
        problems: Sequence[CIComment],
        warnings: list[str],
        pipeline: str | None,
        judging: Judging,
    ) -> Report:
        """Job reports → bugs → suggestion: the one place a report is put together.

        A further step (a verdict on each job, history) slots in between the
        bug search and the suggestion, taking and returning the job reports.
        """
        jobs = tuple(self._job_report(entry, outcomes.get(entry.key)) for entry in entries)
        bugs = self.bugs.attach(jobs, change.project)
        jobs = bugs.jobs
        warnings.extend(bugs.warnings)
        for problem in problems:
            warnings.append(f"{problem.pipeline}: {problem.problem_text} — {_PROBLEM_NOTES[problem.problem or 'config']}")
        suggestion = self._suggest(jobs, pipeline)
        review = ReviewRef(change=change.number, patchset=patchset, project=change.project, url=f"{change.url}/{patchset}")
        report = Report(review=review, jobs=jobs, suggestion=suggestion, posted=False, warnings=tuple(warnings))
        if pipeline is not None and not self.rules.votes(pipeline):
            # A pipeline without a vote gets its trigger, not a verdict.
            judging.cancel()
            return report
        return self.verdict.apply(report, judging)

    def _suggest(self, jobs: Sequence[JobReport], pipeline: str | None) -> str | None:
        if pipeline is not None and not self.rules.votes(pipeline):
            # Asked about a pipeline without a vote: its own trigger re-runs it.
            failed = [j for j in jobs if j.result and j.result.upper() not in ("SUCCESS", "SKIPPED") and j.voting]
            return self.rules.trigger(pipeline) if failed else None
        return suggest(jobs)

    def _job_report(self, entry: JobEntry, outcome: JobOutcome | None) -> JobReport:
        analysis = outcome.analysis if outcome else None
        warnings = list(outcome.warnings) if outcome else []
        log_url = outcome.log_url if outcome else None
        if log_url is None and entry.build and entry.build.log_url:
            log_url = entry.build.log_url
        if log_url is None and entry.url and parse_build_page(entry.url) is None:
            log_url = entry.url
        failures = analysis.failures if analysis else ()
        if entry.failed and not failures and entry.result in _RESULT_FAILURES:
            kind, message = _RESULT_FAILURES[entry.result]
            detail = f": {entry.error}" if entry.error else ""
            failures = (Failure(kind=kind, id=entry.name, message=message + detail),)
        if entry.failed and outcome is None:
            if not entry.voting:
                warnings.append("non-voting: not analysed (use --all)")
            elif not entry.pipeline_votes:
                warnings.append(f"the {entry.pipeline} pipeline casts no vote: not analysed (use --all or --pipeline)")
        return JobReport(
            name=entry.name,
            result=entry.result,
            log_url=log_url,
            failures=failures,
            bugs=analysis.signature_matches if analysis else (),
            pipeline=entry.pipeline,
            voting=entry.voting,
            warnings=tuple(warnings) + (analysis.warnings if analysis else ()),
            truncated=bool(analysis and analysis.truncated),
            pipeline_votes=entry.pipeline_votes,
        )
