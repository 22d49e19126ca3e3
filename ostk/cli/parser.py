"""argparse, adapted to run in-process: output goes to the command's
Environment and errors become exceptions instead of ``sys.exit``."""
from __future__ import annotations

import argparse
import contextvars
import sys
from typing import IO, NoReturn

from ostk.environment import Environment
from ostk.errors import UsageError

_env: contextvars.ContextVar[Environment] = contextvars.ContextVar("ostk_cli_env")


class ParserExit(Exception):
    """argparse wanted to exit (``--help``, ``--version``)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class OstkArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that writes to the current Environment and never exits."""

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
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
    return parent


def bind(env: Environment) -> contextvars.Token[Environment]:
    """Make ``env`` the target of parser output for this context."""
    return _env.set(env)


def unbind(token: contextvars.Token[Environment]) -> None:
    _env.reset(token)
