"""The gate report's memory: every build seen and every failure found, in SQLite.

One file under the XDG data dir (``~/.local/share/ostk/gate.sqlite3``), one
row per build and one per failure. A failed build is analysed once: its
failures and signature matches are written with its row in one transaction,
so an interrupted run (Ctrl-C, a crash) leaves either the whole build or
nothing of it, and the next run analyses only what is missing. Builds whose
logs could not be read whole are kept as ``partial`` and analysed again.
Launchpad answers per failure group are kept too (a day), so a re-run asks
Launchpad nothing new.

The schema is versioned with ``PRAGMA user_version``; an older or unknown
version is dropped and rebuilt (it is a cache of public data: nothing is lost
that the next run cannot fetch again).
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ostk.errors import InputError
from ostk.files import ensure_private_dir
from recheck.gate.keys import failure_key
from recheck.gate.models import BuildAnalysis, GateBuild, GateWindow, iso, parse_time
from recheck.models import BugMatch, Failure, FailureKind

#: Bump when a table changes shape or a stored finding changes meaning.
SCHEMA_VERSION = 1
FILE_NAME = "gate.sqlite3"
#: How long a Launchpad answer for a failure group is trusted.
LAUNCHPAD_TTL = 24 * 3600

_SCHEMA = """
CREATE TABLE builds (
    uuid TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    project TEXT NOT NULL,
    job_name TEXT NOT NULL,
    result TEXT NOT NULL,
    change INTEGER,
    patchset INTEGER,
    end_time TEXT NOT NULL,
    log_url TEXT,
    url TEXT NOT NULL,
    -- 'listed' (not analysed yet, or not failed), 'analysed', 'partial'
    state TEXT NOT NULL,
    failure_count INTEGER NOT NULL DEFAULT 0,
    warnings TEXT NOT NULL DEFAULT '[]',
    analysed_at REAL
);
CREATE INDEX builds_window ON builds (tenant, end_time);
CREATE TABLE failures (
    build_uuid TEXT NOT NULL REFERENCES builds (uuid) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    message TEXT NOT NULL,
    key_kind TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (build_uuid, position)
);
CREATE INDEX failures_key ON failures (key_kind, key);
CREATE TABLE signature_bugs (
    build_uuid TEXT NOT NULL REFERENCES builds (uuid) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    status TEXT,
    url TEXT NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (build_uuid, number)
);
CREATE TABLE launchpad (
    key_kind TEXT NOT NULL,
    key TEXT NOT NULL,
    project TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    matches TEXT NOT NULL,
    PRIMARY KEY (key_kind, key, project)
);
"""


@dataclass(frozen=True)
class StoredBuild:
    """A build as the store has it, with its findings."""

    build: GateBuild
    state: str
    failures: tuple[Failure, ...]
    signature_bugs: tuple[BugMatch, ...]
    warnings: tuple[str, ...]


class GateStore:
    """The SQLite store; one connection, used from one thread.

    >>> with GateStore.open(env.data_dir / "gate.sqlite3") as store:
    ...     store.pending(window)
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> GateStore:
        path = Path(path)
        try:
            ensure_private_dir(path.parent)
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            os.chmod(path, 0o600)
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a power cut may lose the last builds, never corrupt the file.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                _rebuild(db)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the gate store {path} is unusable: {exc} (delete it to start afresh)") from exc
        except OSError as exc:
            raise InputError(f"cannot open the gate store {path}: {exc.strerror or exc}") from exc
        return cls(db, path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> GateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------
    def record_listed(self, tenant: str, builds: Iterable[GateBuild]) -> None:
        """Remember builds from the listing; those already known keep their findings."""
        rows = [
            (
                b.uuid, tenant, b.pipeline, b.project, b.job_name, b.result, b.change, b.patchset,
                iso(b.end_time), b.log_url, b.url,
            )
            for b in builds
        ]
        with self._transaction():
            self.db.executemany(
                "INSERT INTO builds (uuid, tenant, pipeline, project, job_name, result, change, patchset,"
                " end_time, log_url, url, state) VALUES (?,?,?,?,?,?,?,?,?,?,?,'listed')"
                " ON CONFLICT (uuid) DO NOTHING",
                rows,
            )

    def record_analysis(self, analysis: BuildAnalysis) -> None:
        """Store one build's findings, all or nothing."""
        state = "analysed" if analysis.complete else "partial"
        with self._transaction():
            self.db.execute("DELETE FROM failures WHERE build_uuid = ?", (analysis.uuid,))
            self.db.execute("DELETE FROM signature_bugs WHERE build_uuid = ?", (analysis.uuid,))
            self.db.executemany(
                "INSERT INTO failures (build_uuid, position, kind, id, message, key_kind, key)"
                " VALUES (?,?,?,?,?,?,?)",
                [
                    (analysis.uuid, n, f.kind.value, f.id, f.message, key.kind, key.key)
                    for n, f in enumerate(analysis.failures)
                    for key in (failure_key(f),)
                ],
            )
            self.db.executemany(
                "INSERT INTO signature_bugs (build_uuid, number, title, status, url, score) VALUES (?,?,?,?,?,?)",
                [(analysis.uuid, m.number, m.title, m.status, m.url, m.score) for m in analysis.signature_bugs],
            )
            self.db.execute(
                "UPDATE builds SET state = ?, failure_count = ?, warnings = ?, analysed_at = ? WHERE uuid = ?",
                (state, len(analysis.failures), json.dumps(list(analysis.warnings)), time.time(), analysis.uuid),
            )

    def launchpad_matches(self, kind: str, key: str, project: str) -> tuple[BugMatch, ...] | None:
        """The stored Launchpad answer for a failure group, or None when unknown or stale."""
        row = self.db.execute(
            "SELECT fetched_at, matches FROM launchpad WHERE key_kind = ? AND key = ? AND project = ?",
            (kind, key, project),
        ).fetchone()
        if row is None or time.time() - row[0] > LAUNCHPAD_TTL:
            return None
        return tuple(
            BugMatch(
                number=int(m["number"]), title=m["title"], status=m.get("status"), url=m["url"],
                score=float(m["score"]), source=m["source"], why=tuple(m.get("why", ())),
            )
            for m in json.loads(row[1])
        )

    def record_launchpad(self, kind: str, key: str, project: str, matches: Iterable[BugMatch]) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO launchpad (key_kind, key, project, fetched_at, matches) VALUES (?,?,?,?,?)",
                (kind, key, project, time.time(), json.dumps([m.to_json() for m in matches])),
            )

    # -- reading ----------------------------------------------------------
    def pending(self, tenant: str, uuids: Iterable[str]) -> set[str]:
        """Which of ``uuids`` still need an analysis (never analysed, or only partly)."""
        wanted = list(uuids)
        done: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            done.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT uuid FROM builds WHERE tenant = ? AND state = 'analysed' AND uuid IN ({marks})",
                    (tenant, *part),
                )
            )
        return set(wanted) - done

    def builds(self, tenant: str, uuids: Iterable[str]) -> Iterator[StoredBuild]:
        """The stored builds among ``uuids``, with their findings."""
        wanted = list(uuids)
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                "SELECT uuid, pipeline, project, job_name, result, change, patchset, end_time, log_url, url,"
                f" state, warnings FROM builds WHERE tenant = ? AND uuid IN ({marks})",
                (tenant, *part),
            ).fetchall()
            failures: dict[str, list[Failure]] = {}
            for uuid, kind, ident, message in self.db.execute(
                f"SELECT build_uuid, kind, id, message FROM failures WHERE build_uuid IN ({marks})"
                " ORDER BY build_uuid, position",
                part,
            ):
                failures.setdefault(uuid, []).append(Failure(FailureKind(kind), ident, message))
            bugs: dict[str, list[BugMatch]] = {}
            for uuid, number, title, status, url, score in self.db.execute(
                "SELECT build_uuid, number, title, status, url, score FROM signature_bugs"
                f" WHERE build_uuid IN ({marks}) ORDER BY score DESC",
                part,
            ):
                bugs.setdefault(uuid, []).append(BugMatch(number, title, status, url, score, "signature"))
            for row in rows:
                uuid = row[0]
                build = GateBuild(
                    uuid=uuid, pipeline=row[1], project=row[2], job_name=row[3], result=row[4], change=row[5],
                    patchset=row[6], end_time=parse_time(row[7]), log_url=row[8], url=row[9],
                )
                yield StoredBuild(
                    build, row[10], tuple(failures.get(uuid, ())), tuple(bugs.get(uuid, ())),
                    tuple(json.loads(row[11])),
                )

    def window_builds(self, tenant: str, window: GateWindow) -> list[str]:
        """Uuids of the stored builds of ``tenant`` that ended inside ``window``."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT uuid FROM builds WHERE tenant = ? AND end_time >= ? AND end_time < ?",
                (tenant, iso(window.since), iso(window.until)),
            )
        ]

    def check(self) -> list[str]:
        """Consistency problems (empty when sound): SQLite's own check, and findings per build."""
        problems = [row[0] for row in self.db.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [
            f"build {uuid}: {count} failures stored, {expected} expected"
            for uuid, expected, count in self.db.execute(
                "SELECT b.uuid, b.failure_count, (SELECT COUNT(*) FROM failures f WHERE f.build_uuid = b.uuid)"
                " FROM builds b"
            )
            if expected != count
        ]
        problems += [
            f"failure of unknown build {row[0]}"
            for row in self.db.execute(
                "SELECT DISTINCT build_uuid FROM failures WHERE build_uuid NOT IN (SELECT uuid FROM builds)"
            )
        ]
        return problems

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; any exception (Ctrl-C included) rolls back."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        # IMMEDIATE: take the write lock now, so a second ostk waits (busy timeout)
        # instead of failing half way through.
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")


def _rebuild(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            db.execute(f'DROP TABLE IF EXISTS "{name}"')
        # One statement at a time: executescript() would commit the open transaction.
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def default_path(data_dir: Path) -> Path:
    """``<data dir>/gate.sqlite3``."""
    return data_dir / FILE_NAME

