"""A week of gate builds on the CI simulator, and a fresh store and cache per test."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ostk.http import HttpSettings
from recheck.testing.gate import GateSimulator, GateWeek, add_gate_week

UNTIL = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)
#: No retries, so an outage costs the tests no backoff sleeps.
FAST_HTTP = HttpSettings(connect_timeout=3, read_timeout=20, retries=0)


@dataclass
class Gate:
    sim: GateSimulator
    week: GateWeek
    store: Path
    environ: dict[str, str]


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    with GateSimulator() as sim:
        week = add_gate_week(sim, until=UNTIL)
        environ = {
            "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "OSTK_ZUUL_URL": sim.zuul_url,
            "OSTK_LAUNCHPAD_URL": sim.launchpad_url,
            "NO_COLOR": "1",
        }
        yield Gate(sim, week, tmp_path / "data" / "ostk" / "gate.sqlite3", environ)
