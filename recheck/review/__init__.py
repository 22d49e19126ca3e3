"""The review workflow: Gerrit review → failed jobs → failures → bugs → comment.

:func:`check_review` is the whole of ``ostk recheck REVIEW`` as a function,
for scripts and bots::

    import recheck
    report = recheck.check_review("https://review.opendev.org/c/openstack/nova/+/123456")
    print(report.suggestion)          # "recheck bug #2012345"

A bot looping over reviews shares one cache (logs are read once) and posts
only confident suggestions; refusals (already rechecked, newer patch set)
arrive as :class:`RecheckRefused` with a :class:`RefusalReason`::

    import recheck
    from recheck.review import RecheckRefused
    cache = recheck.LogCache("/var/cache/recheck-bot")
    for review in ("123456", "123457"):
        report = recheck.check_review(review, cache=cache)
        if report.suggestion and report.suggestion.startswith("recheck bug #"):
            try:
                recheck.check_review(review, cache=cache, post=True)
            except RecheckRefused as refused:
                print(review, refused.reason.value)

One object per concern, typed records between them (:mod:`.types`):

- where builds come from — :mod:`.builds` (Gerrit comments, Zuul's buildset
  API, Zuul's builds API with ``final=true``);
- where a build's logs are — :mod:`.locate` (the Zuul manifest, probes, a
  Jenkins log directory), read by :mod:`.download` (and :mod:`.child`);
- who finds bugs — offline signatures during the scan, :mod:`.bugs` (Launchpad);
- what may be posted — :mod:`.policy`; which pipelines vote — :mod:`.pipelines`.
"""
from recheck.review.pipelines import PipelineRules, load_pipeline_rules
from recheck.review.policy import RecheckRefused, RefusalReason
from recheck.review.types import ReviewProgress
from recheck.review.workflow import check_review

__all__ = [
    "PipelineRules",
    "RecheckRefused",
    "RefusalReason",
    "ReviewProgress",
    "check_review",
    "load_pipeline_rules",
]
