"""``gate_report``: the window's builds → analyses → bugs, uncategorized failures, jobs.

The steps, each in its own module: list the window's final builds
(:mod:`~recheck.gate.builds`), analyse the failed ones the store does not
know yet (:mod:`~recheck.gate.workers` running :mod:`~recheck.gate.classify`),
keep every finding (:mod:`~recheck.gate.store`), ask Launchpad once per
failure group, and count. Counting always reads from the store, so a report
is the same whether its builds were analysed now or by an earlier run.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ostk.dirs import cache_dir, data_dir
from ostk.errors import OstkError
from ostk.http import HttpSettings, build_session
from recheck.gate.builds import list_builds
from recheck.gate.keys import FailureKey, failure_key
from recheck.gate.models import (
    NOT_RUN_RESULTS,
    AnalysisSettings,
    BugHits,
    BuildAnalysis,
    BuildTask,
    GateBuild,
    GateReport,
    GateWindow,
    JobStats,
    UncategorizedFailure,
    utc,
)
from recheck.gate.store import GateStore, StoredBuild, default_path
from recheck.launchpad import DEFAULT_LAUNCHPAD, LaunchpadBugFinder, LaunchpadClient
from recheck.models import BugMatch, Failure

DEFAULT_ZUUL = "https://zuul.opendev.org"
#: Launchpad is asked about the most frequent failure groups only: one search
#: per group costs about a second, and the long tail is one-off noise.
MAX_LAUNCHPAD_GROUPS = 40
#: A Launchpad candidate must score this much (see ``recheck.launchpad.rank``) to explain a failure.
LAUNCHPAD_MIN_SCORE = 0.55
#: What the ``gate-failure`` tag adds: the bug is already known to hit the gate.
GATE_FAILURE_BONUS = 0.15
GATE_FAILURE_NOTE = "tagged gate-failure"
#: Example build links per uncategorized group.
EXAMPLES = 3
#: Individual warnings listed before they are summarised.
MAX_WARNINGS = 20

_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: _dt.datetime | None = None) -> _dt.datetime:
    """``24h``, ``7d``, ``90m``, ``2w`` (before ``now``), or a date / ISO time (UTC unless it says)."""
    now = utc(now or _dt.datetime.now(_dt.timezone.utc))
    match = _SINCE.match(text)
    if match:
        return now - _dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        return utc(_dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"not a time span (24h, 7d) or a date (2026-11-20): {text!r}") from None


@dataclass(frozen=True)
class GateQuery:
    """Which builds a report covers."""

    window: GateWindow
    tenant: str = "openstack"
    #: None: every pipeline.
    pipeline: str | None = "gate"
    projects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Execution:
    """How the analyses run."""

    #: Local worker processes (None: the usable CPUs; 1: in this process).
    workers: int | None = None
    #: A Dask scheduler address; when set, analyses run on its workers instead.
    dask: str | None = None
    http: HttpSettings = field(default_factory=HttpSettings)


def gate_report(
    zuul: str = DEFAULT_ZUUL,
    *,
    tenant: str = "openstack",
    pipeline: str | None = "gate",
    projects: Sequence[str] = (),
    since: str | _dt.datetime = "24h",
    until: _dt.datetime | None = None,
    launchpad: str | None = DEFAULT_LAUNCHPAD,
    store: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    dask: str | None = None,
    environ: Mapping[str, str] | None = None,
    http: HttpSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GateReport:
    """Which bugs hit the gate in the window, which failures no bug explains, and how each job fares.

    >>> report = recheck.gate_report(since="7d", projects=["openstack/nova"])
    >>> for bug in report.bugs:
    ...     print(bug.number, bug.hits, bug.title)

    ``launchpad=None`` matches with the offline signatures only. ``store``: the
    SQLite file (default ``$XDG_DATA_HOME/ostk/gate.sqlite3``). ``progress(done,
    total)`` is called as builds are analysed. Raises
    :class:`~ostk.errors.ServiceError` when Zuul cannot list the builds; log
    and Launchpad trouble become warnings in a partial report.
    """
    environ = os.environ if environ is None else environ
    now = _dt.datetime.now(_dt.timezone.utc)
    end = utc(until) if until else now
    start = parse_since(since, now=end) if isinstance(since, str) else utc(since)
    query = GateQuery(GateWindow(start, end), tenant, pipeline, tuple(projects))
    execution = Execution(workers, dask, http or HttpSettings())
    settings = AnalysisSettings(
        signature_environ=tuple(sorted((k, v) for k, v in environ.items() if k in ("HOME", "XDG_CONFIG_HOME"))),
        cache_dir=str(cache_dir(environ) / "recheck" / "analyses"),
        http=execution.http,
    )
    with GateStore.open(store or default_path(data_dir(environ))) as db:
        return build_report(zuul, query, execution, settings, db, launchpad=launchpad, progress=progress)


def build_report(
    zuul: str,
    query: GateQuery,
    execution: Execution,
    settings: AnalysisSettings,
    db: GateStore,
    *,
    launchpad: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> GateReport:
    """:func:`gate_report` with everything resolved (the store open, the settings typed)."""
    session = build_session(execution.http)
    listed = list(
        list_builds(session, zuul, query.tenant, query.window, pipeline=query.pipeline, projects=query.projects)
    )
    db.record_listed(query.tenant, listed)
    failed = [b for b in listed if b.failed]
    pending = db.pending(query.tenant, (b.uuid for b in failed))
    tasks = [BuildTask(b, settings) for b in failed if b.uuid in pending]
    downloaded = 0
    analyses: Iterator[BuildAnalysis] = iter(())
    if tasks:
        # Imported only when there is work: a re-run over analysed builds skips the engine.
        from recheck.gate.workers import run_analyses

        analyses = run_analyses(
            tasks, workers=execution.workers, dask=execution.dask, connect_timeout=execution.http.connect_timeout
        )
    if progress:
        progress(0, len(tasks))
    for done, analysis in enumerate(analyses, 1):
        db.record_analysis(analysis)
        downloaded += 1
        if progress:
            progress(done, len(tasks))
    stored = list(db.builds(query.tenant, (b.uuid for b in failed)))
    warnings: list[str] = []
    bugs_by_key = _launchpad_bugs(db, stored, launchpad, execution.http, warnings)
    report = count(query.window, listed, stored, bugs_by_key)
    return replace(report, warnings=tuple(_summarise(warnings, stored)), downloaded_builds=downloaded)


def count(
    window: GateWindow,
    listed: Sequence[GateBuild],
    stored: Sequence[StoredBuild],
    bugs_by_key: Mapping[FailureKey, Sequence[BugMatch]],
) -> GateReport:
    """The report's numbers: one hit per failed build, never per line."""
    bug_builds: dict[int, list[StoredBuild]] = defaultdict(list)
    bug_info: dict[int, BugMatch] = {}
    groups: dict[FailureKey, list[StoredBuild]] = defaultdict(list)
    samples: dict[FailureKey, str] = {}
    for item in stored:
        build_bugs: dict[int, BugMatch] = {m.number: m for m in item.signature_bugs}
        unexplained: list[FailureKey] = []
        for failure in item.failures:
            key = failure_key(failure)
            found = bugs_by_key.get(key, ())
            for match in found:
                build_bugs.setdefault(match.number, match)
            if not found:
                unexplained.append(key)
                samples.setdefault(key, failure.message)
        for number, match in build_bugs.items():
            bug_builds[number].append(item)
            known = bug_info.get(number)
            if known is None or (match.status and not known.status) or GATE_FAILURE_NOTE in match.why:
                bug_info[number] = match
        if item.signature_bugs:
            # The signature names the build's bug; its other failures are its symptoms.
            continue
        if not item.failures:
            if item.state == "partial":
                # Its logs could not be read: nothing is known yet (the warnings say so).
                continue
            key = FailureKey("result", f"{item.build.result}: no failure found in the logs")
            unexplained.append(key)
        for key in dict.fromkeys(unexplained):
            groups[key].append(item)
    bugs = [_bug_hits(bug_info[number], items) for number, items in bug_builds.items()]
    bugs.sort(key=lambda b: (-b.hits, b.number))
    uncategorized = [_group(key, items, samples.get(key, "")) for key, items in groups.items()]
    uncategorized.sort(key=lambda g: (-g.hits, g.kind, g.key))
    return GateReport(
        window=window,
        builds_analysed=sum(1 for s in stored if s.state in ("analysed", "partial")),
        bugs=tuple(bugs),
        uncategorized=tuple(uncategorized),
        jobs=tuple(_jobs(listed)),
    )


def _bug_hits(match: BugMatch, items: Sequence[StoredBuild]) -> BugHits:
    ends = [i.build.end_time for i in items]
    by_day = Counter(i.build.end_time.strftime("%Y-%m-%d") for i in items)
    return BugHits(
        number=match.number,
        title=match.title,
        status=match.status,
        url=match.url,
        hits=len(items),
        changes=len({i.build.change for i in items if i.build.change is not None}),
        jobs=dict(sorted(Counter(i.build.job_name for i in items).items())),
        projects=tuple(sorted({i.build.project for i in items})),
        first_seen=min(ends),
        last_seen=max(ends),
        by_day=dict(sorted(by_day.items())),
        gate_failure=GATE_FAILURE_NOTE in match.why,
    )


def _group(key: FailureKey, items: Sequence[StoredBuild], sample: str) -> UncategorizedFailure:
    newest = sorted(items, key=lambda i: i.build.end_time, reverse=True)
    return UncategorizedFailure(
        key=key.key,
        kind=key.kind,
        hits=len(items),
        changes=len({i.build.change for i in items if i.build.change is not None}),
        jobs=dict(sorted(Counter(i.build.job_name for i in items).items())),
        examples=tuple(i.build.url for i in newest[:EXAMPLES]),
        sample=sample,
    )


def _jobs(listed: Iterable[GateBuild]) -> list[JobStats]:
    runs: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    for build in listed:
        if build.result in NOT_RUN_RESULTS:
            continue
        runs[build.job_name] += 1
        if build.failed:
            failures[build.job_name] += 1
    stats = [JobStats(name, runs[name], failures[name], failures[name] / runs[name]) for name in runs]
    stats.sort(key=lambda j: (-j.failures, -j.failure_rate, j.name))
    return stats


def _launchpad_bugs(
    db: GateStore,
    stored: Sequence[StoredBuild],
    launchpad: str | None,
    http: HttpSettings,
    warnings: list[str],
) -> dict[FailureKey, tuple[BugMatch, ...]]:
    """Launchpad bugs per failure group (the most frequent groups; answers kept in the store)."""
    if not launchpad:
        return {}
    hits: Counter[FailureKey] = Counter()
    sample: dict[FailureKey, Failure] = {}
    projects: dict[FailureKey, Counter[str]] = defaultdict(Counter)
    for item in stored:
        if item.signature_bugs:
            continue
        for failure in item.failures:
            key = failure_key(failure)
            hits[key] += 1
            sample.setdefault(key, failure)
            projects[key][item.build.project] += 1
    found: dict[FailureKey, tuple[BugMatch, ...]] = {}
    client: LaunchpadClient | None = None
    finder: LaunchpadBugFinder | None = None
    for key, _n in hits.most_common(MAX_LAUNCHPAD_GROUPS):
        project = projects[key].most_common(1)[0][0]
        known = db.launchpad_matches(key.kind, key.key, project)
        if known is None:
            if client is None or finder is None:
                client = LaunchpadClient(launchpad, session=build_session(http))
                finder = LaunchpadBugFinder(client, max_failures=1)
            try:
                known = _search(client, finder, sample[key], project)
            except OstkError as exc:
                warnings.append(f"Launchpad: {exc}: bugs matched by offline signatures only")
                break
            db.record_launchpad(key.kind, key.key, project, known)
        accepted = tuple(m for m in known if m.score >= LAUNCHPAD_MIN_SCORE)
        if accepted:
            found[key] = accepted[:1]
    return found


def _search(client: LaunchpadClient, finder: LaunchpadBugFinder, failure: Failure, project: str) -> tuple[BugMatch, ...]:
    matches = []
    for match in finder.find([failure], project or None, top=3):
        link = client.link_of(match.number)
        tags = client.bug(link).get("tags") if link else None
        if isinstance(tags, list) and "gate-failure" in tags:
            match = replace(
                match, score=min(0.99, match.score + GATE_FAILURE_BONUS), why=(*match.why, GATE_FAILURE_NOTE)
            )
        matches.append(match)
    return tuple(sorted(matches, key=lambda m: -m.score))


def _summarise(warnings: list[str], stored: Sequence[StoredBuild]) -> list[str]:
    partial = [s for s in stored if s.state == "partial"]
    out = list(dict.fromkeys(warnings))
    if partial:
        out.append(
            f"partial report: the logs of {len(partial)} failed build(s) could not be read whole; "
            "the next run tries them again"
        )
    same = Counter(w for s in stored for w in s.warnings)
    build_warnings = [w if n == 1 else f"{w} ({n} builds)" for w, n in same.items()]
    out += build_warnings[:MAX_WARNINGS]
    if len(build_warnings) > MAX_WARNINGS:
        out.append(f"... and {len(build_warnings) - MAX_WARNINGS} more build warnings")
    return out


__all__ = ["DEFAULT_ZUUL", "Execution", "GateQuery", "build_report", "count", "gate_report", "parse_since"]
