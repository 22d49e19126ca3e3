"""The Gerrit client against the simulator: XSSI, /a/ + Basic auth, lookups, retries."""
from __future__ import annotations

import pytest

from ostk.errors import AuthFailed, ConfigError, NotFound
from ostk.http import HttpSettings, build_session
from recheck.gerrit import GerritClient, GerritCredentials, parse_json


def test_xssi_prefix_is_stripped():
    assert parse_json(")]}'\n{\"a\": 1}", what="x") == {"a": 1}
    assert parse_json('{"a": 1}', what="x") == {"a": 1}


def test_reads_a_change_with_its_messages(sim):
    sim.add_change(4242, project="openstack/keystone", patchsets=3)
    sim.add_message(4242, "recheck", patchset=3, author="dev")
    change = GerritClient(sim.gerrit_url).change(4242)
    assert (change.number, change.project, change.current_patchset) == (4242, "openstack/keystone", 3)
    assert change.messages[-1].author == "dev" and change.messages[-1].patchset == 3
    assert change.messages[-1].date is not None
    assert change.url == f"{sim.gerrit_url}/c/openstack/keystone/+/4242"


def test_missing_change_names_it(sim):
    with pytest.raises(NotFound, match="change 999 not found"):
        GerritClient(sim.gerrit_url).change(999)


def test_503_bursts_are_retried(sim):
    sim.add_change(7)
    sim.fail_next("gerrit", 2)
    session = build_session(HttpSettings(backoff=0.01))
    assert GerritClient(sim.gerrit_url, session=session).change(7).number == 7
    assert sum(1 for m, p in sim.requests if p.startswith("/changes/7")) == 3


def test_query_by_change_id(sim):
    sim.add_change(1, project="openstack/nova", change_id="I" + "1" * 40)
    sim.add_change(2, project="openstack/nova", branch="stable/2025.1", change_id="I" + "1" * 40)
    found = GerritClient(sim.gerrit_url).query_change_id("I" + "1" * 40)
    assert sorted((c.number, c.branch) for c in found) == [(1, "master"), (2, "stable/2025.1")]


def test_post_uses_a_prefix_and_basic_auth(sim):
    sim.add_change(5)
    client = GerritClient(sim.gerrit_url, credentials=GerritCredentials(sim.username, sim.password))
    client.post_review(5, "recheck bug #1")
    assert sim.posted_messages(5) == ["Patch Set 1:\n\nrecheck bug #1"]
    assert ("POST", "/a/changes/5/revisions/current/review") in sim.requests


def test_wrong_password_is_auth_failed_and_posts_once(sim):
    sim.add_change(5)
    client = GerritClient(sim.gerrit_url, credentials=GerritCredentials(sim.username, "wrong"))
    with pytest.raises(AuthFailed, match="HTTP password"):
        client.post_review(5, "recheck bug #1")
    assert sim.posted_messages(5) == []


def test_a_post_is_never_retried(sim):
    sim.add_change(5)
    sim.fail_next("gerrit", 1)
    client = GerritClient(sim.gerrit_url, credentials=GerritCredentials(sim.username, sim.password))
    with pytest.raises(Exception, match="503"):
        client.post_review(5, "recheck bug #1")
    assert [p for m, p in sim.requests if m == "POST"] == ["/a/changes/5/revisions/current/review"]


def test_posting_without_credentials_says_where_to_put_them(sim):
    with pytest.raises(ConfigError, match="netrc"):
        GerritClient(sim.gerrit_url).post_review(5, "recheck")


def test_credentials_from_netrc_and_environment(tmp_path):
    (tmp_path / ".netrc").write_text("machine review.opendev.org login alice password pw1\n")
    creds = GerritCredentials.from_environ({"HOME": str(tmp_path)}, "review.opendev.org")
    assert (creds.username, creds.password) == ("alice", "pw1")
    assert "pw1" not in repr(creds)
    assert GerritCredentials.from_environ({"HOME": str(tmp_path)}, "other.example") is None
    env_creds = GerritCredentials.from_environ(
        {"HOME": str(tmp_path), "OSTK_GERRIT_USER": "bob", "OSTK_GERRIT_PASSWORD": "pw2"}, "review.opendev.org"
    )
    assert env_creds.username == "bob"
    with pytest.raises(ConfigError):
        GerritCredentials.from_environ({"OSTK_GERRIT_USER": "bob"}, "x")
