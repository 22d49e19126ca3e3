"""The typed records that flow through recheck, and their JSON form.

These are the boundary between the log engine (what failed), the bug finders
(which bug it is), the review workflow (which jobs) and the renderers. The
JSON schema (``Report.to_json``) is public: scripts rely on its keys.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class FailureKind(str, enum.Enum):
    """What sort of thing failed."""

    #: A unit/functional/tempest test.
    TEST = "test"
    #: An ansible task (Zuul job-output) or a tox env.
    TASK = "task"
    #: Environment set-up: devstack, stack.sh, pre-run playbooks.
    SETUP = "setup"
    #: A job or a task ran out of time.
    TIMEOUT = "timeout"
    #: The CI system itself: node failure, unreachable host, retry limit.
    INFRA = "infra"



class VerdictKind(str, enum.Enum):
    """What most likely made a job fail; the values are the JSON spelling."""

    #: A known bug explains it: ``recheck bug #N``.
    KNOWN_BUG = "known-bug"
    #: The same failure happens on other, unrelated changes right now.
    FLAKY = "flaky"
    #: The CI itself failed: node, network, mirrors.
    INFRA = "infra"
    #: Most likely caused by this change: fix it, do not recheck.
    CHANGE = "change"
    #: Not enough evidence: look before rechecking.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    """A judgement and why.

    >>> Verdict(VerdictKind.FLAKY, 0.8, ("test_x also failed on 3 other changes",)).to_json()["kind"]
    'flaky'
    """

    kind: VerdictKind
    #: 0.0-1.0: how sure the heuristics are.
    confidence: float
    #: One human-readable line per piece of evidence, the deciding one first.
    evidence: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "confidence": round(self.confidence, 2), "evidence": list(self.evidence)}

@dataclass(frozen=True)
class Failure:
    """One thing that failed in one log."""

    kind: FailureKind
    #: Test id (``tempest.api.compute.test_x.T.test_y``), or ``play/task/host`` for tasks.
    id: str
    #: The first error line, with Zuul's timestamp and host prefixes stripped.
    message: str
    #: 1-based line number in the log where the failure was reported (None for structured input).
    line: int | None = None
    #: A bounded excerpt: the traceback or task output (at most a few KB).
    excerpt: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "id": self.id,
            "message": self.message,
            "line": self.line,
            "excerpt": self.excerpt,
        }


@dataclass(frozen=True)
class BugMatch:
    """A known bug that a failure looks like."""

    number: int
    title: str
    #: Launchpad status ("New", "Fix Released"...), or None when unknown (offline signature).
    status: str | None
    url: str
    #: Higher is more confident; 1.0 is an exact signature match.
    score: float
    #: Where the match came from: "signature" (offline) or "launchpad".
    source: str
    #: Human-readable reasons for the match, shown to the user.
    why: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "status": self.status,
            "url": self.url,
            "score": round(self.score, 3),
            "source": self.source,
            "why": list(self.why),
        }


@dataclass(frozen=True)
class LogAnalysis:
    """What the engine found in one log."""

    failures: tuple[Failure, ...]
    #: Offline signature matches, best first.
    signature_matches: tuple[BugMatch, ...] = ()
    #: The log ended early (truncated gzip, cut download): the analysis is partial.
    truncated: bool = False
    #: Non-fatal problems, one line each ("log truncated", "invalid UTF-8 replaced").
    warnings: tuple[str, ...] = ()
    #: Lines and (decompressed) bytes read.
    lines: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class JobReport:
    """One CI job: its result and what its log says."""

    name: str
    #: SUCCESS, FAILURE, POST_FAILURE, RETRY_LIMIT, TIMED_OUT, NODE_FAILURE, ... or None for a bare log.
    result: str | None
    log_url: str | None
    failures: tuple[Failure, ...] = ()
    bugs: tuple[BugMatch, ...] = ()
    pipeline: str | None = None
    voting: bool = True
    warnings: tuple[str, ...] = ()
    truncated: bool = False
    #: False when the job ran in a pipeline that casts no vote (experimental, check-arm64).
    pipeline_votes: bool = True
    #: Why it failed (known-bug, flaky, infra, change, unknown); only failed voting jobs have one.
    verdict: Verdict | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "result": self.result,
            "log_url": self.log_url,
            "pipeline": self.pipeline,
            "voting": self.voting,
            "pipeline_votes": self.pipeline_votes,
            "failures": [f.to_json() for f in self.failures],
            "bugs": [b.to_json() for b in self.bugs],
            "warnings": list(self.warnings),
            "truncated": self.truncated,
            "verdict": self.verdict.to_json() if self.verdict else None,
        }


@dataclass(frozen=True)
class ReviewRef:
    """The Gerrit change and patch set a report is about."""

    change: int
    patchset: int
    project: str
    url: str

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "patchset": self.patchset, "project": self.project, "url": self.url}


@dataclass(frozen=True)
class Report:
    """The whole answer of ``ostk recheck``: jobs, bugs and the suggested comment."""

    review: ReviewRef | None
    jobs: tuple[JobReport, ...]
    #: The comment to post: ``recheck bug #N`` or ``recheck - <reason>``; never a bare ``recheck``.
    suggestion: str | None
    #: True only when the comment was posted and Gerrit accepted it.
    posted: bool = False
    warnings: tuple[str, ...] = field(default=())
    #: The verdict that decides the comment (None: no verdict was asked for, or nothing failed).
    verdict: Verdict | None = None
    #: What to look at when the verdict is ``change`` or ``unknown``: the failing test, the touched file.
    advice: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "review": self.review.to_json() if self.review else None,
            "verdict": self.verdict.to_json() if self.verdict else None,
            "advice": self.advice,
            "jobs": [j.to_json() for j in self.jobs],
            "suggestion": self.suggestion,
            "posted": self.posted,
            "warnings": list(self.warnings),
        }
