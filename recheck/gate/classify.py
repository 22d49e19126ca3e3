"""One failed build's logs → its failures and signature matches (runs in a worker).

:func:`analyse_build` is what local worker processes and Dask workers run:
a top-level function of picklable arguments that opens its own HTTP session
and loads the signatures once per process. Where the logs are (zuul-jobs
upload layout, see zuul/zuul-jobs ``roles/generate-zuul-manifest``): subunit
streams and ``job-output.json`` say what failed without guessing, so they come
first, found among the build's artifacts or in its Zuul manifest
(``zuul-manifest.json``, ``{"tree": [{"name", "children"?}]}``); then the
console log ``job-output.txt`` (stored gzip-compressed, served with
``Content-Encoding: gzip``, sometimes as ``job-output.txt.gz``).

Failures are grouped across builds by :func:`failure_key`: the same test id,
or else the same normalised error message (numbers, ids, paths removed).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from ostk.errors import NotFound, OstkError
from ostk.http import (
    HttpSettings,
    build_session,
    check_status,
    redact_url,
    service_errors,
)
from recheck.engine import analyze_stream
from recheck.gate.models import BuildAnalysis, GateBuild
from recheck.launchpad import normalise_message, strip_tags
from recheck.logcache import LogCache
from recheck.models import BugMatch, Failure, FailureKind, LogAnalysis
from recheck.signatures import SignatureSet, load_signatures

#: Bytes per HTTP read.
CHUNK = 256 * 1024
#: A manifest lists every log file; more than this is not a manifest we trust.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class AnalysisSettings:
    """What a worker needs besides the build: picklable, resolved once by the caller."""

    #: The environment variables that locate the user's signatures (XDG_CONFIG_HOME, HOME).
    signature_environ: tuple[tuple[str, str], ...] = ()
    #: The recheck log cache directory (finished analyses by log URL), or None.
    cache_dir: str | None = None
    http: HttpSettings = field(default_factory=HttpSettings)


@dataclass(frozen=True)
class BuildTask:
    """One unit of work: analyse ``build``'s logs."""

    build: GateBuild
    settings: AnalysisSettings


@dataclass(frozen=True)
class FailureKey:
    """How failures of different builds are recognised as the same one."""

    #: ``"test"`` or ``"message"``.
    kind: str
    key: str


def failure_key(failure: Failure) -> FailureKey:
    """Same test id (tempest's ``[id-…,smoke]`` tags dropped), else the same normalised message."""
    if failure.kind is FailureKind.TEST and failure.id:
        return FailureKey("test", strip_tags(failure.id))
    message = normalise_message(failure.message, words=16) or failure.id or failure.kind.value
    return FailureKey("message", message)


# -- per-process state (each worker process or Dask worker keeps its own) ----
_STATE_LOCK = threading.Lock()
_SESSIONS: dict[HttpSettings, requests.Session] = {}
_SIGNATURES: dict[tuple[tuple[str, str], ...], SignatureSet] = {}


def _session(settings: HttpSettings) -> requests.Session:
    with _STATE_LOCK:
        if settings not in _SESSIONS:
            _SESSIONS[settings] = build_session(settings)
        return _SESSIONS[settings]


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
    session = _session(settings.http)
    signatures = _signatures(settings.signature_environ)
    cache = LogCache(settings.cache_dir) if settings.cache_dir else None
    reader = _LogReader(session, signatures, cache, build.job_name)
    warnings: list[str] = []
    try:
        groups = _log_groups(session, build)
    except OstkError as exc:
        return BuildAnalysis(build.uuid, complete=False, warnings=(f"{build.job_name}: cannot list the logs: {exc}",))
    failures: list[Failure] = []
    bugs: dict[int, BugMatch] = {}
    complete = True
    found_any = False
    for group in groups:
        analysis = None
        missing = []
        for url in group:
            try:
                analysis = reader.read(url)
            except NotFound:
                missing.append(url)
                continue
            except OstkError as exc:
                complete = False
                warnings.append(f"{build.job_name}: cannot read {redact_url(url)}: {exc}")
            break
        if analysis is None:
            continue
        found_any = True
        if analysis.truncated:
            complete = False
            warnings.append(f"{build.job_name}: {redact_url(group[0])} was cut short: partial analysis")
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


def _log_groups(session: requests.Session, build: GateBuild) -> list[list[str]]:
    """The logs to read, best first; each group is one log under alternative names."""
    assert build.log_url is not None
    base = build.log_url
    structured: list[str] = []
    manifest = None
    for name, url in build.artifacts:
        leaf = _basename(url)
        if name == "Zuul Manifest" or leaf == "zuul-manifest.json":
            manifest = url
        elif leaf.endswith((".subunit", ".subunit.gz")) or leaf in ("job-output.json", "job-output.json.gz"):
            structured.append(url)
    if manifest is not None:
        structured += [base + path for path in _manifest_logs(session, manifest) if base + path not in structured]
    subunit = [u for u in structured if _basename(u).endswith((".subunit", ".subunit.gz"))]
    json_output = [u for u in structured if u not in subunit]
    return [[url] for url in subunit + json_output] + [[base + "job-output.txt", base + "job-output.txt.gz"]]


def _manifest_logs(session: requests.Session, url: str) -> list[str]:
    """Paths of the subunit streams and job-output.json that a Zuul manifest lists."""
    from ostk.http import get_json

    try:
        data = get_json(session, url, what="reading the Zuul manifest")
    except NotFound:
        return []
    found: list[str] = []

    def walk(entries: Any, prefix: str) -> None:
        if not isinstance(entries, list):
            return
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            path = prefix + entry["name"]
            if entry.get("children") is not None:
                walk(entry["children"], path + "/")
            elif entry["name"].endswith((".subunit", ".subunit.gz")) or entry["name"] in (
                "job-output.json",
                "job-output.json.gz",
            ):
                found.append(path)

    walk(data.get("tree") if isinstance(data, dict) else None, "")
    return found


def _basename(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


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

    def read(self, url: str) -> LogAnalysis:
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
                name=_basename(url),
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
