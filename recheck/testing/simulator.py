"""The CI simulator: one threaded HTTP server on 127.0.0.1, four services.

Routes (all on the same free port):

- Gerrit at the root: ``/changes/...``, ``/a/changes/...`` (Basic auth),
  ``/c/<project>/+/<n>`` pages.
- Zuul under ``/zuul``: ``/zuul/api/tenant/<t>/build/<uuid>``,
  ``/zuul/api/tenant/<t>/builds``, build pages ``/zuul/t/<t>/build/<uuid>``.
- Logs under ``/logs``.
- Launchpad under ``/launchpad/1.0``: ``/<target>?ws.op=searchTasks``,
  ``/bugs/<n>``.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import re
import sys
import threading
import time
import uuid as _uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from recheck.testing.history import SimHistory
from recheck.testing.launchpad import LaunchpadData, SimBug
from recheck.testing.records import SimJob, SimLog, gzip_bytes
from recheck.testing.replay import load_gerrit_events, load_logstash_hits

__all__ = ["CISimulator", "SimBug", "SimJob", "SimLog", "gzip_bytes"]

XSSI = ")]}'\n"
#: openstack/project-config zuul.d/pipelines.yaml: pipelines whose gerrit reporter is empty (no vote).
NON_VOTING_PIPELINES = frozenset({"experimental", "check-arm64", "post-review", "promote", "deploy"})
#: The header text of pipelines whose failure-message does not name them ("ARM64 pipeline").
PIPELINE_HEADERS = {"check-arm64": "ARM64"}
_LAUNCHPAD_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")


@dataclass
class _Change:
    number: int
    project: str
    branch: str
    change_id: str
    subject: str
    patchsets: int
    status: str = "NEW"
    messages: list[dict[str, Any]] = field(default_factory=list)



class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a cancelled download, a pooled connection closed
    at exit) is normal for a CI service; only real handler errors are printed."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

class CISimulator(LaunchpadData):
    """Gerrit + Zuul + log server + Launchpad over real HTTP on 127.0.0.1 (a free port).

    Use as a context manager; it stops by itself on exit. Thread-safe: the
    server answers concurrent requests (parallel log downloads) on threads.
    """

    #: The request handler; a subclass may serve more (``recheck.testing.gate`` pages builds).
    handler_class: type[_Handler]

    def __init__(self, *, tenant: str = "openstack", username: str = "alice", password: str = "s3cret-http-pw") -> None:
        self.tenant = tenant
        self.username = username
        self.password = password
        #: Serve Zuul builds in the old flat shape (project/change/patchset at the top level).
        self.zuul_flat_builds = False
        #: Launchpad answers 503 to everything.
        self.launchpad_down = False
        self._lock = threading.Lock()
        self._changes: dict[int, _Change] = {}
        self._builds: dict[str, dict[str, Any]] = {}
        self._buildsets: dict[str, dict[str, Any]] = {}
        self._logs: dict[str, SimLog] = {}
        self._bugs: dict[int, SimBug] = {}
        self._failures: dict[str, list[int]] = {}
        self._clock = _dt.datetime(2026, 11, 20, 8, 0, 0)
        self.requests: list[tuple[str, str]] = []
        self._history: SimHistory | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        template = resources.files("recheck.testing").joinpath("data/launchpad_bug_task.json").read_text("utf-8")
        self._task_template = json.loads(template)

    # -- lifecycle ------------------------------------------------------
    def start(self) -> CISimulator:
        simulator = self

        class Handler(getattr(self, "handler_class", _Handler)):  # type: ignore[misc]
            sim = simulator

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> CISimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the simulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def gerrit_url(self) -> str:
        return self.url

    @property
    def zuul_url(self) -> str:
        return f"{self.url}/zuul"

    @property
    def launchpad_url(self) -> str:
        return f"{self.url}/launchpad/1.0"

    @property
    def logs_url(self) -> str:
        return f"{self.url}/logs"

    def service_environ(self) -> dict[str, str]:
        """The ``OSTK_*_URL`` variables that point ostk's Gerrit, Zuul and Launchpad clients here."""
        return {
            "OSTK_GERRIT_URL": self.gerrit_url,
            "OSTK_ZUUL_URL": self.zuul_url,
            "OSTK_LAUNCHPAD_URL": self.launchpad_url,
        }

    def change_url(self, number: int, patchset: int | None = None) -> str:
        change = self._changes[number]
        suffix = f"/{patchset}" if patchset else ""
        return f"{self.url}/c/{change.project}/+/{number}{suffix}"

    def build_url(self, uuid: str) -> str:
        return f"{self.zuul_url}/t/{self.tenant}/build/{uuid}"

    def netrc_text(self) -> str:
        """A ``.netrc`` entry with the simulator's Gerrit credentials."""
        return f"machine 127.0.0.1 login {self.username} password {self.password}\n"

    @property
    def history(self) -> SimHistory:
        """Builds of jobs across other changes and each revision's files (``recheck.testing.history``)."""
        if self._history is None:
            self._history = SimHistory(self)
        return self._history

    # -- data -----------------------------------------------------------
    def add_change(
        self,
        number: int,
        *,
        project: str = "openstack/nova",
        branch: str = "master",
        change_id: str | None = None,
        patchsets: int = 1,
        subject: str = "Fix the thing",
    ) -> None:
        """A change with ``patchsets`` patch sets and no messages yet."""
        change_id = change_id or "I" + hashlib.sha1(f"{project}{number}".encode()).hexdigest()
        with self._lock:
            self._changes[number] = _Change(number, project, branch, change_id, subject, patchsets)
            for ps in range(1, patchsets + 1):
                self._append(self._changes[number], f"Uploaded patch set {ps}.", ps, "owner", "autogenerated:gerrit:newPatchSet")

    def add_patchset(self, number: int) -> int:
        with self._lock:
            change = self._changes[number]
            change.patchsets += 1
            self._append(change, f"Uploaded patch set {change.patchsets}.", change.patchsets, "owner", "autogenerated:gerrit:newPatchSet")
            return change.patchsets

    def add_message(
        self, number: int, message: str, *, patchset: int, author: str = "reviewer", tag: str | None = None
    ) -> None:
        """A review message, ``Patch Set N:`` prefixed like Gerrit does."""
        with self._lock:
            self._append(self._changes[number], f"Patch Set {patchset}:\n\n{message}", patchset, author, tag)

    def add_buildset(
        self,
        number: int,
        patchset: int,
        *,
        pipeline: str = "check",
        jobs: Iterable[SimJob],
        style: str = "zuul",
        links: str = "absolute",
        truncate_at: int | None = None,
    ) -> list[SimJob]:
        """Report a buildset: logs and builds registered, the CI comment posted.

        ``style="zuul"`` posts a Zuul v3 comment linking build pages and the
        buildset (zuul/zuul ``zuul/reporter/__init__.py``); ``links="relative"``
        writes ``build/<uuid>`` links (a Zuul without a web root). Pipelines
        that cast no vote on OpenDev (``experimental``, ``check-arm64``...) post
        no Verified vote, with the header project-config gives them.
        ``style="jenkins"`` posts an old ``Build failed.`` comment linking log
        directories. ``truncate_at`` cuts the message like Zuul does past
        Gerrit's limit (``... (truncated)``).
        """
        jobs = list(jobs)
        change = self._changes[number]
        failed = any(j.result not in ("SUCCESS", "SKIPPED") for j in jobs)
        buildset_uuid = _uuid.uuid4().hex
        lines = []
        builds = []
        for job in jobs:
            short = f"{number % 100:02d}/{number}/{patchset}/{pipeline}/{job.name}/{job.uuid[:7]}"
            log_dir = f"{self.logs_url}/{short}/"
            self._register_logs(job, short)
            for _attempt in range(job.retried):
                retry = self._build_json(job, change, number, patchset, pipeline, buildset_uuid, None)
                retry.update(uuid=_uuid.uuid4().hex, result="RETRY", final=False, error_detail="Host unreachable")
                builds.append(retry)
            builds.append(self._build_json(job, change, number, patchset, pipeline, buildset_uuid, log_dir))
            if style == "zuul":
                url = f"build/{job.uuid}" if links == "relative" else self.build_url(job.uuid)
            else:
                url = log_dir.rstrip("/")
            # zuul/reporter/__init__.py: "- %s%s : %s%s%s%s" (name, url, result, error, elapsed, voting)
            error = f" {job.error_detail}" if job.error_detail else ""
            elapsed = f" in {job.duration}" if job.result not in ("SKIPPED",) else ""
            voting = "" if job.voting else " (non-voting)"
            lines.append(f"- {job.name} {url} : {job.result}{error}{elapsed}{voting}")
        with self._lock:
            for build in builds:
                self._builds[build["uuid"]] = build
            self._buildsets[buildset_uuid] = {
                "uuid": buildset_uuid, "pipeline": pipeline, "result": "FAILURE" if failed else "SUCCESS",
                "message": None, "change": number, "patchset": patchset, "builds": [b["uuid"] for b in builds],
            }
        verdict = "failed" if failed else "succeeded"
        votes = pipeline not in NON_VOTING_PIPELINES
        if style == "zuul":
            label = PIPELINE_HEADERS.get(pipeline, pipeline)
            header = f"Build {verdict} ({label} pipeline)."
            if votes:
                header += "  For information on how to proceed, see https://docs.opendev.org/opendev/infra-manual/latest/developers.html#automated-testing"
            header += "\n" + (f"buildset/{buildset_uuid}" if links == "relative" else f"{self.zuul_url}/t/{self.tenant}/buildset/{buildset_uuid}")
            author, tag = "zuul", f"autogenerated:zuul:{pipeline}"
        else:
            header = f"Build {verdict}.  For information on how to proceed, see https://wiki.openstack.org/wiki/GerritJenkinsGit#Test_Failures"
            author, tag = "jenkins", None
        vote = (": Verified-1" if failed else ": Verified+1") if votes or style != "zuul" else ":"
        body = f"{header}\n\n" + "\n".join(lines) + "\n"
        if truncate_at is not None and len(body) > truncate_at:
            # zuul/driver/gerrit/gerritconnection.py: "%s... (truncated)" % message[:LIMIT - 20]
            body = body[:truncate_at] + "... (truncated)"
        text = f"Patch Set {patchset}{vote}\n\n{body}"
        with self._lock:
            self._append(change, text, patchset, author, tag)
        return jobs

    def add_zuul_message(self, number: int, patchset: int, text: str, *, pipeline: str = "check") -> None:
        """A message Zuul posts without jobs (merge failure, dependency, config error)."""
        with self._lock:
            self._append(self._changes[number], f"Patch Set {patchset}: Verified-1\n\n{text}", patchset, "zuul",
                         f"autogenerated:zuul:{pipeline}")

    def _build_json(
        self, job: SimJob, change: _Change, number: int, patchset: int, pipeline: str, buildset: str, log_dir: str | None
    ) -> dict[str, Any]:
        artifacts = []
        if log_dir and job.has_logs and job.manifest:
            artifacts.append({"name": "Zuul Manifest", "url": f"{log_dir}zuul-manifest.json",
                              "metadata": {"type": "zuul_manifest"}})
        if log_dir and job.has_logs and job.subunit is not None:
            artifacts.append({"name": "Unit Test Report", "url": f"{log_dir}testr_results.html",
                              "metadata": {"type": "unit_test_report"}})
        return {
            "_id": len(self._builds) + 1,
            "uuid": job.uuid,
            "job_name": job.name,
            "result": job.result,
            "held": False,
            "voting": job.voting,
            "log_url": log_dir if job.has_logs else None,
            "nodeset": "ubuntu-noble",
            "pipeline": pipeline,
            "start_time": self._clock.isoformat(),
            "end_time": (self._clock + _dt.timedelta(minutes=12)).isoformat(),
            "duration": 720.0,
            "error_detail": job.error_detail,
            "final": True,
            "artifacts": artifacts,
            "provides": [],
            "buildset": {"uuid": buildset},
            "ref": {"project": change.project, "change": number, "patchset": str(patchset), "branch": change.branch,
                    "ref": f"refs/changes/{number % 100:02d}/{number}/{patchset}"},
        }

    def add_log(self, path: str, log: SimLog) -> str:
        """Serve ``log`` at ``/logs/<path>``; returns its URL."""
        with self._lock:
            self._logs[path.lstrip("/")] = log
        return f"{self.logs_url}/{path.lstrip('/')}"

    def add_bug(self, bug: SimBug) -> None:
        with self._lock:
            self._bugs[bug.number] = bug

    def fail_next(self, service: str, count: int, status: int = 503) -> None:
        """The next ``count`` requests to ``service`` (gerrit, zuul, logs, launchpad) get ``status``."""
        with self._lock:
            self._failures.setdefault(service, []).extend([status] * count)

    def posted_messages(self, number: int) -> list[str]:
        """Messages posted through the review API on change ``number``."""
        with self._lock:
            return [m["message"] for m in self._changes[number].messages if m.get("_posted")]

    def load_gerrit_events(self, path: str | Path, *, logs: bytes | None = None) -> list[int]:
        """Add the changes and CI comments of a Gerrit stream-events fixture; see :func:`load_gerrit_events`."""
        return load_gerrit_events(self, path, logs=logs)

    def load_logstash_hits(self, path: str | Path, *, limit: int | None = None) -> list[int]:
        """Add the failed builds of an elastic-recheck logstash hits file; see :func:`load_logstash_hits`."""
        return load_logstash_hits(self, path, limit=limit)

    # -- internals ------------------------------------------------------
    def _register_logs(self, job: SimJob, short: str) -> None:
        if not job.has_logs:
            return
        files: list[dict[str, Any]] = []

        def publish(name: str, log: SimLog) -> None:
            self.add_log(f"{short}/{name}", log)
            files.append({"name": name, "mimetype": "text/plain", "encoding": None, "last_modified": 0,
                          "size": len(log.data)})

        if job.log_file is not None and job.text_log:
            publish("job-output.txt.gz" if job.log_file.encoding == "gz" else "job-output.txt", job.log_file)
        elif job.log is not None and job.text_log:
            publish(
                "job-output.txt.gz" if job.encoding == "gz" else "job-output.txt",
                SimLog(job.log, encoding=job.encoding, expired=job.expired, rate=job.rate, truncate_at=job.truncate_at),
            )
        if job.json_output is not None:
            publish("job-output.json", SimLog(job.json_output, encoding="gzip", expired=job.expired))
        if job.subunit is not None:
            # roles/fetch-subunit-output: testrepository.subunit and testr_results.html at the log root.
            publish("testrepository.subunit", SimLog(job.subunit, expired=job.expired))
            publish("testr_results.html", SimLog(b"<html><body>subunit2html report</body></html>", encoding="gzip"))
        if job.manifest:
            tree = [*sorted(files, key=lambda f: f["name"]), {"name": "zuul-info", "mimetype": "application/directory", "encoding": None, "children": [{"name": "inventory.yaml", "mimetype": "text/plain", "encoding": None, "last_modified": 0, "size": 10}]}]
            manifest = json.dumps({"tree": tree, "index_links": False}).encode()
            self.add_log(f"{short}/zuul-manifest.json", SimLog(manifest, encoding="gzip", expired=job.expired))

    def _append(self, change: _Change, message: str, patchset: int, author: str, tag: str | None, posted: bool = False) -> None:
        self._clock += _dt.timedelta(minutes=5)
        entry: dict[str, Any] = {
            "id": hashlib.sha1(f"{change.number}{len(change.messages)}".encode()).hexdigest()[:12],
            "author": {"_account_id": 1000 + len(author), "name": author.title(), "username": author},
            "real_author": {"_account_id": 1000 + len(author), "name": author.title(), "username": author},
            "date": self._clock.strftime("%Y-%m-%d %H:%M:%S.000000000"),
            "message": message,
            "_revision_number": patchset,
        }
        if tag:
            entry["tag"] = tag
        if posted:
            entry["_posted"] = True
        change.messages.append(entry)

    def _take_failure(self, service: str) -> int | None:
        with self._lock:
            queue = self._failures.get(service)
            if queue:
                return queue.pop(0)
        return None

    def _change_json(self, change: _Change) -> dict[str, Any]:
        revisions = {
            hashlib.sha1(f"{change.number}/{ps}".encode()).hexdigest(): {
                "_number": ps,
                "ref": f"refs/changes/{change.number % 100:02d}/{change.number}/{ps}",
            }
            for ps in range(change.patchsets, change.patchsets + 1)
        }
        return {
            "id": f"{quote(change.project, safe='')}~{change.branch}~{change.change_id}",
            "project": change.project,
            "branch": change.branch,
            "change_id": change.change_id,
            "subject": change.subject,
            "status": change.status,
            "_number": change.number,
            "current_revision": next(iter(revisions)),
            "revisions": revisions,
            "messages": [{k: v for k, v in m.items() if not k.startswith("_posted")} for m in change.messages],
        }

    def _find_change(self, ident: str) -> _Change | None:
        ident = unquote(ident)
        if ident.isdigit():
            return self._changes.get(int(ident))
        parts = ident.split("~")
        if len(parts) == 2 and parts[1].isdigit():
            change = self._changes.get(int(parts[1]))
            return change if change and change.project == parts[0] else None
        matches = [c for c in self._changes.values() if c.change_id == parts[-1]]
        if len(parts) == 3:
            matches = [c for c in matches if c.project == parts[0] and c.branch == parts[1]]
        return matches[0] if len(matches) == 1 else None


class _Handler(BaseHTTPRequestHandler):
    sim: CISimulator
    protocol_version = "HTTP/1.1"
    server_version = "ostk-ci-simulator"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- dispatch -------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        with self.sim._lock:
            self.sim.requests.append((method, self.path))
        body = b""
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        try:
            if self.sim._history is not None and self.sim._history.handle(self, method, path, query):
                return
            if path.startswith("/logs/"):
                self._logs(path[len("/logs/"):])
            elif path.startswith("/zuul/"):
                self._zuul(path[len("/zuul"):], query)
            elif path.startswith("/launchpad/1.0/"):
                self._launchpad(path[len("/launchpad/1.0/"):], query)
            else:
                self._gerrit(method, path, query, body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- responses ------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, document: Any, *, xssi: bool = False) -> None:
        text = json.dumps(document)
        self._send(200, ((XSSI if xssi else "") + text).encode(), "application/json; charset=utf-8")

    def _fault(self, service: str) -> bool:
        status = self.sim._take_failure(service)
        if status is None:
            return False
        self._send(status, f"simulated {status}\n".encode())
        return True

    # -- Gerrit ---------------------------------------------------------
    def _gerrit(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        if self._fault("gerrit"):
            return
        if path.startswith("/a/"):
            if not self._authorised():
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="Gerrit Code Review"')
                self.send_header("Content-Length", "12")
                self.end_headers()
                self.wfile.write(b"Unauthorized")
                return
            path = path[2:]
        review = re.match(r"^/changes/([^/]+)/revisions/([^/]+)/review$", path)
        if method == "POST" and review:
            self._post_review(review.group(1), review.group(2), body)
            return
        if method != "GET":
            self._send(405, b"Method Not Allowed")
            return
        if path in ("/changes/", "/changes"):
            q = (query.get("q") or [""])[0]
            ident = q.split(":", 1)[1] if q.startswith("change:") else q
            with self.sim._lock:
                found = [c for c in self.sim._changes.values() if c.change_id == ident or str(c.number) == ident]
                result = [
                    {k: v for k, v in self.sim._change_json(c).items() if k not in ("messages", "revisions", "current_revision")}
                    for c in found
                ]
            self._json(result, xssi=True)
            return
        match = re.match(r"^/changes/([^/]+)(?:/detail)?/?$", path)
        if match:
            with self.sim._lock:
                change = self.sim._find_change(match.group(1))
                document = self.sim._change_json(change) if change else None
            if document is None:
                self._send(404, f"Not found: {unquote(match.group(1))}".encode())
                return
            self._json(document, xssi=True)
            return
        page = re.match(r"^/(?:c/.+/\+/)?(\d+)(?:/\d+)?/?$", path)
        if page:
            self._send(200, b"<html><body>Gerrit Code Review</body></html>", "text/html")
            return
        self._send(404, b"Not found")

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.sim.username and password == self.sim.password

    def _post_review(self, ident: str, revision: str, body: bytes) -> None:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            self._send(400, b"Invalid JSON")
            return
        with self.sim._lock:
            change = self.sim._find_change(ident)
            if change is None:
                self._send(404, f"Not found: {ident}".encode())
                return
            patchset = change.patchsets if revision == "current" else int(revision) if revision.isdigit() else None
            if patchset is None or patchset > change.patchsets:
                self._send(404, f"Not found: {revision}".encode())
                return
            message = str(payload.get("message") or "")
            if message:
                self.sim._append(change, f"Patch Set {patchset}:\n\n{message}", patchset, self.sim.username, None, posted=True)
        self._json({"labels": {}}, xssi=True)

    # -- Zuul -----------------------------------------------------------
    def _zuul(self, path: str, query: dict[str, list[str]]) -> None:
        if self._fault("zuul"):
            return
        sim = self.sim
        # The tenant's API, or the whitelabeled form (/api/... at the root) for the same tenant.
        api = re.match(rf"^/api(?:/tenant/{re.escape(sim.tenant)})?(/.*)$", path)
        route = api.group(1) if api else None
        build = re.match(r"^/build/([0-9a-f]+)$", route or "")
        if build:
            with sim._lock:
                data = sim._builds.get(build.group(1))
            if data is None:
                self._send(404, b'{"description": "Build not found"}', "application/json")
                return
            self._json(self._build_shape(data))
            return
        buildset = re.match(r"^/buildset/([0-9a-f]+)$", route or "")
        if buildset:
            with sim._lock:
                found = sim._buildsets.get(buildset.group(1))
                builds = [sim._builds[u] for u in found["builds"]] if found else []
            if found is None:
                self._send(404, b"Buildset not found", "text/plain")
                return
            change = sim._changes[found["change"]]
            ref = {"project": change.project, "branch": change.branch, "change": found["change"],
                   "patchset": str(found["patchset"]), "ref": None, "oldrev": None, "newrev": None, "ref_url": None}
            # zuul/web/__init__.py BuildsetConverter.toDict: builds nested without pipeline/buildset.
            nested = [{k: v for k, v in b.items() if k not in ("pipeline", "buildset")} for b in builds]
            self._json({"_id": 1, "uuid": found["uuid"], "result": found["result"], "message": found["message"],
                        "pipeline": found["pipeline"], "event_id": None, "refs": [ref], "builds": nested})
            return
        if route == "/builds":
            with sim._lock:
                builds = list(sim._builds.values())
            wanted = {k: v[0] for k, v in query.items() if k in ("change", "patchset", "result", "job_name", "pipeline", "project")}
            # zuul/web: without final= every attempt is returned, retried ones included.
            final = query["final"][0] if query.get("final") else None
            out = []
            for item in reversed(builds):  # newest first
                flat = {**item, **{k: str(v) for k, v in item["ref"].items()}}
                if not all(str(flat.get(k)) == v for k, v in wanted.items()):
                    continue
                if final is not None and item["final"] != (final.lower() == "true"):
                    continue
                out.append(self._build_shape(item))
            skip = int((query.get("skip") or ["0"])[0])
            limit = int((query.get("limit") or ["50"])[0])
            self._json(out[skip : skip + limit])
            return
        if re.match(rf"^(?:/t/{re.escape(sim.tenant)})?/(?:build|buildset)/[0-9a-f]+(?:/.*)?$", path):
            self._send(200, b"<html><body>Zuul</body></html>", "text/html")
            return
        self._send(404, b"Not found")

    def _build_shape(self, data: dict[str, Any]) -> dict[str, Any]:
        if not self.sim.zuul_flat_builds:
            return data
        flat = {k: v for k, v in data.items() if k != "ref"}
        flat.update({k: data["ref"][k] for k in ("project", "change", "patchset")})
        return flat

    # -- logs -----------------------------------------------------------
    def _logs(self, path: str) -> None:
        if self._fault("logs"):
            return
        with self.sim._lock:
            log = self.sim._logs.get(unquote(path))
        if log is None or log.expired:
            self._send(404, b"<html><body><h1>Not Found</h1></body></html>", "text/html")
            return
        body = log.body()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if not path.endswith(".subunit") else "application/octet-stream")
        if log.encoding == "gzip":
            self.send_header("Content-Encoding", "gzip")
        elif log.encoding == "gz":
            self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        limit = len(body) if log.truncate_at is None else min(log.truncate_at, len(body))
        started = time.monotonic()
        sent = 0
        # Small pieces when paced, so the cap holds to the last byte.
        step = 16 * 1024 if log.rate else 256 * 1024
        view = memoryview(body)
        while sent < limit:
            piece = view[sent : min(limit, sent + step)]
            self.wfile.write(piece)
            sent += len(piece)
            if log.rate:
                # Pace the connection: never ahead of rate bytes per second.
                ahead = sent / log.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
        if limit < len(body):
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    # -- Launchpad ------------------------------------------------------
    def _launchpad(self, path: str, query: dict[str, list[str]]) -> None:
        if self.sim.launchpad_down:
            self._send(503, b"Launchpad is down for maintenance", headers={"Retry-After": "0"})
            return
        if self._fault("launchpad"):
            return
        bug = re.match(r"^bugs/(\d+)$", path)
        if bug:
            with self.sim._lock:
                found = self.sim._bugs.get(int(bug.group(1)))
            if found is None:
                self._send(404, b"Object: None, name: bug")
                return
            self._json(self.sim._bug_json(found))
            return
        target = path.strip("/")
        if (query.get("ws.op") or [""])[0] == "searchTasks" and not _LAUNCHPAD_NAME.match(target):
            # Launchpad names match ^[a-z0-9][a-z0-9+.-]*$: no project "openstack-ansible-os_nova".
            self._send(404, f"Object: <Launchpad>, name: '{target}'".encode())
            return
        if (query.get("ws.op") or [""])[0] == "searchTasks":
            text = (query.get("search_text") or [""])[0]
            entries = self.sim._search(target, text, query.get("status") or [])
            size = int((query.get("ws.size") or ["75"])[0])
            self._json(
                {
                    "start": 0,
                    "total_size": len(entries),
                    "entries": entries[:size],
                    "resource_type_link": f"{self.sim.launchpad_url}/#bug_task-page-resource",
                }
            )
            return
        self._send(404, b"Not found")
