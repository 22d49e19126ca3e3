"""Reading the failed jobs' logs: all at once through a bounded pool, streamed into the engine.

Every byte goes through ``ostk.http`` (one download path) and straight into
the log engine as it arrives — no temporary files, no whole-log buffers. Big
logs are analysed in child processes (:mod:`recheck.review.child`); finished
analyses are cached by URL (:class:`recheck.logcache.LogCache`).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from ostk.errors import NotFound, OstkError
from ostk.http import read_body, redact_url, request
from recheck.boundary import MalformedAnswer
from recheck.logcache import LogCache
from recheck.logdir import with_service_logs
from recheck.models import LogAnalysis
from recheck.review import child
from recheck.review.locate import NOT_UPLOADED
from recheck.review.types import (
    JobEntry,
    JobOutcome,
    LogPlan,
    LogSource,
    ReviewProgress,
)

#: Logs downloaded at once: enough to hide latency, few enough to be polite.
DEFAULT_WORKERS = 4
#: Bytes per read: small enough that Ctrl-C and progress stay responsive.
CHUNK = 64 * 1024


class Cancelled(Exception):
    """Raised inside workers once the run is being abandoned (Ctrl-C, an error elsewhere)."""


@dataclass
class _DownloadState:
    received: int = 0
    truncated: bool = False
    error: str = ""


@dataclass(frozen=True)
class AnalyserOptions:
    signatures: Any = None
    every_line: bool = False
    workers: int = DEFAULT_WORKERS
    #: Logs at least this big go to a child process (None: never).
    process_threshold: int | None = None
    cache: LogCache | None = None


@dataclass
class LogAnalyser:
    """Reads each job's :class:`LogPlan` and returns a :class:`JobOutcome` per job key."""

    session: requests.Session
    locate: Callable[[JobEntry], LogPlan]
    progress: ReviewProgress
    options: AnalyserOptions = field(default_factory=AnalyserOptions)

    def __post_init__(self) -> None:
        self._cancel = threading.Event()
        self._open: set[requests.Response] = set()
        self._open_lock = threading.Lock()

    def analyse_all(self, entries: Sequence[JobEntry]) -> dict[str, JobOutcome]:
        results: dict[str, JobOutcome] = {}
        if not entries:
            return results
        pool = ThreadPoolExecutor(max_workers=min(max(1, self.options.workers), len(entries)), thread_name_prefix="ostk-log")
        futures: dict[Future[JobOutcome], JobEntry] = {pool.submit(self.analyse_job, e): e for e in entries}
        try:
            pending = set(futures)
            while pending:
                # A timeout keeps the main thread responsive to Ctrl-C.
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    results[futures[future].key] = future.result()
        except BaseException:
            self.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return results

    def cancel(self) -> None:
        """Stop every download in progress (their readers raise :class:`Cancelled`)."""
        self._cancel.set()
        with self._open_lock:
            for response in list(self._open):
                try:
                    response.close()
                except Exception:
                    pass  # closing only to unblock a reader

    def analyse_job(self, entry: JobEntry) -> JobOutcome:
        """One failed job's outcome; never raises OstkError except for malformed answers."""
        # A finished build's logs never change: its whole outcome is cached under its
        # log directory, so a rerun reads neither the manifest nor a probe again.
        job_key = f"build:{entry.build.log_url}" if entry.build and entry.build.log_url else None
        cache = self.options.cache
        if job_key and cache is not None:
            cached = cache.get(job_key)
            if cached is not None:
                return JobOutcome(cached, (), entry.build.log_url if entry.build else None)
        outcome = self._analyse_job(entry)
        if job_key and cache is not None and outcome.analysis is not None and not outcome.warnings:
            try:
                cache.put(job_key, outcome.analysis)
            except OstkError:
                pass  # the per-log entry (or its warning) already covers it
        return outcome

    def _analyse_job(self, entry: JobEntry) -> JobOutcome:
        try:
            plan = self.locate(entry)
        except MalformedAnswer:
            raise
        except OstkError as exc:
            return JobOutcome(None, (f"cannot find the logs: {exc}",))
        if not plan.groups:
            return JobOutcome(None, (plan.missing_reason or "the build left no logs",), plan.log_url)
        warnings: list[str] = []
        analysis: LogAnalysis | None = None
        missing: list[str] = []
        for group in plan.groups:
            for source in group:
                if self._cancel.is_set():
                    raise Cancelled()
                try:
                    found = self._analyse_source(entry, source)
                except NotFound:
                    missing.append(source.url)
                    continue
                except OstkError as exc:
                    warnings.append(f"cannot read {redact_url(source.url)}: {exc}")
                    break
                analysis = found if analysis is None or found.failures else analysis
                break
            if analysis is not None and analysis.failures:
                break
        if analysis is not None and plan.files and plan.log_url and self.options.signatures is not None:
            # The service logs that signatures name (screen-n-cpu.txt...), from the manifest.
            analysis = with_service_logs(plan.log_url, analysis, self.options.signatures, session=self.session,
                                         job_name=entry.name, paths=plan.files)
        if analysis is None and not warnings:
            if plan.manifest_without_text:
                warnings.append(NOT_UPLOADED + " (the manifest lists no job-output.txt)")
            elif missing:
                text = [u for u in missing if not u.endswith(".json")] or missing
                warnings.append(f"logs expired or missing (HTTP 404): {redact_url(text[0])}")
        return JobOutcome(analysis, tuple(warnings), plan.log_url)

    def _analyse_source(self, entry: JobEntry, source: LogSource) -> LogAnalysis:
        cache = self.options.cache
        if cache is not None:
            cached = cache.get(source.url)
            if cached is not None:
                return cached
        what = f"downloading {entry.name} logs"
        response = request(self.session, "GET", source.url, what=what, stream=True)
        with self._open_lock:
            self._open.add(response)
        state = _DownloadState()
        try:
            total = response.headers.get("Content-Length")
            size = int(total) if total and total.isdigit() else None
            # ostk.http hands over the body decoded: the bar counts decoded bytes then.
            encoded = bool(response.headers.get("Content-Encoding", "").strip())
            self.progress.started(entry.key, entry.name, None if encoded else size)
            options = child.EngineOptions(
                name=source.name,
                job_name=entry.name,
                content_encoding=None,
                signatures=self.options.signatures,
                every_line=self.options.every_line,
            )
            threshold = self.options.process_threshold
            # Big logs go to a child process: the scan holds the GIL.
            big = threshold is not None and (size or 0) >= threshold
            analyse = child.analyse_in_child if big else child.engine_analyze
            analysis = analyse(self._chunks(response, entry.key, state, what), options)
        finally:
            with self._open_lock:
                self._open.discard(response)
            response.close()
            self.progress.finished(entry.key)
        if self._cancel.is_set():
            raise Cancelled()
        if state.truncated:
            analysis = replace(
                analysis,
                truncated=True,
                warnings=(*analysis.warnings, f"download cut short after {state.received} bytes ({state.error}): partial analysis"),
            )
        if cache is not None and not analysis.truncated:
            try:
                cache.put(source.url, analysis)
            except OstkError as exc:
                # A full or read-only cache must not cost the user the analysis itself.
                analysis = replace(analysis, warnings=(*analysis.warnings, f"not cached: {exc}"))
        return analysis

    def _chunks(self, response: requests.Response, key: str, state: _DownloadState, what: str) -> Iterator[bytes]:
        # ostk.http's one body loop: stall and deadline checks between reads however slowly
        # bytes drip, Content-Encoding undone. A body that stops early (cut, stalled, out of
        # time) still gives the engine what arrived: a partial analysis, marked as such.
        try:
            for chunk in read_body(response, what=what, max_bytes=0, chunk_size=CHUNK):
                if self._cancel.is_set():
                    raise Cancelled()
                state.received += len(chunk)
                self.progress.advance(key, len(chunk))
                yield chunk
        except OstkError as exc:
            # Closing the response on Ctrl-C surfaces here as well.
            if self._cancel.is_set():
                raise Cancelled() from exc
            state.truncated = True
            state.error = type(exc).__name__
            return
