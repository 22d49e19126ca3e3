"""The shared HTTP session against a real local server: retries, timeouts, errors."""
from __future__ import annotations

import time

import pytest
from scripted_server import Reply, ScriptedServer, free_port

from ostk import http
from ostk.errors import (
    AuthFailed,
    ConnectionFailed,
    HTTPError,
    NotFound,
    RequestTimeout,
    TruncatedDownload,
)

FAST = http.HttpSettings(connect_timeout=2, read_timeout=2, retries=3, backoff=0.01, max_retry_after=2)


@pytest.fixture
def server():
    with ScriptedServer() as srv:
        yield srv


def test_get_retries_503_then_succeeds(server):
    server.on("/x", Reply(503), Reply(503), Reply(200, b"fine"))
    response = http.request(http.build_session(FAST), "GET", server.url + "/x", what="fetching x")
    assert response.text == "fine"
    assert server.hits["/x"] == 3


def test_gives_up_after_retries_with_http_error(server):
    server.on("/x", Reply(502, b"bad gateway"))
    with pytest.raises(HTTPError) as info:
        http.request(http.build_session(FAST), "GET", server.url + "/x", what="fetching x")
    assert info.value.status == 502
    assert "fetching x: HTTP 502" in str(info.value)
    assert server.hits["/x"] == 1 + FAST.retries


def test_429_honours_retry_after(server):
    server.on("/x", Reply(429, headers={"Retry-After": "1"}), Reply(200, b"done"))
    started = time.monotonic()
    http.request(http.build_session(FAST), "GET", server.url + "/x", what="x")
    assert time.monotonic() - started >= 0.9
    assert server.hits["/x"] == 2


def test_retry_after_is_capped(server):
    server.on("/x", Reply(503, headers={"Retry-After": "3600"}), Reply(200))
    started = time.monotonic()
    http.request(http.build_session(FAST), "GET", server.url + "/x", what="x")
    assert time.monotonic() - started < FAST.max_retry_after + 1.5


def test_post_is_not_retried_on_5xx(server):
    server.on("/review", Reply(503), Reply(200))
    with pytest.raises(HTTPError):
        http.request(http.build_session(FAST), "POST", server.url + "/review", what="posting", json={})
    assert server.hits["/review"] == 1


def test_closed_connection_is_retried_for_get(server):
    server.on("/x", Reply(drop=True), Reply(200, b"second time"))
    response = http.request(http.build_session(FAST), "GET", server.url + "/x", what="x")
    assert response.text == "second time"
    assert server.hits["/x"] == 2


def test_closed_connection_on_post_is_not_retried(server):
    server.on("/review", Reply(drop=True), Reply(200))
    with pytest.raises(ConnectionFailed):
        http.request(http.build_session(FAST), "POST", server.url + "/review", what="posting", json={})
    assert server.hits["/review"] == 1


def test_refused_connection_is_connection_failed():
    url = f"http://127.0.0.1:{free_port()}/nothing"
    with pytest.raises(ConnectionFailed) as info:
        http.request(http.build_session(FAST), "GET", url, what="fetching the log")
    assert "fetching the log: cannot reach" in str(info.value)
    assert "connection refused" in str(info.value)


def test_slow_answer_is_a_timeout(server):
    settings = http.HttpSettings(connect_timeout=1, read_timeout=0.3, retries=0)
    server.on("/slow", Reply(200, delay=1.5))
    with pytest.raises(RequestTimeout):
        http.request(http.build_session(settings), "GET", server.url + "/slow", what="x")


def test_status_maps_to_specific_errors(server):
    server.on("/gone", Reply(404))
    server.on("/secret", Reply(401))
    session = http.build_session(FAST)
    with pytest.raises(NotFound):
        http.request(session, "GET", server.url + "/gone", what="x")
    with pytest.raises(AuthFailed):
        http.request(session, "GET", server.url + "/secret", what="x")


def test_truncated_body_is_reported(server):
    server.on("/log", Reply(200, b"x" * 1000, content_length=5000))
    settings = http.HttpSettings(retries=0, read_timeout=2)
    with pytest.raises(TruncatedDownload):
        b"".join(http.iter_bytes(http.build_session(settings), server.url + "/log", what="log"))


def test_streaming_yields_the_whole_body(server):
    body = bytes(range(256)) * 4096
    server.on("/big", Reply(200, body))
    chunks = list(http.iter_bytes(http.build_session(FAST), server.url + "/big", what="x", chunk_size=65536))
    assert len(chunks) > 1
    assert b"".join(chunks) == body


def test_user_agent_names_ostk(server):
    server.on("/x", Reply(200))
    http.request(http.build_session(FAST), "GET", server.url + "/x", what="x")
    assert server.requests[-1][2]["User-Agent"].startswith("ostk/")


def test_get_json_rejects_non_json(server):
    server.on("/x", Reply(200, b"<html>"))
    with pytest.raises(Exception) as info:
        http.get_json(http.build_session(FAST), server.url + "/x", what="reading x")
    assert "not valid JSON" in str(info.value)


def test_redact_url_drops_credentials():
    assert http.redact_url("https://bob:hunter2@review.example.org/a/changes") == (
        "https://review.example.org/a/changes"
    )
