"""Failed CI jobs → what failed → which bug → the recheck comment."""
from recheck.models import BugMatch, Failure, FailureKind, JobReport, LogAnalysis, Report, ReviewRef

__all__ = ["BugMatch", "Failure", "FailureKind", "JobReport", "LogAnalysis", "Report", "ReviewRef"]
