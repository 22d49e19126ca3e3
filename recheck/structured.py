"""Structured logs: subunit v2 result streams and Zuul's job-output.json.

These give exact answers (the test ids, the failed task and its rc), so the
engine prefers them to a text scan. The engine spools them to a temporary
file first; job-output.json is then read in place (memory-mapped, see
``recheck.jobjson``), never loaded whole.
"""
from __future__ import annotations

import io
import json
import mmap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from recheck.jobjson import HostResult, HostStats, JobJsonError, TooDeep, walk
from recheck.logtext import (
    Excerpt,
    ansible_excerpt,
    ansible_message,
    clean_controls,
    exception_message,
    one_line,
    test_id,
)
from recheck.models import Failure, FailureKind
from recheck.scanner import MAX_FAILURES, TextScanner
from recheck.subunitpackets import Packets, PacketStream

__all__ = ["SUBUNIT_V2_SIGNATURE", "read_job_output_json", "read_subunit"]

#: subunit v2 packets start with this signature byte.
SUBUNIT_V2_SIGNATURE = 0xB3

_FAILED_STATUSES = frozenset({"fail", "uxsuccess"})
#: Longest stdout of a failed task scanned for test failures.
MAX_TASK_STDOUT = 64 * 1024 * 1024


def read_subunit(stream: IO[bytes]) -> tuple[list[Failure], list[str], int]:
    """Failures from a subunit v2 stream: (failures, warnings, tests seen).

    A damaged stream (python-subunit's ``subunit.parser`` pseudo-test) and a
    test left in progress when the stream stopped (a worker that died, e.g. on
    subunit's "Length too long") are failures of their own: the tests that
    failed before keep their own tracebacks.
    """
    import subunit
    import testtools

    failures: list[Failure] = []
    warnings: list[str] = []
    seen = 0
    dropped = [0]
    #: (tests seen when the damage was met, what python-subunit said).
    damage: list[tuple[int, str]] = []
    unfinished: list[str] = []

    packets = Packets(stream)

    def keep(failure: Failure) -> None:
        if len(failures) >= MAX_FAILURES:
            dropped[0] += 1
            # A runaway stream: stop feeding python-subunit (the rest costs time, adds nothing).
            packets.stopped = f"more than {MAX_FAILURES} failed tests: not read further"
            return
        failures.append(failure)

    def on_test(test: dict[str, Any]) -> None:
        nonlocal seen
        status = test.get("status")
        tid = test_id(str(test.get("id") or "unknown"))
        if tid == "subunit.parser":
            # python-subunit reports a damaged or cut stream as this pseudo-test.
            for content in (test.get("details") or {}).values():
                try:
                    detail = one_line(content.as_text())[:200]
                except Exception:
                    continue
                if detail and (not damage or damage[-1] != (seen, detail)):
                    damage.append((seen, detail))
            if not damage or damage[-1][0] != seen:
                damage.append((seen, "parse error"))
            return
        if status == "inprogress":
            # Reported at stopTestRun, after everything else: not "seen after the damage".
            unfinished.append(tid)
            return
        seen += 1
        if status in _FAILED_STATUSES:
            keep(_test_failure(tid, str(status), test.get("details") or {}))

    result = testtools.StreamToDict(on_test)  # type: ignore[arg-type]
    case = subunit.ByteStreamToStreamResult(io.BufferedReader(PacketStream(packets)), non_subunit_name="stdout")
    result.startTestRun()
    try:
        case.run(result)
    except Exception as exc:
        damage.append((seen, type(exc).__name__))
    finally:
        try:
            result.stopTestRun()
        except Exception:
            warnings.append("subunit stream ended inside a test")
    if packets.stopped:
        warnings.append(f"subunit stream: {packets.stopped}")
    elif packets.count == 0 and packets.skipped:
        warnings.append("no subunit v2 packets found: not a subunit stream")
    cut = bool(damage) and damage[-1][0] == seen
    for at, detail in damage:
        warnings.append(f"subunit stream damaged: {detail}")
        if at < seen:
            # Tests came after the damage: the stream was broken, not merely cut short.
            keep(Failure(FailureKind.TASK, "test runner", f"the subunit stream is damaged: {detail}"))
    if unfinished and cut:
        warnings.append(f"subunit stream cut inside {len(unfinished)} test(s)")
    elif unfinished:
        # The stream ended cleanly but these never finished: their worker died (stestr's
        # worker stops on subunit's "Length too long" while reporting a test).
        for tid in unfinished:
            keep(Failure(FailureKind.TEST, tid, f"{tid} did not finish: the test runner stopped during this test"))
    if dropped[0]:
        warnings.append(f"{dropped[0]} more failed test(s) not kept")
    return failures, warnings, seen + len(unfinished)


def _test_failure(tid: str, status: str, details: dict[str, Any]) -> Failure:
    excerpt = Excerpt()
    # stestr records a test its worker died in (subunit's "Length too long") as failed,
    # with no details at all. An unexpected success never has a traceback: the test was
    # marked expectedFailure and passed, which fails the run (stestr exits 1).
    if status == "uxsuccess":
        message = f"{tid} passed unexpectedly (it is marked as an expected failure)"
    elif details:
        message = f"{tid} {status}"
    else:
        message = f"{tid} failed with no traceback recorded (its worker may have died)"
    for name, content in details.items():
        try:
            text = content.as_text()
        except Exception:
            continue
        if not text.strip():
            continue
        excerpt.add(f"{name}:")
        lines = text.splitlines()
        for line in lines:
            excerpt.add("    " + clean_controls(line))
        if name == "traceback":
            message = exception_message(lines) or next(
                (ln.strip() for ln in reversed(lines) if ln.strip()), message
            )
    return Failure(FailureKind.TEST, tid, one_line(message), None, excerpt.text())


def read_job_output_json(
    stream: IO[bytes], scanner_factory: Callable[[], TextScanner]
) -> tuple[list[Failure], list[str]]:
    """Failures from Zuul's job-output.json (playbooks → plays → tasks → hosts).

    The stdout of each failed task is scanned as text too: a "run tempest"
    task carries the test failures in its output. Raises ``ValueError`` (a
    :class:`~recheck.jobjson.JobJsonError`) when the document is not JSON or
    is nested too deep; parts of the wrong shape are skipped.
    """
    failures: list[Failure] = []
    warnings: list[str] = []
    #: The stats say a task failed: the job failed even when no failed result was readable.
    failed_sign: str | None = None
    with _mapped(stream) as data:
        try:
            for entry in walk(data):
                if len(failures) >= MAX_FAILURES:
                    warnings.append("more failed tasks not read")
                    break
                if isinstance(entry, HostStats):
                    if entry.unreachable:
                        failures.append(
                            Failure(
                                FailureKind.INFRA,
                                f"{entry.playbook}/{entry.host}",
                                f"host {entry.host} unreachable during {entry.phase}",
                            )
                        )
                    elif failed_sign is None:
                        failed_sign = f"{entry.host}: failures={entry.failures} in {entry.playbook}"
                    continue
                failure = _task_failure(entry)
                if failure is None:
                    continue
                stdout = entry.result.get("stdout")
                if isinstance(stdout, str) and stdout:
                    nested = scanner_factory()
                    nested.feed(stdout[:MAX_TASK_STDOUT].encode("utf-8", "replace"))
                    nested.close()
                    failures.extend(f for f in nested.found.failures if f.kind is FailureKind.TEST)
                failures.append(failure)
            if failed_sign is not None and not failures:
                failures.append(
                    Failure(FailureKind.TASK, "job", f"the job failed ({failed_sign}) but no specific failure was found")
                )
        except TooDeep as exc:
            raise JobJsonError(f"job-output.json refused: {exc}") from None
        except JobJsonError as exc:
            raise JobJsonError(f"job-output.json is not valid JSON ({exc})") from None
    return failures, warnings


@contextmanager
def _mapped(stream: IO[bytes]) -> Iterator[bytes | mmap.mmap]:
    """The stream's bytes: memory-mapped when it is a real file, read when it is small."""
    if getattr(stream, "_rolled", True) is False:
        # A small SpooledTemporaryFile still in memory: fileno() would write it to disk.
        yield stream.read()
        return
    try:
        fileno = stream.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        yield stream.read()
        return
    try:
        mapped = mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # an empty file cannot be mapped
        stream.seek(0)
        yield stream.read()
        return
    try:
        yield mapped
    finally:
        mapped.close()


def _task_failure(entry: HostResult) -> Failure | None:
    result = entry.result
    unreachable = bool(result.get("unreachable"))
    failed = bool(result.get("failed")) or unreachable
    if not failed or result.get("ignore_errors") or result.get("skipped"):
        return None
    message = ansible_message(result)
    items = result.get("results")
    if isinstance(items, list):
        # A loop: the task's own msg is generic ("One or more items failed"); the item says why.
        for item in items:
            if isinstance(item, dict) and item.get("failed"):
                detail = ansible_message(item)
                label = item.get("item")
                if detail:
                    prefix = f"item {json.dumps(label)[:80]}: " if label is not None else ""
                    message = f"{message}; {prefix}{detail}" if message else prefix + detail
                break
    message = message or ("unreachable" if unreachable else "failed")
    if unreachable:
        kind = FailureKind.INFRA
    elif "timed out" in message.lower():
        kind = FailureKind.TIMEOUT
    elif entry.phase == "pre" or "devstack" in f"{entry.play} {entry.task}".lower():
        kind = FailureKind.SETUP
    else:
        kind = FailureKind.TASK
    fid = f"{entry.play}/{entry.task}/{entry.host}"
    return Failure(kind, fid, one_line(message), None, ansible_excerpt(result))
