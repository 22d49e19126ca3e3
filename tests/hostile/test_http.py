"""ostk.http against a hostile server: every remote call bounded in time and memory.

The library-level tests pin the mechanisms (stall timeout, size cap, deadline,
shared retry budget); the CLI-level ones prove the contract end to end through
``ostk recheck`` (a Gerrit answer read by the session, a log streamed by
``iter_bytes``) in a child process.
"""
from __future__ import annotations

import time

import pytest
from harness import Reply, assert_refused, run_cli

from ostk import http
from ostk.errors import (
    ConnectionFailed,
    HTTPError,
    RequestTimeout,
    ResponseTooLarge,
    ServiceError,
    TruncatedDownload,
)

FAST = http.HttpSettings(connect_timeout=2, read_timeout=5, retries=3, backoff=0.01, stall_timeout=1.0)
MiB = 1024 * 1024


# Library level ---------------------------------------------------------------
def test_a_dripping_body_is_slow_not_alive(hostile):
    hostile.route("/drip", Reply.drip(interval=0.2))
    started = time.monotonic()
    with pytest.raises(RequestTimeout) as info:
        http.get_json(http.build_session(FAST), hostile.url + "/drip", what="reading x")
    assert time.monotonic() - started < 3
    assert "too slow" in str(info.value) and f"127.0.0.1:{hostile.port}" in str(info.value)


def test_a_body_that_goes_silent_is_a_timeout(hostile):
    hostile.route("/stop", Reply.drip(interval=60, head=b"[1,2,3"))
    started = time.monotonic()
    with pytest.raises(RequestTimeout, match="stopped sending"):
        b"".join(http.iter_bytes(http.build_session(FAST), hostile.url + "/stop", what="log"))
    assert time.monotonic() - started < 3


def test_what_arrived_before_a_stall_is_handed_over_before_the_error(hostile):
    hostile.route("/part", Reply.drip(interval=60, head=b"first part of the log\n"))
    received = []
    with pytest.raises(RequestTimeout, match="stopped sending"):
        for chunk in http.iter_bytes(http.build_session(FAST), hostile.url + "/part", what="log"):
            received.append(chunk)
    assert b"".join(received).startswith(b"first part of the log\n")


def test_headers_dripped_a_byte_at_a_time_are_a_timeout(hostile):
    # Each socket read gets a byte within its timeout; their sum must not.
    hostile.route("/slow", Reply.slow_headers(interval=0.1))
    settings = http.HttpSettings(read_timeout=1, retries=1, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(RequestTimeout):
        http.get_json(http.build_session(settings), hostile.url + "/slow", what="x")
    assert time.monotonic() - started < 4
    assert hostile.hits["/slow"] == 2


def test_an_announced_huge_body_is_refused_before_reading(hostile):
    hostile.route("/huge", Reply.huge(200 * MiB))
    settings = http.HttpSettings(max_body_bytes=MiB)
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="announced 209,715,200 bytes"):
        http.get_json(http.build_session(settings), hostile.url + "/huge", what="x")
    assert time.monotonic() - started < 2


def test_an_unannounced_huge_body_is_cut_at_the_cap(hostile):
    hostile.route("/huge", Reply.huge(200 * MiB, chunked=True))
    with pytest.raises(ResponseTooLarge, match="more than the 1,048,576-byte limit"):
        http.get_json(http.build_session(http.HttpSettings(max_body_bytes=MiB)), hostile.url + "/huge", what="x")


def test_the_cap_applies_to_the_decoded_body_of_a_gzip_bomb(hostile):
    hostile.route("/bomb", Reply.gzip_bomb(256 * MiB))
    with pytest.raises(ResponseTooLarge):
        http.get_json(http.build_session(http.HttpSettings(max_body_bytes=MiB)), hostile.url + "/bomb", what="x")


def test_a_plain_request_is_capped_too(hostile):
    # Callers that use response.text never see more than max_body_bytes.
    hostile.route("/huge", Reply.huge(8 * MiB, chunked=True))
    with pytest.raises(ResponseTooLarge):
        http.request(http.build_session(http.HttpSettings(max_body_bytes=MiB)), "GET", hostile.url + "/huge", what="x")


def test_a_body_under_the_cap_is_read_whole(hostile):
    hostile.route("/ok", Reply.huge(3 * MiB, chunked=True))
    data = http.get_json(http.build_session(http.HttpSettings(max_body_bytes=4 * MiB)), hostile.url + "/ok", what="x")
    assert len(data) == 3 * MiB // 2 - 1 or len(data) > 1_000_000


def test_gerrit_xssi_prefix_is_stripped(hostile):
    hostile.route("/changes/1", Reply.json({"_number": 1}, prefix=b")]}'\n"))
    assert http.get_json(http.build_session(FAST), hostile.url + "/changes/1", what="x") == {"_number": 1}


def test_deeply_nested_answer_is_a_service_error(hostile):
    hostile.route("/deep", Reply.deep_json(100_000))
    with pytest.raises(ServiceError, match="nested deeper than 64"):
        http.get_json(http.build_session(FAST), hostile.url + "/deep", what="x")


def test_the_deadline_cuts_a_silent_server_short(hostile):
    hostile.route("/silent", Reply.silent())
    deadline = http.Deadline(1.5, "test")
    started = time.monotonic()
    with pytest.raises(RequestTimeout):
        http.get_json(http.build_session(http.HttpSettings(retries=3), deadline=deadline),
                      hostile.url + "/silent", what="x")
    assert time.monotonic() - started < 3


def test_retry_after_beyond_the_deadline_is_not_slept(hostile):
    hostile.route("/busy", Reply.retry_after(20))
    deadline = http.Deadline(5, "test")
    started = time.monotonic()
    with pytest.raises(HTTPError) as info:
        http.get_json(http.build_session(http.HttpSettings(max_retry_after=30), deadline=deadline),
                      hostile.url + "/busy", what="x")
    assert time.monotonic() - started < 1
    assert info.value.status == 429 and "retry after 20" in str(info.value)
    assert hostile.hits["/busy"] == 1


def test_a_429_storm_stops_within_the_deadline(hostile):
    hostile.route("/busy", Reply.retry_after(1))
    deadline = http.Deadline(2.5, "test")
    started = time.monotonic()
    with pytest.raises(HTTPError):
        http.get_json(http.build_session(http.HttpSettings(retries=10), deadline=deadline),
                      hostile.url + "/busy", what="x")
    assert time.monotonic() - started < 3
    assert 2 <= hostile.hits["/busy"] <= 3


def test_the_retry_budget_is_shared_by_every_session_of_a_run(hostile):
    hostile.route("/flaky", Reply.status(503))
    deadline = http.Deadline(30, "test", retry_budget=4)
    settings = http.HttpSettings(retries=3, backoff=0.01)
    for _ in range(3):
        with pytest.raises(HTTPError):
            http.get_json(http.build_session(settings, deadline=deadline), hostile.url + "/flaky", what="x")
    # 3 first attempts + 4 retries in all, not 3 x (1 + 3).
    assert hostile.hits["/flaky"] == 7


def test_a_spent_deadline_names_the_slow_host(hostile):
    hostile.route("/slow", Reply.drip(interval=0.3, data=b"x" * 100, announced=5))
    deadline = http.Deadline(0.5, "ostk recheck")
    session = http.build_session(http.HttpSettings(stall_timeout=10), deadline=deadline)
    with pytest.raises(RequestTimeout):
        http.get_json(session, hostile.url + "/slow", what="reading x")
    with pytest.raises(RequestTimeout) as info:
        http.get_json(session, hostile.url + "/other", what="reading y")
    assert f"127.0.0.1:{hostile.port} is too slow" in str(info.value)
    assert "--timeout" in str(info.value)


def test_reset_mid_body_is_a_truncated_download(hostile):
    hostile.route("/reset", Reply.reset_mid_body())
    with pytest.raises((TruncatedDownload, ConnectionFailed)):
        b"".join(http.iter_bytes(http.build_session(FAST), hostile.url + "/reset", what="log"))


def test_a_redirect_loop_is_a_service_error(hostile):
    hostile.route("/loop", Reply.redirect_loop())
    with pytest.raises(ServiceError, match="too many redirects"):
        http.get_json(http.build_session(FAST), hostile.url + "/loop", what="x")
    assert hostile.hits["/loop"] == FAST.max_redirects + 1


def test_a_session_follows_the_deadline_of_the_command_using_it(hostile):
    import threading

    hostile.route("/x", Reply.json([1]))
    first = http.Deadline(0.01, "first command")
    with http.use_deadline(first):
        cached = http.build_session(FAST)  # e.g. a module-level session
        seen = []
        worker = threading.Thread(target=lambda: seen.append(cached.deadline))
        worker.start()
        worker.join()
        assert seen == [first]  # worker threads inherit it through the session
    time.sleep(0.02)
    # The first command is over: its spent deadline does not follow the session.
    assert http.get_json(cached, hostile.url + "/x", what="x") == [1]
    second = http.Deadline(30, "second command")
    with http.use_deadline(second):
        assert cached.deadline is second
    explicit = http.Deadline(30, "mine")
    with http.use_deadline(second):
        assert http.build_session(FAST, deadline=explicit).deadline is explicit


def test_deadline_rejects_nonsense():
    for seconds in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            http.Deadline(seconds, "x")


# Through the CLI -------------------------------------------------------------
def _review(hostile, *extra):
    return run_cli(["recheck", "123", "--gerrit", hostile.url, "--timeout", "4", *extra], kill_after=60)


@pytest.mark.parametrize(
    ("reply", "within", "mentions"),
    [
        (Reply.huge(100 * MiB), 10, ["33,554,432-byte limit"]),
        (Reply.huge(100 * MiB, chunked=True), 10, ["33,554,432-byte limit"]),
        (Reply.endless(), 10, ["limit"]),
        (Reply.gzip_bomb(1 << 30), 15, ["limit"]),
        (Reply.drip(interval=0.5), 10, ["too slow", "--timeout"]),
        (Reply.silent(), 10, ["127.0.0.1"]),
        (Reply.slow_headers(interval=0.2), 10, ["127.0.0.1"]),
        (Reply.retry_after(30), 5, ["429", "retry after 30"]),
        (Reply.retry_after(1, status=503), 10, ["503"]),
        (Reply.reset_mid_body(), 10, ["127.0.0.1"]),
        (Reply.redirect_loop(), 10, ["too many redirects"]),
        (Reply.status(502, reason="\x1b[2J\x1b]0;pwned\x07Bad"), 10, ["502", "\\x1b[2J"]),
    ],
    ids=lambda value: value.label if isinstance(value, Reply) else None,
)
def test_review_against_a_hostile_gerrit_fails_in_one_line(hostile, reply, within, mentions):
    hostile.route("/changes/", reply)
    run = _review(hostile)
    assert_refused(run, 4, within=within, mentions=mentions)


@pytest.mark.parametrize(
    ("reply", "mentions"),
    [
        (Reply.endless(unit=b"2024-01-01 00:00:00.000000 | ok\n" * 2000), ["--timeout"]),
        (Reply.drip(interval=0.5), ["--timeout"]),
        (Reply.silent(), ["127.0.0.1"]),
        (Reply.retry_after(3600), ["429"]),
    ],
    ids=lambda value: value.label if isinstance(value, Reply) else None,
)
def test_log_download_from_a_hostile_server_is_bounded(hostile, reply, mentions):
    hostile.route("/logs/job-output.txt", reply)
    run = run_cli(["recheck", hostile.url + "/logs/job-output.txt", "--timeout", "3"], kill_after=60)
    assert_refused(run, 4, within=10, mentions=mentions)


def test_log_cut_mid_body_is_analysed_as_far_as_it_got(hostile):
    # recheck's documented choice: a truncated log is analysed with a warning.
    hostile.route("/logs/job-output.txt", Reply.reset_mid_body())
    run = run_cli(["recheck", hostile.url + "/logs/job-output.txt", "--timeout", "3"], kill_after=60)
    assert run.exit_code == 0, run.describe()
    assert "Traceback" not in run.stderr
    assert "truncated" in run.stderr_lines[0]
    assert run.seconds < 10


@pytest.mark.parametrize(
    "reply",
    [Reply.silent(), Reply.slow_headers(interval=0.2), Reply.drip(interval=0.3), Reply.retry_after(60), Reply.endless()],
    ids=lambda reply: reply.label,
)
def test_certificates_from_a_hostile_keystone_are_bounded(hostile, reply):
    # The certificate endpoints took up to 200 s against a slow keystone.
    hostile.route("/", reply)
    run = run_cli(["pki", "verify", "MIIB" + "A" * 100, "--keystone", hostile.url, "--timeout", "3"], kill_after=60)
    assert_refused(run, 4, within=10, mentions=["keystone"])
