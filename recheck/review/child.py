"""Analysing a big log in a child process, fed over a pipe while it downloads.

The engine's scan holds the GIL, so threads alone would analyse one log at a
time while the other downloads wait. Logs of at least ``PROCESS_THRESHOLD``
bytes go to a child when there is more than one CPU; the pipe's small buffer
is the back-pressure, so memory stays bounded whatever the log size.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ostk.errors import ServiceError
from recheck.engine import LogScanner, analyze_stream
from recheck.models import LogAnalysis

#: Logs at least this big (bytes on the wire) are analysed in a child process.
PROCESS_THRESHOLD = 8 * 1024 * 1024


@dataclass(frozen=True)
class EngineOptions:
    """How the engine reads one log (the same in-process and in a child)."""

    name: str
    job_name: str
    content_encoding: str | None
    signatures: Any = None
    every_line: bool = False


def usable_cpus() -> int:
    """The CPUs this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: More analysis children than CPUs buys nothing but memory.
CHILD_SLOTS = threading.BoundedSemaphore(usable_cpus())


def engine_analyze(chunks: Iterator[bytes], options: EngineOptions) -> LogAnalysis:
    """The engine in this process."""
    return analyze_stream(
        chunks,
        name=options.name,
        content_encoding=options.content_encoding,
        signatures=options.signatures,
        job_name=options.job_name,
        every_line=options.every_line,
    )


def analyse_in_child(chunks: Iterator[bytes], options: EngineOptions) -> LogAnalysis:
    """The engine in a child process; in this one when every CPU already has a child."""
    if not CHILD_SLOTS.acquire(blocking=False):
        return engine_analyze(chunks, options)
    try:
        return _analyse_piped(chunks, options)
    finally:
        CHILD_SLOTS.release()


def _analyse_piped(chunks: Iterator[bytes], options: EngineOptions) -> LogAnalysis:
    context = _process_context()
    parent_end, child_end = context.Pipe()
    child = context.Process(
        target=_child_main, args=(child_end, options), name=f"ostk-analyse-{options.job_name}", daemon=True
    )
    child.start()
    child_end.close()
    try:
        try:
            for chunk in chunks:
                if chunk:
                    parent_end.send_bytes(chunk)
            parent_end.send_bytes(b"")
        except (BrokenPipeError, EOFError, OSError):
            pass  # the child died: its answer (or its absence) says why below
        try:
            status, value = parent_end.recv()
        except (EOFError, OSError) as exc:
            raise ServiceError(f"analysing {options.job_name}: the analysis process died") from exc
        if status != "ok":
            raise ServiceError(f"analysing {options.job_name}: {value}")
        assert isinstance(value, LogAnalysis)
        return value
    finally:
        parent_end.close()
        if child.is_alive():
            child.kill()
        child.join(timeout=5)


_CONTEXT_LOCK = threading.Lock()
_CONTEXT: Any = None


def _process_context() -> Any:
    # forkserver: children fork from a clean single-threaded server that has the
    # engine imported, so they start fast and inherit none of our threads' locks.
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            context: Any
            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["recheck.engine"])
            except ValueError:
                context = multiprocessing.get_context("spawn")
            _CONTEXT = context
        return _CONTEXT


def _child_main(conn: Any, options: EngineOptions) -> None:
    # The parent owns Ctrl-C: it kills the child on any way out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        scanner = LogScanner(
            name=options.name,
            content_encoding=options.content_encoding,
            signatures=options.signatures,
            job_name=options.job_name,
            every_line=options.every_line,
        )
        while True:
            data = conn.recv_bytes()
            if not data:
                break
            scanner.feed(data)
        conn.send(("ok", scanner.finish()))
    except BaseException as exc:
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except Exception:
            pass
    finally:
        conn.close()
