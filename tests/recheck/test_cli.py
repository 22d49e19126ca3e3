"""``ostk recheck LOG`` and ``ostk recheck signatures``, run in-process."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ostk.cli import main
from ostk.environment import Environment

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "job-output.txt.gz"


def run(argv, tmp_path, **environ):
    env = Environment.for_test({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"), **environ})
    env.cwd = tmp_path
    rc = main(argv, env=env)
    return rc, env.stdout.getvalue(), env.stderr.getvalue()


def test_example_log_json_schema(tmp_path):
    rc, out, err = run(["recheck", str(EXAMPLE), "--json"], tmp_path)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["review"] is None and doc["posted"] is False
    (job,) = doc["jobs"]
    assert set(job) >= {"name", "result", "log_url", "failures", "bugs"}
    assert job["name"] == "job-output.txt.gz"
    assert job["failures"][0] == {
        "kind": "test",
        "id": "stestr.tests.test_subunit_trace.TestSubunitTrace.test_trace_with_all_skips",
        "message": "IOError: [Errno 2] No such file or directory: "
        "'/home/computertreker/git/stestr/stestr/tests/sample_streams/skips.subunit'",
        "line": 182,
        "excerpt": job["failures"][0]["excerpt"],
    }
    assert "line 84, in test_trace_with_all_skips" in job["failures"][0]["excerpt"]
    assert doc["suggestion"] == (
        "recheck - stestr.tests.test_subunit_trace.TestSubunitTrace.test_trace_with_all_skips failed"
    )


def test_example_log_rich_report(tmp_path):
    rc, out, err = run(["recheck", str(EXAMPLE)], tmp_path)
    assert rc == 0 and err == ""
    assert "TEST stestr.tests.test_subunit_trace.TestSubunitTrace.test_trace_with_all_skips (line 182)" in out
    assert "Suggested comment: recheck - stestr.tests" in out
    assert "Traceback" not in err


def test_relative_path_is_resolved_against_the_environment_cwd(tmp_path):
    (tmp_path / "job-output.txt").write_bytes(b"FAIL: nova.tests.T.test_x\n")
    rc, out, _ = run(["recheck", "job-output.txt", "--json", "--build-name", "nova-tox-py311"], tmp_path)
    assert rc == 0
    doc = json.loads(out)
    assert doc["jobs"][0]["name"] == "nova-tox-py311"
    assert doc["suggestion"] == "recheck - nova-tox-py311: nova.tests.T.test_x failed"


def test_signature_match_suggests_recheck_bug(tmp_path):
    log = tmp_path / "console.html"
    log.write_bytes(
        b"<pre>Looks like the node went offline during the build. Check the slave log for the details."
        b"FATAL: /var/lib/jenkins/logs/slaves/devstack-trusty/slave.log (No such file or directory)</pre>\n"
    )
    _rc, out, _ = run(["recheck", str(log), "--json"], tmp_path)
    doc = json.loads(out)
    bugs = [b["number"] for b in doc["jobs"][0]["bugs"]]
    assert 1284371 in bugs
    assert doc["suggestion"] in ("recheck bug #1284371", "recheck bug #1268732")
    assert doc["jobs"][0]["failures"][0]["kind"] == "infra"


@pytest.mark.parametrize(
    "content,warning",
    [
        (b"", "log is empty"),
        (bytes(range(256)) * 40, "binary"),
        (b"\xff\xfe FAILED tests/a.py::t - \xc3\x28 bad\n", "invalid UTF-8"),
        (gzip.compress(b"".join(b"FAIL: a.T.test_%d\n" % i for i in range(5000)))[:3000], "log truncated"),
    ],
)
def test_bad_input_is_a_warning_with_exit_0_and_no_traceback(tmp_path, content, warning):
    p = tmp_path / "log.txt"
    p.write_bytes(content)
    rc, out, err = run(["recheck", str(p)], tmp_path)
    assert rc == 0
    assert warning in err
    assert "Traceback" not in err + out


def test_truncated_gzip_json_keeps_warning_and_flag(tmp_path):
    p = tmp_path / "job-output.txt.gz"
    p.write_bytes(gzip.compress(b"".join(b"FAIL: a.T.test_%d\n" % i for i in range(5000)))[:3000])
    rc, out, _ = run(["recheck", str(p), "--json"], tmp_path)
    job = json.loads(out)["jobs"][0]
    assert rc == 0 and job["truncated"] is True
    assert job["warnings"][0].startswith("log truncated")


def test_missing_path_exits_3(tmp_path):
    rc, _out, err = run(["recheck", str(tmp_path / "nope.txt")], tmp_path)
    assert rc == 3 and "no such log file" in err and "Traceback" not in err


def test_unreachable_url_exits_4(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, _, err = run(["recheck", f"http://127.0.0.1:{port}/job-output.txt"], tmp_path)
    assert rc == 4 and "cannot reach" in err and "Traceback" not in err


def test_url_log_job_name_comes_from_the_url(serve, tmp_path):
    url = serve("/31/64831/1/check/tempest-full/287c655/job-output.txt", b"{0} tempest.a.T.test_b [1s] ... FAILED\n")
    rc, out, _ = run(["recheck", url, "--json"], tmp_path)
    doc = json.loads(out)
    assert rc == 0 and doc["jobs"][0]["name"] == "tempest-full" and doc["jobs"][0]["log_url"] == url
    assert doc["suggestion"] == "recheck - tempest-full: tempest.a.T.test_b failed"


def test_http_404_exits_4(serve, log_server, tmp_path):
    rc, _, err = run(["recheck", log_server.url + "/expired/job-output.txt"], tmp_path)
    assert rc == 4 and "404" in err


def test_signatures_list_and_check(tmp_path):
    rc, out, _ = run(["recheck", "signatures", "list", "--json"], tmp_path)
    assert rc == 0 and len(json.loads(out)["signatures"]) == 921
    rc, out, _ = run(["recheck", "signatures", "list"], tmp_path)
    assert rc == 0 and "#1284371" in out and "921 signatures" in out

    log = tmp_path / "syslog.txt"
    log.write_text("proxy-server: 127.0.0.1 DELETE /v1/AUTH_x/c HTTP/1.0 503 - ERROR\n")
    rc, out, _ = run(["recheck", "signatures", "check", str(log), "--json"], tmp_path)
    assert rc == 0 and [m["number"] for m in json.loads(out)["matches"]] == [1240256]

    clean = tmp_path / "clean.txt"
    clean.write_text("all good\n")
    rc, out, _ = run(["recheck", "signatures", "check", str(clean)], tmp_path)
    assert rc == 1 and "No known signature" in out


@pytest.mark.parametrize(
    "argv", [["recheck", "signatures"], ["recheck", "signatures", "frobnicate"], ["recheck", "signatures", "check"]]
)
def test_signatures_usage_errors_exit_2(tmp_path, argv):
    rc, _, err = run(argv, tmp_path)
    assert rc == 2 and "Traceback" not in err


def test_extra_words_after_a_log_are_a_usage_error(tmp_path):
    rc, _, _err = run(["recheck", str(EXAMPLE), "surprise"], tmp_path)
    assert rc == 2


def test_console_markup_in_logs_is_not_interpreted(tmp_path):
    p = tmp_path / "log.txt"
    p.write_text("FAILED tests/a.py::t - [bold red]boom[/] [link=http://x]y\n")
    rc, out, _ = run(["recheck", str(p)], tmp_path)
    assert rc == 0 and "[bold red]boom[/]" in out


def test_log_on_stdin(tmp_path):
    env = Environment.for_test({"HOME": str(tmp_path)}, stdin=gzip.compress(b"FAIL: nova.tests.T.test_x\n"))
    rc = main(["recheck", "-", "--json"], env=env)
    doc = json.loads(env.stdout.getvalue())
    assert rc == 0 and doc["jobs"][0]["failures"][0]["id"] == "nova.tests.T.test_x"


def test_render_report_is_reusable_for_reviews_with_many_jobs(tmp_path):
    from ostk.cli.recheck import render_report
    from recheck import BugMatch, Failure, FailureKind, JobReport, Report, ReviewRef

    env = Environment.for_test({"HOME": str(tmp_path)})
    report = Report(
        review=ReviewRef(12345, 3, "openstack/nova", "https://review.opendev.org/c/openstack/nova/+/12345"),
        jobs=(
            JobReport("tempest-full", "FAILURE", "https://logs/x/", failures=(
                Failure(FailureKind.TEST, "tempest.a.T.test_b", "ValueError: [red]x[/]", 10, "Traceback\nValueError"),),
                bugs=(BugMatch(1284371, "node offline", None, "https://bugs.launchpad.net/bugs/1284371", 1.0,
                               "signature", ("log matches \"went offline\"",)),)),
            JobReport("grenade", "FAILURE", None, voting=False, warnings=("log truncated",), truncated=True),
        ),
        suggestion="recheck bug #1284371",
    )
    render_report(env, report)
    out, err = env.stdout.getvalue(), env.stderr.getvalue()
    assert "Review 12345,3 openstack/nova" in out
    assert "tempest.a.T.test_b (line 10)" in out and "ValueError: [red]x[/]" in out
    assert "bug #1284371" in out and "(non-voting)" in out
    assert "Suggested comment: recheck bug #1284371" in out
    assert "grenade: log truncated" in err


def test_log_directory_url_reads_the_job_output(serve, log_server, tmp_path):
    serve("/check/tempest-full/287c655/job-output.txt", b"{0} tempest.a.T.test_b [1s] ... FAILED\n")
    rc, out, _ = run(["recheck", log_server.url + "/check/tempest-full/287c655/", "--json"], tmp_path)
    doc = json.loads(out)
    assert rc == 0 and doc["jobs"][0]["log_url"].endswith("/287c655/job-output.txt")
    assert doc["jobs"][0]["name"] == "tempest-full"
    rc, _, err = run(["recheck", log_server.url + "/check/tempest-full/expired1/"], tmp_path)
    assert rc == 4 and "old logs expire" in err


def test_review_targets_go_to_the_review_workflow_and_local_files_win(tmp_path, monkeypatch):
    from ostk.cli import recheck as recheck_cli

    seen = []
    monkeypatch.setattr(recheck_cli, "_review", lambda args, env: seen.append(args.target) or 0)
    assert run(["recheck", "https://review.opendev.org/c/openstack/nova/+/12345"], tmp_path)[0] == 0
    assert seen == ["https://review.opendev.org/c/openstack/nova/+/12345"]
    # A local file named like a change number is a log.
    (tmp_path / "12345").write_bytes(b"FAIL: a.T.test_x\n")
    rc, out, _ = run(["recheck", "12345", "--json"], tmp_path)
    assert rc == 0 and seen == ["https://review.opendev.org/c/openstack/nova/+/12345"]
    assert json.loads(out)["jobs"][0]["failures"][0]["id"] == "a.T.test_x"


def test_signatures_check_every_line_by_default(tmp_path):
    log = tmp_path / "console.txt"
    log.write_bytes(b"x\nE: Unable to lock the administration directory (/var/lib/dpkg/), is another process using it?\n")
    rc, out, _ = run(["recheck", "signatures", "check", str(log), "--json"], tmp_path)
    assert rc == 0 and [m["number"] for m in json.loads(out)["matches"]] == [1097592]
    # --every-line stays accepted (scripts pass it) and changes nothing.
    rc, again, _ = run(["recheck", "signatures", "check", str(log), "--every-line", "--json"], tmp_path)
    assert rc == 0 and json.loads(again) == json.loads(out)
