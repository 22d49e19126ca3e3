"""Processes: started in their own group, recognised only while still ours, stopped by record."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stack import processes
from stack.processes import ServiceFailed
from stack.stack import _wait_healthy

SLEEPER = "import time, sys; print('sleeping', flush=True); time.sleep(60)  # {marker}"


def _spawn(tmp_path: Path, marker: str = "ostk-test-marker") -> processes.ProcessRecord:
    return processes.spawn(
        "sleeper", [sys.executable, "-c", SLEEPER.format(marker=marker)],
        log=tmp_path / "sleeper.log", marker=marker, cwd=tmp_path, environ=os.environ,
    )


def test_spawned_process_is_running_and_stop_ends_it(tmp_path: Path) -> None:
    record = _spawn(tmp_path)
    try:
        assert processes.is_running(record)
        assert os.getpgid(record.pid) == record.pid  # its own group
        assert processes.stop(record, timeout=5)
        assert not processes.is_running(record)
    finally:
        processes.stop(record, timeout=1)


def test_a_reused_pid_is_not_ours_and_is_never_signalled(tmp_path: Path) -> None:
    record = _spawn(tmp_path)
    try:
        # Same PID but another start time, or another command line: a stranger.
        for stranger in (
            dataclasses.replace(record, start_time=record.start_time + 1),
            dataclasses.replace(record, marker="some-other-stack"),
        ):
            assert not processes.is_running(stranger)
            assert not processes.stop(stranger, timeout=1)
        assert processes.is_running(record)
    finally:
        processes.stop(record, timeout=1)


def test_workers_of_a_leader_still_dying_from_kill_9_are_stopped(tmp_path: Path) -> None:
    # A gunicorn master killed with -9 lives on for a moment with an empty
    # command line (its pid and start time still its own): that is our
    # leader going, not a stranger, and its workers must be stopped. Here the
    # leader's command line lacks the marker as the dying one's does; only its
    # child (the "worker") carries it.
    marker = f"ostk-worker-{os.getpid()}"
    leader_code = (
        "import subprocess, sys, time\n"
        "m = sys.argv[1] + sys.argv[2]\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # ' + m])\n"
        "time.sleep(60)\n"
    )
    half = len(marker) // 2
    record = processes.spawn(
        "keystone", [sys.executable, "-c", leader_code, marker[:half], marker[half:]],
        log=tmp_path / "leader.log", marker=marker, cwd=tmp_path, environ=os.environ,
    )
    try:
        deadline = time.monotonic() + 10
        while not processes._group_members(record.pid, marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = processes._group_members(record.pid, marker)
        assert workers and not processes.is_running(record)
        assert processes.stop(record, timeout=5)
        assert not processes._group_members(record.pid, marker)
        assert processes._alive(record.pid)  # the leader itself is never signalled on a marker it lacks
    finally:
        os.killpg(record.pid, 9)


def test_a_server_between_two_execs_has_not_exited(tmp_path: Path) -> None:
    # Through the die-with-parent wrapper a server execs twice; during the
    # second execve its command line is empty (no marker) while it is alive:
    # wait_healthy must keep waiting, not report "exited". A record whose
    # marker the live process lacks stands for that moment.
    record = _spawn(tmp_path)
    try:
        between = dataclasses.replace(record, marker="not-yet-in-the-command-line")
        assert not processes.is_running(between)
        assert not processes.has_exited(between)
        assert processes.has_exited(dataclasses.replace(record, start_time=record.start_time + 1))
        processes.stop(record, timeout=5)
        assert processes.has_exited(record)
    finally:
        processes.stop(record, timeout=1)


def test_a_process_of_someone_else_survives_stop_of_a_forged_record(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        forged = processes.ProcessRecord("keystone", other.pid, 0, "ostk-marker", tmp_path / "x.log")
        assert not processes.stop(forged, timeout=1)
        time.sleep(0.2)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_server_that_exits_fails_with_its_name_status_and_log_tail(tmp_path: Path) -> None:
    record = processes.spawn(
        "keystone", [sys.executable, "-c", "print('config is broken', flush=True); raise SystemExit(3)"],
        log=tmp_path / "keystone.log", marker="-c", cwd=tmp_path, environ=os.environ,
    )
    with pytest.raises(ServiceFailed) as caught:
        _wait_healthy(record, lambda: False, timeout=30)
    message = str(caught.value)
    assert message.startswith("keystone failed to start: exited with status 3")
    assert "config is broken" in message
    assert caught.value.exit_status == 4


def test_a_server_that_never_gets_healthy_times_out(tmp_path: Path) -> None:
    record = _spawn(tmp_path)
    try:
        with pytest.raises(ServiceFailed, match="sleeper failed to start: not healthy after 1 s"):
            _wait_healthy(record, lambda: False, timeout=1)
    finally:
        processes.stop(record, timeout=1)


def test_log_tail_reads_only_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("".join(f"line {n}\n" for n in range(100_000)))
    assert processes.log_tail(log, 2) == ["line 99998", "line 99999"]
    assert processes.log_tail(tmp_path / "missing.log") == []


def test_die_with_parent_stops_the_server_when_its_starter_is_killed(tmp_path: Path) -> None:
    starter_code = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from stack import processes\n"
        "r = processes.spawn('sleeper', [sys.executable, '-c', 'import time; time.sleep(60)  # orphan-test'],\n"
        f"    log=Path({str(tmp_path / 's.log')!r}), marker='orphan-test', cwd=Path('.'), environ=os.environ,\n"
        "    die_with_parent=True)\n"
        "print(r.pid, r.start_time, flush=True)\n"
        "time.sleep(60)\n"
    )
    starter = subprocess.Popen([sys.executable, "-c", starter_code], stdout=subprocess.PIPE, text=True)
    assert starter.stdout is not None
    pid, start_time = (int(x) for x in starter.stdout.readline().split())
    record = processes.ProcessRecord("sleeper", pid, start_time, "orphan-test", tmp_path / "s.log")
    try:
        assert processes.is_running(record)
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 10
        while processes.is_running(record) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not processes.is_running(record)
    finally:
        processes.stop(record, timeout=1)


def test_a_missing_program_is_bad_local_input_naming_the_service(tmp_path: Path) -> None:
    with pytest.raises(processes.MissingProgram) as caught:
        processes.spawn("memcached", [str(tmp_path / "no-such-memcached")], log=tmp_path / "m.log",
                        marker="x", cwd=tmp_path, environ=os.environ)
    assert str(caught.value).startswith("memcached: cannot run ")
    assert caught.value.exit_status == 3


def test_a_just_spawned_server_is_recognised_at_once(tmp_path: Path) -> None:
    # Popen returns mid-execve, while /proc/PID/cmdline is still empty; spawn
    # must wait for the new program or the marker check calls it a stranger.
    # One spawn in a few dozen hit that window before the fix, so try many.
    for attempt in range(25):
        record = _spawn(tmp_path, marker=f"ostk-test-marker-{attempt}")
        try:
            assert processes.is_running(record), attempt
        finally:
            processes.stop(record, timeout=2)
