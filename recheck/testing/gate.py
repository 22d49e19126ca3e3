"""A week of gate builds for testing ``ostk gate report`` (and scripts built on it).

:class:`GateSimulator` is a :class:`~recheck.testing.CISimulator` whose Zuul
builds API answers like zuul/zuul's ``zuul/web/__init__.py``
(``ZuulWebAPI.builds``): filters ``pipeline``, ``project`` (repeatable),
``job_name``, ``result``, ``final``, ``change``; newest first; ``limit``
(default 50) and ``skip``. Each build's log directory can hold a
``job-output.txt``, a subunit stream and a ``zuul-manifest.json`` named by a
``Zuul Manifest`` artifact, as zuul-jobs uploads them. Log hosts can be taken
down (503) to play a storage provider's outage.

:func:`add_gate_week` fills one with the scenario that the gate tests count
(see :data:`GATE_WEEK`)::

    from recheck.testing.gate import GateSimulator, add_gate_week
    with GateSimulator() as sim:
        week = add_gate_week(sim, until=datetime(2026, 11, 27, 12, tzinfo=timezone.utc))
        report = recheck.gate_report(sim.zuul_url, since="7d", until=week.until,
                                     launchpad=sim.launchpad_url, store=tmp / "gate.sqlite3")
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from recheck.testing.simulator import CISimulator, SimBug, SimLog, _Handler, gzip_bytes

_TS = "%Y-%m-%d %H:%M:%S.%f"


class _GateHandler(_Handler):
    sim: GateSimulator

    def _zuul(self, path: str, query: dict[str, list[str]]) -> None:
        if path == f"/api/tenant/{self.sim.tenant}/builds":
            if self._fault("zuul"):
                return
            self._json(self.sim.list_builds(query))
            return
        super()._zuul(path, query)

    def _logs(self, path: str) -> None:
        host = unquote(path).split("/", 1)[0]
        if host in self.sim.down_hosts:
            self._send(503, b"<html><body>Service Unavailable</body></html>", "text/html")
            return
        if self.sim.total_rate is not None and not isinstance(self.wfile, _LinkPaced):
            # Every byte of this connection also books time on the shared link.
            self.wfile = _LinkPaced(self.wfile, self.sim)  # type: ignore[assignment]
        super()._logs(path)


class _LinkPaced(io.RawIOBase):
    """A response stream that waits for its turn on the simulator's shared link."""

    def __init__(self, inner: Any, sim: GateSimulator) -> None:
        super().__init__()
        self.inner = inner
        self.sim = sim

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        wait = self.sim.reserve(len(data))
        if wait > 0:
            time.sleep(wait)
        self.inner.write(data)
        return len(data)

    def flush(self) -> None:
        self.inner.flush()


class GateSimulator(CISimulator):
    """The CI simulator with Zuul's paged builds listing and log hosts that can go down."""

    handler_class = _GateHandler

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        #: First path segments under ``/logs`` that answer 503 (a log storage outage).
        self.down_hosts: set[str] = set()
        self._order = 0
        #: Bytes per second for all log downloads together (None: no shared cap).
        self.total_rate: float | None = None
        self._link_free = 0.0

    def add_build(
        self,
        *,
        job_name: str,
        result: str,
        end_time: _dt.datetime,
        change: int,
        project: str = "openstack/nova",
        pipeline: str = "gate",
        patchset: int = 1,
        log: bytes | None = None,
        subunit: bytes | None = None,
        has_logs: bool = True,
        host: str = "vexxhost",
        final: bool = True,
        rate: float | None = None,
        compressed_log: bytes | None = None,
    ) -> str:
        """Register one finished build (and its logs); returns its uuid.

        ``log`` is ``job-output.txt`` (stored gzip-compressed); ``subunit``
        adds ``testrepository.subunit`` listed in a Zuul manifest;
        ``compressed_log`` serves already gzip-compressed bytes (cheap for big logs).
        """
        self._order += 1
        uuid = hashlib.md5(f"{job_name}/{change}/{end_time.isoformat()}/{self._order}".encode()).hexdigest()
        directory = f"{host}/{change % 100:02d}/{change}/{patchset}/{pipeline}/{job_name}/{uuid[:7]}"
        log_url = f"{self.logs_url}/{directory}/"
        artifacts: list[dict[str, Any]] = []
        if has_logs:
            tree: list[dict[str, Any]] = []
            if compressed_log is not None:
                self.add_log(f"{directory}/job-output.txt", SimLog(compressed_log, "gzip", compressed=True, rate=rate))
                tree.append({"name": "job-output.txt", "mimetype": "text/plain", "encoding": "gzip"})
            elif log is not None:
                self.add_log(f"{directory}/job-output.txt", SimLog(log, "gzip", rate=rate))
                tree.append({"name": "job-output.txt", "mimetype": "text/plain", "encoding": "gzip"})
            if subunit is not None:
                self.add_log(f"{directory}/testrepository.subunit", SimLog(subunit, "gzip", rate=rate))
                tree.append({"name": "testrepository.subunit", "mimetype": "application/octet-stream"})
                manifest = json.dumps({"tree": tree, "index_links": False}).encode()
                self.add_log(f"{directory}/zuul-manifest.json", SimLog(manifest, "gzip"))
                artifacts.append(
                    {"name": "Zuul Manifest", "url": f"{log_url}zuul-manifest.json", "metadata": {"type": "zuul_manifest"}}
                )
        start = end_time - _dt.timedelta(minutes=47)
        build = {
            "_id": self._order,
            "uuid": uuid,
            "job_name": job_name,
            "result": result,
            "held": False,
            "start_time": _naive(start),
            "end_time": _naive(end_time),
            "duration": (end_time - start).total_seconds(),
            "voting": True,
            "log_url": log_url if has_logs else None,
            "nodeset": "ubuntu-noble",
            "error_detail": None if has_logs else "Node request failed",
            "final": final,
            "artifacts": artifacts,
            "provides": [],
            "pipeline": pipeline,
            "ref": {
                "project": project,
                "branch": "master",
                "change": change,
                "patchset": str(patchset),
                "ref": f"refs/changes/{change % 100:02d}/{change}/{patchset}",
                "ref_url": f"{self.url}/{change}",
            },
            "buildset": {"uuid": hashlib.md5(f"bs/{change}/{patchset}/{pipeline}".encode()).hexdigest()},
        }
        with self._lock:
            self._builds[uuid] = build
        return uuid

    def list_builds(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """The builds API's answer for ``query`` (see the module docstring)."""
        with self._lock:
            builds = list(self._builds.values())
        scalar = {k: v[0] for k, v in query.items() if k in ("pipeline", "job_name", "change", "result")}
        projects = set(query.get("project", []))
        final = (query.get("final") or [""])[0] or None
        selected = []
        for item in builds:
            ref = item.get("ref", {})
            flat = {**item, "change": str(ref.get("change")), "project": ref.get("project")}
            if any(str(flat.get(key)) != value for key, value in scalar.items()):
                continue
            if projects and flat["project"] not in projects:
                continue
            if final is not None and bool(item.get("final", True)) != (final.lower() == "true"):
                continue
            selected.append(item)
        # Zuul orders by build id, newest first; ids follow the order builds started.
        selected.sort(key=lambda b: (b.get("start_time") or "", b.get("_id", 0)), reverse=True)
        limit = int((query.get("limit") or ["50"])[0])
        skip = int((query.get("skip") or ["0"])[0])
        return [{k: v for k, v in b.items() if k != "_id"} for b in selected[skip : skip + limit]]

    def reserve(self, size: int) -> float:
        """Book ``size`` bytes on the shared link; returns how long to wait before sending them."""
        assert self.total_rate is not None
        with self._lock:
            now = time.monotonic()
            start = max(now, self._link_free)
            self._link_free = start + size / self.total_rate
            return start - now

    def throttle(self, rate: float | None) -> None:
        """Serve every log at ``rate`` bytes/s per connection (None: full speed)."""
        with self._lock:
            for log in self._logs.values():
                log.rate = rate

    def build_requests(self) -> list[str]:
        """Paths of the requests made to the builds API so far."""
        with self._lock:
            return [p for _m, p in self.requests if "/builds" in p]

    def log_requests(self) -> list[str]:
        """Paths of the requests made to the log server so far."""
        with self._lock:
            return [p for _m, p in self.requests if p.startswith("/logs/")]


def _naive(moment: _dt.datetime) -> str:
    # Zuul's API gives naive UTC times ("2026-11-20T08:00:00").
    return moment.astimezone(_dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


# -- log content --------------------------------------------------------------
def console_test_failure(test_id: str, message: str, *, at: _dt.datetime, passed: int = 3) -> bytes:
    """``job-output.txt`` of an stestr run with one failed test (subunit-trace's layout)."""
    stamp = at.strftime(_TS)
    lines = [f"{stamp} | controller | {{0}} tests.ok.T.test_{n} [0.{n}s] ... ok" for n in range(passed)]
    lines += [
        f"{stamp} | controller | {{1}} {test_id} [12.3s] ... FAILED",
        f"{stamp} | controller | ",
        f"{stamp} | controller | ==============================",
        f"{stamp} | controller | Failed 1 tests - output below:",
        f"{stamp} | controller | ==============================",
        f"{stamp} | controller | ",
        f"{stamp} | controller | {test_id}",
        f"{stamp} | controller | {'-' * len(test_id)}",
        f"{stamp} | controller | ",
        f"{stamp} | controller | Captured traceback:",
        f"{stamp} | controller | ~~~~~~~~~~~~~~~~~~~",
        f"{stamp} | controller |     Traceback (most recent call last):",
        f'{stamp} | controller |       File "/opt/stack/nova/nova/tests/base.py", line 212, in run',
        f"{stamp} | controller |         raise exc",
        f"{stamp} | controller |     {message}",
        f"{stamp} | controller | ",
        f"{stamp} | controller | ======",
        f"{stamp} | controller | Totals",
        f"{stamp} | controller | ======",
        f"{stamp} | controller | Ran: {passed + 1} tests in 40.0 sec.",
        f"{stamp} | controller |  - Passed: {passed}",
        f"{stamp} | controller |  - Failed: 1",
    ]
    return ("\n".join(lines) + "\n").encode()


def subunit_test_failure(test_id: str, traceback: str, *, passed: int = 3) -> bytes:
    """A subunit v2 stream with ``passed`` passing tests and one failure (python-subunit writes it)."""
    from subunit import StreamResultToBytes

    buffer = io.BytesIO()
    stream = StreamResultToBytes(buffer)
    for n in range(passed):
        stream.status(test_id=f"tests.ok.T.test_{n}", test_status="inprogress")
        stream.status(test_id=f"tests.ok.T.test_{n}", test_status="success")
    stream.status(test_id=test_id, test_status="inprogress")
    stream.status(
        test_id=test_id,
        test_status="fail",
        file_name="traceback",
        file_bytes=traceback.encode(),
        mime_type="text/x-traceback; charset=utf8",
        eof=True,
    )
    return buffer.getvalue()


def console_task_failure(task: str, msg: str, *, at: _dt.datetime) -> bytes:
    """``job-output.txt`` where an Ansible task failed (Zuul's ``<host> | ERROR`` + JSON)."""
    stamp = at.strftime(_TS)
    lines = [
        f"{stamp} | PLAY [all]",
        f"{stamp} | TASK [{task}]",
        f"{stamp} | controller | ERROR",
        f"{stamp} | controller | {{",
        f'{stamp} | controller |   "msg": {json.dumps(msg)}',
        f"{stamp} | controller | }}",
    ]
    return ("\n".join(lines) + "\n").encode()


def console_devstack_failure(error: str, *, at: _dt.datetime) -> bytes:
    """``job-output.txt`` of devstack failing with an ``[ERROR]`` line and its exit trap."""
    stamp = at.strftime(_TS)
    lines = [
        f"{stamp} | controller | + ./stack.sh:main:1290 : create_volume_types",
        f"{stamp} | controller | [ERROR] {error}",
        f"{stamp} | controller | Error on exit",
    ]
    return ("\n".join(lines) + "\n").encode()


def console_success(*, at: _dt.datetime) -> bytes:
    stamp = at.strftime(_TS)
    return f"{stamp} | controller | ok: Runtime: 0:40:00\n".encode()


def filler(size: int, *, seed: str = "") -> bytes:
    """``size`` bytes of ordinary, varied log lines (a big log that mostly says nothing)."""
    out = io.BytesIO()
    n = 0
    while out.tell() < size:
        digest = hashlib.sha1(f"{seed}{n}".encode()).hexdigest()
        out.write(
            f"2026-11-20 08:{n // 60 % 60:02d}:{n % 60:02d}.{n % 999999:06d} | controller | "
            f"DEBUG oslo_service.periodic_task [req-{digest[:8]}-{digest[8:12]}] Running periodic task "
            f"ComputeManager._poll_{digest[12:18]} run_periodic_tasks {digest[18:40]}\n".encode()
        )
        n += 1
    return out.getvalue()


# -- the scenario ---------------------------------------------------------------
@dataclass(frozen=True)
class _Group:
    """Failed builds that share one cause."""

    name: str
    job_names: tuple[str, ...]
    changes: tuple[int, ...]
    days_ago: tuple[int, ...]
    projects: tuple[str, ...]
    #: Log host of each build (a storage provider that can go down).
    hosts: tuple[str, ...] = ()


#: The week: which failed gate builds there are, by cause. Bug A (Launchpad, tagged
#: gate-failure, found by test id in its title), bug B (Launchpad, found by test
#: name), an offline signature (elastic-recheck bug 1270382, DNS), and three
#: uncategorized groups: a test id, a devstack message, builds with no logs.
GATE_WEEK: dict[str, _Group] = {
    "bug_a": _Group(
        "tempest rebuild timeout",
        ("tempest-full-py3",) * 6 + ("tempest-integrated-compute",) * 3,
        (100001, 100001, 100002, 100003, 100003, 100004, 100005, 100006, 100006),
        (0, 0, 1, 2, 2, 3, 4, 5, 6),
        ("openstack/nova",) * 5 + ("openstack/cinder",) * 4,
        ("vexxhost",) * 6 + ("rax",) * 3,
    ),
    "bug_b": _Group(
        "rpc timeout",
        ("nova-tox-py311",) * 6,
        (100007, 100007, 100008, 100009, 100010, 100011),
        (0, 1, 1, 3, 5, 6),
        ("openstack/nova",) * 6,
    ),
    "signature": _Group(
        "dns",
        ("openstack-tox-py311",) * 4,
        (100012, 100013, 100014, 100015),
        (0, 2, 4, 6),
        ("openstack/neutron",) * 4,
    ),
    "flaky_test": _Group(
        "flaky functional test",
        ("nova-functional",) * 5,
        (100016, 100016, 100017, 100018, 100019),
        (1, 2, 3, 3, 5),
        ("openstack/nova",) * 5,
    ),
    "devstack": _Group(
        "devstack volume types",
        ("devstack-platform",) * 4,
        (100020, 100021, 100022, 100020),
        (0, 1, 4, 6),
        ("openstack/cinder",) * 4,
    ),
    "node_failure": _Group(
        "no logs",
        ("devstack-platform",) * 2,
        (100023, 100024),
        (2, 3),
        ("openstack/neutron",) * 2,
    ),
}
#: Successful gate builds per job, for the failure rates.
SUCCESSES = {
    "tempest-full-py3": 14,
    "tempest-integrated-compute": 7,
    "nova-tox-py311": 4,
    "openstack-tox-py311": 6,
    "nova-functional": 5,
    "devstack-platform": 4,
}

BUG_A = 2000001
BUG_B = 2000002
SIGNATURE_BUG = 1270382
TEST_A = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_rebuild_server"
TEST_B = "nova.tests.unit.conductor.test_conductor.ConductorTaskTestCase.test_build_instances_rpc_timeout"
FLAKY_TEST = "nova.tests.functional.test_servers.ServersTestV21.test_resize_revert_flaky"


@dataclass
class GateWeek:
    """What :func:`add_gate_week` registered."""

    until: _dt.datetime
    #: Cause → the uuids of its failed gate builds.
    failed: dict[str, list[str]] = field(default_factory=dict)
    #: Builds the report must leave out (other pipelines, retried attempts, too old).
    noise: list[str] = field(default_factory=list)

    @property
    def failed_count(self) -> int:
        return sum(len(v) for v in self.failed.values())


def add_gate_week(sim: GateSimulator, *, until: _dt.datetime) -> GateWeek:
    """Register :data:`GATE_WEEK` (ending at ``until``), its Launchpad bugs, and noise around it."""
    week = GateWeek(until)
    sim.add_bug(
        SimBug(
            BUG_A,
            f"{TEST_A} fails: server failed to reach ACTIVE status",
            description="Seen in the gate since the libvirt bump.",
            projects=("nova", "tempest"),
            status="Confirmed",
            tags=("gate-failure",),
            heat=40,
        )
    )
    sim.add_bug(
        SimBug(
            BUG_B,
            "test_build_instances_rpc_timeout fails with MessagingTimeout",
            description="oslo_messaging.exceptions.MessagingTimeout: Timed out waiting for a reply to message ID",
            projects=("nova",),
            status="Triaged",
        )
    )
    # A bug that Launchpad's word search finds for the flaky test's message but that
    # is about something else: it must not explain the failure.
    sim.add_bug(
        SimBug(
            2000003,
            "AssertionError in an unrelated placement test",
            description="Seen an AssertionError about VERIFY_RESIZE and ACTIVE allocations in placement.",
            projects=("placement",),
        )
    )
    for cause, group in GATE_WEEK.items():
        uuids = week.failed.setdefault(cause, [])
        for n, (job, change, days, project) in enumerate(
            zip(group.job_names, group.changes, group.days_ago, group.projects, strict=True)
        ):
            end = until - _dt.timedelta(days=days, hours=1, minutes=7 * n + 3)
            host = group.hosts[n] if group.hosts else "vexxhost"
            uuids.append(_failed_build(sim, cause, job=job, change=change, end=end, project=project, host=host))
    count = 0
    for job, successes in SUCCESSES.items():
        for n in range(successes):
            end = until - _dt.timedelta(hours=3 + (n * 11) % (24 * 7 - 4), minutes=n)
            sim.add_build(
                job_name=job, result="SUCCESS", end_time=end, change=100100 + count, log=console_success(at=end)
            )
            count += 1
    # Noise: a skipped build, retried attempts, another pipeline, builds before the window.
    recent = until - _dt.timedelta(hours=5)
    week.noise.append(sim.add_build(job_name="tempest-full-py3", result="SKIPPED", end_time=recent, change=100200, has_logs=False))
    for n in range(2):
        week.noise.append(
            _failed_build(sim, "bug_a", job="tempest-full-py3", change=100201 + n, end=recent, project="openstack/nova", host="vexxhost", result="RETRY", final=False)
        )
    for n in range(3):
        week.noise.append(
            _failed_build(sim, "bug_b", job="nova-tox-py311", change=100210 + n, end=recent, project="openstack/nova", host="vexxhost", pipeline="check")
        )
    for n in range(2):
        old = until - _dt.timedelta(days=8, hours=n)
        week.noise.append(
            _failed_build(sim, "bug_a", job="tempest-full-py3", change=100220 + n, end=old, project="openstack/nova", host="vexxhost")
        )
    return week


def _failed_build(
    sim: GateSimulator,
    cause: str,
    *,
    job: str,
    change: int,
    end: _dt.datetime,
    project: str,
    host: str,
    result: str = "FAILURE",
    final: bool = True,
    pipeline: str = "gate",
) -> str:
    common: dict[str, Any] = {
        "job_name": job, "result": result, "end_time": end, "change": change, "project": project, "host": host, "final": final,
        "pipeline": pipeline,
    }
    if cause == "bug_a":
        tagged = f"{TEST_A}[id-2a0d5d2e,smoke]"
        details = f"Details: (ServerActionsTestJSON:test_rebuild_server) Server {hashlib.md5(str(end).encode()).hexdigest()} failed to reach ACTIVE status"
        if job == "tempest-full-py3":
            # Tempest publishes its subunit stream; the manifest lists it.
            traceback = (
                "Traceback (most recent call last):\n  File \"tempest/common/waiters.py\", line 96, in wait\n"
                f"tempest.lib.exceptions.TimeoutException: Request timed out\n{details}\n"
            )
            return sim.add_build(
                **common, log=console_test_failure(tagged, "tempest.lib.exceptions.TimeoutException: Request timed out", at=end),
                subunit=subunit_test_failure(tagged, traceback),
            )
        return sim.add_build(**common, log=console_test_failure(tagged, details, at=end))
    if cause == "bug_b":
        message = (
            "oslo_messaging.exceptions.MessagingTimeout: Timed out waiting for a reply to message ID "
            + hashlib.md5(str(end).encode()).hexdigest()
        )
        return sim.add_build(**common, log=console_test_failure(TEST_B, message, at=end))
    if cause == "signature":
        msg = "Failed to download https://bootstrap.pypa.io/get-pip.py: Temporary failure in name resolution"
        return sim.add_build(**common, log=console_task_failure("ensure-pip : Install pip", msg, at=end))
    if cause == "flaky_test":
        return sim.add_build(
            **common, log=console_test_failure(FLAKY_TEST, "AssertionError: 'VERIFY_RESIZE' != 'ACTIVE'", at=end)
        )
    if cause == "devstack":
        number = int(hashlib.md5(str(end).encode()).hexdigest()[:4], 16)
        error = f"/opt/stack/devstack/lib/cinder:{number % 900 + 100} Failed to create volume type lvmdriver-{number % 9 + 1} after {number % 5 * 30 + 60} seconds"
        return sim.add_build(**common, log=console_devstack_failure(error, at=end))
    if cause == "node_failure":
        return sim.add_build(**{**common, "result": "NODE_FAILURE"}, has_logs=False)
    raise ValueError(f"unknown cause {cause!r}")


def big_failure_log(size: int, *, seed: str, at: _dt.datetime) -> bytes:
    """A gzip-compressed ``job-output.txt`` of about ``size`` bytes ending in bug A's failure."""
    tagged = f"{TEST_A}[id-2a0d5d2e,smoke]"
    body = filler(size, seed=seed) + console_test_failure(tagged, "tempest.lib.exceptions.TimeoutException: Request timed out", at=at)
    return gzip_bytes(body, level=1)


