"""A running CI simulator (with history) and ``ostk recheck`` run in-process against it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ostk.cli import main
from ostk.environment import Environment
from recheck.testing import CISimulator


@pytest.fixture
def sim() -> Iterator[CISimulator]:
    with CISimulator() as simulator:
        yield simulator


class Recheck:
    """``ostk recheck ARGV`` through ``ostk.cli.main()``, output captured."""

    def __init__(self, sim: CISimulator, home: Path) -> None:
        self.environ = {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            **sim.service_environ(),
            "OSTK_GERRIT_USER": sim.username,
            "OSTK_GERRIT_PASSWORD": sim.password,
            "NO_COLOR": "1",
        }
        self.home = home
        self.env: Environment | None = None

    def __call__(self, *argv: str) -> int:
        self.env = Environment.for_test(self.environ, cwd=self.home)
        return main(["recheck", *argv], env=self.env)

    @property
    def stdout(self) -> str:
        assert self.env is not None
        return self.env.stdout.getvalue()  # type: ignore[attr-defined,no-any-return]

    @property
    def stderr(self) -> str:
        assert self.env is not None
        return self.env.stderr.getvalue()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def recheck(sim: CISimulator, tmp_path: Path) -> Recheck:
    home = tmp_path / "home"
    home.mkdir()
    return Recheck(sim, home)
