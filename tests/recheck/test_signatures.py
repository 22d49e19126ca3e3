"""Known-failure signatures: elastic-recheck's queries, shipped and matched offline."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

import recheck
from recheck.signatures import SHIPPED, SignatureSet, signature_from_query

REPO = Path(__file__).resolve().parents[2]
NO_USER = {"HOME": "/nonexistent-home", "XDG_CONFIG_HOME": "/nonexistent-config"}


@pytest.fixture(scope="module")
def shipped() -> SignatureSet:
    return recheck.load_signatures(NO_USER)


@pytest.fixture(scope="module")
def er(shared_fixtures) -> Path:
    return shared_fixtures / "recheck" / "elastic-recheck"


def test_shipped_file_is_exactly_what_the_builder_makes_from_the_queries(er):
    builder = runpy.run_path(str(REPO / "recheck" / "data" / "build_signatures.py"), run_name="builder")
    doc, skipped = builder["build"](er / "queries")
    shipped = json.loads(SHIPPED.read_text())
    assert shipped["signatures"] == doc["signatures"], "stale: run recheck/data/build_signatures.py"
    assert skipped == []
    assert len(doc["signatures"]) == len(list((er / "queries").glob("*.yaml"))) == 921


def test_shipped_set_loads_with_resolved_bugs_marked(shipped):
    assert len(shipped) == 921 and shipped.warnings == ()
    resolved = [s for s in shipped.signatures if s.resolved_at]
    assert len(resolved) == 32
    assert all(s.origin == "shipped" for s in shipped.signatures)


def hit_messages(er: Path, name: str):
    for hit in json.loads((er / "logstash-hits" / name).read_text())["hits"]["hits"]:
        src = hit["_source"]
        fields = src.get("@fields", src)
        # 2013 hits keep each field as a one-item list.
        filename = _one(fields.get("filename")) or ""
        yield src.get("@message", src.get("message")), filename, _one(fields.get("build_name"))


def _one(value):
    return value[0] if isinstance(value, list) else value


# The hit files of elastic-recheck's test data are not all named after the bug whose
# query found them (bug-1229475.json holds the "Cannot 'createImage'" hits of bug
# 1218391's query...). This table says, from the messages themselves, which signature
# each file's hits belong to; every hit in the file must match it.
HITS = {
    "bug-1284371.json": 1284371,
    "bug-1229475.json": 1218391,
    "bug-1232748.json": 1235486,
    "bug-1235437.json": 1235435,
    "bug-1235486.json": 1224001,
    "bug-1239856.json": 1239637,
    "bug-1225664.json": 1191960,
}


@pytest.mark.parametrize("name,bug", sorted(HITS.items()))
def test_real_logstash_messages_match_their_bugs_signature(shipped, er, name, bug):
    messages = list(hit_messages(er, name))
    assert messages
    for message, filename, build in messages:
        bugs = [b.number for b in shipped.match(message, log_name=filename, job_name=build)]
        assert bug in bugs, message[:200]


def test_real_logstash_messages_that_are_plain_phrases_of_their_own_file_name(shipped, er):
    # Where a file is named after a plain-phrase signature and its hits carry the phrase.
    for message, filename, _build in hit_messages(er, "bug-1284371.json"):
        matches = shipped.match(message, log_name=filename)
        assert matches[0].number in (1284371, 1268732) and matches[0].score == 1.0
        assert matches[0].url == f"https://bugs.launchpad.net/bugs/{matches[0].number}"
        assert matches[0].source == "signature"


def test_forbidden_phrase_and_file_filters_are_honoured(shipped, er):
    lock = "(OperationalError) (1205, 'Lock wait timeout exceeded; try restarting transaction') UPDATE ports SET admin_state_up=1"
    assert {1283522, 1313794} <= {b.number for b in shipped.match(lock, log_name="logs/screen-q-svc.txt")}
    # Wrong file: the signature is for neutron's service log only.
    assert not {1283522, 1313794} & {b.number for b in shipped.match(lock, log_name="console.html")}
    # NOT message:"Traceback (most recent call last"
    traced = lock + " Traceback (most recent call last):"
    assert not {1283522, 1313794} & {b.number for b in shipped.match(traced, log_name="logs/screen-q-svc.txt")}


def test_build_name_unknown_lowers_the_score_and_a_wrong_job_excludes():
    sig = signature_from_query(1, {"query": 'message:"Killed" AND message:"timeout -s 9" AND build_name:gate-x'})
    sigs = SignatureSet([sig])
    line = "Killed                  timeout -s 9 ${REMAINING_TIME}"
    (m,) = sigs.match(line)
    assert m.score == 0.7 and any("job name is unknown" in w for w in m.why)
    assert sigs.match(line, job_name="gate-x")[0].score == 1.0
    assert sigs.match(line, job_name="tempest-full") == ()


def test_matching_is_token_wise_and_case_insensitive_like_lucene():
    sigs = SignatureSet([signature_from_query(7, {"query": "message:\"Cannot ''createImage''\""})])
    assert sigs.match("Details: {'message': \"Cannot 'createImage' while instance is in task_state\"}")
    assert sigs.match("CANNOT   createimage")
    assert not sigs.match("Cannot create Image")


def test_resolved_bugs_are_not_confident(shipped):
    (m,) = [b for b in shipped.match("[ERROR] /opt/stack/old/devstack/exercises/bundle.sh:61 Image ami-00000001 not available within 15 seconds") if b.number == 1177134]
    assert m.score == 0.5 and any("resolved" in w for w in m.why)


def test_test_ids_restrict_a_signature_to_its_tests():
    sig = signature_from_query(
        9, {"query": 'message:"Timeout while verifying metadata"', "test_ids": ["tempest.a.T.test_tagged"]}
    )
    sigs = SignatureSet([sig])
    m = sigs.matcher()
    m.feed("Details: Timeout while verifying metadata on server.")
    assert m.results(["tempest.a.T.test_tagged[id-1]"])[0].score == 1.0
    assert m.results(["tempest.other.T.test_x"]) == ()
    assert m.results([])[0].score == 0.7


def test_user_signatures_yaml_and_json_override_and_bad_files_warn(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    d = tmp_path / "cfg" / "ostk" / "signatures"
    d.mkdir(parents=True)
    (d / "2000001.yaml").write_text('query: >\n  message:"my flaky thing happened"\n  AND tags:"console"\n')
    (d / "mine.json").write_text(json.dumps({"signatures": [
        {"bug": 2000002, "title": "libvirt died", "alternatives": [{"phrases": ["libvirtd died unexpectedly"]}]}
    ]}))
    (d / "broken.yaml").write_text("query: message:\"unterminated\n")
    (d / "notes.txt").write_text("ignored")
    sigs = recheck.load_signatures(env)
    assert len(sigs) == 923
    assert len(sigs.warnings) == 1 and "broken.yaml" in sigs.warnings[0]
    a = recheck.analyze_stream(
        [b"ERROR something: my flaky thing happened\nFAILED x.py::t - libvirtd died unexpectedly\n"], signatures=sigs
    )
    assert [b.number for b in a.signature_matches] == [2000001, 2000002]
    assert a.signature_matches[1].title == "libvirt died"


def test_signatures_match_inside_test_tracebacks_during_the_scan(shipped):
    log = (
        b"{0} tempest.api.compute.servers.test_device_tagging.TaggedAttachmentsTest.test_tagged_attachment"
        b" [300.0s] ... FAILED\n"
        b"\n"
        b"Captured traceback:\n"
        b"~~~~~~~~~~~~~~~~~~~\n"
        b"    Traceback (most recent call last):\n"
        b"      File \"tempest/api/compute/servers/test_device_tagging.py\", line 80, in verify\n"
        b"    tempest.lib.exceptions.TimeoutException: Request timed out\n"
        b"    Details: Timeout while verifying metadata on server.\n"
        b"{0} tempest.api.compute.T.test_ok [1.0s] ... ok\n"
    )
    a = recheck.analyze_stream([log], signatures=shipped, name="job-output.txt")
    assert a.signature_matches[0].number == 1775947
    assert a.signature_matches[0].score == 1.0


def test_signature_lines_just_above_a_setup_failure_are_matched(shipped, wrap):
    log = wrap(
        "+ lib/apt:install_package:12 : apt-get install -y libvirt-daemon\n"
        "E: Could not get lock /var/lib/dpkg/lock - open (11: Resource temporarily unavailable)\n"
        "E: Unable to lock the administration directory (/var/lib/dpkg/), is another process using it?\n"
        "+ functions-common:die:264 : echo '[ERROR] /opt/stack/devstack/functions-common:1229 apt-get failed'\n"
        "[ERROR] /opt/stack/devstack/functions-common:1229 apt-get failed\n"
    ).encode()
    a = recheck.analyze_stream([log], signatures=shipped, name="job-output.txt")
    assert a.failures[0].kind.value == "setup"
    (bug,) = [b for b in a.signature_matches if b.number == 1097592]
    assert bug.score == 1.0 and "(line 3)" in bug.why[0]


def test_real_logstash_lines_inside_a_console_log_are_matched_during_the_scan(shipped, er):
    import html

    (details, _, _) = next(hit_messages(er, "bug-1229475.json"))
    (offline, _, _) = next(hit_messages(er, "bug-1284371.json"))
    test = "tempest.api.compute.images.test_images_oneserver.ImagesOneServerTestJSON.test_create_second_image"
    lines = [
        "<html><body><pre>",
        f"2013-10-18 12:20:00.001 | {{0}} {test} [12.0s] ... FAILED",
        "2013-10-18 12:20:00.002 | ",
        "2013-10-18 12:20:00.003 | Captured traceback:",
        "2013-10-18 12:20:00.004 | ~~~~~~~~~~~~~~~~~~~",
        "2013-10-18 12:20:00.005 |     Traceback (most recent call last):",
        "2013-10-18 12:20:00.006 |     Conflict: An object with that identifier already exists",
        f"2013-10-18 12:20:00.007 |     {html.escape(details)}",
        "2013-10-18 12:20:01.001 | {0} tempest.api.compute.test_x.T.test_ok [1.0s] ... ok",
        offline,  # a real Jenkins console.html line, markup included
        "</pre></body></html>",
    ]
    a = recheck.analyze_stream(["\n".join(lines).encode()], signatures=shipped, name="console.html")
    assert [f.kind.value for f in a.failures] == ["infra", "test"]
    assert a.failures[1].id == test
    found = {b.number: b for b in a.signature_matches}
    assert found[1218391].score == 1.0  # "Cannot ''createImage''", from the traceback
    assert found[1284371].score == 1.0  # the node went offline


def test_signature_sets_pickle_small_for_analysis_processes(shipped):
    import pickle

    shipped.match("No space left on device")  # fills the matcher cache
    data = pickle.dumps(shipped)
    clone = pickle.loads(data)
    assert len(clone) == 921 and clone._matchers == {}
    assert [b.number for b in clone.match("No space left on device", log_name="logs/syslog.txt")] == [
        b.number for b in shipped.match("No space left on device", log_name="logs/syslog.txt")
    ]


def test_every_line_finds_signatures_far_from_any_failure(shipped):
    log = (
        b"+ sudo apt-get install -y qemu\n"
        b"dpkg: error: dpkg status database is locked by another process\n"
        + b"+ echo fine\n" * 200
        + b"{0} tempest.a.T.test_b [1.0s] ... FAILED\n    ValueError: unrelated\n"
    )
    default = recheck.analyze_stream([log], signatures=shipped, name="job-output.txt")
    (bug,) = [b for b in default.signature_matches if b.number == 1097592]
    assert "(line 2)" in bug.why[0]
    # The matched line itself is quoted under the reason.
    assert bug.why[1].strip() == "dpkg: error: dpkg status database is locked by another process"
    assert [f.id for f in default.failures] == ["tempest.a.T.test_b"]
    # every_line is still accepted, and is the default.
    every = recheck.analyze_stream([log], signatures=shipped, name="job-output.txt", every_line=True)
    assert every == default
