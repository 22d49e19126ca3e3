"""Launchpad bug search: which known bug does a failure look like?

``GET <api>/<project or group>?ws.op=searchTasks&search_text=...`` (anonymous,
JSON). By default Launchpad returns only unresolved tasks, so every fixed
status is passed explicitly (``status=`` repeated): a gate failure is often a
bug someone already fixed elsewhere. Searching the ``openstack`` project
group covers every OpenStack project; the change's own project is searched
too so that its bugs rank first.

Candidates are ranked by :func:`recheck.ranking.rank`.

Launchpad's search ANDs every word and indexes the title and only the first
2,500 characters of a description, so the query is the few words that
identify a failure (:func:`search_words`), not the whole message. Launchpad
names match ``^[a-z0-9][a-z0-9+.-]*$``: a repository such as
``openstack-ansible-os_nova`` has no project of that name (404), so only
valid names are searched and a 404 target counts as absent.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
import requests

from ostk.errors import NotFound, OstkError
from ostk.files import atomic_write, ensure_private_dir
from ostk.http import HttpSettings, build_session, get_json
from recheck.boundary import MalformedAnswer, validate
from recheck.models import BugMatch, Failure, FailureKind

# The scoring lives in recheck.ranking; these names stay importable from here (re-exported).
from recheck.ranking import FIXED_STATUSES as FIXED_STATUSES
from recheck.ranking import normalise_message as normalise_message
from recheck.ranking import rank as rank
from recheck.ranking import strip_tags as strip_tags

DEFAULT_LAUNCHPAD = "https://api.launchpad.net/1.0"
PROJECT_GROUP = "openstack"
OPEN_STATUSES = ("New", "Incomplete", "Confirmed", "Triaged", "In Progress")
#: Seconds a search answer is reused: a rerun minutes later needs no new search.
CACHE_TTL = 3600.0
#: Searches in flight at once.
PARALLEL = 6
#: Bug search is an extra: one quick retry, not the default three with backoff.
HTTP_SETTINGS = HttpSettings(retries=1, read_timeout=30.0)

_BUG_NUMBER = re.compile(r"/bugs/(\d+)")
_TASK_TITLE = re.compile(r'^Bug #(\d+) in [^:]+: "(.*)"$', re.S)
#: https://launchpad.net/+help-registry/project-name (lowercase, digits, + . -).
LAUNCHPAD_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")
#: Words per message query: Launchpad ANDs them, so more words find less.
QUERY_WORDS = 4
_COMMON = frozenset(
    "the a an and or of to in on at for from with by is was be been not no did does failed failure error "
    "while after before during could cannot unable into than then this that it its".split()
)


class _TaskDoc(msgspec.Struct):
    bug_link: str = ""
    title: str = ""
    status: str | None = None
    bug_target_name: str | None = None
    importance: str | None = None
    date_created: str | None = None


class _SearchDoc(msgspec.Struct):
    entries: list[_TaskDoc]


class _BugDoc(msgspec.Struct):
    title: str | None = None
    description: str | None = None
    heat: int = 0
    tags: list[str] = []
    date_last_updated: str | None = None


@dataclass(frozen=True)
class BugTask:
    """One Launchpad bug task with the bug's details merged in."""

    number: int
    title: str
    status: str
    target: str
    url: str
    importance: str | None = None
    description: str = ""
    heat: int = 0
    tags: tuple[str, ...] = ()
    date_created: _dt.datetime | None = None
    date_last_updated: _dt.datetime | None = None


class LaunchpadClient:
    """Anonymous, read-only access to Launchpad's bug search.

    >>> lp = LaunchpadClient()
    >>> lp.search_tasks("openstack", "test_rescue_unrescue_instance")
    """

    def __init__(
        self,
        base_url: str = DEFAULT_LAUNCHPAD,
        *,
        session: requests.Session | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        cache_ttl: float = CACHE_TTL,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or build_session(HTTP_SETTINGS)
        self._bugs: dict[str, dict[str, Any]] = {}
        self._links: dict[int, str] = {}
        self._cache = Path(cache_dir) if cache_dir is not None else None
        self._ttl = cache_ttl

    def _get(self, url: str, *, what: str, params: Any = None) -> Any:
        """GET JSON, answered from the on-disk cache while it is younger than the TTL."""
        path = None
        if self._cache is not None:
            key = json.dumps([url, params], sort_keys=True)
            path = self._cache / (hashlib.sha256(key.encode()).hexdigest() + ".json")
            try:
                if time.time() - path.stat().st_mtime < self._ttl:
                    with open(path, encoding="utf-8") as handle:
                        return json.load(handle)
            except (OSError, ValueError):
                pass
        data = get_json(self.session, url, what=what, params=params)
        if path is not None:
            # Caching is a courtesy: a full or read-only disk must not fail the search.
            with contextlib.suppress(OstkError):
                ensure_private_dir(path.parent)
                atomic_write(path, json.dumps(data))
        return data

    def search_tasks(
        self, target: str, text: str, *, statuses: Sequence[str] = OPEN_STATUSES + FIXED_STATUSES, limit: int = 20
    ) -> list[BugTask]:
        """Bug tasks of ``target`` (project or project group) matching ``text``."""
        params: list[tuple[str, str]] = [("ws.op", "searchTasks"), ("search_text", text), ("ws.size", str(limit))]
        params += [("status", status) for status in statuses]
        if not LAUNCHPAD_NAME.match(target):
            return []
        try:
            data = self._get(f"{self.base_url}/{target}", what=f"searching Launchpad ({target})", params=params)
        except NotFound:
            # No such project on Launchpad (a repository named otherwise): nothing to find there.
            return []
        doc = validate(data, _SearchDoc, source=f"Launchpad search ({target})", error=MalformedAnswer)
        return [task for task in (self._task(entry) for entry in doc.entries[:limit]) if task]

    def bug(self, bug_link: str) -> dict[str, Any]:
        """The bug resource (title, description, heat, tags...), memoised and validated."""
        if bug_link not in self._bugs:
            data = self._get(bug_link, what="reading a Launchpad bug")
            doc = validate(data, _BugDoc, source="Launchpad bug", error=MalformedAnswer)
            self._bugs[bug_link] = msgspec.structs.asdict(doc)
        return self._bugs[bug_link]

    def with_details(self, task: BugTask, bug_link: str) -> BugTask:
        bug = self.bug(bug_link)
        return replace(
            task,
            title=str(bug.get("title") or task.title),
            description=str(bug.get("description") or ""),
            heat=int(bug.get("heat") or 0),
            tags=tuple(bug.get("tags") or ()),
            date_last_updated=_date(bug.get("date_last_updated")) or task.date_created,
        )

    def _task(self, entry: _TaskDoc) -> BugTask | None:
        link = entry.bug_link
        match = _BUG_NUMBER.search(link)
        title_match = _TASK_TITLE.match(entry.title)
        digits = match.group(1) if match else title_match.group(1) if title_match else None
        if digits is None:
            return None
        if len(digits) > 9:
            raise MalformedAnswer(f"Launchpad search: unexpected answer (bug number of {len(digits)} digits)")
        number = int(digits)
        task = BugTask(
            number=number,
            title=title_match.group(2) if title_match else entry.title,
            status=entry.status or "",
            target=entry.bug_target_name or "",
            url=f"https://bugs.launchpad.net/bugs/{number}",
            importance=entry.importance,
            date_created=_date(entry.date_created),
        )
        self._links[number] = link
        return task

    def link_of(self, number: int) -> str | None:
        return self._links.get(number)


def search_terms(failure: Failure) -> list[str]:
    """What to search for: the test id, its method name, the normalised message."""
    terms = []
    if failure.kind is FailureKind.TEST and failure.id:
        test_id = strip_tags(failure.id)
        terms.append(test_id)
        short = test_id.rsplit(".", 1)[-1]
        if short != test_id and len(short) > 8:
            terms.append(short)
    message = search_words(failure.message)
    if message:
        terms.append(message)
    seen: set[str] = set()
    return [t for t in terms if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]


def search_words(message: str, *, words: int = QUERY_WORDS) -> str:
    """The few words that identify an error message, in their order (Launchpad ANDs them).

    Exception names first (``TimeoutException``), then the longest other words;
    no ids, numbers, paths or common words.
    """
    candidates = [w.strip(".:!?") for w in normalise_message(message, words=40).split()]
    candidates = [w for w in candidates if len(w) > 2 and w.lower() not in _COMMON]
    named = [w for w in candidates if re.search(r"(Error|Exception|Timeout|Failure|Fault)$", w)]
    rest = sorted((w for w in candidates if w not in named), key=len, reverse=True)
    chosen = set(list(dict.fromkeys(named))[:2])
    for word in rest:
        if len(chosen) >= words:
            break
        chosen.add(word)
    ordered = [w for w in dict.fromkeys(candidates) if w in chosen]
    return " ".join(ordered[:words])


class LaunchpadBugFinder:
    """Finds and ranks Launchpad bugs for a set of failures.

    The first service error stops the search (raised to the caller), so a
    down Launchpad costs one request, not one per failure.
    """

    def __init__(
        self,
        client: LaunchpadClient,
        *,
        max_failures: int = 3,
        max_details: int = 8,
        now: _dt.datetime | None = None,
    ) -> None:
        self.client = client
        self.max_failures = max_failures
        self.max_details = max_details
        self.now = now
        self._searches: dict[tuple[str, str], list[BugTask]] = {}

    def prefetch(self, failure_sets: Iterable[Iterable[Failure]], project: str | None) -> None:
        """Run every search (and bug read) that :meth:`find` will need, concurrently.

        Launchpad answers each search in about a second; a handful of
        failures means a dozen searches, so they go out together.
        """
        keys: list[tuple[str, str]] = []
        for failures in failure_sets:
            for failure in list(failures)[: self.max_failures]:
                for term in search_terms(failure):
                    for target in _targets(project):
                        key = (target, term)
                        if key not in self._searches and key not in keys:
                            keys.append(key)
        if not keys:
            return
        pool = ThreadPoolExecutor(max_workers=min(PARALLEL, len(keys)), thread_name_prefix="ostk-lp")
        try:
            for key, tasks in zip(keys, pool.map(lambda k: self.client.search_tasks(*k), keys), strict=False):
                self._searches[key] = tasks
            links = list(dict.fromkeys(
                link
                for tasks in self._searches.values()
                for task in tasks[: self.max_details]
                if (link := self.client.link_of(task.number))
            ))[: PARALLEL * 4]
            list(pool.map(self.client.bug, links))
        except BaseException:
            # On an error or Ctrl-C, searches not yet sent are dropped, not waited for.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def find(self, failures: Iterable[Failure], project: str | None, *, top: int = 3) -> tuple[BugMatch, ...]:
        """The best few bugs for ``failures`` of a job of ``project``."""
        targets = _targets(project)
        short_project = (project or "").rsplit("/", 1)[-1]
        matches: dict[int, BugMatch] = {}
        for failure in list(failures)[: self.max_failures]:
            candidates: dict[int, tuple[BugTask, str]] = {}
            for term in search_terms(failure):
                for target in targets:
                    for task in self._search(target, term):
                        # Prefer the project's own task of a bug: it carries its status there.
                        known = candidates.get(task.number)
                        if known is None or (
                            task.target.lower() == short_project.lower() != known[0].target.lower()
                        ):
                            candidates[task.number] = (task, known[1] if known else term)
            for number, (task, term) in list(candidates.items())[: self.max_details]:
                link = self.client.link_of(number)
                detailed = self.client.with_details(task, link) if link else task
                match = rank(detailed, failure=failure, project=project, matched_by=term, now=self.now)
                if number not in matches or match.score > matches[number].score:
                    matches[number] = match
        return tuple(sorted(matches.values(), key=lambda m: -m.score)[:top])

    def _search(self, target: str, term: str) -> list[BugTask]:
        key = (target, term)
        if key not in self._searches:
            self._searches[key] = self.client.search_tasks(target, term)
        return self._searches[key]


def _targets(project: str | None) -> list[str]:
    """Where to search: the ``openstack`` group, and the change's own project if Launchpad could name it."""
    targets = [PROJECT_GROUP]
    short_project = (project or "").rsplit("/", 1)[-1]
    if short_project and short_project != PROJECT_GROUP and LAUNCHPAD_NAME.match(short_project):
        targets.append(short_project)
    return targets


def merge_matches(*groups: Iterable[BugMatch], top: int = 3) -> tuple[BugMatch, ...]:
    """Merge offline signature matches and Launchpad matches by bug number, best first."""
    merged: dict[int, BugMatch] = {}
    for group in groups:
        for match in group:
            current = merged.get(match.number)
            if current is None:
                merged[match.number] = match
                continue
            best, other = (current, match) if current.score >= match.score else (match, current)
            why = tuple(dict.fromkeys(best.why + other.why))
            merged[match.number] = replace(
                best,
                status=best.status or other.status,
                title=best.title or other.title,
                score=min(1.0, best.score + 0.05) if best.source != other.source else best.score,
                why=why,
            )
    return tuple(sorted(merged.values(), key=lambda m: -m.score)[:top])


def _date(value: Any) -> _dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return parsed
