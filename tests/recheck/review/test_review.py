"""The library entry point for scripts: ``recheck.review.check_review``."""
from __future__ import annotations

import pytest

from ostk.errors import NotFound, UsageError
from ostk.http import HttpSettings, build_session
from recheck.gerrit import GerritClient
from recheck.logcache import LogCache
from recheck.review import check_review
from recheck.testing import SimBug, SimJob

from .conftest import TEMPEST_FAILURE, TEMPEST_TEST


def _setup(sim):
    sim.add_change(300, project="openstack/nova", patchsets=2)
    jobs = sim.add_buildset(300, 2, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE), SimJob("pep8", "SUCCESS")])
    sim.add_bug(SimBug(1900002, "reboot hard fails", description=TEMPEST_TEST, projects=("nova",)))
    return jobs


def test_gerrit_url_names_the_server_and_patch_set(sim, tmp_path):
    _setup(sim)
    report = check_review(sim.change_url(300, 2), launchpad=sim.launchpad_url, cache=LogCache(tmp_path))
    assert (report.review.change, report.review.patchset) == (300, 2)
    assert report.suggestion == "recheck bug #1900002"


def test_zuul_build_url_resolves_through_the_build_api(sim):
    jobs = _setup(sim)
    report = check_review(sim.build_url(jobs[0].uuid), gerrit=sim.gerrit_url, launchpad=sim.launchpad_url)
    assert report.review.change == 300 and report.review.patchset == 2
    assert report.jobs[0].failures[0].id == TEMPEST_TEST


def test_old_patch_set_has_no_ci_results(sim):
    _setup(sim)
    report = check_review("300", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, patchset=1)
    assert report.jobs == () and report.suggestion is None
    assert any("no CI results" in w for w in report.warnings)


def test_unknown_patch_set_is_a_usage_error(sim):
    _setup(sim)
    with pytest.raises(UsageError, match="no patch set 7"):
        check_review("300", gerrit=sim.gerrit_url, patchset=7)


def test_unknown_change_id_is_not_found(sim):
    with pytest.raises(NotFound, match="no change with Change-Id"):
        check_review("I" + "9" * 40, gerrit=sim.gerrit_url)


def test_a_bot_can_pass_clients_and_a_confirmation(sim):
    _setup(sim)
    session = build_session(HttpSettings(backoff=0.01))
    from recheck.gerrit import GerritCredentials

    gerrit = GerritClient(sim.gerrit_url, session=session, credentials=GerritCredentials(sim.username, sim.password))
    asked = []
    report = check_review(
        "300", gerrit=gerrit, launchpad=sim.launchpad_url, post=True,
        confirm=lambda comment, rep: asked.append(comment) or False,
    )
    assert asked == ["recheck bug #1900002"] and report.posted is False
    assert sim.posted_messages(300) == []
    report = check_review("300", gerrit=gerrit, launchpad=sim.launchpad_url, post=True, confirm=lambda c, r: True)
    assert report.posted is True
    assert sim.posted_messages(300) == ["Patch Set 2:\n\nrecheck bug #1900002"]


def test_zuul_builds_api_fills_in_jobs_without_a_comment(sim):
    sim.add_change(301, project="openstack/nova")
    sim.add_buildset(301, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE)])
    # Drop the comment: only the builds API knows the build now.
    sim._changes[301].messages = sim._changes[301].messages[:1]
    report = check_review("301", gerrit=sim.gerrit_url, zuul=sim.zuul_url, launchpad=sim.launchpad_url)
    assert [j.name for j in report.jobs] == ["tempest-full"]
    assert report.jobs[0].failures[0].id == TEMPEST_TEST


def test_big_logs_are_analysed_in_child_processes(sim, monkeypatch):
    from recheck.review import child

    def not_here(*args, **kwargs):
        raise AssertionError("analysed in-process")

    monkeypatch.setattr(child, "engine_analyze", not_here)
    # Whatever the CI machine has: two CPUs, so both logs get a child.
    monkeypatch.setattr(child, "usable_cpus", lambda: 2)
    monkeypatch.setattr(child, "CHILD_SLOTS", __import__("threading").BoundedSemaphore(2))
    sim.add_change(302, project="openstack/nova")
    sim.add_buildset(
        302, 1,
        jobs=[
            SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE + b"filler\n" * 5000),
            SimJob("tempest-cut", "FAILURE", log=TEMPEST_FAILURE + b"z" * 300000, encoding="plain", truncate_at=200000),
        ],
    )
    report = check_review(
        "302", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, process_threshold=1
    )
    jobs = {j.name: j for j in report.jobs}
    assert jobs["tempest-full"].failures[0].id == TEMPEST_TEST and not jobs["tempest-full"].truncated
    assert jobs["tempest-cut"].failures[0].id == TEMPEST_TEST and jobs["tempest-cut"].truncated


def test_ctrl_c_stops_child_analyses_and_caches_nothing(sim, tmp_path):
    import multiprocessing
    import os
    import signal
    import threading
    import time

    sim.add_change(303, project="openstack/nova")
    sim.add_buildset(
        303, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE + b"w" * 600000, encoding="plain", rate=150000)]
    )
    cache = LogCache(tmp_path / "cache")
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            check_review("303", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, cache=cache, process_threshold=1)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 3.5
    assert not cache.directory.exists() or list(cache.directory.iterdir()) == []
    assert not [c for c in multiprocessing.active_children() if c.name.startswith("ostk-analyse")]


def test_an_unwritable_cache_costs_a_warning_not_the_analysis(sim, tmp_path):
    _setup(sim)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    report = check_review("300", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, cache=LogCache(blocker / "c"))
    assert report.jobs[0].failures[0].id == TEMPEST_TEST
    assert any(w.startswith("not cached:") for w in report.jobs[0].warnings)


def test_zuul_url_with_tenant_and_old_flat_builds(sim):
    jobs = _setup(sim)
    sim.zuul_flat_builds = True
    report = check_review(
        sim.build_url(jobs[0].uuid), gerrit=sim.gerrit_url, zuul=f"{sim.zuul_url}/t/openstack",
        launchpad=sim.launchpad_url,
    )
    assert (report.review.change, report.review.patchset) == (300, 2)
    assert any(p.startswith("/zuul/api/tenant/openstack/builds?") for m, p in sim.requests)
    # The builds API answered for every job: no per-build request after it.
    assert [p for m, p in sim.requests if "/build/" in p] == [f"/zuul/api/tenant/openstack/build/{jobs[0].uuid}"]


def test_old_gerrit_url_form(sim):
    _setup(sim)
    report = check_review(f"{sim.url}/#/c/300/2", launchpad=sim.launchpad_url)
    assert (report.review.change, report.review.patchset) == (300, 2)


def test_one_timeout_bounds_the_whole_review(sim):
    import time

    from ostk.errors import RequestTimeout

    sim.add_change(304, project="openstack/nova")
    sim.add_buildset(304, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE + b"w" * 400000,
                                          encoding="plain", rate=50000)])
    started = time.monotonic()
    report = check_review("304", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, timeout=2)
    assert time.monotonic() - started < 5
    [job] = report.jobs
    assert job.truncated and any("cut short" in w for w in job.warnings)
    # Out of time, Gerrit itself fails with the deadline's error.
    with pytest.raises(RequestTimeout):
        check_review("304", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, timeout=1e-9)
