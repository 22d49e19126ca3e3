"""``ostk gate report`` over a simulated week: the exact counts of the JSON schema."""
from __future__ import annotations

import json
from typing import Any

import recheck
from ostk.cli import main
from ostk.environment import Environment
from recheck.gate import GateStore
from recheck.testing.gate import BUG_A, BUG_B, FLAKY_TEST, SIGNATURE_BUG

from .conftest import FAST_HTTP, UNTIL, Gate


def run_cli(gate: Gate, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = Environment.for_test(gate.environ)
    # --since as a date: the window ends now, and the week's builds end before UNTIL.
    status = main(["gate", "report", "--json", "--workers", "1", "--since", "2026-11-20T12:00:00Z", *extra], env)
    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    return status, (json.loads(out) if out else {}), env.stderr.getvalue()  # type: ignore[attr-defined]


def report_json(gate: Gate, **kw: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "since": "7d", "until": UNTIL, "launchpad": gate.sim.launchpad_url, "store": gate.store, "workers": 1,
        "environ": gate.environ, "http": FAST_HTTP,
    }
    options.update(kw)
    return recheck.gate_report(gate.sim.zuul_url, **options).to_json()


def test_json_counts_hits_changes_jobs_and_days_per_bug(gate: Gate) -> None:
    status, doc, _err = run_cli(gate)

    assert status == 0
    assert doc["window"]["since"] == "2026-11-20T12:00:00Z"
    # 30 failed gate builds: not the retried attempts, the check pipeline, or the builds of 8 days ago.
    assert doc["builds_analysed"] == 30
    bugs = {bug["number"]: bug for bug in doc["bugs"]}
    assert [bug["number"] for bug in doc["bugs"]] == [BUG_A, BUG_B, SIGNATURE_BUG]
    assert (bugs[BUG_A]["hits"], bugs[BUG_A]["changes"]) == (9, 6)
    assert bugs[BUG_A]["jobs"] == {"tempest-full-py3": 6, "tempest-integrated-compute": 3}
    assert bugs[BUG_A]["by_day"] == {
        "2026-11-21": 1, "2026-11-22": 1, "2026-11-23": 1, "2026-11-24": 1,
        "2026-11-25": 2, "2026-11-26": 1, "2026-11-27": 2,
    }
    assert bugs[BUG_A]["gate_failure"] is True
    assert bugs[BUG_A]["status"] == "Confirmed"
    assert (bugs[BUG_B]["hits"], bugs[BUG_B]["changes"], bugs[BUG_B]["jobs"]) == (6, 5, {"nova-tox-py311": 6})
    assert bugs[BUG_B]["by_day"] == {"2026-11-21": 1, "2026-11-22": 1, "2026-11-24": 1, "2026-11-26": 2, "2026-11-27": 1}
    assert (bugs[SIGNATURE_BUG]["hits"], bugs[SIGNATURE_BUG]["changes"]) == (4, 4)
    assert bugs[SIGNATURE_BUG]["projects"] == ["openstack/neutron"]


def test_json_groups_what_no_bug_explains(gate: Gate) -> None:
    _status, doc, _err = run_cli(gate)

    groups = [(g["kind"], g["key"], g["hits"], g["changes"], g["jobs"]) for g in doc["uncategorized"]]
    assert groups == [
        ("test", FLAKY_TEST, 5, 4, {"nova-functional": 5}),
        # Different line numbers, driver numbers and timeouts: one normalised message.
        ("message", "ERROR Failed to create volume type lvmdriver- after seconds", 4, 3, {"devstack-platform": 4}),
        ("result", "NODE_FAILURE: no failure found in the logs", 2, 2, {"devstack-platform": 2}),
    ]
    flaky = doc["uncategorized"][0]
    assert len(flaky["examples"]) == 3
    assert all(url.startswith(gate.sim.zuul_url + "/t/openstack/build/") for url in flaky["examples"])
    # The decoy bug (2000003) shares words with the flaky test's message but does not explain it.
    assert 2000003 not in [bug["number"] for bug in doc["bugs"]]


def test_json_jobs_have_builds_failures_and_rate(gate: Gate) -> None:
    _status, doc, _err = run_cli(gate)

    assert doc["jobs"] == [
        {"name": "devstack-platform", "builds": 10, "failures": 6, "failure_rate": 0.6},
        {"name": "nova-tox-py311", "builds": 10, "failures": 6, "failure_rate": 0.6},
        # The SKIPPED build did not run: not counted.
        {"name": "tempest-full-py3", "builds": 20, "failures": 6, "failure_rate": 0.3},
        {"name": "nova-functional", "builds": 10, "failures": 5, "failure_rate": 0.5},
        {"name": "openstack-tox-py311", "builds": 10, "failures": 4, "failure_rate": 0.4},
        {"name": "tempest-integrated-compute", "builds": 10, "failures": 3, "failure_rate": 0.3},
    ]


def test_project_filter_is_sent_to_zuul_and_narrows_the_report(gate: Gate) -> None:
    doc = report_json(gate, projects=["openstack/neutron"])

    assert doc["builds_analysed"] == 6
    assert [bug["number"] for bug in doc["bugs"]] == [SIGNATURE_BUG]
    assert [g["kind"] for g in doc["uncategorized"]] == ["result"]
    assert any("project=openstack%2Fneutron" in path for path in gate.sim.build_requests())


def test_second_run_downloads_nothing_already_analysed(gate: Gate) -> None:
    first = report_json(gate)
    before = len(gate.sim.requests)

    second = report_json(gate)

    new = [path for _method, path in gate.sim.requests[before:]]
    # Only the builds listing: no log, manifest or Launchpad request.
    assert new == ["/zuul/api/tenant/openstack/builds?limit=100&skip=0&pipeline=gate&final=true"]
    assert second == first


def test_new_builds_are_the_only_ones_analysed_next_time(gate: Gate) -> None:
    report_json(gate)
    before = len(gate.sim.log_requests())
    uuid = gate.sim.add_build(
        job_name="nova-functional", result="FAILURE", end_time=UNTIL.replace(hour=11), change=100300,
        log=b"2026-11-27 11:00:00.000001 | controller | {0} " + FLAKY_TEST.encode() + b" [1.0s] ... FAILED\n",
    )

    doc = report_json(gate)

    new_logs = gate.sim.log_requests()[before:]
    assert new_logs and all(uuid[:7] in path for path in new_logs)
    assert doc["builds_analysed"] == 31
    assert doc["uncategorized"][0]["hits"] == 6


def test_log_outage_gives_a_partial_report_with_a_warning_then_heals(gate: Gate) -> None:
    gate.sim.down_hosts.add("rax")  # the 3 tempest-integrated-compute builds of bug A

    partial = report_json(gate)

    assert partial["builds_analysed"] == 30
    assert {bug["number"]: bug["hits"] for bug in partial["bugs"]}[BUG_A] == 6
    assert any("partial report" in w and "3 failed build" in w for w in partial["warnings"])
    assert sum("503" in w for w in partial["warnings"]) == 3
    # Unreadable builds are not "uncategorized": nothing is known about them yet.
    assert [g["hits"] for g in partial["uncategorized"]] == [5, 4, 2]
    with GateStore.open(gate.store) as store:
        assert store.check() == []

    gate.sim.down_hosts.clear()
    before = len(gate.sim.log_requests())
    healed = report_json(gate)

    again = gate.sim.log_requests()[before:]
    assert again and all("/rax/" in path for path in again)
    assert {bug["number"]: bug["hits"] for bug in healed["bugs"]}[BUG_A] == 9
    assert not any("partial" in w for w in healed["warnings"])


def test_launchpad_down_leaves_signature_bugs_and_warns(gate: Gate) -> None:
    gate.sim.launchpad_down = True

    doc = report_json(gate)

    assert [bug["number"] for bug in doc["bugs"]] == [SIGNATURE_BUG]
    assert any(w.startswith("Launchpad:") for w in doc["warnings"])
    # Launchpad's failure is not remembered as "no bug": it is asked again next time.
    gate.sim.launchpad_down = False
    assert [bug["number"] for bug in report_json(gate)["bugs"]] == [BUG_A, BUG_B, SIGNATURE_BUG]


def test_offline_bugs_only(gate: Gate) -> None:
    status, doc, _err = run_cli(gate, "--offline-bugs")

    assert status == 0
    assert [bug["number"] for bug in doc["bugs"]] == [SIGNATURE_BUG]
    assert not [p for _m, p in gate.sim.requests if p.startswith("/launchpad/")]
    assert FLAKY_TEST in [g["key"] for g in doc["uncategorized"]]


def test_local_worker_processes_give_the_same_report(gate: Gate) -> None:
    assert report_json(gate, workers=2, store=gate.store.with_name("two.sqlite3")) == report_json(gate)


def test_text_output_lists_the_three_tables(gate: Gate) -> None:
    env = Environment.for_test(gate.environ)

    status = main(["gate", "report", "--workers", "1", "--since", "2026-11-20T12:00:00Z"], env)

    out = env.stdout.getvalue()  # type: ignore[attr-defined]
    assert status == 0
    assert "30 failed builds analysed" in out
    assert "#2000001" in out and "tempest-integrated-compute" in out
    assert "Uncategorized failures" in out and "test_resize_re" in out


def test_usage_errors_exit_2(gate: Gate) -> None:
    for argv in (
        ["--since", "last week"],
        ["--workers", "0"],
        ["--workers", "2", "--dask", "tcp://127.0.0.1:8786"],
        ["--dask", "127.0.0.1:8786"],
    ):
        env = Environment.for_test(gate.environ)
        assert main(["gate", "report", *argv], env) == 2, argv
        assert "Traceback" not in env.stderr.getvalue()  # type: ignore[attr-defined]


def test_zuul_down_exits_4_and_keeps_the_store_usable(gate: Gate) -> None:
    env = Environment.for_test({**gate.environ, "OSTK_ZUUL_URL": "http://127.0.0.1:9/zuul"})

    status = main(["gate", "report", "--workers", "1"], env)

    assert status == 4
    assert env.stderr.getvalue().count("\n") == 1  # type: ignore[attr-defined]
    with GateStore.open(gate.store) as store:
        assert store.check() == []


def test_each_build_has_its_own_download_budget(gate: Gate) -> None:
    import datetime as dt

    from ostk.http import build_session
    from recheck.gate import GateWindow
    from recheck.gate.builds import list_builds
    from recheck.gate.classify import analyse_build
    from recheck.gate.models import AnalysisSettings, BuildTask
    from recheck.testing.gate import filler

    # ~30 KB on the wire at 4 KB/s: several seconds, against a 1 s budget.
    gate.sim.add_build(
        job_name="slow-job", result="FAILURE", end_time=UNTIL - dt.timedelta(hours=2), change=100600,
        project="openstack/glance", log=filler(300_000, seed="slow"), rate=4096,
    )
    window = GateWindow(UNTIL - dt.timedelta(days=7), UNTIL)
    (build,) = list_builds(build_session(FAST_HTTP), gate.sim.zuul_url, "openstack", window, projects=["openstack/glance"])

    analysis = analyse_build(BuildTask(build, AnalysisSettings(http=FAST_HTTP, build_timeout=1.0)))

    assert not analysis.complete
    assert any("deadline" in w or "cut short" in w for w in analysis.warnings), analysis.warnings
