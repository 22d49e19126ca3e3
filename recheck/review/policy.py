"""What may be posted, and posting it once.

A refusal is :class:`RecheckRefused` (exit 5, documented in the README) with a
:class:`RefusalReason`, so a bot can tell "already rechecked" from bad input.
Posting goes to the patch set that was analysed (``revisions/<n>``, never
``current``): a patch set uploaded meanwhile is never rechecked by mistake.

Concurrent ``ostk recheck N --post --yes`` runs post once: each takes a lock
file per Gerrit host, change and patch set in the cache directory, re-reads
the change inside the lock and only then decides.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import enum
import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ostk.errors import ExitStatus, OstkError, ServiceError
from ostk.http import Deadline, current_deadline
from recheck.comments import CIComment, ci_comments, latest_per_pipeline, recheck_after
from recheck.gerrit import Change, GerritClient
from recheck.models import Report
from recheck.suggestion import is_failed_voting
from recheck.verdict import VerdictKind

#: Seconds to wait for another run's post on the same patch set, without a deadline.
LOCK_WAIT = 60.0


class RefusalReason(str, enum.Enum):
    """Every documented reason ``--post`` refuses."""

    #: The change is merged or abandoned.
    CLOSED = "closed"
    #: The analysed patch set is not the latest any more.
    NOT_LATEST = "not-latest"
    #: No voting job failed (in the pipeline asked about).
    NOTHING_FAILED = "nothing-failed"
    #: Someone already asked for a re-run after the latest failure.
    ALREADY_RECHECKED = "already-rechecked"
    #: There is nothing worth posting (no suggestion).
    NO_SUGGESTION = "no-suggestion"
    #: ``--post`` without ``--yes`` and no terminal to confirm on.
    NOT_CONFIRMABLE = "not-confirmable"
    #: The verdict is that the change itself broke the job: fix it (``--force`` posts anyway).
    CAUSED_BY_CHANGE = "caused-by-change"


class RecheckRefused(OstkError):
    """``--post`` refused to post; ``reason`` says why, ``str()`` explains (exit 5)."""

    exit_status = ExitStatus.REFUSED

    def __init__(self, reason: RefusalReason, detail: str) -> None:
        super().__init__(f"not posting ({reason.value}): {detail}")
        self.reason = reason
        self.detail = detail


class PostPolicy:
    """Decides whether ``report.suggestion`` may be posted, and posts it once."""

    def __init__(self, gerrit: GerritClient, *, lock_dir: Path | None, deadline: Deadline | None = None) -> None:
        self.gerrit = gerrit
        self.lock_dir = lock_dir
        self.deadline = deadline

    def post(
        self,
        report: Report,
        change: Change,
        patchset: int,
        *,
        pipeline: str | None,
        confirm: Callable[[str, Report], bool] | None,
    ) -> bool:
        """Post after every check; False when the user declined. Raises :class:`RecheckRefused`."""
        self.check(report, change, patchset, pipeline=pipeline)
        assert report.suggestion
        if confirm is not None and not confirm(report.suggestion, report):
            return False
        with self._locked(change.number, patchset):
            # Another run may have posted while we analysed or asked: decide again on fresh data.
            fresh = self.gerrit.change(change.number)
            self.check(report, fresh, patchset, pipeline=pipeline)
            self.gerrit.post_review(change.number, report.suggestion, revision=str(patchset))
        return True

    def check(self, report: Report, change: Change, patchset: int, *, pipeline: str | None) -> None:
        if change.status.upper() in ("MERGED", "ABANDONED"):
            raise RecheckRefused(RefusalReason.CLOSED, f"change {change.number} is {change.status.lower()}")
        if patchset != change.current_patchset:
            raise RecheckRefused(
                RefusalReason.NOT_LATEST,
                f"patch set {patchset} is not the latest of change {change.number} "
                f"(patch set {change.current_patchset} exists)",
            )
        comments = latest_per_pipeline(ci_comments(change.messages), patchset)
        failed = [
            c for c in comments
            if (c.verdict == "failed" or c.failed_jobs) and not c.problem and (pipeline is None or c.pipeline == pipeline)
        ]
        counted = [j for j in report.jobs if is_failed_voting(j) or (pipeline is not None and j.result and j.failures)]
        if not counted or not failed:
            raise RecheckRefused(
                RefusalReason.NOTHING_FAILED, f"nothing failed on patch set {patchset} of change {change.number}"
            )
        if not report.suggestion and report.verdict is not None and report.verdict.kind is VerdictKind.CHANGE:
            # The workflow hands a forced comment in as the suggestion (--force).
            raise RecheckRefused(
                RefusalReason.CAUSED_BY_CHANGE,
                f"the failure is most likely caused by this change ({report.advice}); fix it, or post anyway with --force",
            )
        if not report.suggestion:
            raise RecheckRefused(RefusalReason.NO_SUGGESTION, "no suggestion")
        trigger = "recheck" if report.suggestion.lower().startswith("recheck") else report.suggestion
        latest_failure = max(failed, key=_order)
        earlier = recheck_after(change.messages, patchset, latest_failure, trigger)
        if earlier is not None:
            when = f" at {earlier.date:%Y-%m-%d %H:%M} UTC" if earlier.date else ""
            lines = earlier.message.strip().splitlines()
            text = next((line for line in lines if line.lower().startswith(trigger.lower())), trigger)
            raise RecheckRefused(
                RefusalReason.ALREADY_RECHECKED,
                f"{earlier.author or 'someone'} already posted {text!r}{when} after the latest failure on patch set {patchset}",
            )

    @contextlib.contextmanager
    def _locked(self, change: int, patchset: int) -> Iterator[None]:
        if self.lock_dir is None:
            yield
            return
        self.lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        host = hashlib.sha256(self.gerrit.base_url.encode()).hexdigest()[:16]
        path = self.lock_dir / f"{host}-{change}-{patchset}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # The holder re-reads the change and posts within seconds; a stuck one must
            # not hold us past the command's deadline (or LOCK_WAIT without one).
            deadline = self.deadline or current_deadline()
            give_up = time.monotonic() + (deadline.remaining() if deadline is not None else LOCK_WAIT)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= give_up:
                        raise ServiceError(
                            f"another ostk recheck is posting on change {change} patch set {patchset}; "
                            f"gave up waiting for it ({path})"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)


def _order(comment: CIComment) -> tuple[_dt.datetime, int]:
    return (comment.date or _dt.datetime.min, comment.index)


__all__: Sequence[str] = ("PostPolicy", "RecheckRefused", "RefusalReason")
