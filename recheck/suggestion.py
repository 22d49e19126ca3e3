"""The recheck comment: ``recheck bug #N`` when we know the bug, else a reason.

OpenStack etiquette: a bare ``recheck`` is frowned upon. Only voting jobs
that failed decide the comment; non-voting jobs — and every job of a pipeline
that casts no vote (experimental, check-arm64) — never block a merge, so they
never justify a recheck.
"""
from __future__ import annotations

from collections.abc import Sequence

from recheck.models import Failure, FailureKind, JobReport

#: A bug match at least this good is named in the comment.
CONFIDENT = 0.8
#: Keep the comment to one readable line.
MAX_REASON = 120

_PASSED = frozenset({"SUCCESS", "SKIPPED"})


def is_failed_voting(job: JobReport) -> bool:
    """A voting job of a voting pipeline that failed (a bare log with failures counts as failed)."""
    if not job.voting or not job.pipeline_votes:
        return False
    if job.result is None:
        return bool(job.failures or job.bugs)
    return job.result.upper() not in _PASSED


def suggest(jobs: Sequence[JobReport]) -> str | None:
    """The comment to post for ``jobs``, or None when no voting job failed.

    >>> suggest([JobReport("tempest-full", "FAILURE", None, failures=(
    ...     Failure(FailureKind.TEST, "tempest.api.compute.servers.test_a.T.test_b", "boom"),))])
    'recheck - tempest-full: tempest.api.compute.servers.test_a.T.test_b failed'
    """
    failed = [j for j in jobs if is_failed_voting(j)]
    if not failed:
        return None
    best = None
    for job in failed:
        for bug in job.bugs:
            if bug.score >= CONFIDENT and (best is None or bug.score > best.score):
                best = bug
    if best is not None:
        return f"recheck bug #{best.number}"
    job = failed[0]
    # A bare log has no job name (name ""): say what failed without it.
    where = f"{job.name}: " if job.name else ""
    return _one_line(f"recheck - {where}{_reason(job)}")


def _reason(job: JobReport) -> str:
    if not job.failures:
        result = job.result or "failed"
        return f"{result} with no failure identified in the log"
    first: Failure = job.failures[0]
    if first.kind is FailureKind.TEST:
        tests = [f for f in job.failures if f.kind is FailureKind.TEST]
        more = f" (and {len(tests) - 1} more)" if len(tests) > 1 else ""
        return f"{short_test_id(first.id)} failed{more}"
    if first.kind is FailureKind.TIMEOUT:
        return f"timed out ({_short(first.message, 60)})"
    if first.kind is FailureKind.INFRA:
        return f"infrastructure failure: {_short(first.message, 70)}"
    if first.kind is FailureKind.SETUP:
        return f"setup failed: {_short(first.message, 70)}"
    return f"{_short(first.id, 50)} failed: {_short(first.message, 50)}"


def short_test_id(test_id: str, limit: int = 80) -> str:
    """``tempest.api.compute.servers.test_x.T.test_y`` → ``tempest.api.compute...T.test_y`` when long."""
    test_id = test_id.split("[", 1)[0]
    if len(test_id) <= limit:
        return test_id
    parts = test_id.split(".")
    if len(parts) > 4:
        short = ".".join(parts[:3]) + "..." + ".".join(parts[-2:])
        if len(short) <= limit:
            return short
        short = ".".join(parts[:3]) + "..." + parts[-1]
        if len(short) <= limit:
            return short
    return _short(test_id, limit)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON + 20 else text[: MAX_REASON + 19] + "…"
