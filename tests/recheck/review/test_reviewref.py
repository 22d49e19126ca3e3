"""The REVIEW argument: every form people paste, and what is not a review."""
from __future__ import annotations

from pathlib import Path

import pytest

from ostk.errors import UsageError
from recheck.reviewref import DEFAULT_GERRIT, gerrit_base, is_review, parse_review


def test_a_change_number_names_the_change():
    assert parse_review("123456").change == 123456
    assert parse_review("123456").gerrit is None


def test_a_number_with_a_patch_set():
    target = parse_review("123456,3")
    assert (target.change, target.patchset) == (123456, 3)


def test_new_gerrit_url_with_project_and_patch_set():
    target = parse_review("https://review.opendev.org/c/openstack/nova/+/123456/3")
    assert (target.change, target.patchset, target.project) == (123456, 3, "openstack/nova")
    assert target.gerrit == "https://review.opendev.org"


def test_new_gerrit_url_without_patch_set_and_with_a_file_path():
    target = parse_review("https://review.opendev.org/c/openstack/nova/+/123456/3/nova/api.py")
    assert (target.change, target.patchset) == (123456, 3)
    assert parse_review("https://review.opendev.org/c/openstack/nova/+/123456").patchset is None


def test_short_url():
    target = parse_review("https://review.opendev.org/123456")
    assert (target.change, target.gerrit) == (123456, "https://review.opendev.org")


def test_old_gwt_url_with_fragment():
    target = parse_review("https://review.openstack.org/#/c/123456/")
    assert (target.change, target.gerrit) == (123456, "https://review.openstack.org")
    assert parse_review("https://review.openstack.org/#/c/123456/4").patchset == 4


def test_gerrit_under_a_path_prefix():
    target = parse_review("https://example.org/gerrit/c/openstack/nova/+/42")
    assert target.gerrit == "https://example.org/gerrit"


def test_change_id():
    change_id = "I0ce62e720e797718dbfde6bfcd4b22a213985867"
    assert parse_review(change_id).change_id == change_id


def test_zuul_build_page():
    target = parse_review("https://zuul.opendev.org/t/openstack/build/" + "a" * 32)
    assert (target.zuul_build, target.zuul, target.tenant) == ("a" * 32, "https://zuul.opendev.org", "openstack")


@pytest.mark.parametrize(
    "text",
    [
        "job-output.txt.gz",
        "http://logs.openstack.org/31/64831/1/check/check-tempest-dsvm-full/287c655",
        "https://zuul.opendev.org/t/openstack/build/abc/log/job-output.txt",
        "I0ce62e72",  # a short Change-Id prefix is ambiguous by nature
        "ftp://review.opendev.org/123",
    ],
)
def test_logs_and_junk_are_not_reviews(text):
    assert not is_review(text)
    with pytest.raises(UsageError):
        parse_review(text)


def test_gerrit_base_precedence(tmp_path: Path):
    repo = tmp_path / "nova"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitreview").write_text("[gerrit]\nhost=review.example.org\nport=29418\nproject=openstack/nova.git\n")
    sub = repo / "nova" / "api"
    sub.mkdir(parents=True)
    assert gerrit_base("https://flag.example/", {"OSTK_GERRIT_URL": "https://env.example"}, sub) == "https://flag.example"
    assert gerrit_base(None, {"OSTK_GERRIT_URL": "https://env.example/"}, sub) == "https://env.example"
    assert gerrit_base(None, {}, sub) == "https://review.example.org"
    assert gerrit_base(None, {}, tmp_path) == DEFAULT_GERRIT
