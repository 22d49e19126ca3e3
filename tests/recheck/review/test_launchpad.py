"""Launchpad search and ranking, against the simulator's searchTasks."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from ostk.errors import ServiceError
from recheck.launchpad import (
    LaunchpadBugFinder,
    LaunchpadClient,
    merge_matches,
    normalise_message,
    search_terms,
)
from recheck.models import BugMatch, Failure, FailureKind
from recheck.testing import SimBug

TEST_ID = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard"
FAILURE = Failure(FailureKind.TEST, TEST_ID + "[id-2cb1baf6,smoke]", "AssertionError: Server 4f1c2a9e-1b2c-4d5e-8f90-123456789abc failed to reach ACTIVE status within 196 s")


def test_search_terms_are_test_id_method_and_message():
    terms = search_terms(FAILURE)
    assert terms[0] == TEST_ID
    assert terms[1] == "test_reboot_server_hard"
    # Launchpad ANDs the words: the exception and the few longest words, not the whole message.
    assert terms[2] == "AssertionError Server ACTIVE status"


def test_normalised_messages_drop_ids_numbers_and_addresses():
    text = "Failed to connect to 10.0.0.5:22 after 300 seconds (request req-0a1b2c3d4e5f) at /opt/stack/nova/x.py"
    assert normalise_message(text) == "Failed to connect to after seconds request req- at"


def test_search_includes_fixed_statuses(sim):
    sim.add_bug(SimBug(1, "reboot hard broken", status="Fix Released"))
    client = LaunchpadClient(sim.launchpad_url)
    assert [t.number for t in client.search_tasks("openstack", "reboot hard")] == [1]
    query = parse_qs(urlsplit(next(p for m, p in sim.requests if "searchTasks" in p)).query)
    assert {"Fix Committed", "Fix Released", "New"} <= set(query["status"])
    # Launchpad's default (no status=) hides fixed bugs; the simulator does too.
    assert client.search_tasks("openstack", "reboot hard", statuses=()) == []


def test_ranking_prefers_exact_test_id_same_project_and_open_bugs(sim):
    sim.add_bug(SimBug(10, "reboot server hard flaky", description=f"{TEST_ID} fails", projects=("nova",), heat=50))
    sim.add_bug(SimBug(11, "reboot server hard flaky", description=f"{TEST_ID} fails", projects=("nova",), heat=50, status="Fix Released"))
    sim.add_bug(SimBug(12, "test_reboot_server_hard is slow", projects=("tempest",), heat=2, date_last_updated="2019-01-01T00:00:00+00:00"))
    finder = LaunchpadBugFinder(LaunchpadClient(sim.launchpad_url))
    matches = finder.find([FAILURE], "openstack/nova")
    assert [m.number for m in matches] == [10, 11, 12]
    best = matches[0]
    assert best.source == "launchpad" and best.score >= 0.8
    assert "the exact test id is in the bug" in best.why and "same project (nova)" in best.why
    assert any("Fix Released" in why for why in matches[1].why)
    assert matches[2].score < 0.5


def test_a_down_launchpad_raises_a_service_error_quickly(sim):
    sim.launchpad_down = True
    finder = LaunchpadBugFinder(LaunchpadClient(sim.launchpad_url))
    with pytest.raises(ServiceError, match="503"):
        finder.find([FAILURE], "openstack/nova")
    # One quick retry, not a storm of searches.
    assert len([p for m, p in sim.requests if "searchTasks" in p]) == 2


def test_merge_with_signature_matches():
    signature = BugMatch(5, "sig", None, "u5", 1.0, "signature", ("signature 5",))
    lp_same = BugMatch(5, "Bug five", "Confirmed", "u5", 0.7, "launchpad", ("search",))
    lp_other = BugMatch(6, "Bug six", "New", "u6", 0.9, "launchpad", ())
    merged = merge_matches([signature], [lp_same, lp_other])
    assert [m.number for m in merged] == [5, 6]
    assert merged[0].status == "Confirmed" and merged[0].source == "signature"
    assert merged[0].why == ("signature 5", "search")


def test_searches_are_cached_on_disk_for_a_while(sim, tmp_path):
    import os
    import stat as stat_mod

    sim.add_bug(SimBug(1, "reboot hard broken"))
    client = LaunchpadClient(sim.launchpad_url, cache_dir=tmp_path / "lp")
    assert [t.number for t in client.search_tasks("openstack", "reboot hard")] == [1]
    again = LaunchpadClient(sim.launchpad_url, cache_dir=tmp_path / "lp")
    assert [t.number for t in again.search_tasks("openstack", "reboot hard")] == [1]
    assert len([p for m, p in sim.requests if "searchTasks" in p]) == 1
    assert stat_mod.S_IMODE(os.stat(tmp_path / "lp").st_mode) == 0o700
    expired = LaunchpadClient(sim.launchpad_url, cache_dir=tmp_path / "lp", cache_ttl=0)
    expired.search_tasks("openstack", "reboot hard")
    assert len([p for m, p in sim.requests if "searchTasks" in p]) == 2
