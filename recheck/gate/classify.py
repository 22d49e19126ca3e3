"""One failed build's logs → its failures and signature matches (runs in a worker).

:func:`analyse_build` is what local worker processes and Dask workers run:
a top-level function of picklable arguments that opens its own HTTP session
and loads the signatures once per process. Where the logs are is the review
workflow's answer (:class:`recheck.review.locate.LogLocator`: the Zuul
manifest's subunit streams and ``job-output.json`` first, then
``job-output.txt``); each log streams through the recheck engine and its cache.

Failures are grouped across builds by :func:`failure_key`: the same test id,
or else the same normalised error message (numbers, ids, paths removed).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator

import requests
import urllib3

from ostk.errors import NotFound, OstkError
from ostk.http import (
    Deadline,
    build_session,
    check_status,
    redact_url,
    service_errors,
)
from recheck.engine import analyze_stream
from recheck.gate.keys import FailureKey, failure_key
from recheck.gate.models import AnalysisSettings, BuildAnalysis, BuildTask, GateBuild
from recheck.logcache import LogCache
from recheck.models import BugMatch, Failure, LogAnalysis
from recheck.review.builds import ZuulClients
from recheck.review.locate import LogLocator
from recheck.review.types import LogPlan
from recheck.signatures import SignatureSet, load_signatures
from recheck.zuul import Build

#: Bytes per HTTP read.
CHUNK = 256 * 1024
#: A manifest lists every log file; more than this is not a manifest we trust.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024


# -- per-process state (each worker process or Dask worker keeps its own) ----
_STATE_LOCK = threading.Lock()
_SIGNATURES: dict[tuple[tuple[str, str], ...], SignatureSet] = {}


def _signatures(environ: tuple[tuple[str, str], ...]) -> SignatureSet:
    with _STATE_LOCK:
        if environ not in _SIGNATURES:
            _SIGNATURES[environ] = load_signatures(dict(environ))
        return _SIGNATURES[environ]


def analyse_build(task: BuildTask) -> BuildAnalysis:
    """Analyse one failed build; never raises for a service or log problem (they become warnings)."""
    build = task.build
    settings = task.settings
    if not build.log_url:
        return BuildAnalysis(build.uuid, warnings=(f"{build.job_name}: the build left no logs ({build.result})",))
    # Its own session and deadline: a build's budget does not depend on where it runs
    # nor on the command's deadline (which bounds the Zuul listing and Launchpad).
    deadline = Deadline(settings.build_timeout, f"reading the logs of {build.job_name}")
    with build_session(settings.http, deadline=deadline) as session:
        return _analyse(build, session, _signatures(settings.signature_environ), settings)


def _analyse(
    build: GateBuild, session: requests.Session, signatures: SignatureSet, settings: AnalysisSettings
) -> BuildAnalysis:
    assert build.log_url is not None
    cache = LogCache(settings.cache_dir) if settings.cache_dir else None
    reader = _LogReader(session, signatures, cache, build.job_name)
    warnings: list[str] = []
    try:
        groups = _log_plan(session, build).groups
    except OstkError as exc:
        return BuildAnalysis(build.uuid, complete=False, warnings=(f"{build.job_name}: cannot list the logs: {exc}",))
    failures: list[Failure] = []
    bugs: dict[int, BugMatch] = {}
    complete = True
    found_any = False
    for group in groups:
        analysis = None
        for source in group:
            try:
                analysis = reader.read(source.url, source.name)
            except NotFound:
                continue
            except OstkError as exc:
                complete = False
                warnings.append(f"{build.job_name}: cannot read {redact_url(source.url)}: {exc}")
            break
        if not complete and analysis is None:
            # The log server failed us: the next logs of this build are on it too.
            break
        if analysis is None:
            continue
        found_any = True
        if analysis.truncated:
            complete = False
            warnings.append(f"{build.job_name}: {redact_url(group[0].url)} was cut short: partial analysis")
        for match in analysis.signature_matches:
            if match.number not in bugs or match.score > bugs[match.number].score:
                bugs[match.number] = match
        if analysis.failures:
            failures.extend(analysis.failures)
            # A structured source (subunit, job-output.json) names the failures: the
            # console log would only repeat them less precisely.
            break
    if not found_any and complete:
        warnings.append(f"{build.job_name}: logs expired or missing (HTTP 404) under {redact_url(build.log_url)}")
    return BuildAnalysis(
        uuid=build.uuid,
        failures=tuple(_unique(failures)),
        signature_bugs=tuple(sorted(bugs.values(), key=lambda m: -m.score)),
        complete=complete,
        warnings=tuple(warnings),
        downloaded=reader.downloaded,
    )


def _unique(failures: list[Failure]) -> Iterator[Failure]:
    seen: set[FailureKey] = set()
    for failure in failures:
        key = failure_key(failure)
        if key not in seen:
            seen.add(key)
            yield failure


def _log_plan(session: requests.Session, build: GateBuild) -> LogPlan:
    """Where the build's logs are, best first: the review workflow's locator (Zuul manifest, probes)."""
    zuul_build = Build(
        uuid=build.uuid, job_name=build.job_name, result=build.result, voting=True, log_url=build.log_url,
        pipeline=build.pipeline, project=build.project, change=build.change, patchset=build.patchset,
        artifacts=build.artifacts,
    )
    return LogLocator(ZuulClients(None, session), session).plan_for_build(zuul_build)


class _LogReader:
    """Streams one log into the engine, through the recheck log cache."""

    def __init__(
        self, session: requests.Session, signatures: SignatureSet, cache: LogCache | None, job_name: str
    ) -> None:
        self.session = session
        self.signatures = signatures
        self.cache = cache
        self.job_name = job_name
        self.downloaded = 0

    def read(self, url: str, name: str) -> LogAnalysis:
        if self.cache is not None:
            cached = self.cache.get(url)
            if cached is not None:
                return cached
        what = f"downloading {self.job_name} logs"
        with service_errors(what):
            response = self.session.get(url, stream=True)
        with response:
            check_status(response, what)
            encoding = response.headers.get("Content-Encoding")
            state = {"cut": False}
            analysis = analyze_stream(
                self._chunks(response, state),
                name=name,
                content_encoding=encoding.strip().lower() if encoding else None,
                signatures=self.signatures,
                job_name=self.job_name,
            )
        if state["cut"] and not analysis.truncated:
            from dataclasses import replace

            analysis = replace(analysis, truncated=True)
        if self.cache is not None and not analysis.truncated:
            try:
                self.cache.put(url, analysis)
            except OstkError:
                pass  # a full or read-only cache must not cost the analysis
        return analysis

    def _chunks(self, response: requests.Response, state: dict[str, bool]) -> Iterator[bytes]:
        # Raw bytes: the engine undoes Content-Encoding itself and so can tell a
        # truncated gzip stream from a complete one.
        try:
            for chunk in response.raw.stream(CHUNK, decode_content=False):
                self.downloaded += len(chunk)
                yield chunk
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            del exc
            state["cut"] = True
