"""The typed records passed between the pieces of the review workflow.

Each piece takes and returns these (never tuples keyed by ``id()``): the
build sources produce :class:`JobEntry`, the log locator a :class:`LogPlan`,
the analyser a :class:`JobOutcome`, and the workflow assembles them into
:class:`recheck.models.JobReport`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from recheck.comments import JobResult
from recheck.models import LogAnalysis
from recheck.zuul import Build


class ReviewProgress(Protocol):
    """What the workflow reports while it downloads (the CLI draws bars)."""

    def started(self, key: str, description: str, total: int | None) -> None: ...

    def advance(self, key: str, nbytes: int) -> None: ...

    def finished(self, key: str) -> None: ...


class NoProgress:
    """A :class:`ReviewProgress` that shows nothing."""

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
    #: The link in the CI comment: a Zuul build page or a log directory (None: no link).
    url: str | None
    error: str | None = None
    #: Filled when the Zuul API described the build.
    build: Build | None = None
    #: The link came from a Zuul v3 comment (a log directory then holds job-output.txt,
    #: not Jenkins' console.html).
    zuul_v3: bool = True
    #: False for pipelines that cast no vote (experimental, check-arm64 on OpenDev).
    pipeline_votes: bool = True

    @property
    def failed(self) -> bool:
        return JobResult(self.name, self.url, self.result).failed

    @property
    def key(self) -> str:
        """Unique within a review: the progress bar and result key."""
        return f"{self.pipeline}/{self.name}"


@dataclass(frozen=True)
class LogSource:
    """One log file to analyse, and the name the engine sees (it picks the reader by name)."""

    url: str
    name: str


@dataclass(frozen=True)
class LogPlan:
    """Where a build's logs are: groups of alternatives, best first.

    Each group is one log under alternative names (``job-output.txt`` or
    ``.txt.gz``): the first that exists is read; the next group only when the
    previous one found no failure.
    """

    log_url: str | None
    groups: tuple[tuple[LogSource, ...], ...] = ()
    #: Why there is nothing to read (e.g. the job failed before its logs were uploaded).
    missing_reason: str | None = None
    #: The build's manifest was read and lists no text log.
    manifest_without_text: bool = False
    #: Every file the build's manifest lists (None: no manifest was read); the service
    #: logs that signatures name are picked from it (recheck.logdir).
    files: tuple[str, ...] | None = None


@dataclass(frozen=True)
class JobOutcome:
    """What reading one job's logs gave."""

    analysis: LogAnalysis | None
    warnings: tuple[str, ...] = ()
    log_url: str | None = None
