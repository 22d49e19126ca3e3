"""devstack runs that end through stack.sh's exit trap: find the cause.

Modern devstack runs with ``set -o errexit`` and ``set -o xtrace``; a command
failing inside a function ends the run through ``exit_trap`` (openstack/devstack
``stack.sh``) without any ``[ERROR]`` line or ``stack.sh failed``::

    Could not find versioned identity endpoints … Bad Gateway (HTTP 502)
    ++functions-common:oscwrap:2461             return 1
    +lib/keystone:create_keystone_accounts:1   exit_trap
    +./stack.sh:exit_trap:549                  local r=1
    …
    Error on exit
    +./stack.sh:exit_trap:584                  exit 1

The cause is the last error-looking output line before the trap was entered
(an openstack client's ``(HTTP 502)``, a traceback's exception line, pip's
``Command "…" failed``, ``ERROR: …``); without one, the last command traced.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from recheck.logtext import is_exception_line

#: Output lines looked at, walking back from the trap entry.
LOOKBACK_LINES = 300

#: An xtrace line: "+lib/keystone:create_keystone_accounts:315  cmd", "++::  cmd", "+ cmd".
_XTRACE = re.compile(r"^\++(?:[^\s:]*:[^\s:]*:\d+|::)?\s")
#: The trap's first traced line names the function that failed.
#: (devstack before 2016 traced without the place: "+ exit_trap", "+ local r=1".)
_TRAP_ENTRY = re.compile(r"^\++(?:([^\s:]+):([^\s:]+):\d+)?\s+exit_trap\s*$")
_TRAP_CODE = re.compile(r"^\++(?:[^\s:]*:exit_trap:\d+)?\s+local r=(\d+)")
_TRACED_COMMAND = re.compile(r"^\++[^\s:]*:([^\s:]*):\d+\s+(.*)$")
#: Traced commands that are bookkeeping, not the work that failed.
_BOOKKEEPING = re.compile(r"^(?:return\b|local\b|set [+-]o|\w+=|\[\[|'\['|exit_trap|echo\b|time_stop\b)")
_ERRORISH = re.compile(
    r"\((?:HTTP )?\d{3}\)|\b(?:ERROR|Error|error|FAILED|[Ff]ailed|[Ff]ailure|[Dd]enied|[Nn]ot found|"
    r"[Nn]o such|[Uu]nable|[Cc]annot|[Cc]an't|[Cc]ouldn't|[Cc]ould not|[Tt]imed out|[Rr]efused|"
    r"[Dd]idn't|[Dd]id not|[Ii]nvalid)\b"
)
#: Error-looking lines that are never the cause.
_NOT_CAUSE = re.compile(
    r"^(?:WARNING|DEBUG|INFO)\b|^Traceback \(most recent call last\):|^During handling of|"
    r"^[\w.-]*stack\.sh failed"  # err_trap's own line (openstack/devstack stack.sh): says only that it failed
)


@dataclass(frozen=True)
class ExitTrap:
    """What the lines before ``Error on exit`` say about why stack.sh stopped."""

    #: ``lib/keystone:create_keystone_accounts``, or None when the run was not traced.
    where: str | None
    #: The error line that explains the failure, or a description of the last command.
    cause: str
    #: stack.sh's exit code, when traced.
    code: int | None
    #: The lines around the cause, oldest first.
    context: tuple[str, ...]


def exit_trap_cause(lines: Sequence[str]) -> ExitTrap:
    """Read ``lines`` (the log up to ``Error on exit``, prefixes stripped, oldest first)."""
    entry = len(lines)
    where = None
    code = None
    for index in range(len(lines) - 1, max(-1, len(lines) - LOOKBACK_LINES), -1):
        m = _TRAP_CODE.match(lines[index])
        if m:
            code = int(m.group(1))
        m = _TRAP_ENTRY.match(lines[index])
        if m:
            entry, where = index, (f"{m.group(1)}:{m.group(2)}" if m.group(1) else None)
            break
    last_command = None
    seen = 0
    for index in range(entry - 1, -1, -1):
        text = lines[index].strip()
        if not text:
            continue
        if _XTRACE.match(text):
            if last_command is None:
                m = _TRACED_COMMAND.match(text)
                if m and not _BOOKKEEPING.match(m.group(2)):
                    last_command = f"{m.group(1)}: {m.group(2)}"
            continue
        seen += 1
        if seen > LOOKBACK_LINES:
            break
        if (is_exception_line(text) or _ERRORISH.search(text)) and not _NOT_CAUSE.match(text):
            start = max(0, index - 8)
            return ExitTrap(where, text, code, tuple(lines[start : min(entry + 1, index + 4)]))
    cause = f"stack.sh exited through its exit trap in {where or 'an unknown step'}"
    if code is not None:
        cause += f" (exit {code})"
    if last_command:
        cause += f"; last command: {last_command}"
    return ExitTrap(where, cause, code, tuple(lines[max(0, entry - 12) : entry + 1]))
