"""Failed CI jobs → what failed → which bug → the recheck comment.

The log engine::

    import os, recheck
    sigs = recheck.load_signatures(os.environ)
    analysis = recheck.analyze("job-output.txt.gz", signatures=sigs)
    for failure in analysis.failures:
        print(failure.kind.value, failure.id, failure.message)

Downloaders feed bytes as they arrive with :class:`LogScanner` or
:func:`analyze_stream`.
"""
from recheck.engine import LogScanner, analyze_stream, order_failures
from recheck.models import BugMatch, Failure, FailureKind, JobReport, LogAnalysis, Report, ReviewRef
from recheck.signatures import Signature, SignatureMatcher, SignatureSet, load_signatures, read_signature_file
from recheck.sources import analyze
from recheck.suggestion import suggest

__all__ = [
    "BugMatch",
    "Failure",
    "FailureKind",
    "JobReport",
    "LogAnalysis",
    "LogScanner",
    "Report",
    "ReviewRef",
    "Signature",
    "SignatureMatcher",
    "SignatureSet",
    "analyze",
    "analyze_stream",
    "load_signatures",
    "order_failures",
    "read_signature_file",
    "suggest",
]

# The review workflow (issue 7): Gerrit review → failed jobs → bugs → comment.
# ``recheck.testing`` (the CI simulator) is imported on its own, never from here.
from recheck.comments import CIComment, ChangeMessage, JobResult, parse_ci_comment  # noqa: E402
from recheck.gerrit import Change, GerritClient, GerritCredentials  # noqa: E402
from recheck.launchpad import LaunchpadBugFinder, LaunchpadClient  # noqa: E402
from recheck.logcache import LogCache  # noqa: E402
from recheck.review import ReviewProgress, check_review  # noqa: E402
from recheck.reviewref import ReviewTarget, parse_review  # noqa: E402
from recheck.zuul import Build, ZuulClient  # noqa: E402

__all__ += [
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
