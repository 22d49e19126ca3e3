"""decide(): the verdict rules on typed evidence, no I/O."""
from __future__ import annotations

from recheck.models import BugMatch, Failure, FailureKind, JobReport
from recheck.verdict import (
    Evidence,
    JobHistory,
    VerdictKind,
    decide,
    failure_key,
    files_of_test,
)

UNIT = "nova.tests.unit.compute.test_manager.ComputeManagerUnitTestCase.test_build_and_run_instance"
TEMPEST = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard"


def _test(test_id: str, message: str = "AssertionError: boom") -> Failure:
    return Failure(FailureKind.TEST, test_id, message)


def _job(name: str, *failures: Failure, result: str = "FAILURE", bugs: tuple[BugMatch, ...] = ()) -> JobReport:
    return JobReport(name, result, None, failures=failures, bugs=bugs, pipeline="check")


def _history(job: str, elsewhere: dict[str, tuple[int, ...]] | None = None, *, gate=(0, 10), check=(1, 10)) -> JobHistory:
    return JobHistory(
        job, "master", gate_failed=gate[0], gate_total=gate[1], check_failed=check[0], check_total=check[1],
        analysed=4, elsewhere=elsewhere or {},
    )


def test_test_files_maps_a_unit_test_to_its_module_and_the_module_it_tests():
    assert files_of_test(UNIT)[:2] == ("nova/tests/unit/compute/test_manager.py", "nova/compute/manager.py")
    assert files_of_test(TEMPEST + "[id-1,smoke]") == ("tempest/api/compute/servers/test_server_actions.py",)


def test_a_failure_seen_on_several_other_changes_is_flaky():
    job = _job("tempest-full", _test(TEMPEST))
    evidence = Evidence(histories={"tempest-full": _history("tempest-full", {failure_key(job.failures[0]): (11, 12, 13)})})
    result = decide([job], evidence)
    assert result.verdict is not None and result.verdict.kind is VerdictKind.FLAKY
    assert result.jobs["tempest-full"].confidence >= 0.8
    assert "also failed on 3 other changes (11, 12, 13)" in result.jobs["tempest-full"].evidence[0]
    # The comment shortens the id the way recheck.suggestion does.
    assert result.suggestion == (
        "recheck - tempest-full: tempest.api.compute...ServerActionsTestJSON.test_reboot_server_hard "
        "(also failing on 3 other changes)"
    )


def test_a_unit_test_of_a_touched_module_is_the_change_with_no_suggestion():
    job = _job("openstack-tox-py312", _test(UNIT))
    result = decide([job], Evidence(touched=("nova/compute/manager.py", "releasenotes/notes/x.yaml")))
    assert result.verdict is not None and result.verdict.kind is VerdictKind.CHANGE
    assert result.suggestion is None
    assert result.advice == f"{UNIT} fails in openstack-tox-py312; this change modifies nova/compute/manager.py: look there first"
    assert result.forced == "recheck - openstack-tox-py312: nova.tests.unit...ComputeManagerUnitTestCase.test_build_and_run_instance"


def test_being_seen_elsewhere_beats_a_touched_file():
    job = _job("openstack-tox-py312", _test(UNIT))
    evidence = Evidence(
        touched=("nova/compute/manager.py",),
        histories={"openstack-tox-py312": _history("openstack-tox-py312", {failure_key(job.failures[0]): (5, 6)})},
    )
    assert decide([job], evidence).jobs["openstack-tox-py312"].kind is VerdictKind.FLAKY


def test_a_confident_bug_names_itself_and_what_it_does_not_explain():
    bug = BugMatch(2001, "test_reboot_server_hard fails", "Confirmed", "u", 0.88, "launchpad")
    other = _test("tempest.api.compute.test_x.T.test_rebuild_server")
    job = _job("tempest-full", _test(TEMPEST), other, bugs=(bug,))
    result = decide([job], Evidence())
    verdict = result.jobs["tempest-full"]
    assert verdict.kind is VerdictKind.KNOWN_BUG
    assert "bug #2001 does not explain tempest.api.compute.test_x.T.test_rebuild_server" in verdict.evidence
    assert verdict.confidence < 0.88  # an unexplained failure lowers it
    assert result.suggestion == "recheck bug #2001"


def test_an_unconfident_bug_is_not_a_verdict():
    bug = BugMatch(2001, "test_reboot_server_hard fails", "Confirmed", "u", 0.52, "launchpad")
    result = decide([_job("tempest-full", _test(TEMPEST), bugs=(bug,))], Evidence())
    assert result.jobs["tempest-full"].kind is VerdictKind.UNKNOWN
    assert result.suggestion == "recheck - tempest-full: tempest.api.compute...ServerActionsTestJSON.test_reboot_server_hard"
    assert "the verdict is unknown: look at the failure before rechecking" in result.warnings


def test_node_failure_is_infra():
    job = _job("tempest-full", Failure(FailureKind.INFRA, "tempest-full", "no test node"), result="NODE_FAILURE")
    result = decide([job], Evidence())
    assert result.verdict is not None and result.verdict.kind is VerdictKind.INFRA
    assert result.suggestion == "recheck - tempest-full: infrastructure failure (NODE_FAILURE)"


def test_a_setup_failure_on_a_mirror_outage_is_infra():
    failure = Failure(FailureKind.SETUP, "devstack", "E: Failed to fetch http://mirror.dfw.rax.opendev.org/ubuntu 503")
    assert decide([_job("nova-next", failure)]).jobs["nova-next"].kind is VerdictKind.INFRA


def test_pep8_failing_is_the_change():
    failure = Failure(FailureKind.TASK, "tox", "./nova/compute/manager.py:12:80: E501 line too long")
    result = decide([_job("openstack-tox-pep8", failure)])
    assert result.jobs["openstack-tox-pep8"].kind is VerdictKind.CHANGE and result.suggestion is None


def test_the_same_test_in_several_jobs_of_a_healthy_job_is_the_change():
    jobs = [_job("openstack-tox-py311", _test(UNIT)), _job("openstack-tox-py312", _test(UNIT))]
    histories = {j.name: _history(j.name) for j in jobs}
    result = decide(jobs, Evidence(histories=histories))
    verdict = result.jobs["openstack-tox-py311"]
    assert verdict.kind is VerdictKind.CHANGE
    assert f"{UNIT} fails in openstack-tox-py312 too" in verdict.evidence


def test_the_same_test_on_the_previous_patch_set_is_the_change():
    job = _job("tempest-full", _test(TEMPEST))
    evidence = Evidence(
        previous={"tempest-full": (failure_key(job.failures[0]),)}, histories={"tempest-full": _history("tempest-full")}
    )
    assert decide([job], evidence).jobs["tempest-full"].kind is VerdictKind.CHANGE


def test_a_job_failing_often_in_the_gate_is_weakly_flaky():
    job = _job("tempest-full", _test(TEMPEST))
    evidence = Evidence(histories={"tempest-full": _history("tempest-full", gate=(4, 10))})
    verdict = decide([job], evidence).jobs["tempest-full"]
    assert verdict.kind is VerdictKind.FLAKY and verdict.confidence < 0.5
    assert "tempest-full failed 4 of 10 gate builds and 1 of 10 check builds on master (other changes, final builds)" in verdict.evidence


def test_the_review_verdict_puts_change_first_and_names_every_job():
    infra = _job("grenade", result="NODE_FAILURE")
    pep8 = _job("openstack-tox-pep8", Failure(FailureKind.TASK, "tox", "E501"))
    result = decide([infra, pep8])
    assert result.verdict is not None and result.verdict.kind is VerdictKind.CHANGE
    assert result.verdict.evidence == ("grenade: infra", "openstack-tox-pep8: change")


def test_non_voting_passed_and_no_vote_pipeline_jobs_get_no_verdict():
    passed = JobReport("pep8", "SUCCESS", None)
    non_voting = JobReport("tempest-slow", "FAILURE", None, failures=(_test(TEMPEST),), voting=False)
    experimental = JobReport("nova-exp", "FAILURE", None, failures=(_test(TEMPEST),), pipeline="experimental", pipeline_votes=False)
    result = decide([passed, non_voting, experimental])
    assert result.verdict is None and result.jobs == {} and result.suggestion is None
