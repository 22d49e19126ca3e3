"""How well a known bug matches a failure: the score and the reasons.

A Launchpad candidate is scored on what a human would check: is the failing
test in the bug, is it the same project, is it recent and hot, is it still
open. The score decides whether the comment names the bug
(:data:`CONFIDENT`, ``recheck bug #N``).

Gate bugs are filed by people who copy the failing test's *method name*
(``test_reboot_server_hard``) into the title, or the full test id, and tag
them ``gate-failure``: that is the strongest sign a search can give, so it
counts as confident on its own (before, such a bug scored about 0.5 and
was never named).

:func:`explains` answers the other question the verdict needs: of the
failures of a job, which ones does a matched bug account for?
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Protocol

from recheck.models import BugMatch, Failure, FailureKind


class BugCandidate(Protocol):
    """What ranking reads of a bug candidate (:class:`recheck.launchpad.BugTask` has it).

    A protocol, not an import: :mod:`recheck.launchpad` ranks with this module.
    """

    @property
    def number(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def heat(self) -> int: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def date_created(self) -> _dt.datetime | None: ...
    @property
    def date_last_updated(self) -> _dt.datetime | None: ...

#: A bug match at least this good is named in the comment (``recheck bug #N``).
CONFIDENT = 0.8
#: The score of a ``gate-failure`` bug whose title names the failing test.
GATE_FAILURE_TITLE = 0.88
#: The tag OpenStack puts on bugs that break the gate.
GATE_TAG = "gate-failure"
FIXED_STATUSES = ("Fix Committed", "Fix Released")
#: Method names shorter than this (``test_a``) are too common to identify a bug.
MIN_METHOD = 9

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_HEX = re.compile(r"\b(?:0x)?[0-9a-f]{7,}\b", re.IGNORECASE)
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?s?\b")
_QUOTED_PATH = re.compile(r"(/[\w.-]+){2,}")
#: ``AssertionError:`` before the words a bug title would carry.
_EXCEPTION_PREFIX = re.compile(r"^\s*[\w.]*(?:Error|Exception|Failure|Timeout)\b:?\s*")
_PUNCT = re.compile(r"[\"'`<>(){}\[\],;=]")


def strip_tags(test_id: str) -> str:
    """``test_x[id-1234,smoke]`` → ``test_x`` (tempest's attribute suffix)."""
    return re.sub(r"\[[^\]]*\]$", "", test_id.strip())


def method_name(test_id: str) -> str:
    """``pkg.mod.Class.test_y[smoke]`` → ``test_y``."""
    return strip_tags(test_id).rsplit(".", 1)[-1]


def normalise_message(message: str, *, words: int = 10) -> str:
    """The stable words of an error message: no ids, numbers, addresses or paths."""
    text = _UUID.sub(" ", message)
    text = _IP.sub(" ", text)
    text = _HEX.sub(" ", text)
    text = _QUOTED_PATH.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    text = _PUNCT.sub(" ", text)
    # Leftovers of removed values ("196 s" → "s") are noise to a full-text search.
    return " ".join([w for w in text.split() if len(w) > 1][:words])


def _words(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def _names_test(text: str, test_id: str) -> str | None:
    """"id" when ``text`` holds the full test id, "method" for the method name alone, else None."""
    lowered = text.lower()
    if test_id and test_id.lower() in lowered:
        return "id"
    method = method_name(test_id) if test_id else ""
    if len(method) >= MIN_METHOD and method != test_id and re.search(rf"(?<![\w]){re.escape(method.lower())}(?![\w])", lowered):
        return "method"
    return None


def rank(
    task: BugCandidate,
    *,
    failure: Failure,
    project: str | None,
    matched_by: str,
    now: _dt.datetime | None = None,
) -> BugMatch:
    """Score one Launchpad candidate for one failure, with the reasons.

    Points: 0.2 for being found; the full test id in the title or
    description +0.4, else the method name +0.15; the normalised error
    message +0.2; the same project +0.1; recency up to +0.1 (a year's
    half-life); heat up to +0.1. A ``gate-failure`` bug whose *title* names
    the test (method or full id) is raised to :data:`GATE_FAILURE_TITLE`.
    A fixed bug keeps 80% (the failure may be a regression, or another bug).
    """
    now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    haystack = f"{task.title}\n{task.description}"
    score = 0.2
    why = [f"Launchpad search for {matched_by!r}"]
    test_id = strip_tags(failure.id) if failure.kind is FailureKind.TEST else ""
    named = _names_test(haystack, test_id) if test_id else None
    if named == "id":
        score += 0.4
        why.append("the exact test id is in the bug")
    elif named == "method":
        score += 0.15
        why.append("the test name is in the bug")
    message = normalise_message(failure.message).lower()
    if message and message in _words(haystack):
        score += 0.2
        why.append("the error message is in the bug")
    short_project = (project or "").rsplit("/", 1)[-1].lower()
    if short_project and task.target.lower() == short_project:
        score += 0.1
        why.append(f"same project ({task.target})")
    updated = task.date_last_updated or task.date_created
    if updated:
        age_days = max(0.0, (now - updated).total_seconds() / 86400)
        score += 0.1 * math.exp(-age_days / 365)
        if age_days < 90:
            why.append(f"active {int(age_days)} days ago")
    if task.heat:
        score += min(0.1, 0.02 * math.log1p(task.heat))
        if task.heat >= 10:
            why.append(f"heat {task.heat}")
    if GATE_TAG in task.tags:
        in_title = _names_test(task.title, test_id) if test_id else None
        if in_title:
            score = max(score, GATE_FAILURE_TITLE)
            what = "the test id" if in_title == "id" else f"the test name ({method_name(test_id)})"
            why.append(f"tagged {GATE_TAG} with {what} in its title")
        else:
            score += 0.05
            why.append(f"tagged {GATE_TAG}")
    if task.status in FIXED_STATUSES:
        score *= 0.8
        why.append(f"already {task.status}")
    return BugMatch(
        number=task.number,
        title=task.title,
        status=task.status or None,
        url=task.url,
        score=min(score, 0.99),
        source="launchpad",
        why=tuple(why),
    )


def explains(bug: BugMatch, failure: Failure, *, only_failure: bool = False) -> bool:
    """Does ``bug`` account for ``failure``?

    Yes when the bug's title (or the reasons it was matched) names the test
    (full id or method name), or carries the failure's normalised message.
    An offline signature matches a log line, not a failure: it is taken to
    explain the job's failure only when there is one (``only_failure``).
    """
    text = f"{bug.title}\n" + "\n".join(bug.why)
    if failure.kind is FailureKind.TEST and _names_test(text, strip_tags(failure.id)):
        return True
    message = normalise_message(_EXCEPTION_PREFIX.sub("", failure.message)).lower()
    if len(message.split()) >= 3 and message in _words(text):
        return True
    return only_failure and bug.source == "signature"
