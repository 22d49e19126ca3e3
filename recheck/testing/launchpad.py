"""The simulator's Launchpad: bugs with one task per project, and ``searchTasks`` as Launchpad does it.

Launchpad ANDs every search word over the bug title and the first 2,500
characters of the description, answers only unresolved tasks unless
``status=`` says otherwise, and 404s a target that is not a valid name.
Every task is shaped on a real ``bug_task`` resource (``data/launchpad_bug_task.json``).
"""
from __future__ import annotations

import copy
import datetime as _dt
import re
import threading
from dataclasses import dataclass, field
from typing import Any

#: Launchpad's full-text index covers the title and this much of the description.
LAUNCHPAD_INDEXED_DESCRIPTION = 2500
_FIXED = {"Fix Committed", "Fix Released"}
_CLOSED = _FIXED | {"Invalid", "Won't Fix", "Expired", "Opinion"}


def _days_ago(days: int) -> str:
    moment = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(days=days)
    return moment.isoformat(timespec="microseconds")


@dataclass
class SimBug:
    """A Launchpad bug with one task per project."""

    number: int
    title: str
    description: str = ""
    projects: tuple[str, ...] = ("nova",)
    status: str = "New"
    importance: str = "Medium"
    heat: int = 6
    tags: tuple[str, ...] = ()
    #: Default: 50 and 20 days ago, so rankings do not drift as the calendar moves on.
    date_created: str = field(default_factory=lambda: _days_ago(50))
    date_last_updated: str = field(default_factory=lambda: _days_ago(20))


class LaunchpadData:
    """Bug storage and search; mixed into :class:`recheck.testing.CISimulator`."""

    _lock: threading.Lock
    _bugs: dict[int, SimBug]
    _task_template: dict[str, Any]

    @property
    def launchpad_url(self) -> str:
        raise NotImplementedError

    def _task_json(self, bug: SimBug, project: str) -> dict[str, Any]:
        task: dict[str, Any] = copy.deepcopy(self._task_template)
        api = self.launchpad_url
        task.update(
            {
                "title": f'Bug #{bug.number} in {project.title()}: "{bug.title}"',
                "bug_link": f"{api}/bugs/{bug.number}",
                "self_link": f"{api}/{project}/+bug/{bug.number}",
                "target_link": f"{api}/{project}",
                "web_link": f"https://bugs.launchpad.net/{project}/+bug/{bug.number}",
                "status": bug.status,
                "importance": bug.importance,
                "bug_target_name": project,
                "bug_target_display_name": project.title(),
                "date_created": bug.date_created,
                "is_complete": bug.status in _CLOSED,
            }
        )
        return task

    def _bug_json(self, bug: SimBug) -> dict[str, Any]:
        api = self.launchpad_url
        return {
            "self_link": f"{api}/bugs/{bug.number}",
            "web_link": f"https://bugs.launchpad.net/bugs/{bug.number}",
            "resource_type_link": f"{api}/#bug",
            "id": bug.number,
            "title": bug.title,
            "description": bug.description,
            "tags": list(bug.tags),
            "heat": bug.heat,
            "date_created": bug.date_created,
            "date_last_updated": bug.date_last_updated,
            "duplicate_of_link": None,
        }

    def _search(self, target: str, text: str, statuses: list[str]) -> list[dict[str, Any]]:
        words = re.findall(r"\w+", text.lower())
        entries: list[dict[str, Any]] = []
        with self._lock:
            bugs = list(self._bugs.values())
        for bug in sorted(bugs, key=lambda b: -b.number):
            if statuses and bug.status not in statuses:
                continue
            if not statuses and bug.status in _CLOSED:
                continue
            # Launchpad ANDs every word, over the title and the start of the description only.
            indexed = f"{bug.title}\n{bug.description[:LAUNCHPAD_INDEXED_DESCRIPTION]}"
            haystack = set(re.findall(r"\w+", indexed.lower()))
            if not words or not all(word in haystack for word in words):
                continue
            projects = bug.projects if target == "openstack" else [p for p in bug.projects if p == target]
            entries.extend(self._task_json(bug, project) for project in projects)
        return entries
