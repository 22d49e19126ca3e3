"""Where a build's logs are: the Zuul manifest, probes, or a Jenkins log directory.

zuul-jobs publishes no subunit artifact and ``job-output.json`` is no
artifact either. What it does publish is the "Zuul Manifest"
(roles/generate-zuul-manifest: ``zuul-manifest.json`` at the log root,
artifact metadata ``type: zuul_manifest``): a tree of ``{"name", "mimetype",
"encoding", "size" | "children"}`` entries. From it we take the structured
results — subunit streams (``testrepository.subunit`` from
roles/fetch-subunit-output, ``*.subunit`` anywhere) and ``job-output.json`` —
which say what failed without guessing, then the text ``job-output.txt``.
Without a manifest, ``<log_url>job-output.json`` is probed (a 404 just moves
on). A Jenkins / Zuul v2 comment links the log directory itself
(``console.html``).
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
import requests

from ostk.errors import NotFound, OstkError
from ostk.http import get_json, redact_url
from recheck.boundary import MalformedAnswer, validate
from recheck.logdir import with_service_logs
from recheck.models import LogAnalysis
from recheck.review.builds import ZuulClients
from recheck.review.types import JobEntry, LogPlan, LogSource
from recheck.signatures import SignatureSet
from recheck.sources import analyze
from recheck.zuul import Artifact, Build, parse_build_page

MANIFEST_TYPE = "zuul_manifest"
#: Structured streams deeper than this in the manifest tree are not looked for.
MAX_DEPTH = 8
#: A job's subunit streams read at most (tempest + a few unit test runs).
MAX_SUBUNIT = 4
#: Not the job's failures: stestr's leaked in-flight partial streams (fetch-subunit-output).
_PARTIAL = re.compile(r"^tmp")

NOT_UPLOADED = "the job failed before its logs were uploaded"


class _Entry(msgspec.Struct):
    name: str
    children: list[_Entry] | None = None
    encoding: str | None = None


class _Manifest(msgspec.Struct):
    tree: list[_Entry] = []


def _job_output(base: str) -> tuple[LogSource, ...]:
    return (LogSource(base + "job-output.txt", "job-output.txt"), LogSource(base + "job-output.txt.gz", "job-output.txt.gz"))


def text_sources(base: str, *, zuul_v3: bool = True) -> tuple[tuple[LogSource, ...], ...]:
    """The text log of a log directory: ``job-output.txt`` (Zuul v3), then ``console.html``."""
    text = _job_output(base)
    console = (LogSource(base + "console.html", "console.html"), LogSource(base + "console.html.gz", "console.html.gz"))
    return (text + console,) if zuul_v3 else (console,)


class LogLocator:
    """Turns a job into a :class:`LogPlan`; reads the build (and its manifest) when needed."""

    def __init__(self, zuul: ZuulClients, session: requests.Session) -> None:
        self.zuul = zuul
        self.session = session

    def locate(self, entry: JobEntry) -> LogPlan:
        build = entry.build
        if build is None and entry.url:
            page = parse_build_page(entry.url)
            if page is None:
                base = entry.url if entry.url.endswith("/") else entry.url + "/"
                return LogPlan(base, text_sources(base, zuul_v3=entry.zuul_v3))
            build = self.zuul.for_page(page).build(page.uuid)
        if build is None or not build.log_url:
            # Zuul records log_url when the upload ran: none means it never did.
            return LogPlan(None, missing_reason=NOT_UPLOADED)
        return self.plan_for_build(build)

    def plan_for_build(self, build: Build) -> LogPlan:
        assert build.log_url
        base = build.log_url if build.log_url.endswith("/") else build.log_url + "/"
        manifest = _manifest_artifact(build.artifacts)
        files: list[str] | None = None
        if manifest is not None:
            try:
                files = self._manifest_files(manifest.url, build)
            except MalformedAnswer:
                raise
            except NotFound:
                files = None
            except OstkError:
                files = None
        if files is None:
            # No manifest: try the structured output where zuul-jobs writes it.
            probe = (LogSource(base + "job-output.json", "job-output.json"),)
            return LogPlan(base, (probe, _job_output(base)))
        subunit = [f for f in files if _is_subunit(f)][:MAX_SUBUNIT]
        json_output = [f for f in files if f.rsplit("/", 1)[-1] in ("job-output.json", "job-output.json.gz")]
        text = [f for f in files if f in ("job-output.txt", "job-output.txt.gz")]
        groups: list[tuple[LogSource, ...]] = [
            (LogSource(base + quote(f), f.rsplit("/", 1)[-1]),) for f in subunit + json_output[:1]
        ]
        if text:
            groups.append(tuple(LogSource(base + f, f) for f in text))
        reason = None if text else NOT_UPLOADED + " (the manifest lists no job-output.txt)"
        return LogPlan(base, tuple(groups), missing_reason=reason, manifest_without_text=not text, files=tuple(files))

    def _manifest_files(self, url: str, build: Build) -> list[str]:
        what = f"reading the log manifest of {build.job_name}"
        data = get_json(self.session, url, what=what)
        manifest = validate(data, _Manifest, source=f"Zuul manifest of {build.job_name}", error=MalformedAnswer)
        return list(_walk(manifest.tree, "", 0))


def _manifest_artifact(artifacts: Sequence[Artifact]) -> Artifact | None:
    for artifact in artifacts:
        if artifact.type == MANIFEST_TYPE or artifact.name == "Zuul Manifest":
            return artifact
    return None


def _walk(entries: Sequence[_Entry], prefix: str, depth: int) -> Iterator[str]:
    for entry in entries:
        path = prefix + entry.name
        if entry.children is not None:
            if depth < MAX_DEPTH:
                yield from _walk(entry.children, path + "/", depth + 1)
        else:
            yield path


def _is_subunit(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith((".subunit", ".subunit.gz")) and not _PARTIAL.match(name)


# -- a log URL given on the command line -----------------------------------------------
_BUILD_ID = re.compile(r"^[0-9a-f]{7,32}$")


def job_name_from_url(url: str) -> str | None:
    """The job name in a Zuul/Jenkins log URL (``…/check/<job>/<build id>/job-output.txt``)."""
    parts = [p for p in url.split("?", 1)[0].split("/") if p]
    if len(parts) >= 4 and "." in parts[-1]:
        parts = parts[:-1]
    if len(parts) >= 3 and _BUILD_ID.match(parts[-1]) and not _BUILD_ID.match(parts[-2]):
        return parts[-2]
    return None


#: What to read in a build's log directory, best first.
LOG_DIRECTORY_FILES = ("job-output.txt.gz", "job-output.txt", "console.html")


def analyze_log_url(
    url: str,
    *,
    session: requests.Session,
    signatures: SignatureSet | None = None,
    job_name: str | None = None,
    every_line: bool = False,
) -> tuple[str, LogAnalysis]:
    """Analyse a log URL; a log directory (ending in ``/``) means its job output.

    Returns the URL actually read with its analysis; NotFound names the directory.
    """
    options: dict[str, Any] = {"signatures": signatures, "session": session, "job_name": job_name,
                               "every_line": every_line}
    if not urlsplit(url).path.endswith("/"):
        return url, analyze(url, **options)
    for name in LOG_DIRECTORY_FILES:
        try:
            found = analyze(url + name, **options)
        except NotFound:
            continue
        # Signatures that name service logs (n-cpu, syslog...) are checked in the directory too.
        sigs = signatures or SignatureSet(())
        return url + name, with_service_logs(url, found, sigs, session=session, job_name=job_name)
    where = redact_url(url)
    raise NotFound(f"no {', '.join(LOG_DIRECTORY_FILES)} in {where} (old logs expire)", status=404, url=where)


