"""Is it my change or the gate? A verdict with evidence for every failed voting job.

:func:`decide` is pure: it takes the jobs of a review (failures and bugs
already found) and the evidence gathered about them (:class:`Evidence`:
the job's history on Zuul, the same failure on other changes, the files
the change touches, the previous patch set) and returns one
:class:`Verdict` per failed voting job, one for the review, the comment to
post and the advice. Nothing here does I/O; ``recheck.history`` gathers.

Each failure of a job is judged by the first rule that applies:

1. ``known-bug`` — a confident bug (score ≥ ``ranking.CONFIDENT``) names
   it (test id or method name, or its message; ``ranking.explains``).
2. ``flaky`` — the same failure (same test, or the same normalised error)
   was seen on at least :data:`FLAKY_CHANGES` other changes among the
   job's recent failed builds.
3. ``change`` — the failing test's module, or the module it tests, is a
   file the change modifies (:data:`TOUCHED`).
4. ``change`` — a deterministic job (pep8, docs, linters...) failed
   (:data:`LINT`).
5. ``change`` — the same test also fails in another job of this patch set,
   or failed in this job on the previous patch set, while the job passes on
   other changes (its history is known and fails at most
   :data:`HEALTHY_RATE`; without history a test failing in several tempest
   jobs is as likely a broken gate) (:data:`CONSISTENT`).
6. ``flaky`` (weak) — seen on one other change, or the job fails often in
   the gate (≥ :data:`FLAKY_GATE_RATE` of at least :data:`MIN_BUILDS`
   gate builds: approved changes seldom break a job themselves).
7. ``change`` (weak) — a unit/functional job's test, job otherwise healthy.
8. ``unknown``.

Infrastructure comes before all that, for the whole job, unless a
confident bug explains one of its failures: NODE_FAILURE, RETRY_LIMIT,
ERROR, a POST_FAILURE with no failed test, or only ``infra`` failures. A
set-up error that names a network or mirror outage is ``infra`` too
(after rules 1-6).

A job is ``change`` when any failure is (a recheck cannot fix it), else
``known-bug`` when a bug explains a failure (the evidence names the
failures it does not explain), else ``flaky``, else ``infra``, else
``unknown``. The review's verdict is the first of change, known-bug,
flaky, infra, unknown found among its jobs; an ``unknown`` job lowers
its confidence.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from recheck.models import BugMatch, Failure, FailureKind, JobReport, Report

# The verdict types live with the records that carry them (JobReport.verdict);
# they stay importable from here, where they are decided.
from recheck.models import Verdict as Verdict
from recheck.models import VerdictKind as VerdictKind
from recheck.ranking import CONFIDENT, explains, normalise_message, strip_tags
from recheck.suggestion import is_failed_voting, short_test_id

#: Other changes with the same failure for it to count as flaky.
FLAKY_CHANGES = 2
#: A job failing this often in the gate is flaky, whatever the change.
FLAKY_GATE_RATE = 0.2
#: A job failing at most this often (gate and check together) is "healthy elsewhere".
HEALTHY_RATE = 0.1
#: Fewer final builds than this say nothing about a rate.
MIN_BUILDS = 5
#: Confidences of the rules (see the module docstring).
INFRA_RESULT = 0.9
INFRA_MESSAGE = 0.75
TOUCHED = 0.9
LINT = 0.85
CONSISTENT = 0.75
WEAK_FLAKY = 0.45
UNIT = 0.5
UNKNOWN = 0.2

#: Zuul results that say the CI failed, not the job's tests.
INFRA_RESULTS = {
    "NODE_FAILURE": "no test node could be provided (NODE_FAILURE)",
    "RETRY_LIMIT": "the job was retried until the retry limit (RETRY_LIMIT)",
    "ERROR": "Zuul could not run the job (ERROR)",
    "DISK_FULL": "the node ran out of disk (DISK_FULL)",
    "MERGER_FAILURE": "Zuul's merger failed (MERGER_FAILURE)",
}
#: Set-up errors that are outages of the CI's network, mirrors or package indexes.
_INFRA_MESSAGE = re.compile(
    r"could not resolve host|temporary failure in name resolution|name or service not known"
    r"|unreachable|connection (?:timed out|refused|reset)|no route to host|ssl.*handshake"
    r"|(?:read|connect) timed? ?out|mirror|pypi|502 bad gateway|503 service unavailable"
    r"|failed to fetch|hash sum mismatch|couldn'?t connect to server|ssh: connect to host",
    re.IGNORECASE,
)
#: Job names whose failures are deterministic: the change made them fail.
_LINT_JOB = re.compile(r"(?:^|[-_])(?:pep8|flake8|linters?|lint|docs|api-ref|releasenotes|bandit|mypy|pylint|hacking)(?:$|[-_])")
_UNIT_JOB = re.compile(r"(?:^|[-_])(?:py3\d*|py2\d*|py|unit|functional|cover)(?:$|[-_])")


@dataclass(frozen=True)
class JobHistory:
    """What Zuul's builds API says about one job on other changes (final builds only)."""

    job: str
    branch: str | None = None
    gate_failed: int = 0
    gate_total: int = 0
    check_failed: int = 0
    check_total: int = 0
    #: Failed builds of other changes whose logs were analysed.
    analysed: int = 0
    #: Failure key (:func:`failure_key`) → the other changes it was seen on.
    elsewhere: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def failure_rate(self) -> float | None:
        """Gate and check together; None when there are too few builds to tell."""
        total = self.gate_total + self.check_total
        return (self.gate_failed + self.check_failed) / total if total >= MIN_BUILDS else None

    def gate_rate(self) -> float | None:
        return self.gate_failed / self.gate_total if self.gate_total >= MIN_BUILDS else None


@dataclass(frozen=True)
class Evidence:
    """Everything gathered beyond the jobs' own logs; each part may be missing."""

    #: Job name → its history (absent: not looked up, or the source was down).
    histories: Mapping[str, JobHistory] = field(default_factory=dict)
    #: The files the analysed revision modifies (None: unknown).
    touched: tuple[str, ...] | None = None
    #: Job name → failure keys of that job on the previous patch set (absent: no such build).
    previous: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Sources that could not be reached, one line each.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewVerdict:
    """The result of :func:`decide`."""

    #: The review's verdict: the one that decides the comment.
    verdict: Verdict | None
    #: Job name → verdict, for every failed voting job.
    jobs: Mapping[str, Verdict]
    #: The comment to post, or None (nothing failed, or the change broke it).
    suggestion: str | None
    #: What to look at, when the kind is ``change`` (or ``unknown``).
    advice: str | None
    #: The comment ``--force`` posts when the verdict is ``change``: never bare.
    forced: str | None = None
    warnings: tuple[str, ...] = ()


def failure_key(failure: Failure) -> str:
    """What makes two failures "the same" across changes: the test id, else kind + normalised message."""
    if failure.kind is FailureKind.TEST:
        return "test:" + strip_tags(failure.id)
    return f"{failure.kind.value}:{normalise_message(failure.message).lower()}"


def failure_label(failure: Failure, limit: int = 120) -> str:
    """A short name for a failure: the test id (shortened past ``limit``), else its message."""
    if failure.kind is FailureKind.TEST:
        return short_test_id(failure.id, limit)
    text = " ".join(failure.message.split()) or failure.id
    return text if len(text) <= min(limit, 70) else text[: min(limit, 70) - 1] + "…"


def _comment_label(failure: Failure) -> str:
    # The comment stays one readable line, like recheck.suggestion's.
    return failure_label(failure, 80)


def files_of_test(test_id: str) -> tuple[str, ...]:
    """Files a failing test points at: its module, and the module it tests.

    ``nova.tests.unit.compute.test_manager.ComputeManagerTestCase.test_x`` →
    ``nova/tests/unit/compute/test_manager.py``, ``nova/compute/manager.py``.
    """
    parts = strip_tags(test_id).split(".")[:-1]  # without the method
    # Then without the class (and nested classes): CamelCase parts.
    while parts and parts[-1][:1].isupper():
        parts.pop()
    if not parts or not parts[-1].startswith("test"):
        return ()
    module = parts
    files = ["/".join(module) + ".py"]
    if "tests" in module:
        at = module.index("tests")
        rest = module[at + 1 :]
        if rest and rest[0] in ("unit", "functional", "integration"):
            rest = rest[1:]
        if rest:
            tested = module[:at] + rest[:-1] + [rest[-1][len("test_") :]]
            files.append("/".join(tested) + ".py")
            # The module may be a package: nova/compute/manager/__init__.py.
            files.append("/".join(tested) + "/__init__.py")
    return tuple(files)


def touched_by(failure: Failure, touched: Sequence[str]) -> str | None:
    """The file of the change that ``failure``'s test is, or tests; None when none."""
    if failure.kind is not FailureKind.TEST:
        return None
    candidates = files_of_test(failure.id)
    for path in touched:
        for candidate in candidates:
            # The project's own layout may nest the package (src/, a repo prefix).
            if path == candidate or path.endswith("/" + candidate):
                return path
    return None


# -- deciding -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Judged:
    failure: Failure
    kind: VerdictKind
    confidence: float
    evidence: tuple[str, ...]
    bug: BugMatch | None = None
    touched: str | None = None
    others: int = 0


def decide(jobs: Sequence[JobReport], evidence: Evidence | None = None) -> ReviewVerdict:
    """Judge every failed voting job of a review, then the review; see the module docstring.

    >>> job = JobReport("openstack-tox-pep8", "FAILURE", None, failures=(Failure(FailureKind.TASK, "tox", "E501"),))
    >>> decide([job]).verdict.kind.value
    'change'
    """
    evidence = evidence or Evidence()
    failed = [job for job in jobs if is_failed_voting(job)]
    keys_by_job = {job.name: frozenset(failure_key(f) for f in job.failures) for job in failed}
    verdicts: dict[str, Verdict] = {}
    details: dict[str, list[_Judged]] = {}
    for job in failed:
        others = {name: keys for name, keys in keys_by_job.items() if name != job.name}
        verdict, judged = _decide_job(job, evidence, others)
        verdicts[job.name] = verdict
        details[job.name] = judged
    if not failed:
        return ReviewVerdict(None, {}, None, None, warnings=evidence.warnings)
    top, deciding = _top(failed, verdicts)
    suggestion, advice, forced = _comment(top, deciding, details[deciding.name], failed)
    warnings = evidence.warnings
    if top.kind is VerdictKind.UNKNOWN:
        warnings += ("the verdict is unknown: look at the failure before rechecking",)
    return ReviewVerdict(top, verdicts, suggestion, advice, forced, warnings)


def _decide_job(
    job: JobReport, evidence: Evidence, others: Mapping[str, frozenset[str]]
) -> tuple[Verdict, list[_Judged]]:
    history = evidence.histories.get(job.name)
    context = _history_lines(job, history)
    only = len(job.failures) == 1
    # A known bug about an infrastructure failure is still the better comment (recheck bug #N).
    known = any(b.score >= CONFIDENT and explains(b, f, only_failure=only) for f in job.failures for b in job.bugs)
    infra = None if known else _infra(job)
    if infra is not None:
        return _with_evidence(infra, [*infra.evidence, *context]), []
    if not job.failures:
        # Unreadable logs (expired, Zuul down) are not the same as a log that names nothing.
        why = f"its logs were not analysed: {job.warnings[0]}" if job.warnings else "no failure identified in the log"
        rate = history.gate_rate() if history else None
        if rate is not None and rate >= FLAKY_GATE_RATE:
            return Verdict(VerdictKind.FLAKY, WEAK_FLAKY, (why, *context)), []
        return Verdict(VerdictKind.UNKNOWN, UNKNOWN, (why, *context)), []
    judged = [
        _judge(failure, job, evidence, history, others, only=only)
        for failure in job.failures[:10]
    ]
    by_kind = {kind: [j for j in judged if j.kind is kind] for kind in VerdictKind}
    if by_kind[VerdictKind.CHANGE]:
        chosen = by_kind[VerdictKind.CHANGE]
        lines = [line for j in chosen for line in j.evidence]
        lines += [f"{failure_label(j.failure)}: {j.kind.value}" for j in judged if j.kind is not VerdictKind.CHANGE]
        return Verdict(VerdictKind.CHANGE, max(j.confidence for j in chosen), _unique(lines + context)), judged
    if by_kind[VerdictKind.KNOWN_BUG]:
        explained = by_kind[VerdictKind.KNOWN_BUG]
        best = max(explained, key=lambda j: j.confidence)
        lines = [line for j in explained for line in j.evidence]
        rest = [j for j in judged if j.kind is not VerdictKind.KNOWN_BUG]
        confidence = best.confidence
        for other in rest:
            assert best.bug is not None
            why = f" ({other.kind.value})" if other.kind is not VerdictKind.UNKNOWN else ""
            lines.append(f"bug #{best.bug.number} does not explain {failure_label(other.failure)}{why}")
            lines += other.evidence
            if other.kind is VerdictKind.UNKNOWN:
                confidence *= 0.75
        return Verdict(VerdictKind.KNOWN_BUG, confidence, _unique(lines + context)), judged
    for kind in (VerdictKind.FLAKY, VerdictKind.INFRA):
        chosen = by_kind[kind]
        if chosen:
            unknown = by_kind[VerdictKind.UNKNOWN]
            confidence = max(j.confidence for j in chosen) * (0.8 if unknown else 1.0)
            lines = [line for j in judged for line in j.evidence]
            return Verdict(kind, confidence, _unique(lines + context)), judged
    lines = [line for j in judged for line in j.evidence]
    return Verdict(VerdictKind.UNKNOWN, UNKNOWN, _unique(lines + context)), judged


def _judge(
    failure: Failure,
    job: JobReport,
    evidence: Evidence,
    history: JobHistory | None,
    others: Mapping[str, frozenset[str]],
    *,
    only: bool,
) -> _Judged:
    label = failure_label(failure)
    key = failure_key(failure)
    bugs = [b for b in job.bugs if b.score >= CONFIDENT and explains(b, failure, only_failure=only)]
    if bugs:
        bug = max(bugs, key=lambda b: b.score)
        status = f", {bug.status}" if bug.status else ""
        return _Judged(
            failure, VerdictKind.KNOWN_BUG, bug.score,
            (f"bug #{bug.number} ({bug.title}{status}) explains {label} (score {bug.score:.2f})",), bug=bug,
        )
    if failure.kind is FailureKind.INFRA:
        return _Judged(failure, VerdictKind.INFRA, INFRA_RESULT, (f"{job.name}: {label}",))
    seen = history.elsewhere.get(key, ()) if history else ()
    seen_line = (
        f"{label} also failed on {len(seen)} other change{'s' if len(seen) != 1 else ''} "
        f"({', '.join(str(n) for n in seen[:5])}{', …' if len(seen) > 5 else ''})"
    ) if seen else None
    if len(seen) >= FLAKY_CHANGES:
        confidence = min(0.95, 0.6 + 0.1 * len(seen))
        return _Judged(failure, VerdictKind.FLAKY, confidence, (seen_line or "",), others=len(seen))
    lines: list[str] = [seen_line] if seen_line else []
    if history is not None and history.analysed and not seen:
        lines.append(f"{label} not seen in {history.analysed} other failed build{'s' if history.analysed != 1 else ''} of {job.name}")
    touched = touched_by(failure, evidence.touched or ())
    if touched:
        return _Judged(
            failure, VerdictKind.CHANGE, TOUCHED,
            (f"{label} tests {touched}, which this change modifies", *lines), touched=touched,
        )
    if _LINT_JOB.search(job.name):
        return _Judged(failure, VerdictKind.CHANGE, LINT, (f"{job.name} is deterministic: {label}", *lines))
    rate = history.failure_rate() if history else None
    healthy = rate is not None and rate <= HEALTHY_RATE
    also = [name for name, keys in others.items() if key in keys]
    previous = key in evidence.previous.get(job.name, ())
    if (also or previous) and healthy and not seen:
        where = []
        if also:
            where.append(f"in {', '.join(also)} too")
        if previous:
            where.append("on the previous patch set")
        lines.insert(0, f"{label} fails {' and '.join(where)}")
        return _Judged(failure, VerdictKind.CHANGE, CONSISTENT, tuple(lines))
    gate = history.gate_rate() if history else None
    if seen or (gate is not None and gate >= FLAKY_GATE_RATE):
        return _Judged(failure, VerdictKind.FLAKY, WEAK_FLAKY, tuple(lines), others=len(seen))
    if (
        failure.kind is FailureKind.SETUP
        and _INFRA_MESSAGE.search(failure.message)
    ):
        return _Judged(failure, VerdictKind.INFRA, INFRA_MESSAGE, (f"set-up failed on an outage: {label}", *lines))
    if failure.kind is FailureKind.TEST and _UNIT_JOB.search(job.name) and healthy:
        lines.insert(0, f"{label} fails in {job.name}, a job that passes on other changes")
        return _Judged(failure, VerdictKind.CHANGE, UNIT, tuple(lines))
    return _Judged(failure, VerdictKind.UNKNOWN, UNKNOWN, tuple(lines))


def _infra(job: JobReport) -> Verdict | None:
    result = (job.result or "").upper()
    if result in INFRA_RESULTS:
        detail = next((f.message for f in job.failures if f.kind is FailureKind.INFRA), INFRA_RESULTS[result])
        return Verdict(VerdictKind.INFRA, INFRA_RESULT, (f"{job.name}: {detail}",))
    tested = [f for f in job.failures if f.kind in (FailureKind.TEST, FailureKind.TASK, FailureKind.SETUP)]
    if result == "POST_FAILURE" and not any(f.kind is FailureKind.TEST for f in job.failures):
        return Verdict(VerdictKind.INFRA, 0.8, (f"{job.name}: a post-run playbook failed after the run (POST_FAILURE)",))
    if job.failures and not tested and all(f.kind is FailureKind.INFRA for f in job.failures):
        return Verdict(VerdictKind.INFRA, INFRA_RESULT, tuple(f"{job.name}: {failure_label(f)}" for f in job.failures[:3]))
    return None


def _history_lines(job: JobReport, history: JobHistory | None) -> list[str]:
    if history is None:
        return []
    branch = f" on {history.branch}" if history.branch else ""
    parts = []
    if history.gate_total:
        parts.append(f"{history.gate_failed} of {history.gate_total} gate builds")
    if history.check_total:
        parts.append(f"{history.check_failed} of {history.check_total} check builds")
    if not parts:
        return [f"no recent final builds of {job.name}{branch} on other changes"]
    return [f"{job.name} failed {' and '.join(parts)}{branch} (other changes, final builds)"]


def _top(failed: Sequence[JobReport], verdicts: Mapping[str, Verdict]) -> tuple[Verdict, JobReport]:
    order = (VerdictKind.CHANGE, VerdictKind.KNOWN_BUG, VerdictKind.FLAKY, VerdictKind.INFRA, VerdictKind.UNKNOWN)
    unknown = [job.name for job in failed if verdicts[job.name].kind is VerdictKind.UNKNOWN]
    for kind in order:
        jobs = [job for job in failed if verdicts[job.name].kind is kind]
        if not jobs:
            continue
        deciding = max(jobs, key=lambda job: verdicts[job.name].confidence)
        confidence = verdicts[deciding.name].confidence
        if kind is not VerdictKind.UNKNOWN and kind is not VerdictKind.CHANGE and unknown:
            confidence *= 0.7
        lines = [f"{job.name}: {verdicts[job.name].kind.value}" for job in failed]
        if kind is not VerdictKind.UNKNOWN and unknown:
            lines.append(f"no verdict for {', '.join(unknown)}: a recheck may not be enough")
        return Verdict(kind, confidence, tuple(lines)), deciding
    raise AssertionError("no failed job")  # pragma: no cover - decide() checks first


def _comment(
    top: Verdict, deciding: JobReport, judged: Sequence[_Judged], failed: Sequence[JobReport]
) -> tuple[str | None, str | None, str | None]:
    """(suggestion, advice, forced comment) for the review's verdict."""
    first = judged[0] if judged else None
    label = _comment_label(first.failure) if first else _result_reason(deciding)
    plain = _one_line(f"recheck - {deciding.name}: {label}" if deciding.name else f"recheck - {label}")
    if top.kind is VerdictKind.CHANGE:
        culprit = next((j for j in judged if j.kind is VerdictKind.CHANGE), first)
        if culprit is None:
            return None, f"{deciding.name} failed: look at its log", plain
        where = f"; this change modifies {culprit.touched}: look there first" if culprit.touched else ""
        test = culprit.failure.id if culprit.failure.kind is FailureKind.TEST else _comment_label(culprit.failure)
        forced = _one_line(f"recheck - {deciding.name}: {_comment_label(culprit.failure)}")
        return None, f"{test} fails in {deciding.name}{where}", forced
    if top.kind is VerdictKind.KNOWN_BUG:
        bug = next((j.bug for j in judged if j.bug is not None), None)
        return (f"recheck bug #{bug.number}" if bug else plain), None, None
    if top.kind is VerdictKind.FLAKY:
        flaky = next((j for j in judged if j.kind is VerdictKind.FLAKY), first)
        if flaky is None:
            return _one_line(f"recheck - {deciding.name}: {_result_reason(deciding)}"), None, None
        also = f" (also failing on {flaky.others} other changes)" if flaky.others >= FLAKY_CHANGES else ""
        return _one_line(f"recheck - {deciding.name}: {_comment_label(flaky.failure)}{also}"), None, None
    if top.kind is VerdictKind.INFRA:
        return _one_line(f"recheck - {deciding.name}: {_infra_reason(deciding)}"), None, None
    advice = f"{label} in {deciding.name}: no evidence either way; read the log before rechecking"
    return plain, advice, None


def _infra_reason(job: JobReport) -> str:
    result = (job.result or "").upper()
    if result in INFRA_RESULTS:
        return f"infrastructure failure ({result})"
    if result == "POST_FAILURE":
        return "infrastructure failure (POST_FAILURE)"
    failure = next((f for f in job.failures if f.kind in (FailureKind.INFRA, FailureKind.SETUP)), None)
    return f"infrastructure failure: {failure_label(failure)}" if failure else "infrastructure failure"


def _result_reason(job: JobReport) -> str:
    return f"{job.result or 'failed'} with no failure identified in the log"


def _one_line(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unique(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(line for line in lines if line))


def _with_evidence(verdict: Verdict, evidence: Sequence[str]) -> Verdict:
    return Verdict(verdict.kind, verdict.confidence, _unique(evidence))


def with_verdicts(report: Report, decided: ReviewVerdict) -> Report:
    """``report`` with the verdicts on its failed jobs and at the top; the suggestion follows the verdict."""
    if decided.verdict is None:
        return replace(report, warnings=_unique([*report.warnings, *decided.warnings]))
    jobs = tuple(
        replace(job, verdict=decided.jobs[job.name]) if job.name in decided.jobs and is_failed_voting(job) else job
        for job in report.jobs
    )
    return replace(
        report,
        jobs=jobs,
        verdict=decided.verdict,
        advice=decided.advice,
        suggestion=decided.suggestion,
        warnings=_unique([*report.warnings, *decided.warnings]),
    )
