"""Evidence from elsewhere for the verdict: job history, the same failure on other changes, the change's files.

Three sources, each optional (a source that cannot be reached becomes a
warning and the verdict is decided from what is left):

- Zuul's builds API (``GET /api/tenant/T/builds?job_name=J&branch=B&final=true&limit=N``,
  newest first; ``final=true`` drops retried attempts): how often the job
  failed in gate and check on this branch, on other changes; then a bounded
  number of its recent *failed* builds on other changes are analysed
  through the log engine and the shared :class:`~recheck.logcache.LogCache`
  (a log is read once, ever; the review lends its log reader as
  ``analyser``) to count the changes that fail the same way.
- The same job on the previous patch set (``builds?change=N&patchset=M-1``).
- Gerrit's ``GET /changes/{id}/revisions/{rev}/files`` (``)]}'``-prefixed
  JSON keyed by path): the files the analysed revision modifies.

Everything runs concurrently on a small pool; builds listings are cached on
disk for :attr:`HistorySettings.ttl` seconds so a rerun asks Zuul nothing.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import requests

from ostk.errors import OstkError, ServiceError
from ostk.files import atomic_write, ensure_private_dir
from ostk.http import (
    HttpSettings,
    build_session,
    get_json,
    request,
)
from recheck.gerrit import GerritClient, parse_json
from recheck.models import JobReport, LogAnalysis
from recheck.suggestion import is_failed_voting
from recheck.verdict import Evidence, JobHistory, ReviewVerdict, decide, failure_key
from recheck.zuul import Build, ZuulClient, build_from_json

#: History is an extra: one quick retry, not the default three with backoff.
HTTP_SETTINGS = HttpSettings(retries=1, backoff=0.2, read_timeout=30.0)
#: Gerrit's pseudo-files in a revision's file list.
_MAGIC_FILES = frozenset({"/COMMIT_MSG", "/MERGE_LIST", "/PATCHSET_LEVEL"})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HistorySettings:
    """How much history to gather (every look-up is bounded)."""

    #: Final builds per job looked at for the failure rate (newest first).
    builds: int = 20
    #: Failed builds of other changes analysed per job for "the same failure elsewhere".
    analyse: int = 6
    #: Changes on which a failure must be seen before the search for it stops: enough
    #: to call it flaky (``verdict.FLAKY_CHANGES``); more would only raise the confidence.
    confirm: int = 2
    #: Reads per job started before the review's own logs are analysed (they run alongside
    #: its downloads): as many as a flaky verdict needs, so that case costs no second wave.
    prefetch: int = 2
    #: Requests and analyses in flight at once.
    workers: int = 8
    #: Seconds a builds listing is reused from the disk cache.
    ttl: float = 600.0


#: Reads a build's logs into an analysis (None: no readable log). Injected so the
#: review workflow can lend its own log locators.
Analyser = Callable[[Build], "LogAnalysis | None"]


def changed_files(gerrit: GerritClient, change: int, patchset: int) -> tuple[str, ...]:
    """The paths the patch set modifies (renames give the new path), Gerrit's pseudo-files left out."""
    what = f"listing the files of {change},{patchset} on Gerrit"
    url = f"{gerrit.base_url}/changes/{change}/revisions/{patchset}/files"
    response = request(gerrit.session, "GET", url, what=what)
    data = parse_json(response.text, what=what)
    if not isinstance(data, dict):
        raise ServiceError(f"{what}: unexpected answer")
    return tuple(sorted(path for path in data if isinstance(path, str) and path not in _MAGIC_FILES))


class BuildHistory:
    """Zuul builds of a job on other changes, and what their logs say.

    >>> history = BuildHistory(ZuulClient("https://zuul.opendev.org", "openstack"), analyser=read_build)
    >>> history.job("tempest-full", branch="master", exclude_change=123456).elsewhere
    """

    def __init__(
        self,
        zuul: ZuulClient,
        *,
        cache_dir: Path | None = None,
        settings: HistorySettings | None = None,
        session: requests.Session | None = None,
        analyser: Analyser | None = None,
    ) -> None:
        self.zuul = zuul
        self.cache_dir = cache_dir
        self.settings = settings or HistorySettings()
        self.session = session or build_session(HTTP_SETTINGS)
        #: Reads another change's build; None: rates only, no logs read.
        self.analyser = analyser

    # -- Zuul's builds API ----------------------------------------------
    def builds(self, **params: Any) -> list[Build]:
        """``GET builds`` with ``params`` (``final=true`` always), newest first; cached for a while."""
        query = {**params, "final": "true"}
        url = f"{self.zuul.api_root}/builds"
        what = f"listing Zuul builds ({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})"
        data = self._cached(url, query, what)
        if not isinstance(data, list):
            raise ServiceError(f"{what}: unexpected answer")
        builds = [build_from_json(item) for item in data if isinstance(item, dict) and item.get("final", True) is not False]
        # Older Zuuls ignore final=: a retried attempt is not a result.
        return [b for b in builds if b.result not in (None, "RETRY", "IN_PROGRESS")]

    def _cached(self, url: str, params: Mapping[str, Any], what: str) -> Any:
        path = None
        if self.cache_dir is not None:
            key = json.dumps([url, sorted(params.items())], default=str)
            path = self.cache_dir / (hashlib.sha256(key.encode()).hexdigest() + ".json")
            try:
                if time.time() - path.stat().st_mtime < self.settings.ttl:
                    with open(path, encoding="utf-8") as handle:
                        return json.load(handle)
            except (OSError, ValueError):
                pass
        data = get_json(self.session, url, what=what, params=dict(params))
        if path is not None:
            # A courtesy: a full or read-only disk must not cost the verdict.
            with contextlib.suppress(OstkError):
                ensure_private_dir(path.parent)
                atomic_write(path, json.dumps(data))
        return data


def _pipeline_group(pipeline: str | None) -> str | None:
    name = (pipeline or "").lower()
    if name.startswith("gate"):
        return "gate"
    if name.startswith("check") and name != "check-arm64" and "experimental" not in name:
        return "check"
    return None


class _Gathering:
    """One evidence-gathering run: a pool, the warnings, and the first failure of each source."""

    def __init__(self, history: BuildHistory | None, workers: int) -> None:
        self.history = history
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ostk-history")
        self.warnings: list[str] = []
        self.zuul_down = threading.Event()
        self._lock = threading.Lock()

    def warn(self, text: str) -> None:
        with self._lock:
            if text not in self.warnings:
                self.warnings.append(text)

    def zuul(self, call: Callable[[], list[Build]]) -> list[Build] | None:
        """A builds listing, or None once the builds API failed (one warning, no storm)."""
        if self.zuul_down.is_set():
            return None
        try:
            return call()
        except OstkError as exc:
            with self._lock:
                # Listings run side by side: only the first failure is worth a line.
                first = not self.zuul_down.is_set()
                self.zuul_down.set()
            if first:
                self.warn(f"job history unavailable (Zuul builds API): {exc}")
            return None

    def analyse(self, build: Build) -> LogAnalysis | None:
        if self.history is None or self.history.analyser is None:
            return None
        try:
            return self.history.analyser(build)
        except OstkError as exc:
            self.warn(f"history log of {build.job_name} on change {build.change} unreadable: {exc}")
            return None


def gather(
    jobs: Sequence[JobReport],
    *,
    change: int,
    patchset: int,
    branch: str | None,
    history: BuildHistory | None,
    gerrit: GerritClient | None,
) -> Evidence:
    """Gather the evidence for ``jobs`` of ``change``,``patchset``; ``history=None`` skips Zuul's history.

    Never raises for an unreachable source: it becomes one line in ``Evidence.warnings``.
    """
    failed = [job for job in jobs if is_failed_voting(job)]
    if not failed:
        return Evidence()
    return Gathering(
        [job.name for job in failed],
        change=change,
        patchset=patchset,
        branch=branch,
        history=history,
        gerrit=gerrit,
        prefetch=[job.name for job in failed if job.failures],
    ).finish(jobs)


class Gathering:
    """Evidence gathering, started as soon as the failed jobs are known and finished with their failures.

    Started before the review downloads its own logs, the look-ups (Zuul
    listings, Gerrit's files, the previous patch set) and the first
    ``confirm`` reads of other changes' logs for each job in ``prefetch``
    run alongside those downloads: a job with identified failures always
    needs that many. :meth:`finish` then reads more only where needed.
    """

    def __init__(
        self,
        job_names: Sequence[str],
        *,
        change: int,
        patchset: int,
        branch: str | None,
        history: BuildHistory | None,
        gerrit: GerritClient | None,
        prefetch: Iterable[str] | None = None,
    ) -> None:
        self.change = change
        self.branch = branch
        self.settings = history.settings if history else HistorySettings()
        self.run = _Gathering(history, self.settings.workers)
        self.names = list(dict.fromkeys(job_names))
        self._prefetch = set(self.names if prefetch is None else prefetch)
        self._running: dict[Future[LogAnalysis | None], tuple[str, Build]] = {}
        self._lock = threading.Lock()
        self._files: Future[tuple[str, ...] | None] | None = None
        self._listings: dict[str, tuple[Future[list[Build] | None], Future[list[Build]]]] = {}
        self._previous: Future[dict[str, Future[LogAnalysis | None]]] | None = None
        run = self.run
        try:
            if gerrit is not None:
                self._files = run.pool.submit(_files, run, gerrit, change, patchset)
            if history is not None:
                where = {"branch": branch} if branch else {}
                for name in self.names:
                    recent = run.pool.submit(run.zuul, partial(history.builds, job_name=name, limit=self.settings.builds, **where))
                    failed = run.pool.submit(self._candidates, history, name, where)
                    self._listings[name] = (recent, failed)
                if patchset > 1:
                    self._previous = run.pool.submit(self._previous_reads, history, patchset - 1)
        except BaseException:
            self.cancel()
            raise

    def _candidates(self, history: BuildHistory, name: str, where: Mapping[str, str]) -> list[Build]:
        """The job's failed builds on other changes (newest first, bounded); prefetch the first reads."""
        listed = self.run.zuul(partial(history.builds, job_name=name, result="FAILURE", limit=self.settings.analyse * 2, **where))
        candidates = [b for b in listed or [] if b.change is not None and b.change != self.change][: self.settings.analyse]
        if name in self._prefetch:
            with self._lock:
                for build in candidates[: self.settings.prefetch]:
                    self._running[self.run.pool.submit(self.run.analyse, build)] = (name, build)
        return candidates

    def _previous_reads(self, history: BuildHistory, patchset: int) -> dict[str, Future[LogAnalysis | None]]:
        """Start reading each job's failed build on the previous patch set (one per job)."""
        earlier = self.run.zuul(partial(history.builds, change=self.change, patchset=patchset)) or []
        reads: dict[str, Future[LogAnalysis | None]] = {}
        for name in self.names:
            build = next((b for b in earlier if b.job_name == name), None)  # newest first
            if build is not None and build.result not in ("SUCCESS", "SKIPPED") and name in self._prefetch:
                reads[name] = self.run.pool.submit(self.run.analyse, build)
        return reads

    def cancel(self) -> None:
        """Drop what is not started; nobody will read it (Ctrl-C, an error elsewhere)."""
        self.run.pool.shutdown(wait=False, cancel_futures=True)

    def finish(self, jobs: Sequence[JobReport]) -> Evidence:
        """Wait for the look-ups, read what else ``jobs``' failures need, and return the evidence."""
        run = self.run
        try:
            rates: dict[str, list[Build]] = {}
            candidates: dict[str, list[Build]] = {}
            for name, (recent, failed) in self._listings.items():
                rates[name] = [b for b in (recent.result() or []) if b.change != self.change]
                candidates[name] = failed.result()
            wanted = {job.name: frozenset(failure_key(f) for f in job.failures) for job in jobs if job.name in self._listings}
            with self._lock:
                running = dict(self._running)
            analyses = _analyse_until_sure(run, candidates, wanted, self.settings.confirm, running)
            # A test failing on other changes is flaky whichever job showed it there.
            shared = _elsewhere([pair for pairs in analyses.values() for pair in pairs], self.change)
            previous_keys = self._previous.result() if self._previous is not None else {}
            histories = {
                name: _job_history(name, self.branch, rates[name], analyses.get(name, []), self.change, shared)
                for name in self._listings
                if not (run.zuul_down.is_set() and not rates[name])
            }
            previous_found = {
                name: tuple(failure_key(f) for f in found.failures)
                for name, future in previous_keys.items()
                if (found := future.result()) is not None
            }
            touched = self._files.result() if self._files is not None else None
        except BaseException:
            self.cancel()
            raise
        run.pool.shutdown(wait=True)
        return Evidence(histories=histories, touched=touched, previous=previous_found, warnings=tuple(run.warnings))


def _analyse_until_sure(
    run: _Gathering,
    candidates: Mapping[str, Sequence[Build]],
    wanted: Mapping[str, frozenset[str]],
    confirm: int,
    running: dict[Future[LogAnalysis | None], tuple[str, Build]],
) -> dict[str, list[tuple[Build, LogAnalysis | None]]]:
    """Analyse other changes' failed builds, newest first, until each job's failures are settled.

    A job's search stops as soon as every one of its failures was seen on
    ``confirm`` other changes (flaky beyond doubt) — in its own builds or in
    those of another failed job of the review (py311 and py312 failing the
    same test) — or its candidates run out (the bound). Only as many logs
    are read at once as could still be needed, so a flaky test costs
    ``confirm`` logs, not the whole bound. A job with no
    identified failure has nothing to look for: none of its logs are read.
    ``running`` holds the reads already started (prefetched); they count.
    """
    done: dict[str, list[tuple[Build, LogAnalysis | None]]] = {name: [] for name in candidates}
    for future, (name, _build) in list(running.items()):
        if not wanted.get(name):
            future.cancel()
            del running[future]
    started = {id(build) for _name, build in running.values()}
    queues = {
        name: [b for b in builds if id(b) not in started] if wanted.get(name) else []
        for name, builds in candidates.items()
    }

    def seen() -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for pairs in done.values():
            for build, analysis in pairs:
                for failure in analysis.failures if analysis else ():
                    found.setdefault(failure_key(failure), set()).add(build.change or 0)
        return found

    def top_up(name: str, found: Mapping[str, set[int]]) -> None:
        # The failures not yet confirmed often enough, and how many more reads they need.
        short = {key for key in wanted[name] if len(found.get(key, ())) < confirm}
        if not short:
            return
        need = max(confirm - len(found.get(key, ())) for key in short)
        # A read in flight counts when it could settle all of them: this job's, or one
        # of a job failing the same way (py311 and py312 failing the same test).
        in_flight = sum(1 for job, _build in running.values() if job == name or short <= wanted.get(job, frozenset()))
        while queues[name] and in_flight < need:
            build = queues[name].pop(0)
            running[run.pool.submit(run.analyse, build)] = (name, build)
            in_flight += 1

    def top_up_all() -> None:
        found = seen()
        for name in queues:
            top_up(name, found)

    top_up_all()
    while running:
        finished, _pending = wait(list(running), return_when=FIRST_COMPLETED)
        for future in finished:
            name, build = running.pop(future)
            done[name].append((build, future.result()))
        # Any job's read may settle (or not) any other job: look at all of them again.
        top_up_all()
    # Newest first again, whatever order the downloads finished in.
    order = {id(build): index for builds in candidates.values() for index, build in enumerate(builds)}
    return {name: sorted(pairs, key=lambda pair: order[id(pair[0])]) for name, pairs in done.items()}


def _files(run: _Gathering, gerrit: GerritClient, change: int, patchset: int) -> tuple[str, ...] | None:
    try:
        return changed_files(gerrit, change, patchset)
    except OstkError as exc:
        run.warn(f"the change's files are unknown (Gerrit): {exc}")
        return None


def _job_history(
    name: str,
    branch: str | None,
    recent: Sequence[Build],
    analysed: Sequence[tuple[Build, LogAnalysis | None]],
    change: int,
    shared: Mapping[str, Sequence[int]],
) -> JobHistory:
    counts = {"gate": [0, 0], "check": [0, 0]}
    for build in recent:
        group = _pipeline_group(build.pipeline)
        if group is None:
            continue
        counts[group][1] += 1
        if build.result not in ("SUCCESS", "SKIPPED"):
            counts[group][0] += 1
    # The job's own builds first, then what the review's other jobs found on other changes.
    elsewhere = _elsewhere(analysed, change)
    for key, changes in shared.items():
        known = elsewhere.setdefault(key, [])
        known.extend(c for c in changes if c not in known)
    read = sum(1 for _build, analysis in analysed if analysis is not None)
    return JobHistory(
        job=name,
        branch=branch,
        gate_failed=counts["gate"][0],
        gate_total=counts["gate"][1],
        check_failed=counts["check"][0],
        check_total=counts["check"][1],
        analysed=read,
        elsewhere={key: tuple(changes) for key, changes in elsewhere.items() if changes},
    )


def _elsewhere(analysed: Sequence[tuple[Build, LogAnalysis | None]], change: int) -> dict[str, list[int]]:
    """Failure key → the other changes (newest first) whose analysed build failed that way."""
    elsewhere: dict[str, list[int]] = {}
    for build, analysis in analysed:
        for key in dict.fromkeys(failure_key(f) for f in (analysis.failures if analysis else ())):
            changes = elsewhere.setdefault(key, [])
            if build.change is not None and build.change != change and build.change not in changes:
                changes.append(build.change)
    return elsewhere


class Judging:
    """The verdict step, started early (see :class:`Gathering`) and decided once the jobs are analysed.

    ``history=False`` (``--no-history``) skips every cross-change look-up
    (Zuul history, other changes' logs, the previous patch set); the
    change's own files are still read. Without a Zuul client there is no
    history either, and a warning says so. ``analyser`` reads another
    change's build (the review lends its log reader and cache; None: the
    failure rates only). ``on_cancel`` stops that reader's downloads;
    ``session`` lists builds (default: one quick retry, the command's deadline).

    >>> judging = Judging(["tempest-full"], change=123456, patchset=1, branch="master", zuul=zuul, gerrit=gerrit)
    >>> ...                                   # the review downloads and analyses its own logs meanwhile
    >>> verdicts = judging.decide(jobs)
    """

    def __init__(
        self,
        job_names: Sequence[str],
        *,
        change: int,
        patchset: int,
        branch: str | None,
        zuul: ZuulClient | None,
        gerrit: GerritClient | None,
        cache_dir: Path | None = None,
        history: bool = True,
        settings: HistorySettings | None = None,
        prefetch: Iterable[str] | None = None,
        analyser: Analyser | None = None,
        on_cancel: Callable[[], None] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.on_cancel = on_cancel
        source = None
        if history and zuul is not None:
            source = BuildHistory(zuul, cache_dir=cache_dir, settings=settings, analyser=analyser, session=session)
        self.warnings: tuple[str, ...] = ()
        if history and zuul is None and job_names:
            self.warnings = ("job history unavailable: no Zuul API known (--zuul)",)
        self.gathering = (
            Gathering(
                job_names, change=change, patchset=patchset, branch=branch, history=source, gerrit=gerrit, prefetch=prefetch
            )
            if job_names
            else None
        )

    def decide(self, jobs: Sequence[JobReport]) -> ReviewVerdict:
        """Finish gathering for ``jobs`` (failures and bugs found) and decide every verdict."""
        evidence = self.gathering.finish(jobs) if self.gathering is not None else Evidence()
        if self.warnings:
            evidence = replace(evidence, warnings=(*evidence.warnings, *self.warnings))
        return decide(jobs, evidence)

    def cancel(self) -> None:
        """Ctrl-C or an error elsewhere: drop what is queued and stop the downloads."""
        if self.gathering is not None:
            self.gathering.cancel()
        if self.on_cancel is not None:
            self.on_cancel()

