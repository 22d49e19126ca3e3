"""Paging Zuul's builds API (zuul/zuul zuul/web/__init__.py: limit/skip, newest first, no time filter)."""
from __future__ import annotations

import datetime as dt

import pytest

from ostk.errors import ServiceError
from ostk.http import build_session
from recheck.gate import GateWindow, parse_since
from recheck.gate.builds import list_builds

from .conftest import FAST_HTTP, UNTIL, Gate

WEEK = GateWindow(UNTIL - dt.timedelta(days=7), UNTIL)


def test_pages_until_a_whole_page_ended_before_the_window(gate: Gate) -> None:
    # A long history before the window: paging must stop soon after the window's start.
    for n in range(60):
        gate.sim.add_build(
            job_name="nova-tox-py311", result="SUCCESS", end_time=UNTIL - dt.timedelta(days=9, hours=n),
            change=100400 + n, log=b"ok\n",
        )

    builds = list(list_builds(build_session(FAST_HTTP), gate.sim.zuul_url, "openstack", WEEK, page_size=10))

    # 30 failed + 40 successful + 1 skipped gate builds end inside the window.
    assert len(builds) == 71
    assert len({b.uuid for b in builds}) == 71
    assert all(WEEK.since <= b.end_time < WEEK.until for b in builds)
    requests = gate.sim.build_requests()
    # 73 final gate builds before the old history (71 + 2 of 8 days ago): 8 pages, then one all-old page.
    assert len(requests) == 9
    assert all("final=true" in r and "pipeline=gate" in r for r in requests)
    assert "limit=10&skip=80" in requests[-1]


def test_every_pipeline_when_none_is_given(gate: Gate) -> None:
    builds = list(list_builds(build_session(FAST_HTTP), gate.sim.zuul_url, "openstack", WEEK, pipeline=None))

    assert sum(b.pipeline == "check" for b in builds) == 3
    assert not any(b.result == "RETRY" for b in builds)  # final=true


def test_zuul_errors_are_service_errors(gate: Gate) -> None:
    gate.sim.fail_next("zuul", 10, status=500)

    with pytest.raises(ServiceError):
        list(list_builds(build_session(FAST_HTTP), gate.sim.zuul_url, "openstack", WEEK))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)),
        ("7d", dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)),
        ("90m", dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.timezone.utc)),
        ("2w", dt.datetime(2026, 11, 13, 12, tzinfo=dt.timezone.utc)),
        ("2026-11-21", dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)),
        ("2026-11-21T06:00:00+02:00", dt.datetime(2026, 11, 21, 4, tzinfo=dt.timezone.utc)),
    ],
)
def test_since_spans_and_dates(text: str, expected: dt.datetime) -> None:
    assert parse_since(text, now=UNTIL) == expected


def test_since_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="not a time span"):
        parse_since("last week", now=UNTIL)
