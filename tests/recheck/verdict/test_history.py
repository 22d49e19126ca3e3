"""Evidence gathering against the simulator: Zuul's builds API, logs of other changes, Gerrit's files."""
from __future__ import annotations

import pytest

from ostk.errors import NotFound
from ostk.http import build_session
from recheck.gerrit import GerritClient
from recheck.history import BuildHistory, HistorySettings, changed_files, gather
from recheck.logcache import LogCache
from recheck.models import Failure, FailureKind, JobReport
from recheck.review.builds import ZuulClients
from recheck.review.download import AnalyserOptions, LogAnalyser
from recheck.review.locate import LogLocator
from recheck.review.types import NoProgress
from recheck.review.verdict import build_reader
from recheck.testing import CISimulator
from recheck.verdict import failure_key
from recheck.zuul import ZuulClient

from .logs import OTHER_TEMPEST_TEST, TEMPEST_TEST, stestr_failure


def _history(sim: CISimulator, tmp_path, **settings) -> BuildHistory:
    """The history source the review builds: its own log reader (locator, engine, cache) lent."""
    session = build_session()
    zuul = ZuulClient(sim.zuul_url, sim.tenant, session=session)
    reader = LogAnalyser(
        session=session,
        locate=LogLocator(ZuulClients(zuul, session), session).locate,
        progress=NoProgress(),
        options=AnalyserOptions(cache=LogCache(tmp_path / "analyses")),
    )
    return BuildHistory(zuul, cache_dir=tmp_path / "history", settings=HistorySettings(**settings), analyser=build_reader(reader))


def _logs_read(sim: CISimulator) -> list[str]:
    """The job-output.txt files read (each build's manifest is read first, as on OpenDev)."""
    return [p for _m, p in sim.requests if p.startswith("/logs/") and p.endswith("/job-output.txt")]


def _tempest_job() -> JobReport:
    return JobReport("tempest-full", "FAILURE", None, failures=(Failure(FailureKind.TEST, TEMPEST_TEST, "boom"),))


def test_builds_are_final_only_newest_first_and_limited(sim, tmp_path):
    sim.history.add_builds("tempest-full", "RFSSF", first_change=900)
    builds = _history(sim, tmp_path).builds(job_name="tempest-full", limit=3)
    assert [b.change for b in builds] == [901, 902, 903]  # 900's attempt was retried: not final
    assert [b.result for b in builds] == ["FAILURE", "SUCCESS", "SUCCESS"]
    query = next(p for m, p in sim.requests if "/builds?" in p)
    assert "final=true" in query and "job_name=tempest-full" in query


def test_changed_files_strip_the_xssi_prefix_and_pseudo_files(sim):
    sim.add_change(123456, patchsets=2)
    sim.history.set_files(123456, 2, ["nova/compute/manager.py"], deleted=["nova/old.py"])
    gerrit = GerritClient(sim.gerrit_url)
    assert changed_files(gerrit, 123456, 2) == ("nova/compute/manager.py", "nova/old.py")
    assert changed_files(gerrit, 123456, 1) == ()
    with pytest.raises(NotFound):
        changed_files(gerrit, 123456, 3)


def test_gather_counts_the_same_failure_on_other_changes_and_the_rates(sim, tmp_path):
    sim.add_change(123456)
    same, other = stestr_failure(TEMPEST_TEST), stestr_failure(OTHER_TEMPEST_TEST)
    sim.history.add_builds("tempest-full", "FFS", first_change=900, log=same)
    sim.history.add_builds("tempest-full", "FSSS", first_change=910, log=other, pipeline="check")
    sim.history.add_build("tempest-full", change=123456, log=same)  # the change itself never counts
    job = _tempest_job()
    evidence = gather([job], change=123456, patchset=1, branch="master", history=_history(sim, tmp_path), gerrit=GerritClient(sim.gerrit_url))
    history = evidence.histories["tempest-full"]
    assert (history.gate_failed, history.gate_total, history.check_failed, history.check_total) == (2, 3, 1, 4)
    assert history.elsewhere[failure_key(job.failures[0])] == (900, 901)
    assert history.analysed == 2  # the failure was confirmed on 2 changes: no more reads
    assert evidence.touched == () and evidence.warnings == ()


def test_a_second_gather_asks_zuul_nothing_and_reads_no_log(sim, tmp_path):
    sim.add_change(123456)
    sim.history.add_builds("tempest-full", "FFF", first_change=900, log=stestr_failure(TEMPEST_TEST))
    history = _history(sim, tmp_path)
    gather([_tempest_job()], change=123456, patchset=1, branch="master", history=history, gerrit=None)
    before = len(sim.requests)
    again = gather([_tempest_job()], change=123456, patchset=1, branch="master", history=_history(sim, tmp_path), gerrit=None)
    assert len(sim.requests) == before
    assert len(again.histories["tempest-full"].elsewhere[f"test:{TEMPEST_TEST}"]) == 2


def test_analyses_are_bounded_per_job(sim, tmp_path):
    sim.add_change(123456)
    sim.history.add_builds("tempest-full", "F" * 12, first_change=900, log=stestr_failure(OTHER_TEMPEST_TEST))
    evidence = gather([_tempest_job()], change=123456, patchset=1, branch="master", history=_history(sim, tmp_path, analyse=4), gerrit=None)
    assert evidence.histories["tempest-full"].analysed == 4
    assert len(_logs_read(sim)) == 4


def test_the_search_stops_once_the_failure_is_confirmed_elsewhere(sim, tmp_path):
    sim.add_change(123456)
    sim.history.add_builds("tempest-full", "F" * 12, first_change=900, log=stestr_failure(TEMPEST_TEST))
    evidence = gather([_tempest_job()], change=123456, patchset=1, branch="master", history=_history(sim, tmp_path, confirm=3), gerrit=None)
    assert evidence.histories["tempest-full"].elsewhere[f"test:{TEMPEST_TEST}"] == (900, 901, 902)
    assert len(_logs_read(sim)) == 3


def test_a_job_without_identified_failures_reads_no_other_logs(sim, tmp_path):
    sim.add_change(123456)
    sim.history.add_builds("grenade", "FFSS", first_change=900, log=stestr_failure(TEMPEST_TEST))
    job = JobReport("grenade", "NODE_FAILURE", None)
    evidence = gather([job], change=123456, patchset=1, branch="master", history=_history(sim, tmp_path), gerrit=None)
    assert evidence.histories["grenade"].gate_failed == 2
    assert not [p for m, p in sim.requests if p.startswith("/logs/")]


def test_the_previous_patch_set_failures_are_read(sim, tmp_path):
    sim.add_change(123456, patchsets=2)
    sim.history.add_build("tempest-full", change=123456, patchset=1, pipeline="check", log=stestr_failure(TEMPEST_TEST))
    evidence = gather([_tempest_job()], change=123456, patchset=2, branch="master", history=_history(sim, tmp_path), gerrit=None)
    assert evidence.previous == {"tempest-full": (f"test:{TEMPEST_TEST}",)}


def test_zuul_down_is_one_warning_and_the_files_still_come(sim, tmp_path):
    sim.add_change(123456)
    sim.history.set_files(123456, 1, ["nova/compute/manager.py"])
    sim.history.down = True
    evidence = gather([_tempest_job()], change=123456, patchset=1, branch="master", history=_history(sim, tmp_path), gerrit=GerritClient(sim.gerrit_url))
    assert evidence.histories == {}
    assert evidence.touched == ("nova/compute/manager.py",)
    assert len(evidence.warnings) == 1 and evidence.warnings[0].startswith("job history unavailable (Zuul builds API): ")
    assert "503" in evidence.warnings[0]


def test_gerrit_files_down_is_a_warning(sim, tmp_path):
    sim.add_change(123456)
    sim.fail_next("gerrit", 10)
    evidence = gather([_tempest_job()], change=123456, patchset=1, branch="master", history=None, gerrit=GerritClient(sim.gerrit_url))
    assert evidence.touched is None
    assert evidence.warnings and evidence.warnings[0].startswith("the change's files are unknown (Gerrit): ")


def test_jobs_failing_the_same_test_share_their_reads(sim, tmp_path):
    sim.add_change(123456)
    for job in ("openstack-tox-py311", "openstack-tox-py312"):
        sim.history.add_builds(job, "FFFF", first_change=900 if job.endswith("1") else 950, log=stestr_failure(TEMPEST_TEST))
    jobs = [JobReport(name, "FAILURE", None, failures=(Failure(FailureKind.TEST, TEMPEST_TEST, "boom"),)) for name in ("openstack-tox-py311", "openstack-tox-py312")]
    evidence = gather(jobs, change=123456, patchset=1, branch="master", history=_history(sim, tmp_path, confirm=3, prefetch=1), gerrit=None)
    # One read per job ran alongside, one more settled both: not three each.
    assert len(_logs_read(sim)) == 3
    for job in jobs:
        assert len(evidence.histories[job.name].elsewhere[f"test:{TEMPEST_TEST}"]) == 3
