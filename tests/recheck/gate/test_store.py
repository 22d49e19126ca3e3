"""The SQLite store: versioned schema, all-or-nothing builds, Ctrl-C leaves it consistent."""
from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from recheck.gate import GateStore
from recheck.gate.models import BuildAnalysis, GateBuild
from recheck.gate.store import SCHEMA_VERSION
from recheck.models import Failure, FailureKind

from .conftest import Gate

BUILD = GateBuild(
    uuid="a" * 32, job_name="nova-functional", result="FAILURE", project="openstack/nova", pipeline="gate",
    end_time=dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc), change=1, patchset=1,
    log_url="http://127.0.0.1:1/logs/x/", url="http://127.0.0.1:1/zuul/t/openstack/build/" + "a" * 32,
)


def test_schema_is_versioned_and_an_old_store_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "gate.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE builds (uuid TEXT)")
        db.execute("PRAGMA user_version = 0")

    with GateStore.open(path) as store:
        store.record_listed("openstack", [BUILD])
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.pending("openstack", [BUILD.uuid]) == {BUILD.uuid}
    assert path.stat().st_mode & 0o777 == 0o600


def test_one_row_per_build_and_per_failure(tmp_path: Path) -> None:
    failures = (
        Failure(FailureKind.TEST, "a.T.test_x", "AssertionError: 1 != 2"),
        Failure(FailureKind.SETUP, "devstack", "[ERROR] lib/cinder:12 did not start"),
    )
    with GateStore.open(tmp_path / "gate.sqlite3") as store:
        store.record_listed("openstack", [BUILD, BUILD])
        store.record_analysis(BuildAnalysis(BUILD.uuid, failures=failures))
        store.record_analysis(BuildAnalysis(BUILD.uuid, failures=failures))  # analysed again: replaced

        assert store.db.execute("SELECT COUNT(*) FROM builds").fetchone()[0] == 1
        rows = store.db.execute("SELECT key_kind, key FROM failures ORDER BY position").fetchall()
        assert rows == [("test", "a.T.test_x"), ("message", "ERROR lib/cinder: did not start")]
        assert store.pending("openstack", [BUILD.uuid]) == set()
        (stored,) = store.builds("openstack", [BUILD.uuid])
        assert stored.failures == tuple(Failure(f.kind, f.id, f.message) for f in failures)
        assert store.check() == []


def test_a_partial_analysis_is_tried_again(tmp_path: Path) -> None:
    with GateStore.open(tmp_path / "gate.sqlite3") as store:
        store.record_listed("openstack", [BUILD])
        store.record_analysis(BuildAnalysis(BUILD.uuid, complete=False, warnings=("503",)))
        assert store.pending("openstack", [BUILD.uuid]) == {BUILD.uuid}


def test_an_interrupted_write_leaves_nothing_of_the_build(tmp_path: Path) -> None:
    with GateStore.open(tmp_path / "gate.sqlite3") as store:
        store.record_listed("openstack", [BUILD])
        bad = BuildAnalysis(BUILD.uuid, failures=(Failure(FailureKind.TEST, "t", "m"),))
        store.db.execute("CREATE TRIGGER boom BEFORE UPDATE ON builds BEGIN SELECT RAISE(ABORT, 'boom'); END")
        try:
            store.record_analysis(bad)
        except sqlite3.DatabaseError:
            pass
        assert store.db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 0
        assert store.pending("openstack", [BUILD.uuid]) == {BUILD.uuid}


def test_ctrl_c_mid_run_leaves_the_store_consistent(gate: Gate, tmp_path: Path) -> None:
    # Slow logs: the run is interrupted while builds are still downloading.
    gate.sim.throttle(2048)
    env = {**os.environ, **gate.environ}
    argv = [
        sys.executable, "-m", "ostk", "gate", "report", "--json", "--workers", "2",
        "--since", "2026-11-20T12:00:00Z", "--offline-bugs",
    ]
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        analysed = 0
        while time.monotonic() < deadline and analysed < 3:
            time.sleep(0.2)
            analysed = _analysed(gate.store)
        assert analysed >= 3, "the run analysed nothing in a minute"
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert child.returncode == 130, err.decode()
    assert b"interrupted" in err
    with GateStore.open(gate.store) as store:
        assert store.check() == []
    done = _analysed(gate.store)
    assert 3 <= done < 30

    with_logs = _analysed(gate.store, "AND log_url IS NOT NULL")
    gate.sim.throttle(None)
    before = len(gate.sim.log_requests())
    finished = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)

    assert finished.returncode == 0, finished.stderr.decode()
    assert b'"builds_analysed": 30' in finished.stdout
    again = {_build_dir(p) for p in gate.sim.log_requests()[before:]}
    # Only the builds the interrupted run had not stored are downloaded again
    # (28 of the 30 failed builds have logs; 2 are NODE_FAILUREs).
    assert len(again) == 28 - with_logs


def _analysed(path: Path, where: str = "") -> int:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM builds WHERE state = 'analysed' {where}").fetchone()[0])
    except sqlite3.Error:
        return 0


def _build_dir(path: str) -> str:
    return path.rsplit("/", 1)[0]
