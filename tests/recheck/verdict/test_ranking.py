"""Bug ranking: a gate-failure bug that names the failing test is confident."""
from __future__ import annotations

import datetime as _dt

from recheck.launchpad import BugTask
from recheck.models import BugMatch, Failure, FailureKind
from recheck.ranking import CONFIDENT, explains, rank

TEST_ID = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard"
FAILURE = Failure(FailureKind.TEST, TEST_ID + "[id-2cb1baf6,smoke]", "AssertionError: Server failed to reach ACTIVE status")
NOW = _dt.datetime(2026, 11, 30)


def _task(title: str, *, tags: tuple[str, ...] = (), status: str = "Confirmed", target: str = "tempest") -> BugTask:
    return BugTask(
        number=2001, title=title, status=status, target=target, url="https://bugs.launchpad.net/bugs/2001",
        heat=4, tags=tags, date_last_updated=NOW - _dt.timedelta(days=30),
    )


def _score(task: BugTask) -> BugMatch:
    return rank(task, failure=FAILURE, project="openstack/nova", matched_by="test_reboot_server_hard", now=NOW)


def test_a_gate_failure_bug_with_the_method_name_in_its_title_is_confident():
    match = _score(_task("test_reboot_server_hard fails intermittently", tags=("gate-failure",)))
    assert match.score >= CONFIDENT
    assert "tagged gate-failure with the test name (test_reboot_server_hard) in its title" in match.why


def test_the_same_bug_without_the_tag_is_not_confident():
    # This is what every such bug scored before the fix (about 0.5): never named.
    match = _score(_task("test_reboot_server_hard fails intermittently"))
    assert 0.4 < match.score < CONFIDENT


def test_the_full_id_in_the_title_with_the_tag_is_confident_too():
    assert _score(_task(f"{TEST_ID} times out", tags=("gate-failure",))).score >= CONFIDENT


def test_the_tag_without_the_test_in_the_title_is_not_enough():
    match = _score(_task("servers fail to reboot", tags=("gate-failure",)))
    assert match.score < CONFIDENT


def test_a_fixed_gate_failure_bug_is_no_longer_confident():
    match = _score(_task("test_reboot_server_hard fails", tags=("gate-failure",), status="Fix Released"))
    assert match.score < CONFIDENT and "already Fix Released" in match.why


def test_a_method_name_inside_a_longer_word_does_not_count():
    match = _score(_task("test_reboot_server_hardware fails", tags=("gate-failure",)))
    assert match.score < CONFIDENT


def test_explains_by_test_name_message_or_the_only_failure():
    bug = BugMatch(7, "test_reboot_server_hard fails", "New", "u", 0.9, "launchpad")
    other = Failure(FailureKind.TEST, "tempest.api.compute.test_x.T.test_rebuild_server", "boom")
    assert explains(bug, FAILURE) and not explains(bug, other)
    by_message = BugMatch(8, "Server failed to reach ACTIVE status", "New", "u", 0.9, "launchpad")
    assert explains(by_message, FAILURE)
    signature = BugMatch(9, "some signature", None, "u", 1.0, "signature")
    assert not explains(signature, other) and explains(signature, other, only_failure=True)
