"""The recheck comment: a bug when we are sure, else a short reason, never bare."""
from __future__ import annotations

from recheck import BugMatch, Failure, FailureKind, JobReport, suggest
from recheck.suggestion import short_test_id

TEST = Failure(FailureKind.TEST, "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard", "boom")


def bug(number, score):
    return BugMatch(number, "t", None, f"https://bugs.launchpad.net/bugs/{number}", score, "signature")


def test_confident_bug_on_a_voting_job_wins():
    jobs = [JobReport("tempest-full", "FAILURE", None, failures=(TEST,), bugs=(bug(1, 0.7), bug(2, 1.0)))]
    assert suggest(jobs) == "recheck bug #2"


def test_unconfident_bug_gives_a_reason_naming_the_test():
    jobs = [JobReport("tempest-full", "FAILURE", None, failures=(TEST,), bugs=(bug(1, 0.7),))]
    s = suggest(jobs)
    assert s == "recheck - tempest-full: tempest.api.compute...ServerActionsTestJSON.test_reboot_server_hard failed"
    assert len(s) <= 140


def test_non_voting_jobs_never_drive_the_comment():
    nv = JobReport("grenade", "FAILURE", None, failures=(TEST,), bugs=(bug(9, 1.0),), voting=False)
    v = JobReport("tempest-full", "FAILURE", None, failures=(TEST,))
    assert suggest([nv, v]).startswith("recheck - tempest-full:")
    assert suggest([nv]) is None


def test_passing_jobs_do_not_count_and_nothing_failed_means_no_comment():
    ok = JobReport("pep8", "SUCCESS", None)
    assert suggest([ok]) is None
    assert suggest([]) is None


def test_reasons_for_each_kind_and_never_bare():
    cases = {
        FailureKind.TIMEOUT: "recheck - j: timed out (RUN END RESULT_TIMED_OUT: [x])",
        FailureKind.INFRA: "recheck - j: infrastructure failure: host unreachable",
        FailureKind.SETUP: "recheck - j: setup failed: [ERROR] lib/keystone:456 keystone did not start",
        FailureKind.TASK: "recheck - j: all/Run/host failed: rc=1",
    }
    messages = {
        FailureKind.TIMEOUT: "RUN END RESULT_TIMED_OUT: [x]",
        FailureKind.INFRA: "host unreachable",
        FailureKind.SETUP: "[ERROR] lib/keystone:456 keystone did not start",
        FailureKind.TASK: "rc=1",
    }
    for kind, expected in cases.items():
        f = Failure(kind, "all/Run/host", messages[kind])
        assert suggest([JobReport("j", "FAILURE", None, failures=(f,))]) == expected
    assert suggest([JobReport("j", "NODE_FAILURE", None)]) == "recheck - j: NODE_FAILURE with no failure identified in the log"


def test_several_failed_tests_are_counted():
    other = Failure(FailureKind.TEST, "a.T.test_b", "x")
    s = suggest([JobReport("j", "FAILURE", None, failures=(other, TEST))])
    assert s == "recheck - j: a.T.test_b failed (and 1 more)"


def test_short_test_id():
    assert short_test_id("a.b.c") == "a.b.c"
    assert short_test_id("tempest.api.x[id-1,smoke]") == "tempest.api.x"
