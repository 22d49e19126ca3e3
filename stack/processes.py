"""Start, recognise and stop the stack's server processes.

A process is "ours" only if its PID still exists with the start time we
recorded and a command line containing the marker we recorded (a config path
unique to the stack). ``down`` and restarts act on nothing else, so a PID
reused by an unrelated program is never signalled.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ostk.errors import InputError, ServiceError

#: Popen objects of the servers this Python process started: kept so they are
#: reaped (no zombies that look alive) and not garbage-collected mid-run.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
#: Exit statuses of reaped children, for error messages.
_EXITED: dict[int, int] = {}


@dataclass(frozen=True)
class ProcessRecord:
    """What we remember about a server we started."""

    #: The stack's name for it: keystone, memcached, account, container, object, proxy.
    service: str
    pid: int
    #: Kernel start time (clock ticks since boot, /proc/PID/stat field 22).
    start_time: int
    #: A string that must appear in the process's command line.
    marker: str
    log: Path


class ServiceFailed(ServiceError):
    """A server did not start or did not become healthy (exit 4)."""

    def __init__(self, service: str, reason: str, log: Path | None) -> None:
        tail = "".join(f"\n    {line}" for line in log_tail(log, 15)) if log else ""
        where = f" (log: {log})" if log else ""
        super().__init__(f"{service} failed to start: {reason}{where}{tail}")
        self.service = service
        self.reason = reason
        self.log = log


class MissingProgram(InputError):
    """A program the stack needs is not installed (exit 3)."""


def spawn(
    service: str,
    argv: Sequence[str],
    *,
    log: Path,
    marker: str,
    cwd: Path,
    environ: Mapping[str, str],
    die_with_parent: bool = False,
) -> ProcessRecord:
    """Start ``argv`` in its own session with output appended to ``log``.

    ``die_with_parent``: the kernel sends the server SIGTERM when this
    process dies (Linux), so a killed test run leaves no servers behind.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as sink:
        sink.write(f"\n=== ostk stack: starting {service} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        sink.flush()
        command = list(argv)
        if die_with_parent and sys.platform.startswith("linux"):
            if shutil.which(command[0]) is None and not os.access(command[0], os.X_OK):
                raise MissingProgram(f"{service}: cannot run {command[0]}: not installed")
            command = [sys.executable, "-c", DEATH_SIGNAL_WRAPPER, str(os.getpid()), *command]
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(environ),
                # Its own process group: Ctrl-C in the terminal that ran `up`
                # does not reach it, and `down` can stop it with its workers.
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise MissingProgram(f"{service}: cannot run {argv[0]}: not installed") from exc
        except OSError as exc:
            raise ServiceFailed(service, f"cannot run {argv[0]}: {exc.strerror}", log) from exc
    _CHILDREN[proc.pid] = proc
    _wait_for_exec(proc)
    start = _start_time(proc.pid)
    return ProcessRecord(service=service, pid=proc.pid, start_time=start or 0, marker=marker, log=log)


def _wait_for_exec(proc: subprocess.Popen[bytes], limit: float = 5.0) -> None:
    """Wait until the kernel shows the new program's command line.

    Popen returns once the child's close-on-exec pipe closes, which happens in
    the middle of execve: for a moment /proc/PID/cmdline is still empty, and a
    check for our marker then takes a healthy new server for a stranger (seen
    on a loaded machine: 'sleeper failed to start: exited').
    """
    deadline = time.monotonic() + limit
    while not _cmdline(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def is_running(record: ProcessRecord) -> bool:
    """True if the recorded process is alive and still the one we started."""
    _reap(record.pid)
    stat = _stat_fields(record.pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    if int(stat[19]) != record.start_time:
        return False
    return record.marker in _cmdline(record.pid)


def has_exited(record: ProcessRecord) -> bool:
    """True once the process we started is gone (or its PID is another's).

    Not the same as ``not is_running``: a server started through the
    die-with-parent wrapper execs twice, and during the second execve its
    command line is empty for a moment, the marker missing, though it is
    alive and ours (seen: a healthy object server reported as 'exited').
    """
    if not _alive(record.pid):
        return True
    return _start_time(record.pid) != record.start_time


def exit_status(record: ProcessRecord) -> int | None:
    """The exit status if this process started it and it has exited, else None."""
    _reap(record.pid)
    return _EXITED.get(record.pid)


def stop(record: ProcessRecord, *, timeout: float = 10.0) -> bool:
    """Stop the process (and its process group) if it is still ours.

    SIGTERM first, SIGKILL after ``timeout`` seconds. Also stops leftover
    members of its group that carry the marker (e.g. gunicorn workers whose
    master was killed with -9). Returns True if anything was signalled.
    """
    if is_running(record):
        targets = [record.pid] + [p for p in _group_members(record.pid, record.marker) if p != record.pid]
    elif _alive(record.pid) and _start_time(record.pid) != record.start_time:
        # The PID now belongs to another program. The kernel never hands out a
        # PID that is still a process-group id, so our group has no members left.
        return False
    else:
        # Our leader is gone, or going: killed with -9, a process with a big
        # address space stays alive (with an empty command line) for a moment
        # while the kernel takes it down. Its workers may linger in the group.
        targets = _group_members(record.pid, record.marker)
    if not targets:
        return False
    _signal_all(targets, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        targets = [pid for pid in targets if _alive(pid)]
        if not targets:
            return True
        time.sleep(0.1)
    _signal_all(targets, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in targets):
        time.sleep(0.05)
    return True


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` plus its descendants in /proc, in bytes (0 if gone)."""
    total = 0
    for member in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def log_tail(path: Path, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of ``path`` (reads only the end of the file)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace").splitlines()
    return [line[:300] for line in text[-lines:]]


def follow(path: Path, chunk: int = 65536) -> Iterator[bytes]:
    """The content of ``path`` in chunks (streamed, never read whole)."""
    with open(path, "rb") as handle:
        while True:
            data = handle.read(chunk)
            if not data:
                return
            yield data


#: Asks Linux for SIGTERM when our process dies, then becomes the server
#: (exec keeps the PID and the death signal). A wrapper rather than a
#: preexec_fn, which may deadlock when other threads (pip builds) run.
#: argv: parent PID, program, arguments...
DEATH_SIGNAL_WRAPPER = """
import ctypes, os, signal, sys
parent = int(sys.argv[1])
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != parent:  # the parent died before prctl took effect
    sys.exit(1)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        _EXITED[pid] = proc.returncode
        _CHILDREN.pop(pid, None)


def _alive(pid: int) -> bool:
    _reap(pid)
    stat = _stat_fields(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat fields after the command name: [state, ppid, pgrp, ...]."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _group_members(pgid: int, marker: str) -> list[int]:
    """Live processes in process group ``pgid`` whose command line has ``marker``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X") or int(fields[2]) != pgid:
            continue
        if marker in _cmdline(pid):
            members.append(pid)
    return members


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
