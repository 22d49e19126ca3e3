"""Rendering helpers shared by every command.

Results go to stdout; progress, warnings and errors to stderr. ``--json``
prints exactly one JSON document on stdout and nothing else there.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ostk.environment import Environment
from ostk.redact import escape_control, redact

if TYPE_CHECKING:
    from rich.progress import Progress

#: Longest message printed: a 50,000-character URL from a server is shown by
#: its start and end, not as a screenful.
MAX_MESSAGE = 1000


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, enums, datetimes, paths and tuples to JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.startswith("_")
        }
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def print_json(env: Environment, document: Any) -> None:
    """Write one JSON document (and a newline) to stdout."""
    env.stdout.write(json.dumps(to_jsonable(document), indent=2, sort_keys=False) + "\n")
    env.stdout.flush()


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` made safe to print: secrets masked, control characters escaped, length capped.

    Every message may carry text a user or a server chose (a URL, a file
    name, a field of a JSON answer); a CR/LF or an ANSI escape in it must not
    forge lines or colours on the terminal.
    """
    text = escape_control(redact(message))
    if len(text) > limit:
        keep = (limit - 1) // 2
        text = f"{text[:keep]}…{text[-keep:]}"
    return text


def error(env: Environment, message: str) -> None:
    """One line on stderr: ``error: message`` (secrets redacted, control characters escaped)."""
    from rich.markup import escape  # rich loads with the first message: start-up (issue 14)

    env.err.print(f"[bold red]error:[/] {escape(one_line(message))}")


def warn(env: Environment, message: str) -> None:
    """One line on stderr: ``warning: message`` (secrets redacted, control characters escaped)."""
    from rich.markup import escape

    env.err.print(f"[yellow]warning:[/] {escape(one_line(message))}")


def info(env: Environment, message: str) -> None:
    """A progress note on stderr (control characters escaped)."""
    from rich.markup import escape

    env.err.print(escape(escape_control(message)), style="dim")


def download_progress(env: Environment) -> Progress:
    """A rich progress display for downloads, on stderr; silent if not a TTY."""
    # Imported here: only downloads show bars, and rich.progress is a large
    # share of a local command's start-up (issue 14).
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=env.err,
        disable=not env.stderr_isatty,
        transient=False,
    )
