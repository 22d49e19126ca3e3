"""The typed records of the gate report, and their JSON form.

``GateReport.to_json`` is the public schema of ``ostk gate report --json``:
``{"window": {"since", "until"}, "builds_analysed", "bugs", "uncategorized",
"jobs", "warnings"}``. Counts are failed builds (one per build, never lines).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from ostk.http import HttpSettings
from recheck.models import BugMatch, Failure
from recheck.zuul import Artifact


@dataclass(frozen=True)
class GateWindow:
    """The time span a report covers (UTC, by each build's end time)."""

    since: _dt.datetime
    until: _dt.datetime

    def to_json(self) -> dict[str, str]:
        return {"since": iso(self.since), "until": iso(self.until)}


@dataclass(frozen=True)
class GateBuild:
    """One finished build from Zuul's builds API, reduced to what the report needs."""

    uuid: str
    job_name: str
    #: FAILURE, POST_FAILURE, TIMED_OUT, SUCCESS...
    result: str
    project: str
    pipeline: str
    #: When the build ended (UTC); the day it counts for.
    end_time: _dt.datetime
    change: int | None = None
    patchset: int | None = None
    #: The log directory (ends with ``/``), or None when the build left no logs.
    log_url: str | None = None
    #: The build's page on the Zuul dashboard (an example link in the report).
    url: str = ""
    #: The build's artifacts (the Zuul manifest, reports); not kept in the store.
    artifacts: tuple[Artifact, ...] = ()

    @property
    def failed(self) -> bool:
        return self.result in FAILED_RESULTS


#: Results that count as a failed build. NODE_FAILURE and RETRY_LIMIT are the
#: CI's own trouble, but they still cost the change a gate run, so they count.
FAILED_RESULTS = frozenset(
    {"FAILURE", "POST_FAILURE", "TIMED_OUT", "RETRY_LIMIT", "NODE_FAILURE", "ERROR", "DISK_FULL", "MERGE_CONFLICT"}
)
#: Results of builds that never ran: they are not builds of the job for its failure rate.
NOT_RUN_RESULTS = frozenset({"SKIPPED", "CANCELED", "ABORTED", "DEQUEUED"})


@dataclass(frozen=True)
class BuildAnalysis:
    """What one failed build's logs say: returned by a worker, kept in the store."""

    uuid: str
    failures: tuple[Failure, ...] = ()
    #: Offline signature matches for the build's logs (bugs found without Launchpad).
    signature_bugs: tuple[BugMatch, ...] = ()
    #: False when a log could not be read whole (server down, cut download):
    #: the build is analysed again by the next run.
    complete: bool = True
    warnings: tuple[str, ...] = ()
    #: Log bytes downloaded for this build (0 when every log came from the cache).
    downloaded: int = 0


@dataclass(frozen=True)
class AnalysisSettings:
    """What a worker needs besides the build: picklable, resolved once by the caller."""

    #: The environment variables that locate the user's signatures (XDG_CONFIG_HOME, HOME).
    signature_environ: tuple[tuple[str, str], ...] = ()
    #: The recheck log cache directory (finished analyses by log URL), or None.
    cache_dir: str | None = None
    http: HttpSettings = field(default_factory=HttpSettings)
    #: Seconds one build's log downloads may take together: each build has its own
    #: budget, the same in this process, a worker process or a Dask worker.
    build_timeout: float = 900.0


@dataclass(frozen=True)
class BuildTask:
    """One unit of work: analyse ``build``'s logs."""

    build: GateBuild
    settings: AnalysisSettings


@dataclass(frozen=True)
class BugHits:
    """One known bug and the failed builds it explains in the window."""

    number: int
    title: str
    #: Launchpad status, or None for an offline signature without one.
    status: str | None
    url: str
    #: Failed builds it explains.
    hits: int
    #: Distinct changes among those builds.
    changes: int
    #: Job name → hits.
    jobs: dict[str, int]
    projects: tuple[str, ...]
    first_seen: _dt.datetime
    last_seen: _dt.datetime
    #: ``YYYY-MM-DD`` (UTC date of the build's end) → hits.
    by_day: dict[str, int]
    #: The ``gate-failure`` tag: the bug is known to hit the gate.
    gate_failure: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "status": self.status,
            "url": self.url,
            "hits": self.hits,
            "changes": self.changes,
            "jobs": dict(self.jobs),
            "projects": list(self.projects),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "by_day": dict(self.by_day),
            "gate_failure": self.gate_failure,
        }


@dataclass(frozen=True)
class UncategorizedFailure:
    """Failures no bug explains, grouped by test id or normalised message."""

    #: The test id, or the normalised error message.
    key: str
    #: ``"test"`` (same test id) or ``"message"`` (same normalised message),
    #: or ``"result"`` (no failure found in the logs: keyed by the build result).
    kind: str
    hits: int
    changes: int
    jobs: dict[str, int]
    #: Build page URLs, newest first (at most a few).
    examples: tuple[str, ...]
    #: One real message of the group, to read without opening a log.
    sample: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "hits": self.hits,
            "changes": self.changes,
            "jobs": dict(self.jobs),
            "examples": list(self.examples),
            "sample": self.sample,
        }


@dataclass(frozen=True)
class JobStats:
    """One job in the window: builds that ran, failed builds, failure rate (0 to 1)."""

    name: str
    builds: int
    failures: int
    failure_rate: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "builds": self.builds,
            "failures": self.failures,
            "failure_rate": round(self.failure_rate, 4),
        }


@dataclass(frozen=True)
class GateReport:
    """The whole answer of ``ostk gate report``."""

    window: GateWindow
    #: Failed builds analysed (complete or partial).
    builds_analysed: int
    bugs: tuple[BugHits, ...]
    uncategorized: tuple[UncategorizedFailure, ...]
    jobs: tuple[JobStats, ...]
    warnings: tuple[str, ...] = field(default=())
    #: Failed builds whose logs were downloaded by this run (the rest came from the store).
    downloaded_builds: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "window": self.window.to_json(),
            "builds_analysed": self.builds_analysed,
            "bugs": [bug.to_json() for bug in self.bugs],
            "uncategorized": [group.to_json() for group in self.uncategorized],
            "jobs": [job.to_json() for job in self.jobs],
            "warnings": list(self.warnings),
        }


def iso(moment: _dt.datetime) -> str:
    """``2026-11-20T08:00:00Z`` (UTC, seconds)."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(moment: _dt.datetime) -> _dt.datetime:
    """An aware UTC datetime (naive ones are taken as UTC, as Zuul's API gives them)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc)


def parse_time(value: str) -> _dt.datetime:
    """Zuul's ``2026-11-20T08:12:00`` (naive UTC) or any ISO 8601 with an offset."""
    return utc(_dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
