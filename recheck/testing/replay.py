"""Replaying real CI data into the simulator: Gerrit stream events, elastic-recheck hits."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Protocol

from recheck.testing.records import SimLog


class ReplayTarget(Protocol):
    """What replaying needs of the simulator it fills (a :class:`~recheck.testing.CISimulator`).

    A protocol rather than an import: the simulator offers ``sim.load_gerrit_events``,
    so it imports this module, and this module must not import it back.
    """

    _lock: threading.Lock

    @property
    def logs_url(self) -> str: ...

    @property
    def _changes(self) -> dict[int, Any]: ...

    def add_change(
        self,
        number: int,
        *,
        project: str = ...,
        branch: str = ...,
        change_id: str | None = ...,
        patchsets: int = ...,
        subject: str = ...,
    ) -> None: ...

    def add_patchset(self, number: int) -> int: ...

    def add_log(self, path: str, log: SimLog) -> str: ...

    def _append(self, change: Any, message: str, patchset: int, author: str, tag: str | None) -> None: ...


def load_gerrit_events(sim: ReplayTarget, path: str | Path, *, logs: bytes | None = None) -> list[int]:
    """Add the changes and Jenkins comments of a Gerrit stream-events fixture.

    Accepts a list of events or ``{"events": [...]}``. Each ``comment-added``
    with a CI comment becomes a message on its change; log directory links
    are rewritten to the simulator's log server (the originals expired long
    ago), and ``logs`` (if given) is served as every job's ``console.html``.
    Returns the change numbers added.
    """
    data = json.loads(Path(path).read_text("utf-8"))
    events = data.get("events", []) if isinstance(data, dict) else data
    numbers = []
    for index, event in enumerate(events):
        if event.get("type") != "comment-added" or not event.get("comment"):
            continue
        change = event.get("change") or {}
        number = int(change.get("number") or 64831 + index)
        patchset = int((event.get("patchSet") or {}).get("number") or 1)
        comment = event["comment"]
        urls = re.findall(r"https?://logs\.openstack\.org/(\S+)", comment)
        comment = re.sub(r"https?://logs\.openstack\.org/", sim.logs_url + "/", comment)
        if number not in sim._changes:
            sim.add_change(
                number,
                project=change.get("project") or "openstack/requirements",
                branch=change.get("branch") or "master",
                change_id=change.get("id"),
                patchsets=patchset,
                subject=change.get("subject") or "",
            )
            numbers.append(number)
        target = sim._changes[number]
        while target.patchsets < patchset:
            sim.add_patchset(number)
        body = comment if comment.startswith("Patch Set") else f"Patch Set {patchset}:\n\n{comment}"
        author = (event.get("author") or {}).get("username") or "jenkins"
        with sim._lock:
            sim._append(target, body, patchset, author, None)
        if logs is not None:
            for url in urls:
                sim.add_log(url.rstrip("/") + "/console.html", SimLog(logs, encoding="gzip"))
    return numbers


def load_logstash_hits(sim: ReplayTarget, path: str | Path, *, limit: int | None = None) -> list[int]:
    """Rebuild the failed builds behind real Elasticsearch hits (elastic-recheck's test data).

    Each hit carries a real log line and its build (``build_change``,
    ``build_patchset``, ``build_name``, ``build_queue``, ``build_status``,
    ``log_url``, ``project``). Hits of one build become that job's
    ``console.html`` (Jenkins format: ``<timestamp> | <line>``); the builds of
    one patch set become one Jenkins ``Build failed.`` comment. Hits without
    build metadata (the oldest shape) are skipped. Returns the change numbers
    added, at most ``limit`` of them.
    """
    data = json.loads(Path(path).read_text("utf-8"))
    hits = data.get("hits", {}).get("hits", []) if isinstance(data, dict) else []
    builds: dict[tuple[int, int], dict[tuple[str, str], dict[str, Any]]] = {}
    projects: dict[int, str] = {}
    for hit in hits:
        source = hit.get("_source") or {}
        fields = source.get("@fields") or source
        change, patchset, name = fields.get("build_change"), fields.get("build_patchset"), fields.get("build_name")
        if not (change and patchset and name):
            continue
        number, ps = int(change), int(patchset)
        if (number, ps) not in builds and limit is not None and len(builds) >= limit:
            continue
        projects[number] = fields.get("project") or projects.get(number) or "openstack/nova"
        key = (name, fields.get("build_short_uuid") or fields.get("build_uuid", "")[:7] or "0000000")
        build = builds.setdefault((number, ps), {}).setdefault(
            key,
            {
                "queue": fields.get("build_queue") or "check",
                "status": fields.get("build_status") or "FAILURE",
                "lines": [],
            },
        )
        message = source.get("message") or source.get("@message") or ""
        stamp = str(source.get("@timestamp", "")).replace("T", " ")[:23]
        build["lines"].extend(f"{stamp} | {line}" for line in message.splitlines() or [""])
    numbers = []
    for (number, ps), jobs in sorted(builds.items()):
        if number not in sim._changes:
            sim.add_change(number, project=projects[number], patchsets=ps)
            numbers.append(number)
        while sim._changes[number].patchsets < ps:
            sim.add_patchset(number)
        # Jenkins posted one comment per pipeline (queue).
        by_queue: dict[str, list[str]] = {}
        for (name, short), build in jobs.items():
            directory = f"{number % 100:02d}/{number}/{ps}/{build['queue']}/{name}/{short}"
            html = "<html><body><pre>\n" + "\n".join(build["lines"]) + "\n</pre></body></html>\n"
            sim.add_log(f"{directory}/console.html", SimLog(html.encode(), encoding="gzip"))
            by_queue.setdefault(build["queue"], []).append(
                f"- {name} {sim.logs_url}/{directory} : {build['status']} in 42m 00s"
            )
        for lines in by_queue.values():
            text = (
                f"Patch Set {ps}: Verified-1\n\nBuild failed.  For information on how to proceed, see "
                "https://wiki.openstack.org/wiki/GerritJenkinsGit#Test_Failures\n\n" + "\n".join(lines) + "\n"
            )
            with sim._lock:
                sim._append(sim._changes[number], text, ps, "jenkins", None)
    return numbers
