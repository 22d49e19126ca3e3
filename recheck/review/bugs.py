"""Who finds the bugs: offline signatures (during the log scan) and Launchpad.

Signature matches arrive with each job's analysis; :class:`LaunchpadSearch`
adds Launchpad's candidates and merges both by bug number. A Launchpad outage
costs a warning, never the report.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ostk.errors import OstkError
from recheck.boundary import MalformedAnswer
from recheck.launchpad import LaunchpadBugFinder, LaunchpadClient, merge_matches
from recheck.models import JobReport


@dataclass(frozen=True)
class BugsFound:
    jobs: tuple[JobReport, ...]
    warnings: tuple[str, ...] = ()


class LaunchpadSearch:
    """Adds Launchpad's matches to each failed job's signature matches."""

    def __init__(self, client: LaunchpadClient, *, now: _dt.datetime | None = None) -> None:
        self.client = client
        self.now = now

    def attach(self, jobs: Sequence[JobReport], project: str) -> BugsFound:
        finder = LaunchpadBugFinder(self.client, now=self.now)
        with_failures = [job for job in jobs if job.failures]
        if not with_failures:
            return BugsFound(tuple(jobs))
        try:
            finder.prefetch((job.failures for job in with_failures), project)
            found = {job.name: finder.find(job.failures, project) for job in with_failures}
        except MalformedAnswer:
            raise
        except OstkError as exc:
            return BugsFound(tuple(jobs), (f"bug search unavailable: {exc}",))
        return BugsFound(
            tuple(replace(job, bugs=merge_matches(job.bugs, found[job.name])) if job.name in found else job for job in jobs)
        )
