"""The verdict table through ``ostk recheck`` (``ostk.cli.main()``) against the simulator with history."""
from __future__ import annotations

import json

import pytest

import recheck
from ostk.errors import ExitStatus
from recheck.review import RecheckRefused, RefusalReason
from recheck.testing import CISimulator, SimBug, SimJob

from .conftest import Recheck
from .logs import OTHER_TEMPEST_TEST, TEMPEST_TEST, UNIT_TEST, stestr_failure

CHANGE = 123456


def _review(sim: CISimulator, *jobs: SimJob, patchsets: int = 1) -> None:
    sim.add_change(CHANGE, project="openstack/nova", patchsets=patchsets)
    sim.add_buildset(CHANGE, patchsets, pipeline="check", jobs=[*jobs, SimJob("openstack-tox-pep8", "SUCCESS")])


def _json(recheck: Recheck, *argv: str) -> dict:
    assert recheck(str(CHANGE), "--json", *argv) == 0, recheck.stderr
    return json.loads(recheck.stdout)


def _verdict(doc: dict, job: str) -> dict:
    return next(j for j in doc["jobs"] if j["name"] == job)["verdict"]


def test_a_test_failing_on_many_other_changes_is_flaky(sim, recheck):
    _review(sim, SimJob("tempest-full", "FAILURE", log=stestr_failure(TEMPEST_TEST)))
    sim.history.add_builds("tempest-full", "FSFFSSFS", first_change=900, log=stestr_failure(TEMPEST_TEST))
    doc = _json(recheck)
    assert doc["verdict"]["kind"] == "flaky"
    verdict = _verdict(doc, "tempest-full")
    assert verdict["kind"] == "flaky" and verdict["confidence"] >= 0.8
    # The search stops once 2 other changes confirm it (the later failures are never read).
    assert verdict["evidence"][0] == f"{TEMPEST_TEST} also failed on 2 other changes (900, 902)"
    assert "tempest-full failed 4 of 8 gate builds on master (other changes, final builds)" in verdict["evidence"]
    assert doc["suggestion"] == (
        "recheck - tempest-full: tempest.api.compute...ServerActionsTestJSON.test_reboot_server_hard "
        "(also failing on 2 other changes)"
    )
    assert doc["advice"] is None and doc["warnings"] == []


def test_a_unit_test_in_a_file_the_change_modifies_is_the_change(sim, recheck):
    _review(sim, SimJob("openstack-tox-py312", "FAILURE", log=stestr_failure(UNIT_TEST)))
    sim.history.set_files(CHANGE, 1, ["nova/compute/manager.py", "releasenotes/notes/fix-1.yaml"])
    sim.history.add_builds("openstack-tox-py312", "SSSSSSSSSF", first_change=900, pipeline="check", log=stestr_failure(OTHER_TEMPEST_TEST))
    doc = _json(recheck)
    assert doc["verdict"]["kind"] == "change"
    verdict = _verdict(doc, "openstack-tox-py312")
    assert verdict["kind"] == "change" and verdict["confidence"] == 0.9
    assert verdict["evidence"][0] == f"{UNIT_TEST} tests nova/compute/manager.py, which this change modifies"
    assert doc["suggestion"] is None
    assert doc["advice"] == f"{UNIT_TEST} fails in openstack-tox-py312; this change modifies nova/compute/manager.py: look there first"

    # --post refuses, with the refusal's exit code and reason; nothing reaches Gerrit.
    assert recheck(str(CHANGE), "--post", "--yes") == ExitStatus.REFUSED
    assert "not posting (caused-by-change): the failure is most likely caused by this change" in recheck.stderr
    assert "Traceback" not in recheck.stderr
    assert sim.posted_messages(CHANGE) == []

    # --force posts a comment that says what failed, never a bare recheck.
    assert recheck(str(CHANGE), "--post", "--yes", "--force") == 0, recheck.stderr
    assert sim.posted_messages(CHANGE) == [
        "Patch Set 1:\n\nrecheck - openstack-tox-py312: nova.tests.unit...ComputeManagerUnitTestCase.test_build_and_run_instance"
    ]


def test_the_refusal_is_a_typed_exception_for_library_callers(sim):
    _review(sim, SimJob("openstack-tox-pep8-strict", "FAILURE", log=b"2026-11-20 08:00:00.1 | ./nova/a.py:1:80: E501 line too long\n2026-11-20 08:00:00.2 | pep8: FAIL code 1\n"))
    with pytest.raises(RecheckRefused) as refused:
        recheck.check_review(str(CHANGE), gerrit=sim.gerrit_url, zuul=sim.zuul_url, launchpad=sim.launchpad_url,
                             post=True, environ={"OSTK_GERRIT_USER": sim.username, "OSTK_GERRIT_PASSWORD": sim.password})
    assert refused.value.reason is RefusalReason.CAUSED_BY_CHANGE


def test_a_matching_gate_failure_bug_is_a_known_bug(sim, recheck):
    _review(sim, SimJob("tempest-full", "FAILURE", log=stestr_failure(TEMPEST_TEST, message="tempest.lib.exceptions.TimeoutException: Request timed out")))
    sim.add_bug(SimBug(2012345, "test_reboot_server_hard times out waiting for ACTIVE", projects=("tempest",), tags=("gate-failure",)))
    doc = _json(recheck)
    assert doc["verdict"]["kind"] == "known-bug"
    verdict = _verdict(doc, "tempest-full")
    assert verdict["kind"] == "known-bug" and verdict["confidence"] >= 0.8
    assert verdict["evidence"][0].startswith("bug #2012345 (test_reboot_server_hard times out waiting for ACTIVE, New) explains")
    assert doc["suggestion"] == "recheck bug #2012345"


def test_a_bug_explaining_one_of_two_failures_says_which_it_does_not(sim, recheck):
    log = stestr_failure(TEMPEST_TEST, OTHER_TEMPEST_TEST)
    _review(sim, SimJob("tempest-full", "FAILURE", log=log))
    sim.add_bug(SimBug(2012345, "test_reboot_server_hard times out", projects=("tempest",), tags=("gate-failure",)))
    doc = _json(recheck)
    verdict = _verdict(doc, "tempest-full")
    assert verdict["kind"] == "known-bug"
    assert f"bug #2012345 does not explain {OTHER_TEMPEST_TEST}" in verdict["evidence"]
    assert doc["suggestion"] == "recheck bug #2012345"


def test_node_failure_is_infra(sim, recheck):
    _review(sim, SimJob("tempest-full", "NODE_FAILURE", has_logs=False, error_detail="Node request 300-0023 failed", duration="0s"))
    doc = _json(recheck)
    assert doc["verdict"]["kind"] == "infra" and _verdict(doc, "tempest-full")["confidence"] == 0.9
    assert doc["suggestion"] == "recheck - tempest-full: infrastructure failure (NODE_FAILURE)"


def test_zuul_history_down_still_gives_a_verdict_with_a_warning(sim, recheck):
    _review(sim, SimJob("openstack-tox-py312", "FAILURE", log=stestr_failure(UNIT_TEST)))
    sim.history.set_files(CHANGE, 1, ["nova/compute/manager.py"])
    sim.history.down = True
    doc = _json(recheck)
    assert doc["verdict"]["kind"] == "change"  # from the change's files alone
    assert any(w.startswith("job history unavailable (Zuul builds API): ") and "503" in w for w in doc["warnings"])


def test_zuul_entirely_down_still_gives_a_verdict_from_what_is_left(sim, recheck):
    _review(
        sim,
        SimJob("openstack-tox-py312", "FAILURE", log=stestr_failure(UNIT_TEST)),
        SimJob("grenade", "NODE_FAILURE", has_logs=False, error_detail="Node request 300-0023 failed"),
    )
    sim.fail_next("zuul", 1000)
    doc = _json(recheck)
    # The comment's job list still names the node failure; the unit job's logs cannot be found.
    assert _verdict(doc, "grenade")["kind"] == "infra"
    unit = _verdict(doc, "openstack-tox-py312")
    assert unit["kind"] == "unknown" and unit["evidence"][0].startswith("its logs were not analysed: ")
    assert doc["verdict"]["kind"] == "infra" and doc["verdict"]["confidence"] < 0.9
    assert "no verdict for openstack-tox-py312: a recheck may not be enough" in doc["verdict"]["evidence"]
    assert any(w.startswith("job history unavailable (Zuul builds API): ") for w in doc["warnings"])


def test_no_history_asks_zuul_nothing_about_other_changes(sim, recheck):
    _review(sim, SimJob("tempest-full", "FAILURE", log=stestr_failure(TEMPEST_TEST)))
    sim.history.add_builds("tempest-full", "FFFF", first_change=900, log=stestr_failure(TEMPEST_TEST))
    doc = _json(recheck, "--no-history")
    assert not [p for _m, p in sim.requests if ("job_name=" in p and "change=" not in p) or "/logs/00/900" in p]
    assert doc["verdict"]["kind"] == "unknown"
    assert "the verdict is unknown: look at the failure before rechecking" in doc["warnings"]
    assert doc["suggestion"].startswith("recheck - tempest-full: ")


def test_the_same_test_on_the_previous_patch_set_is_the_change(sim, recheck):
    sim.add_change(CHANGE, project="openstack/nova", patchsets=1)
    sim.add_buildset(CHANGE, 1, jobs=[SimJob("tempest-full", "FAILURE", log=stestr_failure(TEMPEST_TEST))])
    sim.add_patchset(CHANGE)
    sim.add_buildset(CHANGE, 2, jobs=[SimJob("tempest-full", "FAILURE", log=stestr_failure(TEMPEST_TEST))])
    sim.history.add_builds("tempest-full", "SSSSSSSSSS", first_change=900)
    doc = _json(recheck)
    verdict = _verdict(doc, "tempest-full")
    assert verdict["kind"] == "change"
    assert verdict["evidence"][0] == f"{TEMPEST_TEST} fails on the previous patch set"


def test_text_output_puts_the_verdict_first_and_evidence_under_each_job(sim, recheck):
    _review(
        sim,
        SimJob("tempest-full", "FAILURE", log=stestr_failure(TEMPEST_TEST)),
        SimJob("grenade", "NODE_FAILURE", has_logs=False, error_detail="Node request 300-0023 failed"),
    )
    sim.history.add_builds("tempest-full", "FFF", first_change=900, log=stestr_failure(TEMPEST_TEST))
    assert recheck(str(CHANGE)) == 0, recheck.stderr
    lines = recheck.stdout.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("Verdict: "))
    assert lines[top] == "Verdict: flaky (0.80)"
    assert lines[top + 1 : top + 3] == ["  - tempest-full: flaky", "  - grenade: infra"]
    assert top < next(i for i, line in enumerate(lines) if line.startswith("tempest-full"))
    assert "  verdict: flaky (0.80)" in lines
    assert f"    - {TEMPEST_TEST} also failed on 2 other changes (900, 901)" in lines
    assert "  verdict: infra (0.90)" in lines
