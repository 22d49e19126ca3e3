"""Structured logs: subunit v2 result streams and Zuul's job-output.json.

These give exact answers (the test ids, the failed task and its rc), so the
engine prefers them to a text scan. Both need the whole document to parse,
so the engine spools them to a temporary file (bounded memory) first.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

from recheck.models import Failure, FailureKind
from recheck.scanner import MAX_FAILURES, MAX_MESSAGE, TextScanner, _Excerpt, _ansible_message, _test_id, clean_controls

#: subunit v2 packets start with this signature byte.
SUBUNIT_V2_SIGNATURE = 0xB3

_FAILED_STATUSES = frozenset({"fail", "uxsuccess"})


def read_subunit(stream: IO[bytes]) -> tuple[list[Failure], list[str], int]:
    """Failures from a subunit v2 stream: (failures, warnings, tests seen)."""
    import subunit
    import testtools

    failures: list[Failure] = []
    warnings: list[str] = []
    seen = 0
    dropped = [0]

    def on_test(test: dict[str, Any]) -> None:
        nonlocal seen
        seen += 1
        if test.get("status") not in _FAILED_STATUSES:
            return
        if len(failures) >= MAX_FAILURES:
            dropped[0] += 1
            return
        test_id = _test_id(str(test.get("id") or "unknown"))
        if test_id == "subunit.parser":
            # python-subunit reports a damaged or cut stream as this pseudo-test.
            detail = ""
            for content in (test.get("details") or {}).values():
                try:
                    detail = " ".join(content.as_text().split())[:200]
                except Exception:  # noqa: BLE001
                    continue
            warnings.append(f"subunit stream damaged: {detail or 'parse error'}")
            return
        excerpt = _Excerpt()
        message = f"{test_id} {test.get('status')}"
        for name, content in (test.get("details") or {}).items():
            try:
                text = content.as_text()
            except Exception:  # noqa: BLE001 - a binary attachment: skip it, keep the rest
                continue
            if not text.strip():
                continue
            excerpt.add(f"{name}:")
            for line in text.splitlines():
                excerpt.add("    " + clean_controls(line))
            if name == "traceback":
                tail = [ln for ln in text.splitlines() if ln.strip()]
                if tail:
                    message = clean_controls(tail[-1].strip())
        failures.append(Failure(FailureKind.TEST, test_id, message[:MAX_MESSAGE], None, excerpt.text()))

    result = testtools.StreamToDict(on_test)
    case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
    result.startTestRun()
    try:
        case.run(result)
    except Exception as exc:  # noqa: BLE001 - python-subunit raises assorted errors on bad packets
        warnings.append(f"subunit stream damaged, read up to the damage ({type(exc).__name__})")
    finally:
        try:
            result.stopTestRun()
        except Exception:  # noqa: BLE001 - in-progress tests of a cut stream
            warnings.append("subunit stream ended inside a test")
    if dropped[0]:
        warnings.append(f"{dropped[0]} more failed test(s) not kept")
    return failures, warnings, seen


def read_job_output_json(
    stream: IO[bytes], scanner_factory: Callable[[], TextScanner]
) -> tuple[list[Failure], list[str]]:
    """Failures from Zuul's job-output.json (playbooks → plays → tasks → hosts).

    The stdout of each failed task is scanned as text too: a "run tempest"
    task carries the test failures in its output.
    """
    try:
        doc = json.load(stream)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"job-output.json is not valid JSON ({exc})") from exc
    if not isinstance(doc, list):
        raise ValueError("job-output.json should be a list of playbooks")
    failures: list[Failure] = []
    warnings: list[str] = []
    for playbook in doc:
        if not isinstance(playbook, dict):
            continue
        phase = str(playbook.get("phase") or "run")
        path = str(playbook.get("playbook") or "playbook")
        for play in playbook.get("plays") or ():
            play_name = str((play.get("play") or {}).get("name") or "play")
            for task in play.get("tasks") or ():
                task_name = str((task.get("task") or {}).get("name") or "task")
                for host, result in (task.get("hosts") or {}).items():
                    if not isinstance(result, dict):
                        continue
                    failure = _task_failure(phase, path, play_name, task_name, host, result)
                    if failure is None:
                        continue
                    stdout = result.get("stdout")
                    if isinstance(stdout, str) and stdout:
                        nested = scanner_factory()
                        nested.feed(stdout.encode("utf-8", "replace"))
                        nested.close()
                        failures.extend(f for f in nested.found.failures if f.kind is FailureKind.TEST)
                    failures.append(failure)
        for host, stats in (playbook.get("stats") or {}).items():
            if isinstance(stats, dict) and stats.get("unreachable"):
                failures.append(
                    Failure(FailureKind.INFRA, f"{path}/{host}", f"host {host} unreachable during {phase}")
                )
    return failures, warnings


def _task_failure(
    phase: str, playbook: str, play: str, task: str, host: str, result: dict[str, Any]
) -> Failure | None:
    unreachable = bool(result.get("unreachable"))
    failed = bool(result.get("failed")) or unreachable
    if not failed or result.get("ignore_errors") or result.get("skipped"):
        return None
    message = _ansible_message(result)
    items = result.get("results")
    if isinstance(items, list):
        # A loop: the task's own msg is generic ("One or more items failed"); the item says why.
        for item in items:
            if isinstance(item, dict) and item.get("failed"):
                detail = _ansible_message(item)
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
    elif phase == "pre" or "devstack" in f"{play} {task}".lower():
        kind = FailureKind.SETUP
    else:
        kind = FailureKind.TASK
    excerpt = _Excerpt()
    for key in ("cmd", "stderr", "stdout", "module_stderr"):
        value = result.get(key)
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        if value:
            excerpt.add(f"{key}:")
            for line in str(value).splitlines():
                excerpt.add("  " + clean_controls(line))
    message = clean_controls(" ".join(message.split()))[:MAX_MESSAGE]
    return Failure(kind, f"{play}/{task}/{host}", message, None, excerpt.text())
