"""The review workflow: Gerrit review → failed jobs → failures → bugs → comment.

:func:`check_review` is the whole of ``ostk recheck REVIEW`` as a function,
for scripts and bots::

    import recheck
    report = recheck.check_review("https://review.opendev.org/c/openstack/nova/+/123456")
    print(report.suggestion)          # "recheck bug #2012345"

A bot looping over reviews shares one cache (logs are read once) and posts
only confident suggestions; refusals (already rechecked, newer patch set)
arrive as :class:`ostk.errors.UsageError`::

    import ostk.errors, recheck
    cache = recheck.LogCache("/var/cache/recheck-bot")
    for review in ("123456", "123457"):
        report = recheck.check_review(review, cache=cache)
        if report.suggestion and report.suggestion.startswith("recheck bug #"):
            try:
                recheck.check_review(review, cache=cache, post=True)
            except ostk.errors.UsageError as refused:
                print(review, refused)

Steps: resolve the REVIEW argument to a change; read the change and its
messages; take the CI comments of the chosen patch set (the latest per
pipeline); find each failed job's logs (Zuul build API, or the Jenkins log
directory); download all of them at once through a bounded pool, streaming
every byte through the log engine as it arrives (no temporary files, no
whole-log buffers); search Launchpad for each failure; suggest the comment;
optionally post it.
"""
from __future__ import annotations

import datetime as _dt
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from ostk.errors import ExitStatus, NotFound, OstkError, ServiceError, UsageError
from ostk.http import build_session, check_status, redact_url, service_errors
from recheck.comments import CIComment, JobResult, ci_comments, latest_per_pipeline, recheck_after
from recheck.engine import LogScanner, analyze_stream
from recheck.gerrit import Change, GerritClient, GerritCredentials, ambiguous
from recheck.history import Judging
from recheck.launchpad import DEFAULT_LAUNCHPAD, LaunchpadBugFinder, LaunchpadClient, merge_matches
from recheck.logcache import LogCache
from recheck.models import Failure, FailureKind, JobReport, LogAnalysis, Report, ReviewRef
from recheck.reviewref import DEFAULT_TENANT, ReviewTarget, gerrit_base, parse_review
from recheck.suggestion import suggest
from recheck.verdict import INFRA_RESULTS, ReviewVerdict, VerdictKind, with_verdicts
from recheck.zuul import Artifact, Build, ZuulClient, parse_build_page

#: Logs downloaded at once: enough to hide latency, few enough to be polite.
DEFAULT_WORKERS = 4
#: Bytes per read: small enough that Ctrl-C and progress stay responsive.
CHUNK = 64 * 1024
#: Logs at least this big (bytes on the wire) are analysed in a child process when
#: there are several CPUs: the engine's scan holds the GIL, so threads alone would
#: analyse one log at a time while the others' downloads wait.
PROCESS_THRESHOLD = 8 * 1024 * 1024

_RESULT_FAILURES = {
    "NODE_FAILURE": (FailureKind.INFRA, "no test node could be provided (NODE_FAILURE)"),
    "RETRY_LIMIT": (FailureKind.INFRA, "the job was retried until the retry limit (RETRY_LIMIT)"),
    "TIMED_OUT": (FailureKind.TIMEOUT, "the job ran out of time (TIMED_OUT)"),
    "POST_FAILURE": (FailureKind.INFRA, "a post-run playbook failed (POST_FAILURE)"),
    "ERROR": (FailureKind.INFRA, "Zuul could not run the job (ERROR)"),
}


class RecheckRefused(UsageError):
    """Posting was refused for a reason a bot can act on (``reason``, e.g. ``caused-by-change``).

    Provisional: the review package's own refusal exception replaces it.
    """

    exit_status = ExitStatus.NEGATIVE

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ReviewProgress(Protocol):
    """What the workflow reports while it downloads (the CLI draws bars)."""

    def started(self, key: str, description: str, total: int | None) -> None: ...

    def advance(self, key: str, nbytes: int) -> None: ...

    def finished(self, key: str) -> None: ...


class _NoProgress:
    def started(self, key: str, description: str, total: int | None) -> None:
        pass

    def advance(self, key: str, nbytes: int) -> None:
        pass

    def finished(self, key: str) -> None:
        pass


@dataclass(frozen=True)
class JobEntry:
    """A job of the chosen patch set, before its logs are read."""

    name: str
    result: str
    pipeline: str | None
    voting: bool
    #: The link in the CI comment: a Zuul build page or a Jenkins log directory.
    url: str | None
    error: str | None = None
    #: Filled when the Zuul API already described the build.
    build: Build | None = None

    @property
    def failed(self) -> bool:
        return JobResult(self.name, self.url, self.result).failed


@dataclass(frozen=True)
class LogSource:
    """One log file to analyse, and the name the engine sees (it picks the reader by name)."""

    url: str
    name: str


class _Cancelled(Exception):
    pass


def check_review(
    review: str | ReviewTarget,
    *,
    gerrit: str | GerritClient | None = None,
    zuul: str | ZuulClient | None = None,
    tenant: str | None = None,
    launchpad: str | LaunchpadClient | None = None,
    patchset: int | None = None,
    include_all: bool = False,
    post: bool = False,
    confirm: Callable[[str, Report], bool] | None = None,
    cache: LogCache | None = None,
    signatures: Any = None,
    progress: ReviewProgress | None = None,
    session: requests.Session | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    workers: int = DEFAULT_WORKERS,
    now: _dt.datetime | None = None,
    process_threshold: int | None = PROCESS_THRESHOLD,
    history: bool = True,
    force: bool = False,
) -> Report:
    """Analyse the failed CI jobs of a review; suggest (and with ``post=True`` post) a recheck.

    ``gerrit``/``zuul``/``launchpad`` are base URLs or ready clients; when
    ``gerrit`` is None it comes from the review URL, ``OSTK_GERRIT_URL``, the
    ``.gitreview`` of ``cwd``, else review.opendev.org (``environ`` defaults
    to ``os.environ``: it also holds the Gerrit credentials for posting). ``confirm(comment,
    report)`` is asked before posting (return False to skip). Raises
    :class:`ostk.errors.UsageError` when posting is refused (already
    rechecked, newer patch set, nothing failed), ``ServiceError`` when
    Gerrit fails; per-job log problems and a Launchpad outage become warnings.
    Logs of ``process_threshold`` bytes or more are analysed in child
    processes when there is more than one CPU (None: never).

    Every failed voting job gets a verdict (``recheck.verdict``): ``history=False``
    skips the look-ups on other changes. With ``post=True`` a ``change`` verdict
    refuses to post (:class:`RecheckRefused`, reason ``caused-by-change``) unless
    ``force=True``, which posts ``recheck - <job>: <failure>``.
    """
    environ = dict(environ if environ is not None else os.environ)
    session = session or build_session()
    target = parse_review(review) if isinstance(review, str) else review
    workflow = _Workflow(
        target=target,
        gerrit=_gerrit_client(gerrit, target, environ, cwd, session),
        zuul=_zuul_client(zuul, tenant, session),
        launchpad=launchpad if isinstance(launchpad, LaunchpadClient) else LaunchpadClient(
            launchpad or environ.get("OSTK_LAUNCHPAD_URL") or DEFAULT_LAUNCHPAD,
            # Bug searches are cached beside the analyses (for an hour) when there is a cache.
            cache_dir=cache.directory.parent / "launchpad" if cache is not None else None,
        ),
        session=session,
        tenant=tenant,
        cache=cache,
        signatures=signatures,
        progress=progress or _NoProgress(),
        workers=max(1, workers),
        now=now,
        process_threshold=process_threshold if _usable_cpus() > 1 else None,
        history=history,
        force=force,
    )
    return workflow.run(patchset=patchset, include_all=include_all, post=post, confirm=confirm)


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


class _Workflow:
    def __init__(
        self,
        *,
        target: ReviewTarget,
        gerrit: GerritClient,
        zuul: ZuulClient | None,
        launchpad: LaunchpadClient,
        session: requests.Session,
        tenant: str | None,
        cache: LogCache | None,
        signatures: Any,
        progress: ReviewProgress,
        workers: int,
        now: _dt.datetime | None,
        process_threshold: int | None = None,
        history: bool = True,
        force: bool = False,
    ) -> None:
        self.process_threshold = process_threshold
        self.history = history
        self.force = force
        self.decided: ReviewVerdict | None = None
        self.target = target
        self.gerrit = gerrit
        self.zuul = zuul
        self.launchpad = launchpad
        self.session = session
        self.tenant = tenant
        self.cache = cache
        self.signatures = signatures
        self.progress = progress
        self.workers = workers
        self.now = now
        self.warnings: list[str] = []
        self._zuul_by_page: dict[tuple[str, str], ZuulClient] = {}
        self._cancel = threading.Event()
        self._open: set[requests.Response] = set()
        self._open_lock = threading.Lock()

    # -- the steps ------------------------------------------------------
    def run(
        self,
        *,
        patchset: int | None,
        include_all: bool,
        post: bool,
        confirm: Callable[[str, Report], bool] | None,
    ) -> Report:
        number, build_patchset = self._change_number()
        change = self.gerrit.change(number)
        chosen = patchset or self.target.patchset or build_patchset or change.current_patchset
        if chosen > change.current_patchset or chosen < 1:
            raise UsageError(
                f"change {change.number} has no patch set {chosen} (latest is {change.current_patchset})"
            )
        comments = latest_per_pipeline(ci_comments(change.messages), chosen)
        entries = self._jobs(change, chosen, comments)
        if not entries:
            self.warnings.append(f"no CI results found for patch set {chosen}")
        selected = [e for e in entries if include_all or e.failed]
        analyse = [e for e in selected if e.failed and (e.voting or include_all)]
        judging = self._start_verdict(change, chosen, selected)
        try:
            analyses = self._analyse_all(analyse)
        except BaseException:
            judging.cancel()
            raise
        jobs = tuple(self._job_report(entry, analyses.get(id(entry)), change) for entry in selected)
        jobs = self._with_bugs(jobs, change.project)
        suggestion = _suggest(jobs)
        review = ReviewRef(change=change.number, patchset=chosen, project=change.project, url=f"{change.url}/{chosen}")
        report = Report(review=review, jobs=jobs, suggestion=suggestion, posted=False, warnings=tuple(self.warnings))
        self.decided = judging.decide(report.jobs)
        report = with_verdicts(report, self.decided)
        if post:
            report = self._post(report, change, chosen, comments, confirm)
        return report

    def _change_number(self) -> tuple[int, int | None]:
        target = self.target
        if target.change is not None:
            return target.change, None
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
            return candidates[0].number, None
        assert target.zuul_build and target.zuul
        client = self.zuul or ZuulClient(target.zuul, target.tenant or self.tenant or DEFAULT_TENANT, session=self.session)
        build = client.build(target.zuul_build)
        if build.change is None:
            raise UsageError(f"Zuul build {target.zuul_build} did not run on a Gerrit change")
        return build.change, build.patchset

    def _jobs(self, change: Change, patchset: int, comments: Sequence[CIComment]) -> list[JobEntry]:
        entries = [
            JobEntry(
                name=job.name,
                result=job.result,
                pipeline=comment.pipeline,
                voting=job.voting,
                url=job.url,
                error=job.error,
            )
            for comment in comments
            for job in comment.jobs
        ]
        if self.zuul is None:
            return entries
        # The builds API saves one request per job, and knows builds no comment reported yet.
        try:
            builds = self.zuul.builds(change.number, patchset)
        except OstkError as exc:
            self.warnings.append(f"Zuul builds API unavailable: {exc}")
            return entries
        by_uuid = {b.uuid: b for b in builds}
        entries = [
            replace(e, build=by_uuid.get(page.uuid)) if e.url and (page := parse_build_page(e.url)) else e
            for e in entries
        ]
        reported = {(e.pipeline, e.name) for e in entries}
        latest: dict[tuple[str | None, str], Build] = {}
        for build in builds:
            key = (build.pipeline, build.job_name)
            if key in reported or build.result is None:
                continue
            if key not in latest or (build.end_time or "") > (latest[key].end_time or ""):
                latest[key] = build
        for build in latest.values():
            entries.append(
                JobEntry(
                    name=build.job_name,
                    result=build.result or "",
                    pipeline=build.pipeline,
                    voting=build.voting,
                    url=None,
                    error=build.error_detail,
                    build=build,
                )
            )
        return entries

    # -- logs -----------------------------------------------------------
    def _analyse_all(self, entries: Sequence[JobEntry]) -> dict[int, tuple[LogAnalysis | None, list[str], str | None]]:
        results: dict[int, tuple[LogAnalysis | None, list[str], str | None]] = {}
        if not entries:
            return results
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(entries)), thread_name_prefix="ostk-log")
        futures: dict[Future[Any], JobEntry] = {pool.submit(self._analyse_job, e): e for e in entries}
        try:
            pending = set(futures)
            while pending:
                # A timeout keeps the main thread responsive to Ctrl-C.
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    results[id(futures[future])] = future.result()
        except BaseException:
            self._cancel.set()
            with self._open_lock:
                for response in list(self._open):
                    try:
                        response.close()
                    except Exception:  # noqa: BLE001 - closing to unblock a reader
                        pass
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results

    def _analyse_job(self, entry: JobEntry) -> tuple[LogAnalysis | None, list[str], str | None]:
        """(analysis or None, warnings, log_url) for one failed job; never raises OstkError."""
        warnings: list[str] = []
        try:
            log_url, groups = self._sources(entry)
        except OstkError as exc:
            return None, [f"cannot find the logs: {exc}"], None
        if not groups:
            return None, ["the build left no logs"], log_url
        analysis: LogAnalysis | None = None
        missing: list[str] = []
        # Each group is one log under alternative names (job-output.txt or .txt.gz):
        # the first that exists is read; the next group only if it found nothing.
        for group in groups:
            for source in group:
                if self._cancel.is_set():
                    raise _Cancelled()
                try:
                    found = self._analyse_source(entry, source)
                except NotFound:
                    missing.append(source.url)
                    continue
                except OstkError as exc:
                    warnings.append(f"cannot read {redact_url(source.url)}: {exc}")
                    break
                analysis = found
                break
            if analysis is not None and analysis.failures:
                break
        if analysis is None and missing and not warnings:
            warnings.append(f"logs expired or missing (HTTP 404): {redact_url(missing[0])}")
        return analysis, warnings, log_url

    def _sources(self, entry: JobEntry) -> tuple[str | None, list[list[LogSource]]]:
        build = entry.build
        if build is None and entry.url:
            page = parse_build_page(entry.url)
            if page is not None:
                build = self._zuul_for(page.base, page.tenant).build(page.uuid)
            else:
                # A Jenkins / Zuul v2 comment links the log directory itself.
                base = entry.url if entry.url.endswith("/") else entry.url + "/"
                return base, [[LogSource(base + "console.html", "console.html"), LogSource(base + "console.html.gz", "console.html.gz")]]
        if build is None or not build.log_url:
            return None, []
        base = build.log_url if build.log_url.endswith("/") else build.log_url + "/"
        return base, [[source] for source in _structured(build.artifacts)] + [
            [LogSource(base + "job-output.txt", "job-output.txt"), LogSource(base + "job-output.txt.gz", "job-output.txt.gz")]
        ]

    def _zuul_for(self, base: str, tenant: str) -> ZuulClient:
        if self.zuul is not None:
            return self.zuul
        key = (base, tenant)
        if key not in self._zuul_by_page:
            self._zuul_by_page[key] = ZuulClient(base, tenant, session=self.session)
        return self._zuul_by_page[key]

    def _analyse_source(self, entry: JobEntry, source: LogSource) -> LogAnalysis:
        if self.cache is not None:
            cached = self.cache.get(source.url)
            if cached is not None:
                return cached
        what = f"downloading {entry.name} logs"
        with service_errors(what):
            response = self.session.get(source.url, stream=True)
        with self._open_lock:
            self._open.add(response)
        key = f"{entry.pipeline}/{entry.name}"
        state = {"truncated": False, "received": 0, "error": ""}
        try:
            check_status(response, what)
            total = response.headers.get("Content-Length")
            self.progress.started(key, entry.name, int(total) if total and total.isdigit() else None)
            encoding = response.headers.get("Content-Encoding")
            encoding = encoding.strip().lower() if encoding else None
            size = int(total) if total and total.isdigit() else 0
            # Big logs go to a child process: the scan holds the GIL.
            big = self.process_threshold is not None and size >= self.process_threshold
            analyse = _analyse_in_child if big else _engine_analyze
            analysis = analyse(
                self._chunks(response, key, state),
                name=source.name,
                job_name=entry.name,
                content_encoding=encoding,
                signatures=self.signatures,
            )
        finally:
            with self._open_lock:
                self._open.discard(response)
            response.close()
            self.progress.finished(key)
        if self._cancel.is_set():
            raise _Cancelled()
        if state["truncated"]:
            analysis = replace(
                analysis,
                truncated=True,
                warnings=analysis.warnings
                + (f"download cut short after {state['received']} bytes ({state['error']}): partial analysis",),
            )
        if self.cache is not None and not analysis.truncated:
            try:
                self.cache.put(source.url, analysis)
            except OstkError as exc:
                # A full or read-only cache must not cost the user the analysis itself.
                analysis = replace(analysis, warnings=analysis.warnings + (f"not cached: {exc}",))
        return analysis

    def _chunks(self, response: requests.Response, key: str, state: dict[str, Any]) -> Iterator[bytes]:
        # Raw bytes: the engine undoes Content-Encoding itself and can then tell
        # a truncated gzip stream from a complete one.
        try:
            for chunk in response.raw.stream(CHUNK, decode_content=False):
                if self._cancel.is_set():
                    raise _Cancelled()
                state["received"] += len(chunk)
                self.progress.advance(key, len(chunk))
                yield chunk
        except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError) as exc:
            # urllib3 raises ProtocolError / IncompleteRead / ReadTimeoutError when the
            # body stops early; closing the response on Ctrl-C surfaces here as well.
            if self._cancel.is_set():
                raise _Cancelled() from exc
            state["truncated"] = True
            state["error"] = type(exc).__name__
            return

    def _job_report(
        self, entry: JobEntry, outcome: tuple[LogAnalysis | None, list[str], str | None] | None, change: Change
    ) -> JobReport:
        analysis, warnings, log_url = outcome if outcome else (None, [], None)
        if log_url is None and entry.build and entry.build.log_url:
            log_url = entry.build.log_url
        if log_url is None and entry.url and parse_build_page(entry.url) is None:
            log_url = entry.url
        failures = analysis.failures if analysis else ()
        if entry.failed and not failures and entry.result in _RESULT_FAILURES:
            kind, message = _RESULT_FAILURES[entry.result]
            detail = f": {entry.error}" if entry.error else ""
            failures = (Failure(kind=kind, id=entry.name, message=message + detail),)
        if entry.failed and not entry.voting and outcome is None:
            warnings = warnings + ["non-voting: not analysed (use --all)"]
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
        )

    # -- bugs -----------------------------------------------------------
    def _with_bugs(self, jobs: tuple[JobReport, ...], project: str) -> tuple[JobReport, ...]:
        finder = LaunchpadBugFinder(self.launchpad, now=self.now)
        updated = []
        available = True
        try:
            finder.prefetch((job.failures for job in jobs if job.failures), project)
        except OstkError as exc:
            available = False
            self.warnings.append(f"bug search unavailable: {exc}")
        for job in jobs:
            if available and job.failures:
                try:
                    found = finder.find(job.failures, project)
                except OstkError as exc:
                    available = False
                    self.warnings.append(f"bug search unavailable: {exc}")
                else:
                    job = replace(job, bugs=merge_matches(job.bugs, found))
            updated.append(job)
        return tuple(updated)

    # -- the verdict (recheck.verdict, recheck.history) -----------------
    def _start_verdict(self, change: Change, patchset: int, entries: Sequence[JobEntry]) -> Judging:
        """Start gathering the verdict's evidence; it runs while the jobs' own logs download."""
        failed = [e for e in entries if e.failed and e.voting]
        zuul = self.zuul
        if zuul is None:
            # No --zuul: the Zuul of the build pages the CI comment links.
            page = next((p for e in failed if e.url and (p := parse_build_page(e.url))), None)
            zuul = self._zuul_for(page.base, page.tenant) if page else None
        return Judging(
            [e.name for e in failed],
            change=change.number,
            patchset=patchset,
            branch=change.branch or None,
            zuul=zuul,
            gerrit=self.gerrit,
            cache=self.cache,
            signatures=self.signatures,
            history=self.history,
            # Jobs that ran no tests (NODE_FAILURE...) have nothing to compare.
            prefetch=[e.name for e in failed if e.result.upper() not in INFRA_RESULTS],
        )

    # -- posting --------------------------------------------------------
    def _post(
        self,
        report: Report,
        change: Change,
        patchset: int,
        comments: Sequence[CIComment],
        confirm: Callable[[str, Report], bool] | None,
    ) -> Report:
        if change.status.upper() in ("MERGED", "ABANDONED"):
            raise UsageError(f"not posting: change {change.number} is {change.status.lower()}")
        if patchset != change.current_patchset:
            raise UsageError(
                f"not posting: patch set {patchset} is not the latest of change {change.number} "
                f"(patch set {change.current_patchset} exists)"
            )
        failed = [c for c in comments if c.verdict == "failed" or c.failed_jobs]
        if not any(j.voting and j.result and JobResult(j.name, None, j.result).failed for j in report.jobs) or not failed:
            raise UsageError(f"not posting: nothing failed on patch set {patchset} of change {change.number}")
        latest_failure = max(failed, key=lambda c: (c.date or _dt.datetime.min, c.index))
        earlier = recheck_after(change.messages, patchset, latest_failure)
        if earlier is not None:
            when = f" at {earlier.date:%Y-%m-%d %H:%M} UTC" if earlier.date else ""
            first_line = earlier.message.strip().splitlines()
            text = next((line for line in first_line if line.lower().startswith("recheck")), "recheck")
            raise UsageError(
                f"not posting: {earlier.author or 'someone'} already posted {text!r}{when} "
                f"after the latest failure on patch set {patchset}"
            )
        comment = report.suggestion
        if report.verdict is not None and report.verdict.kind is VerdictKind.CHANGE:
            if not self.force:
                raise RecheckRefused(
                    f"not posting: the failure is most likely caused by this change ({report.advice}); "
                    "fix it, or post anyway with --force",
                    reason="caused-by-change",
                )
            comment = self.decided.forced if self.decided else None
        if not comment:
            raise UsageError("not posting: no suggestion")
        if confirm is not None and not confirm(comment, report):
            return replace(report, warnings=report.warnings + ("not posted: not confirmed",))
        self.gerrit.post_review(change.number, comment)
        if comment != report.suggestion:
            report = replace(report, warnings=(*report.warnings, f"posted despite the verdict (--force): {comment!r}"))
        return replace(report, posted=True)


def _structured(artifacts: Sequence[Artifact]) -> list[LogSource]:
    """Subunit streams first, then job-output.json: they say what failed without guessing."""
    subunit = [a for a in artifacts if _basename(a.url).endswith((".subunit", ".subunit.gz"))]
    json_output = [a for a in artifacts if _basename(a.url) in ("job-output.json", "job-output.json.gz")]
    return [LogSource(a.url, _basename(a.url)) for a in subunit + json_output]


def _basename(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def _engine_analyze(
    chunks: Iterator[bytes], *, name: str, job_name: str, content_encoding: str | None, signatures: Any
) -> LogAnalysis:
    return analyze_stream(
        chunks, name=name, content_encoding=content_encoding, signatures=signatures, job_name=job_name
    )


def _analyse_in_child(
    chunks: Iterator[bytes], *, name: str, job_name: str, content_encoding: str | None, signatures: Any
) -> LogAnalysis:
    """The engine in a child process, fed over a pipe while the download goes on.

    The pipe's small buffer is the back-pressure: at most a few chunks are in
    flight, so memory stays bounded whatever the log size. The child ignores
    Ctrl-C; the parent kills it on any way out.
    """
    if not _CHILD_SLOTS.acquire(blocking=False):
        # Every CPU already has a child: analyse here, alongside them.
        return _engine_analyze(
            chunks, name=name, job_name=job_name, content_encoding=content_encoding, signatures=signatures
        )
    try:
        return _analyse_piped(
            chunks, name=name, job_name=job_name, content_encoding=content_encoding, signatures=signatures
        )
    finally:
        _CHILD_SLOTS.release()


#: More analysis children than CPUs buys nothing but memory.
def _usable_cpus() -> int:
    # The CPUs this process may run on (a container or taskset may allow fewer than exist).
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_CHILD_SLOTS = threading.BoundedSemaphore(_usable_cpus())


def _analyse_piped(
    chunks: Iterator[bytes], *, name: str, job_name: str, content_encoding: str | None, signatures: Any
) -> LogAnalysis:
    context = _process_context()
    parent_end, child_end = context.Pipe()
    child = context.Process(
        target=_child_main,
        args=(child_end, name, job_name, content_encoding, signatures),
        name=f"ostk-analyse-{job_name}",
        daemon=True,
    )
    child.start()
    child_end.close()
    try:
        try:
            for chunk in chunks:
                if chunk:
                    parent_end.send_bytes(chunk)
            parent_end.send_bytes(b"")
        except (BrokenPipeError, EOFError, OSError):
            pass  # the child died: its answer (or its absence) says why below
        try:
            status, value = parent_end.recv()
        except (EOFError, OSError) as exc:
            raise ServiceError(f"analysing {job_name}: the analysis process died") from exc
        if status != "ok":
            raise ServiceError(f"analysing {job_name}: {value}")
        return value
    finally:
        parent_end.close()
        if child.is_alive():
            child.kill()
        child.join(timeout=5)


_CONTEXT_LOCK = threading.Lock()
_CONTEXT: Any = None


def _process_context() -> Any:
    # forkserver: children fork from a clean single-threaded server that has the
    # engine imported, so they start fast and inherit none of our threads' locks.
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["recheck.engine"])
            except ValueError:
                context = multiprocessing.get_context("spawn")
            _CONTEXT = context
        return _CONTEXT


def _child_main(conn: Any, name: str, job_name: str, content_encoding: str | None, signatures: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        scanner = LogScanner(name=name, content_encoding=content_encoding, signatures=signatures, job_name=job_name)
        while True:
            data = conn.recv_bytes()
            if not data:
                break
            scanner.feed(data)
        conn.send(("ok", scanner.finish()))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except Exception:  # noqa: BLE001 - the parent went away
            pass
    finally:
        conn.close()


def _suggest(jobs: Sequence[JobReport]) -> str | None:
    return suggest(jobs)
