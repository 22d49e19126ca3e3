"""``ostk recheck REVIEW`` end to end against the CI simulator, faults included."""
from __future__ import annotations

import gzip
import json
import os
import signal
import threading
import time

from recheck.testing import SimBug, SimJob, SimLog

from .conftest import TEMPEST_FAILURE, TEMPEST_TEST

DEVSTACK_FAILURE = b"""2026-11-20 07:10:00.000001 | controller | ++functions-common:die:264                  echo '[ERROR] /opt/stack/devstack/lib/placement:88 placement-api did not answer on /healthcheck'
2026-11-20 07:10:00.000001 | controller | [ERROR] /opt/stack/devstack/lib/placement:88 placement-api did not answer on /healthcheck
2026-11-20 07:10:00.000002 | controller | stack.sh failed: full log in /opt/stack/logs/stack.sh.log
"""


def _review(sim, number=123456, *, patchsets=1, jobs=None, bug=True):
    sim.add_change(number, project="openstack/nova", patchsets=patchsets)
    jobs = jobs or [
        SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE),
        SimJob("openstack-tox-pep8", "SUCCESS"),
        SimJob("nova-next", "FAILURE", log=DEVSTACK_FAILURE, encoding="plain"),
    ]
    sim.add_buildset(number, patchsets, pipeline="check", jobs=jobs)
    if bug:
        sim.add_bug(
            SimBug(
                1900001,
                "test_reboot_server_hard fails: server failed to reach ACTIVE status",
                description=f"{TEMPEST_TEST} fails intermittently in the gate",
                projects=("nova", "tempest"),
                heat=40,
            )
        )
    return jobs


def _log_requests(sim):
    return [p for m, p in sim.requests if p.startswith("/logs/")]


def test_json_report_for_a_failed_review(sim, cli):
    _review(sim)
    assert cli("123456", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["review"] == {
        "change": 123456,
        "patchset": 1,
        "project": "openstack/nova",
        "url": f"{sim.gerrit_url}/c/openstack/nova/+/123456/1",
    }
    jobs = {j["name"]: j for j in doc["jobs"]}
    assert set(jobs) == {"tempest-full", "nova-next"}  # successful jobs only with --all
    tempest = jobs["tempest-full"]
    assert (tempest["pipeline"], tempest["voting"], tempest["result"]) == ("check", True, "FAILURE")
    assert tempest["failures"][0]["id"] == TEMPEST_TEST
    assert tempest["bugs"][0]["number"] == 1900001
    assert "the exact test id is in the bug" in tempest["bugs"][0]["why"]
    assert jobs["nova-next"]["failures"][0]["kind"] == "setup"
    assert doc["suggestion"] == "recheck bug #1900001"
    assert doc["posted"] is False


def test_text_report_and_all_jobs(sim, cli):
    _review(sim)
    assert cli("123456", "--all") == 0, cli.stderr
    out = cli.stdout
    assert "openstack-tox-pep8" in out and "tempest-full" in out
    assert "bug #1900001" in out
    assert "Suggested comment: recheck bug #1900001" in out


def test_non_voting_failures_are_shown_but_never_drive_the_suggestion(sim, cli):
    sim.add_change(5, project="openstack/nova")
    sim.add_buildset(5, 1, jobs=[SimJob("grenade", "FAILURE", log=TEMPEST_FAILURE, voting=False), SimJob("pep8", "SUCCESS")])
    assert cli("5", "--json", "--all") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    grenade = next(j for j in doc["jobs"] if j["name"] == "grenade")
    assert grenade["voting"] is False and grenade["failures"]
    assert doc["suggestion"] is None


def test_infra_results_are_reported_as_such(sim, cli):
    sim.add_change(6, project="openstack/nova")
    sim.add_buildset(
        6, 1, jobs=[SimJob("nova-ceph", "NODE_FAILURE", has_logs=False), SimJob("nova-live", "TIMED_OUT", log=b"no clue\n")]
    )
    assert cli("6", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    jobs = {j["name"]: j for j in doc["jobs"]}
    assert jobs["nova-ceph"]["result"] == "NODE_FAILURE"
    assert jobs["nova-ceph"]["failures"][0]["kind"] == "infra"
    assert jobs["nova-ceph"]["warnings"][0] == "the job failed before its logs were uploaded"
    assert jobs["nova-live"]["result"] == "TIMED_OUT"
    assert jobs["nova-live"]["failures"][0]["kind"] == "timeout"
    assert doc["suggestion"].startswith("recheck - ")


def test_change_not_found_exits_4_naming_the_change(sim, cli):
    assert cli("999999") == 4
    assert "change 999999 not found" in cli.stderr
    assert "Traceback" not in cli.stderr


def test_gerrit_503_burst_is_retried_then_succeeds(sim, cli):
    _review(sim)
    sim.fail_next("gerrit", 1)
    assert cli("123456", "--json") == 0, cli.stderr
    assert json.loads(cli.stdout)["suggestion"] == "recheck bug #1900001"


def test_one_jobs_logs_expired_the_others_are_analysed(sim, cli):
    _review(
        sim,
        jobs=[
            SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE),
            SimJob("nova-old", "FAILURE", log=DEVSTACK_FAILURE, expired=True),
        ],
    )
    assert cli("123456", "--json") == 0, cli.stderr
    jobs = {j["name"]: j for j in json.loads(cli.stdout)["jobs"]}
    assert any("404" in w and "expired" in w for w in jobs["nova-old"]["warnings"])
    assert jobs["nova-old"]["failures"] == []
    assert jobs["tempest-full"]["failures"][0]["id"] == TEMPEST_TEST


def test_launchpad_down_still_reports_failures(sim, cli):
    _review(sim)
    sim.launchpad_down = True
    assert cli("123456", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["jobs"][0]["failures"]
    assert any("bug search unavailable" in w for w in doc["warnings"])
    assert "bug search unavailable" in cli.stderr
    assert doc["suggestion"].startswith("recheck - tempest-full")


def test_truncated_gzip_gives_a_partial_analysis_and_a_warning(sim, cli):
    big = TEMPEST_FAILURE + b"".join(b"2026-11-20 08:00:02.000001 | controller | filler line %d\n" % i for i in range(20000))
    cut = gzip.compress(big)[:-2000]
    sim.add_change(7, project="openstack/nova")
    sim.add_buildset(7, 1, jobs=[SimJob("tempest-full", "FAILURE", log_file=SimLog(cut, encoding="gz", compressed=True))])
    assert cli("7", "--json") == 0, cli.stderr
    job = json.loads(cli.stdout)["jobs"][0]
    assert job["truncated"] is True
    assert job["failures"][0]["id"] == TEMPEST_TEST
    assert job["warnings"]
    # A partial analysis is not final: nothing cached.
    assert not cli.cache_dir.exists() or not list(cli.cache_dir.iterdir())


def test_connection_cut_mid_body_is_partial(sim, cli):
    body = TEMPEST_FAILURE + b"x" * 200000
    sim.add_change(8, project="openstack/nova")
    sim.add_buildset(8, 1, jobs=[SimJob("tempest-full", "FAILURE", log=body, encoding="plain", truncate_at=100000)])
    assert cli("8", "--json") == 0, cli.stderr
    job = json.loads(cli.stdout)["jobs"][0]
    assert job["truncated"] is True
    assert any("cut short" in w for w in job["warnings"])


def test_second_run_is_served_from_the_cache(sim, cli):
    _review(sim)
    assert cli("123456", "--json") == 0
    first = json.loads(cli.stdout)
    downloads = len(_log_requests(sim))
    assert downloads >= 2
    started = time.monotonic()
    assert cli("123456", "--json") == 0
    elapsed = time.monotonic() - started
    assert json.loads(cli.stdout)["jobs"] == first["jobs"]
    assert len(_log_requests(sim)) == downloads
    assert elapsed < 1.0


def test_ctrl_c_exits_130_and_leaves_no_cache_entry(sim, cli):
    slow = TEMPEST_FAILURE + b"y" * 400000
    sim.add_change(9, project="openstack/nova")
    sim.add_buildset(
        9, 1,
        jobs=[
            SimJob("tempest-full", "FAILURE", log=slow, encoding="plain", rate=100000),
            SimJob("nova-next", "FAILURE", log=DEVSTACK_FAILURE, encoding="plain"),
        ],
    )
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        started = time.monotonic()
        rc = cli("9")
    finally:
        timer.cancel()
    assert rc == 130
    assert time.monotonic() - started < 3.5  # it stopped, it did not finish the 4 s download
    entries = list(cli.cache_dir.iterdir()) if cli.cache_dir.exists() else []
    # The fast job may have finished (its log's entry and its build's); the interrupted one leaves nothing.
    assert all(not p.name.startswith(".") and p.suffix == ".json" for p in entries)
    assert len(entries) <= 2


def test_post_then_second_post_is_refused(sim, cli, home):
    _review(sim)
    (home / ".netrc").write_text(sim.netrc_text())
    os.chmod(home / ".netrc", 0o600)
    assert cli("123456", "--post", "--yes", "--json") == 0, cli.stderr
    assert json.loads(cli.stdout)["posted"] is True
    assert sim.posted_messages(123456) == ["Patch Set 1:\n\nrecheck bug #1900001"]
    assert cli("123456", "--post", "--yes") == 5  # RecheckRefused, not a usage error
    assert "not posting (already-rechecked)" in cli.stderr and "already posted" in cli.stderr
    assert len(sim.posted_messages(123456)) == 1


def test_post_with_environment_credentials(sim, cli):
    _review(sim)
    rc = cli("123456", "--post", "--yes", OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password)
    assert rc == 0, cli.stderr
    assert "posted" in cli.stdout
    assert sim.password not in cli.stdout + cli.stderr


def test_post_refused_when_a_newer_patch_set_exists(sim, cli):
    _review(sim)
    sim.add_patchset(123456)
    assert cli("123456", "--patchset", "1", "--post", "--yes") == 5
    assert "patch set 2 exists" in cli.stderr
    assert sim.posted_messages(123456) == []


def test_post_refused_when_nothing_failed(sim, cli):
    sim.add_change(11)
    sim.add_buildset(11, 1, jobs=[SimJob("pep8", "SUCCESS")])
    assert cli("11", "--post", "--yes", OSTK_GERRIT_USER="alice", OSTK_GERRIT_PASSWORD="x") == 5
    assert "nothing failed" in cli.stderr


def test_post_without_a_terminal_needs_yes(sim, cli):
    _review(sim)
    assert cli("123456", "--post", OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password) == 5
    assert "--yes" in cli.stderr
    assert sim.posted_messages(123456) == []


def test_ambiguous_change_id_lists_the_candidates(sim, cli):
    change_id = "I" + "2" * 40
    sim.add_change(21, change_id=change_id)
    sim.add_change(22, branch="stable/2025.2", change_id=change_id)
    assert cli(change_id) == 2
    assert "21 (openstack/nova master" in cli.stderr and "22 (openstack/nova stable/2025.2" in cli.stderr


def test_change_id_resolves_to_the_change(sim, cli):
    _review(sim)
    change_id = sim._changes[123456].change_id
    assert cli(change_id, "--json") == 0, cli.stderr
    assert json.loads(cli.stdout)["review"]["change"] == 123456


def test_subunit_artifact_is_preferred(sim, cli, shared_fixtures):
    subunit = (shared_fixtures / "recheck" / "subunit" / "stestr_failure.subunit").read_bytes()
    sim.add_change(12, project="openstack/nova")
    [_job] = sim.add_buildset(12, 1, jobs=[SimJob("nova-tox-py311", "FAILURE", log=DEVSTACK_FAILURE, subunit=subunit)])
    assert cli("12", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["jobs"][0]["failures"][0]["kind"] == "test"
    paths = _log_requests(sim)
    assert any(p.endswith("testrepository.subunit") for p in paths)
    assert not any(p.endswith("job-output.txt") for p in paths)


def test_jenkins_era_comments_from_the_real_fixture(sim, cli, shared_fixtures):
    events = shared_fixtures / "recheck" / "gerrit-events" / "jenkins-comment.json"
    [number] = sim.load_gerrit_events(events, logs=DEVSTACK_FAILURE)
    assert cli(str(number), "--json", "--launchpad", sim.launchpad_url) == 0, cli.stderr
    doc = json.loads(cli.stdout)
    names = [j["name"] for j in doc["jobs"]]
    assert names == [
        "check-requirements-integration-dsvm",
        "check-tempest-dsvm-full",
        "check-tempest-dsvm-postgres-full",
        "check-tempest-dsvm-neutron",
    ]
    assert all(j["pipeline"] == "check" for j in doc["jobs"])
    assert all(j["failures"][0]["kind"] == "setup" for j in doc["jobs"])
    assert any(p.endswith("/console.html") for p in _log_requests(sim))


def test_progress_bars_on_a_terminal_only(sim, cli):
    _review(sim)
    assert cli("123456", tty=True) == 0, cli.stderr
    assert "tempest-full" in cli.stderr and "nova-next" in cli.stderr
    assert cli("123456", "--patchset", "1") == 0  # cached now; and no terminal: no bars
    assert "tempest-full" not in cli.stderr


def test_post_asks_for_confirmation_on_a_terminal(sim, cli):
    _review(sim)
    creds = {"OSTK_GERRIT_USER": sim.username, "OSTK_GERRIT_PASSWORD": sim.password}
    assert cli("123456", "--post", tty=True, stdin=b"n\n", **creds) == 0
    assert "[y/N]" in cli.stderr and "not posted" in cli.stdout
    assert sim.posted_messages(123456) == []
    assert cli("123456", "--post", tty=True, stdin=b"y\n", **creds) == 0
    assert sim.posted_messages(123456) == ["Patch Set 1:\n\nrecheck bug #1900001"]


def test_dot_gz_logs_are_found_and_alternatives_tried_only_on_404(sim, cli):
    sim.add_change(13, project="openstack/nova")
    sim.add_buildset(
        13, 1,
        jobs=[
            SimJob("tempest-gz", "FAILURE", log=TEMPEST_FAILURE, encoding="gz"),
            SimJob("quiet", "FAILURE", log=b"2026-11-20 08:00:00.000001 | nothing to see\n", encoding="plain"),
        ],
    )
    assert cli("13", "--json") == 0, cli.stderr
    jobs = {j["name"]: j for j in json.loads(cli.stdout)["jobs"]}
    assert jobs["tempest-gz"]["failures"][0]["id"] == TEMPEST_TEST
    paths = _log_requests(sim)
    assert any(p.endswith("tempest-gz/" + p.rsplit("/", 2)[-2] + "/job-output.txt.gz") for p in paths)
    quiet = [p for p in paths if "/quiet/" in p and not p.endswith("zuul-manifest.json")]
    assert len(quiet) == 1 and quiet[0].endswith("job-output.txt")
    assert jobs["quiet"]["failures"] == [] and jobs["quiet"]["result"] == "FAILURE"


def test_debug_output_never_shows_the_gerrit_password(sim, cli):
    import base64

    _review(sim)
    basic = base64.b64encode(f"{sim.username}:{sim.password}".encode()).decode()
    rc = cli("--debug", "123456", "--post", "--yes", OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password)
    assert rc == 0, cli.stderr
    assert "POST" in cli.stderr  # the HTTP trace is there...
    assert sim.password not in cli.stderr and basic not in cli.stderr  # ...without the secret


def test_real_logstash_hits_lead_to_their_bug(sim, cli, shared_fixtures):
    hits = shared_fixtures / "recheck" / "elastic-recheck" / "logstash-hits" / "bug-1284371.json"
    numbers = sim.load_logstash_hits(hits, limit=2)
    assert numbers
    assert cli(str(numbers[0]), "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["review"]["project"].startswith("openstack/")
    assert doc["jobs"] and all(j["pipeline"] in ("check", "gate") for j in doc["jobs"])
    assert all(j["failures"][0]["kind"] == "infra" for j in doc["jobs"])
    assert any(b["number"] == 1284371 for j in doc["jobs"] for b in j["bugs"])
    # elastic-recheck has two signatures for this failure (1268732 and 1284371): either is right.
    assert doc["suggestion"] in ("recheck bug #1284371", "recheck bug #1268732")


def test_post_refused_on_a_merged_change(sim, cli):
    _review(sim)
    sim._changes[123456].status = "MERGED"
    assert cli("123456", "--post", "--yes", OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password) == 5
    assert "is merged" in cli.stderr
    assert sim.posted_messages(123456) == []


def test_gerrit_and_zuul_urls_on_the_command_line(sim, cli):
    jobs = _review(sim)
    assert cli(sim.change_url(123456, 1), "--json", OSTK_GERRIT_URL="https://elsewhere.invalid") == 0, cli.stderr
    assert json.loads(cli.stdout)["review"]["patchset"] == 1
    assert cli(sim.build_url(jobs[0].uuid), "--json") == 0, cli.stderr
    assert json.loads(cli.stdout)["review"]["change"] == 123456
    assert cli(f"{sim.url}/#/c/123456/", "--json") == 0, cli.stderr
    assert json.loads(cli.stdout)["suggestion"] == "recheck bug #1900001"
