"""The simulator's history: builds of jobs across many changes, and each revision's files.

``sim.history`` (a :class:`SimHistory`) adds to :class:`~recheck.testing.CISimulator`:

- builds of any job on other changes (gate and check, with logs), answered by
  ``GET /zuul/api/tenant/<t>/builds`` with Zuul's real query semantics when
  the query carries ``final=`` (what a history look-up sends): ``job_name``,
  ``project``, ``branch``, ``pipeline``, ``change``, ``patchset``, ``result``
  filters, ``final=true`` dropping retried attempts (``result: RETRY``,
  ``final: false``), newest first, ``skip``/``limit`` paging (the query
  parameters of ``GET /api/tenant/{tenant}/builds`` in Zuul's REST API
  reference, zuul-ci.org/docs/zuul/rest-api.html, plus ``final``); builds
  carry ``ref{project, branch, change, patchset (string)}`` and
  ``buildset{uuid}`` as DESIGN.md records from Zuul's sources, and publish
  their logs with the "Zuul Manifest" artifact like the simulator's own;
- ``GET /changes/{id}/revisions/{rev}/files`` (Gerrit's ``)]}'``-prefixed map
  of path → ``{status?, lines_inserted, lines_deleted, size_delta, size}``,
  ``/COMMIT_MSG`` included, as gerrit ``FileInfo`` documents it);
- ``down``: the history queries answer 503 (Zuul's API down).

::

    with CISimulator() as sim:
        sim.history.add_builds("tempest-full", "FSSSF", log=FAILING_LOG, first_change=900)
        sim.history.set_files(123456, 1, ["nova/compute/manager.py"])
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import re
import threading
import uuid as _uuid
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from recheck.testing.records import SimJob, SimLog


# SimHistory extends the simulator from the inside (its lock, its builds, its
# request handler). The simulator builds it (``sim.history``) and so imports
# this module; these protocols name what is used without importing it back.
class _Change(Protocol):
    number: int
    patchsets: int


class _Simulator(Protocol):
    tenant: str
    _lock: threading.Lock

    @property
    def url(self) -> str: ...

    @property
    def logs_url(self) -> str: ...

    @property
    def _builds(self) -> dict[str, dict[str, Any]]: ...

    def _register_logs(self, job: SimJob, short: str) -> None: ...

    def _find_change(self, ident: str) -> _Change | None: ...


class _Responder(Protocol):
    def _send(
        self, status: int, body: bytes, content_type: str = ..., headers: dict[str, str] | None = ...
    ) -> None: ...

    def _json(self, document: Any, *, xssi: bool = ...) -> None: ...

    def _fault(self, service: str) -> bool: ...

    def _build_shape(self, data: dict[str, Any]) -> dict[str, Any]: ...

_RESULTS = {"S": "SUCCESS", "F": "FAILURE", "P": "POST_FAILURE", "N": "NODE_FAILURE", "T": "TIMED_OUT", "R": "RETRY"}


class SimHistory:
    """Histories of builds and changed files for one :class:`CISimulator` (use ``sim.history``)."""

    def __init__(self, sim: _Simulator) -> None:
        self.sim = sim
        #: History queries (builds listings with ``final=``) answer 503.
        self.down = False
        self._files: dict[tuple[int, int], dict[str, dict[str, Any]]] = {}
        self._age = 0

    # -- data -----------------------------------------------------------
    def add_build(
        self,
        job: str,
        *,
        change: int,
        patchset: int = 1,
        result: str = "FAILURE",
        pipeline: str = "gate",
        project: str = "openstack/nova",
        branch: str = "master",
        log: bytes | None = None,
        log_file: SimLog | None = None,
        final: bool = True,
        voting: bool = True,
    ) -> str:
        """One finished build of ``job`` on ``change`` (older than every build added before it).

        Its logs (``log``, or ``log_file`` for full control) are published the way
        zuul-jobs does, with the "Zuul Manifest" artifact, like the simulator's own builds.
        """
        sim = self.sim
        uuid = _uuid.uuid4().hex
        self._age += 1
        start = _dt.datetime(2026, 11, 20, 7, 0, 0) - _dt.timedelta(minutes=7 * self._age)
        short = f"{change % 100:02d}/{change}/{patchset}/{pipeline}/{job}/{uuid[:7]}"
        log_url = f"{sim.logs_url}/{short}/"
        artifacts = []
        if log is not None or log_file is not None:
            sim._register_logs(SimJob(job, result, log=log, log_file=log_file, uuid=uuid), short)
            artifacts.append(
                {"name": "Zuul Manifest", "url": f"{log_url}zuul-manifest.json", "metadata": {"type": "zuul_manifest"}}
            )
        build = {
            "_id": len(sim._builds) + 1,
            "uuid": uuid,
            "job_name": job,
            "result": result,
            "held": False,
            "voting": voting,
            "final": final and result != "RETRY",
            "log_url": log_url,
            "nodeset": "ubuntu-noble",
            "error_detail": None,
            "pipeline": pipeline,
            "start_time": start.isoformat(),
            "end_time": (start + _dt.timedelta(minutes=40)).isoformat(),
            "duration": 2400.0,
            "event_id": _uuid.uuid4().hex,
            "artifacts": artifacts,
            "provides": [],
            "buildset": {"uuid": _uuid.uuid4().hex},
            "ref": {
                "project": project,
                "branch": branch,
                "change": change,
                "patchset": str(patchset),
                "ref": f"refs/changes/{change % 100:02d}/{change}/{patchset}",
                "ref_url": f"{sim.url}/{change}",
            },
        }
        with sim._lock:
            sim._builds[uuid] = build
        return uuid

    def add_builds(
        self,
        job: str,
        results: str,
        *,
        first_change: int,
        log: bytes | None = None,
        pipeline: str = "gate",
        **fields: Any,
    ) -> list[str]:
        """Builds of ``job`` on changes ``first_change``, +1, ..., newest first.

        ``results`` is one letter per build: S(uccess), F(ailure), P(OST_FAILURE),
        N(ODE_FAILURE), T(IMED_OUT), R(ETRY, non-final). ``log`` is every failed
        build's job-output.txt.
        """
        return [
            self.add_build(
                job,
                change=first_change + index,
                result=_RESULTS[letter],
                pipeline=pipeline,
                log=log if letter != "S" else b"2026-11-20 07:00:00.000001 | all tests passed\n",
                **fields,
            )
            for index, letter in enumerate(results)
        ]

    def set_files(self, change: int, patchset: int, paths: Iterable[str], *, deleted: Sequence[str] = ()) -> None:
        """The files revision ``patchset`` of ``change`` modifies (``deleted`` ones get status D)."""
        files: dict[str, dict[str, Any]] = {"/COMMIT_MSG": {"status": "A", "lines_inserted": 10, "size_delta": 420, "size": 420}}
        for path in paths:
            files[path] = {"lines_inserted": 12, "lines_deleted": 3, "size_delta": 290, "size": 18034}
        for path in deleted:
            files[path] = {"status": "D", "lines_deleted": 40, "size_delta": -1200, "size": 0}
        with self.sim._lock:
            self._files[(change, patchset)] = files

    # -- the hook ---------------------------------------------------------
    def handle(self, handler: _Responder, method: str, path: str, query: dict[str, list[str]]) -> bool:
        """Answer the request if it is ours (history builds listing, revision files)."""
        sim = self.sim
        if method == "GET" and path == f"/zuul/api/tenant/{sim.tenant}/builds" and "final" in query:
            if self.down:
                handler._send(503, b"Service Unavailable", headers={"Retry-After": "0"})
                return True
            if handler._fault("zuul"):
                return True
            handler._json([handler._build_shape(b) for b in self._query(query)])
            return True
        files = re.match(r"^(?:/a)?/changes/([^/]+)/revisions/([^/]+)/files/?$", path)
        if method == "GET" and files:
            if handler._fault("gerrit"):
                return True
            with sim._lock:
                change = sim._find_change(files.group(1))
                revision = files.group(2)
                if change is None:
                    handler._send(404, f"Not found: {files.group(1)}".encode())
                    return True
                patchset = change.patchsets if revision == "current" else self._patchset(change.number, revision)
                document = self._files.get((change.number, patchset or 0)) if patchset else None
            if patchset is None or patchset > change.patchsets:
                handler._send(404, f"Not found: {revision}".encode())
                return True
            handler._json(document or {"/COMMIT_MSG": {"status": "A", "lines_inserted": 8, "size_delta": 300, "size": 300}}, xssi=True)
            return True
        return False

    def _patchset(self, number: int, revision: str) -> int | None:
        if revision.isdigit() and len(revision) < 6:
            return int(revision)
        for ps in range(1, 100):
            if hashlib.sha1(f"{number}/{ps}".encode()).hexdigest() == revision:
                return ps
        return None

    def _query(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        with self.sim._lock:
            builds = list(self.sim._builds.values())
        wanted = {k: v[0] for k, v in query.items() if k in ("job_name", "pipeline", "result", "project", "branch", "change", "patchset")}
        final = (query.get("final") or [""])[0].lower()
        out = []
        for build in builds:
            flat = {**build, **{k: str(v) for k, v in build["ref"].items()}}
            if not all(str(flat.get(k)) == v for k, v in wanted.items()):
                continue
            is_final = build.get("final", build.get("result") != "RETRY")
            if final in ("true", "1") and not is_final:
                continue
            if final in ("false", "0") and is_final:
                continue
            out.append({**build, "final": is_final})
        out.sort(key=lambda b: str(b.get("start_time")), reverse=True)
        skip = int((query.get("skip") or ["0"])[0])
        limit = int((query.get("limit") or ["50"])[0])
        return [{k: v for k, v in b.items() if k != "_id"} for b in out[skip : skip + limit]]
