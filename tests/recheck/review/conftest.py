"""Fixtures for the review workflow: a running CI simulator and an isolated CLI environment."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ostk.cli import main
from ostk.environment import Environment
from recheck.testing import CISimulator

#: A tempest failure as subunit-trace prints it in job-output.txt (Zuul prefixes included).
TEMPEST_FAILURE = b"""2026-11-20 08:00:00.123456 | controller | {0} tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard [12.3s] ... FAILED
2026-11-20 08:00:01.123456 | controller | Traceback (most recent call last):
2026-11-20 08:00:01.123456 | controller |   File "tempest/api/compute/servers/test_server_actions.py", line 120, in test_reboot_server_hard
2026-11-20 08:00:01.123456 | controller | AssertionError: Server 1234 failed to reach ACTIVE status within the required time
"""
TEMPEST_TEST = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard"


@pytest.fixture
def sim() -> Iterator[CISimulator]:
    with CISimulator() as simulator:
        yield simulator


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


class Cli:
    """Runs ``ostk recheck`` in-process against the simulator."""

    def __init__(self, sim: CISimulator, home: Path) -> None:
        self.sim = sim
        self.home = home
        self.environ = {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            **sim.service_environ(),
            "NO_COLOR": "1",
        }
        self.env: Environment | None = None

    def __call__(self, *argv: str, tty: bool = False, stdin: bytes = b"", **extra_environ: str) -> int:
        """Run ``ostk recheck ARGV``; ``tty=True`` pretends stdin and stderr are a terminal."""
        environ = {**self.environ, **extra_environ}
        self.env = Environment.for_test(environ, cwd=self.home, stdin=stdin)
        self.env.stdin_isatty = self.env.stderr_isatty = tty
        return main(["recheck", *argv], env=self.env)

    @property
    def stdout(self) -> str:
        assert self.env is not None
        return self.env.stdout.getvalue()  # type: ignore[attr-defined]

    @property
    def stderr(self) -> str:
        assert self.env is not None
        return self.env.stderr.getvalue()  # type: ignore[attr-defined]

    @property
    def cache_dir(self) -> Path:
        return self.home / ".cache" / "ostk" / "recheck" / "analyses"


@pytest.fixture
def cli(sim: CISimulator, home: Path) -> Cli:
    return Cli(sim, home)
