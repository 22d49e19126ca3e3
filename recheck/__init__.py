"""Failed CI jobs → what failed → which bug → the recheck comment.

The log engine::

    import os, recheck
    sigs = recheck.load_signatures(os.environ)
    analysis = recheck.analyze("job-output.txt.gz", signatures=sigs)
    for failure in analysis.failures:
        print(failure.kind.value, failure.id, failure.message)

Downloaders feed bytes as they arrive with :class:`LogScanner` or
:func:`analyze_stream`.

The review workflow (a bot looping over reviews)::

    report = recheck.check_review("https://review.opendev.org/c/openstack/nova/+/123456")
    print(report.suggestion)          # "recheck bug #NNN" or "recheck - <job>: <reason>"
    print(report.verdict.kind.value)  # known-bug, flaky, infra, change (suggestion None), unknown
                                      # (recheck.verdict.VerdictKind)
    for job in report.jobs:
        if job.verdict:
            print(job.name, job.verdict.kind.value, job.verdict.evidence)

The gate report (which bugs hit the gate this week)::

    report = recheck.gate_report(since="7d")

Refused posts raise :class:`RecheckRefused` (``.reason`` is a
:class:`RefusalReason`). The clients and parsers live in their modules
(``recheck.gerrit``, ``recheck.zuul``, ``recheck.launchpad``,
``recheck.comments``, ``recheck.signatures``); ``recheck.testing`` (the CI
simulator for your own tests) is imported on its own.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recheck.engine import LogScanner, analyze_stream
    from recheck.gate import gate_report
    from recheck.logcache import LogCache
    from recheck.models import BugMatch, Failure, FailureKind, JobReport, LogAnalysis, Report, ReviewRef
    from recheck.review import RecheckRefused, RefusalReason, ReviewProgress, check_review
    from recheck.signatures import SignatureSet, load_signatures
    from recheck.sources import analyze
    from recheck.suggestion import suggest
    from recheck.verdict import Verdict

#: Public name -> the module that defines it. Imported on first use: analysing
#: one log (``ostk recheck LOG``) must not pay for the review workflow, the gate
#: report (jinja2, pygal) or their HTTP clients.
_EXPORTS = {
    "LogScanner": "recheck.engine",
    "analyze_stream": "recheck.engine",
    "gate_report": "recheck.gate",
    "LogCache": "recheck.logcache",
    "BugMatch": "recheck.models",
    "Failure": "recheck.models",
    "FailureKind": "recheck.models",
    "JobReport": "recheck.models",
    "LogAnalysis": "recheck.models",
    "Report": "recheck.models",
    "ReviewRef": "recheck.models",
    "RecheckRefused": "recheck.review",
    "RefusalReason": "recheck.review",
    "ReviewProgress": "recheck.review",
    "check_review": "recheck.review",
    "SignatureSet": "recheck.signatures",
    "load_signatures": "recheck.signatures",
    "analyze": "recheck.sources",
    "suggest": "recheck.suggestion",
    "Verdict": "recheck.verdict",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'recheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "BugMatch",
    "Failure",
    "FailureKind",
    "JobReport",
    "LogAnalysis",
    "LogCache",
    "LogScanner",
    "RecheckRefused",
    "RefusalReason",
    "Report",
    "ReviewProgress",
    "ReviewRef",
    "SignatureSet",
    "Verdict",
    "analyze",
    "analyze_stream",
    "check_review",
    "gate_report",
    "load_signatures",
    "suggest",
]
