"""argparse, adapted to run in-process: output goes to the command's
Environment and errors become exceptions instead of ``sys.exit``."""
from __future__ import annotations

import argparse
import contextvars
import math
import sys
from collections.abc import Mapping
from typing import Any, NoReturn

from ostk.environment import Environment
from ostk.errors import ConfigError, UsageError

#: The overall budget for a command's remote calls when --timeout is not given.
#: A review's round trip (Gerrit, Zuul, a few logs, Launchpad) takes 5-20 s on
#: OpenDev; 60 s leaves room for a slow service but not for a hung one.
DEFAULT_TIMEOUT = 60.0
#: Top-level options that take a value (main() must skip it to find the command).
VALUE_OPTIONS = frozenset({"--timeout"})

_env: contextvars.ContextVar[Environment] = contextvars.ContextVar("ostk_cli_env")


class ParserExit(Exception):
    """argparse wanted to exit (``--help``, ``--version``)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class OstkArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that writes to the current Environment and never exits."""

    def _print_message(self, message: str, file: Any = None) -> None:
        if not message:
            return
        env = _env.get(None)
        if env is None:
            super()._print_message(message, file)
            return
        stream = env.stderr if file is sys.stderr else env.stdout
        stream.write(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._print_message(message, sys.stderr)
        raise ParserExit(status)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def common_options() -> argparse.ArgumentParser:
    """Options every leaf command accepts (``--json``, ``--debug``).

    Defaults are suppressed so a leaf never overwrites the top-level value.
    """
    parent = OstkArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS,
        help="print one JSON document on stdout and nothing else there",
    )
    parent.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS,
        help="show tracebacks and HTTP traces (secrets redacted)",
    )
    add_timeout_option(parent, default=argparse.SUPPRESS)
    return parent


def add_timeout_option(parser: argparse.ArgumentParser, *, default: object) -> None:
    """``--timeout SECONDS``: the overall deadline for a command's remote calls."""
    parser.add_argument(
        "--timeout", type=seconds_arg, metavar="SECONDS", default=default,
        help=f"give up on remote services after this long in all (default {DEFAULT_TIMEOUT:g}; 0: no limit)",
    )


def url_arg(text: str) -> str:
    """argparse ``type=`` for an http(s) URL: a bad one is a usage error (exit 2).

    Example: ``parser.add_argument("--gerrit", type=url_arg)``.
    """
    from ostk.http import check_url  # only when a URL option is given: start-up (issue 14)

    try:
        return check_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def check_url_variables(environ: Mapping[str, str], *names: str) -> None:
    """Refuse an invalid URL in any of the variables ``names`` (ConfigError, exit 3).

    The environment's counterpart of :func:`url_arg`, for options whose
    default comes from a variable (``OSTK_GERRIT_URL``...).
    """
    for name in names:
        value = environ.get(name)
        if value:
            from ostk.http import check_url

            try:
                check_url(value)
            except ValueError as exc:
                raise ConfigError(f"${name} {value!r}: {exc}") from None


def url_or_word_arg(text: str) -> str:
    """argparse ``type=`` for an argument that may be a URL: checked only if it looks like one."""
    return url_arg(text) if "://" in text else text


def positive_int_arg(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a count of workers, a patch set)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def seconds_arg(text: str) -> float:
    """argparse ``type=`` for a duration in seconds: a finite number, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0 or value > 7 * 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 0 to 604800 seconds")
    return value


def bind(env: Environment) -> contextvars.Token[Environment]:
    """Make ``env`` the target of parser output for this context."""
    return _env.set(env)


def unbind(token: contextvars.Token[Environment]) -> None:
    _env.reset(token)
