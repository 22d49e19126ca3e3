"""Issue 10: ``ostk recheck`` against the real OpenDev shapes, item by item, through ``main()``.

Shapes: zuul/zuul zuul/reporter/__init__.py (_formatItemReportJobs, formatItemUrl),
zuul/web/__init__.py (builds ``final``, buildset API), zuul-jobs roles/generate-zuul-manifest
and fetch-subunit-output, openstack/project-config zuul.d/pipelines.yaml.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading

from recheck.comments import ChangeMessage, parse_ci_comment
from recheck.logcache import LogCache
from recheck.review import RecheckRefused, RefusalReason, check_review
from recheck.testing import SimBug, SimJob

from .conftest import TEMPEST_FAILURE, TEMPEST_TEST

PASS = b"2026-11-20 08:00:00.1 | controller | all good\n"


def _jobs(doc):
    return {(j["pipeline"], j["name"]): j for j in doc["jobs"]}


# 1. pipelines that cast no vote --------------------------------------------------------
def test_experimental_failures_are_listed_apart_and_never_rechecked(sim, cli):
    sim.add_change(1001)
    sim.add_buildset(1001, 1, pipeline="check", jobs=[SimJob("tox-py312", "SUCCESS", log=PASS)])
    sim.add_buildset(1001, 1, pipeline="experimental", jobs=[SimJob("nova-exp", "FAILURE", log=TEMPEST_FAILURE)])
    assert cli("1001", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    job = _jobs(doc)[("experimental", "nova-exp")]
    assert job["pipeline_votes"] is False and doc["suggestion"] is None
    assert cli("1001", "--post", "--yes", OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password) == 5
    assert "(nothing-failed)" in cli.stderr and sim.posted_messages(1001) == []
    assert cli("1001") == 0 and "Pipelines without a vote" in cli.stdout


def test_asking_about_a_non_voting_pipeline_suggests_its_trigger(sim, cli, home):
    sim.add_change(1002)
    sim.add_buildset(1002, 1, pipeline="experimental", jobs=[SimJob("nova-exp", "FAILURE", log=TEMPEST_FAILURE)])
    sim.add_buildset(1002, 1, pipeline="check-arm64", jobs=[SimJob("nova-arm", "FAILURE", log=TEMPEST_FAILURE)])
    assert cli("1002", "--pipeline", "experimental", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["suggestion"] == "check experimental"
    assert _jobs(doc)[("experimental", "nova-exp")]["failures"][0]["id"] == TEMPEST_TEST
    assert cli("1002", "--pipeline", "check-arm64", "--json") == 0
    assert json.loads(cli.stdout)["suggestion"] == "check arm64"
    rc = cli("1002", "--pipeline", "experimental", "--post", "--yes",
             OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password)
    assert rc == 0, cli.stderr
    assert sim.posted_messages(1002) == ["Patch Set 1:\n\ncheck experimental"]
    rc = cli("1002", "--pipeline", "experimental", "--post", "--yes",
             OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password)
    assert rc == 5 and "(already-rechecked)" in cli.stderr and "check experimental" in cli.stderr
    # The list is data: a deployment where experimental votes says so in recheck.ini.
    (home / ".config" / "ostk").mkdir(parents=True)
    (home / ".config" / "ostk" / "recheck.ini").write_text("[non-voting-pipelines]\ncheck-arm64 = check arm64\n")
    assert cli("1002", "--json", XDG_CONFIG_HOME=str(home / ".config")) == 0, cli.stderr
    assert _jobs(json.loads(cli.stdout))[("experimental", "nova-exp")]["pipeline_votes"] is True


# 2. the pipeline is the tag's ----------------------------------------------------------
def test_arm64_jobs_are_listed_once_under_their_real_pipeline(sim, cli):
    sim.add_change(1003)
    sim.add_buildset(1003, 1, pipeline="check-arm64", jobs=[SimJob("nova-arm", "FAILURE", log=TEMPEST_FAILURE)])
    message = sim._changes[1003].messages[-1]
    assert "Build failed (ARM64 pipeline)." in message["message"] and "Verified" not in message["message"]
    assert cli("1003", "--all", "--json") == 0, cli.stderr
    assert [(j["pipeline"], j["name"]) for j in json.loads(cli.stdout)["jobs"]] == [("check-arm64", "nova-arm")]


# 3. retried attempts are not failures --------------------------------------------------
def test_retried_attempts_are_not_failures(sim, cli):
    sim.add_change(1004)
    sim.add_buildset(1004, 1, jobs=[SimJob("tempest-full", "SUCCESS", log=PASS, retried=2)])
    sim._changes[1004].messages = sim._changes[1004].messages[:1]  # only the builds API knows them
    assert cli("1004", "--all", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert [j["result"] for j in doc["jobs"]] == ["SUCCESS"] and doc["suggestion"] is None
    assert any("final=true" in p for m, p in sim.requests if "/builds?" in p)


# 4. every comment shape Zuul writes ----------------------------------------------------
def test_error_detail_comes_before_the_duration_for_any_result():
    text = (
        "Patch Set 1: Verified-1\n\nBuild failed (check pipeline).\nhttps://z/t/openstack/buildset/" + "a" * 32 + "\n\n"
        "- nova-ceph https://z/t/openstack/build/" + "b" * 32 + " : NODE_FAILURE Node request 300-0023 failed in 0s\n"
        "- nova-live https://z/t/openstack/build/" + "c" * 32 + " : RETRY_LIMIT Host unreachable in 3m 02s (non-voting)\n"
        "- nova-next nova-next : SKIPPED\n"
    )
    comment = parse_ci_comment(ChangeMessage(text, 1, "zuul", tag="autogenerated:zuul:check"))
    assert comment is not None and comment.buildset_url.endswith("a" * 32)
    ceph, live, skipped = comment.jobs
    assert (ceph.result, ceph.error, ceph.duration) == ("NODE_FAILURE", "Node request 300-0023 failed", "0s")
    assert (live.error, live.duration, live.voting) == ("Host unreachable", "3m 02s", False)
    assert skipped.url is None  # Zuul without a web root puts the job name where the link goes


def test_a_failed_dependency_is_said_and_nothing_is_rechecked(sim, cli):
    sim.add_change(1005)
    sim.add_zuul_message(1005, 1, "This change depends on a change that failed to merge.\n", pipeline="gate")
    assert cli("1005", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["suggestion"] is None and doc["jobs"] == []
    assert any("depends on a change that failed to merge" in w and "nothing to recheck" in w for w in doc["warnings"])
    sim.add_zuul_message(1005, 1, "Merge Failed.\n\nThis change or one of its cross-repo dependencies was unable "
                         "to be automatically merged with the current state of its repository.", pipeline="check")
    assert cli("1005", "--json") == 0
    assert any("rebase" in w for w in json.loads(cli.stdout)["warnings"])


def test_a_config_error_is_said_and_not_rechecked(sim, cli):
    sim.add_change(1017)
    sim.add_zuul_message(1017, 1, "Zuul encountered a syntax error while parsing its configuration in the\n"
                         "repo openstack/nova on branch master.  The error was:\n\n  Job nova-x not defined\n")
    assert cli("1017", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert doc["suggestion"] is None
    assert any("configuration error" in w and "syntax error" in w for w in doc["warnings"])


def test_truncated_comment_uses_the_buildset_api_and_relative_links_resolve(sim, cli):
    sim.add_change(1006)
    jobs = [SimJob(f"job-{i:02d}", "FAILURE" if i == 7 else "SUCCESS", log=TEMPEST_FAILURE if i == 7 else PASS)
            for i in range(8)]
    sim.add_buildset(1006, 1, jobs=jobs, links="relative", truncate_at=400)
    assert sim._changes[1006].messages[-1]["message"].endswith("... (truncated)")
    assert cli("1006", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    # job-07 was cut from the comment; the buildset API still names it.
    assert [j["name"] for j in doc["jobs"]] == ["job-07"]
    assert doc["jobs"][0]["failures"][0]["id"] == TEMPEST_TEST
    assert any("/api/tenant/openstack/buildset/" in p for m, p in sim.requests)


def test_a_zuul_comment_linking_a_log_directory_reads_job_output(sim, cli):
    sim.add_change(1007)
    [job] = sim.add_buildset(1007, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE)])
    message = sim._changes[1007].messages[-1]
    message["message"] = message["message"].replace(sim.build_url(job.uuid), sim._builds[job.uuid]["log_url"])
    message["message"] = "\n".join(ln for ln in message["message"].splitlines() if "/buildset/" not in ln)
    assert cli("1007", "--json", OSTK_ZUUL_URL="") == 0, cli.stderr
    assert json.loads(cli.stdout)["jobs"][0]["failures"][0]["id"] == TEMPEST_TEST
    assert not [p for m, p in sim.requests if p.endswith("console.html")]


# 5. build URLs people paste ------------------------------------------------------------
def test_every_build_url_form_resolves_to_the_change(sim, cli):
    sim.add_change(1008)
    [job] = sim.add_buildset(1008, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE)])
    buildset = next(iter(sim._buildsets))
    page = sim.build_url(job.uuid)
    for url in (page + "/logs", page + "/console", page + "/log/job-output.txt",
                f"{sim.zuul_url}/t/openstack/buildset/{buildset}", f"{sim.zuul_url}/build/{job.uuid}"):
        assert cli(url, "--json") == 0, (url, cli.stderr)
        assert json.loads(cli.stdout)["review"]["change"] == 1008, url


# 6. the Zuul manifest ------------------------------------------------------------------
JOB_OUTPUT_JSON = json.dumps([{"playbook": "playbooks/tempest.yaml", "phase": "run", "plays": [{
    "play": {"name": "controller"}, "tasks": [{"task": {"name": "Run tempest"}, "hosts": {"controller": {
        "failed": True, "rc": 1, "msg": "non-zero return code", "stdout": "tempest run failed"}}}]}],
    "stats": {"controller": {"failures": 1}}}]).encode()


def test_structured_results_are_found_through_the_manifest(sim, cli):
    sim.add_change(1009)
    sim.add_buildset(1009, 1, jobs=[SimJob("ansible-job", "FAILURE", log=b"nothing useful\n", json_output=JOB_OUTPUT_JSON)])
    assert cli("1009", "--json") == 0, cli.stderr
    failure = json.loads(cli.stdout)["jobs"][0]["failures"][0]
    assert failure["kind"] == "task" and "Run tempest" in failure["id"]
    paths = [p for m, p in sim.requests if p.startswith("/logs/")]
    assert any(p.endswith("zuul-manifest.json") for p in paths) and any(p.endswith("job-output.json") for p in paths)


def test_without_a_manifest_job_output_json_is_probed(sim, cli):
    sim.add_change(1010)
    sim.add_buildset(1010, 1, jobs=[SimJob("ansible-job", "FAILURE", log=b"x\n", json_output=JOB_OUTPUT_JSON, manifest=False)])
    assert cli("1010", "--json") == 0, cli.stderr
    assert json.loads(cli.stdout)["jobs"][0]["failures"][0]["kind"] == "task"


# 7. logs never uploaded ----------------------------------------------------------------
def test_a_job_without_job_output_failed_before_its_logs_were_uploaded(sim, cli):
    sim.add_change(1011)
    sim.add_buildset(1011, 1, jobs=[SimJob("early", "POST_FAILURE", log=b"x", text_log=False)])
    assert cli("1011", "--json") == 0, cli.stderr
    [warning] = json.loads(cli.stdout)["jobs"][0]["warnings"]
    assert "failed before its logs were uploaded" in warning and "expired" not in warning


# 11, 12. Launchpad ---------------------------------------------------------------------
def test_an_invalid_launchpad_name_does_not_disable_bug_search(sim, cli):
    sim.add_change(1012, project="openstack/openstack-ansible-os_nova")
    sim.add_buildset(1012, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE)])
    sim.add_bug(SimBug(1900002, f"{TEMPEST_TEST} fails", projects=("nova",)))
    assert cli("1012", "--json") == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert not any("bug search unavailable" in w for w in doc["warnings"])
    assert [b["number"] for b in doc["jobs"][0]["bugs"]] == [1900002]
    assert not [p for m, p in sim.requests if "os_nova?" in p]


def test_launchpad_indexes_only_the_start_of_a_description(sim):
    import requests

    sim.add_bug(SimBug(1900003, "flaky gate", description="x " * 1300 + "uniquewordhere", projects=("nova",)))
    found = requests.get(f"{sim.launchpad_url}/openstack", params={"ws.op": "searchTasks", "search_text": "uniquewordhere"}, timeout=5)
    assert found.json()["entries"] == []
    assert requests.get(f"{sim.launchpad_url}/os_nova", params={"ws.op": "searchTasks", "search_text": "x"}, timeout=5).status_code == 404


# 13. signature options reach the review ------------------------------------------------
def test_no_shipped_signatures_reaches_the_review(sim, cli):
    log = b"2026-11-20 08:00:00.1 | controller | E: Unable to lock the administration directory (/var/lib/dpkg/), is another process using it?\n"
    sim.add_change(1013)
    sim.add_buildset(1013, 1, jobs=[SimJob("devstack", "FAILURE", log=log)])
    assert cli("1013", "--json", "--every-line") == 0, cli.stderr
    assert 1097592 in [b["number"] for b in json.loads(cli.stdout)["jobs"][0]["bugs"]]
    assert cli("1013", "--json", "--every-line", "--no-shipped-signatures", XDG_CACHE_HOME=str(cli.home / "c2")) == 0
    assert 1097592 not in [b["number"] for b in json.loads(cli.stdout)["jobs"][0]["bugs"]]


# 14, 15, 17.6. posting -----------------------------------------------------------------
def test_post_goes_to_the_analysed_revision_and_refusals_carry_a_reason(sim, cli):
    sim.add_change(1014)
    sim.add_buildset(1014, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE)])
    env = dict(OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password)
    assert cli("1014", "--post", "--yes", **env) == 0, cli.stderr
    assert [p for m, p in sim.requests if m == "POST"] == ["/a/changes/1014/revisions/1/review"]
    try:
        check_review("1014", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, post=True, environ=env)
    except RecheckRefused as refused:
        assert refused.reason is RefusalReason.ALREADY_RECHECKED
    else:
        raise AssertionError("posted twice")


def test_concurrent_posts_post_once(sim, tmp_path):
    sim.add_change(1015)
    sim.add_buildset(1015, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE)])
    env = dict(OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password)
    results: list[str] = []
    barrier = threading.Barrier(3)

    def confirm(comment, report):
        barrier.wait(timeout=10)  # all three decided "not yet rechecked" before any posts
        return True

    def one():
        try:
            check_review("1015", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, post=True, environ=env,
                         confirm=confirm, cache=LogCache(tmp_path / "cache" / "analyses"))
            results.append("posted")
        except RecheckRefused as refused:
            results.append(refused.reason.value)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["already-rechecked", "already-rechecked", "posted"]
    assert len(sim.posted_messages(1015)) == 1


# 16. no argument in a git checkout -----------------------------------------------------
def test_no_argument_takes_the_change_id_of_head(sim, cli, home):
    sim.add_change(1016)
    sim.add_buildset(1016, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE)])
    change_id = sim._changes[1016].change_id
    git = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@example.org", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@example.org", "HOME": str(home), "PATH": os.environ["PATH"]}
    subprocess.run(["git", "init", "-q"], cwd=home, check=True, env=git)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", f"Fix it\n\nChange-Id: {change_id}\n"],
                   cwd=home, check=True, env=git)
    assert cli("--json") == 0, cli.stderr
    assert json.loads(cli.stdout)["review"]["change"] == 1016


def test_a_stuck_poster_holds_the_others_only_until_the_deadline(sim, tmp_path):
    import fcntl
    import hashlib
    import time

    import pytest

    from ostk.errors import ServiceError

    sim.add_change(1018)
    sim.add_buildset(1018, 1, jobs=[SimJob("tempest-full", "FAILURE", log=TEMPEST_FAILURE)])
    cache = LogCache(tmp_path / "cache" / "analyses")
    locks = tmp_path / "cache" / "locks"
    locks.mkdir(parents=True)
    name = hashlib.sha256(sim.gerrit_url.encode()).hexdigest()[:16]
    with open(locks / f"{name}-1018-1.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(ServiceError, match="another ostk recheck is posting"):
            check_review("1018", gerrit=sim.gerrit_url, launchpad=sim.launchpad_url, post=True, cache=cache,
                         environ=dict(OSTK_GERRIT_USER=sim.username, OSTK_GERRIT_PASSWORD=sim.password), timeout=3)
        assert time.monotonic() - started < 6
    assert sim.posted_messages(1018) == []
