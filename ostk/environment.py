"""The world a command runs in: streams, environment variables, directories.

Commands never touch ``sys.stdout``, ``os.environ`` or the home directory
directly; they use an :class:`Environment`, so tests run every command
in-process with captured output and a private home.
"""
from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ostk import dirs

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class Environment:
    """Streams, variables and working directory for one command run."""

    stdin: IO[bytes]
    stdout: IO[str]
    stderr: IO[str]
    environ: Mapping[str, str]
    cwd: Path
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    _consoles: dict[str, Console] = field(default_factory=dict, repr=False)

    @classmethod
    def from_process(cls) -> Environment:
        """The real process: sys streams, ``os.environ``, the current directory."""
        return cls(
            stdin=sys.stdin.buffer,
            stdout=sys.stdout,
            stderr=sys.stderr,
            environ=os.environ,
            cwd=Path.cwd(),
            stdin_isatty=sys.stdin.isatty(),
            stdout_isatty=sys.stdout.isatty(),
            stderr_isatty=sys.stderr.isatty(),
        )

    @classmethod
    def for_test(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        stdin: bytes = b"",
        cwd: Path | None = None,
    ) -> Environment:
        """Captured streams (``StringIO``) and the given variables, for tests.

        Read the output back with ``env.stdout.getvalue()``.
        """
        return cls(
            stdin=io.BytesIO(stdin),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
            environ=dict(environ or {}),
            cwd=cwd or Path.cwd(),
        )

    @property
    def out(self) -> Console:
        """Rich console on stdout, for results."""
        return self._console("out", self.stdout, self.stdout_isatty)

    @property
    def err(self) -> Console:
        """Rich console on stderr, for progress, warnings and errors."""
        return self._console("err", self.stderr, self.stderr_isatty)

    def _console(self, key: str, stream: IO[str], isatty: bool) -> Console:
        console = self._consoles.get(key)
        if console is None:
            # rich is imported with the first console: `--json` runs never need it.
            from rich.console import Console

            # Colour only on a terminal, and never when NO_COLOR is set.
            colour = isatty and "NO_COLOR" not in self.environ
            console = Console(
                file=stream,
                force_terminal=isatty,
                no_color=not colour,
                color_system="auto" if colour else None,
                highlight=False,
                soft_wrap=not isatty,
                width=None if isatty else 120,
            )
            self._consoles[key] = console
        return console

    # Directories -----------------------------------------------------------
    @property
    def cache_dir(self) -> Path:
        return dirs.cache_dir(self.environ)

    @property
    def config_dir(self) -> Path:
        return dirs.config_dir(self.environ)

    @property
    def state_dir(self) -> Path:
        return dirs.state_dir(self.environ)

    @property
    def data_dir(self) -> Path:
        return dirs.data_dir(self.environ)
