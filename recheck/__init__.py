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
    for job in report.jobs:
        if job.verdict:
            print(job.name, job.verdict.kind.value, job.verdict.evidence)

``recheck.testing`` (the CI simulator for your own tests) is imported on its own.
"""
from recheck.comments import ChangeMessage, CIComment, JobResult, parse_ci_comment
from recheck.engine import LogScanner, analyze_stream, order_failures
from recheck.gerrit import Change, GerritClient, GerritCredentials
from recheck.launchpad import LaunchpadBugFinder, LaunchpadClient
from recheck.logcache import LogCache
from recheck.models import BugMatch, Failure, FailureKind, JobReport, LogAnalysis, Report, ReviewRef
from recheck.review import ReviewProgress, check_review
from recheck.reviewref import ReviewTarget, parse_review
from recheck.signatures import Signature, SignatureMatcher, SignatureSet, load_signatures, read_signature_file
from recheck.sources import analyze
from recheck.suggestion import suggest
from recheck.verdict import Verdict, VerdictKind
from recheck.zuul import Build, ZuulClient

__all__ = [
    # models
    "BugMatch",
    "Failure",
    "FailureKind",
    "JobReport",
    "LogAnalysis",
    "Report",
    "ReviewRef",
    "Verdict",
    "VerdictKind",
    # the log engine
    "LogScanner",
    "analyze",
    "analyze_stream",
    "order_failures",
    "suggest",
    # offline signatures
    "Signature",
    "SignatureMatcher",
    "SignatureSet",
    "load_signatures",
    "read_signature_file",
    # the review workflow
    "Build",
    "CIComment",
    "Change",
    "ChangeMessage",
    "GerritClient",
    "GerritCredentials",
    "JobResult",
    "LaunchpadBugFinder",
    "LaunchpadClient",
    "LogCache",
    "ReviewProgress",
    "ReviewTarget",
    "ZuulClient",
    "check_review",
    "parse_ci_comment",
    "parse_review",
]
