"""Logs over real HTTP (a server on 127.0.0.1): encodings, cuts, errors."""
from __future__ import annotations

import gzip

import pytest

import recheck
from ostk.errors import ConnectionFailed, NotFound
from ostk.http import HttpSettings, build_session

LOG = (
    b"2024-05-14 09:12:01.000002 | controller | {1} tempest.api.compute.T.test_b [1.0s] ... FAILED\n"
    b"2024-05-14 09:12:01.000006 | controller |     Traceback (most recent call last):\n"
    b"2024-05-14 09:12:01.000007 | controller |     ValueError: nope\n"
    b"2024-05-14 09:12:02 | controller | {0} tempest.api.compute.T.test_c [1.0s] ... ok\n"
) + "".join(
    # Varied names so that gzip cannot squeeze the log to nothing (cuts must land mid-body).
    f"2024-05-14 09:12:02.{i:06d} | controller | {{0}} tempest.x.T.test_{i * 7919 % 100003:x} [{i % 97}.{i % 13}s] ... ok\n"
    for i in range(20000)
).encode()


def fast_session():
    return build_session(HttpSettings(connect_timeout=2, read_timeout=5, retries=0, backoff=0))


def ids(a):
    return [f.id for f in a.failures]


def test_plain_and_gzip_file_over_http(serve):
    url = serve("/logs/check/tempest-full/abc1234/job-output.txt", LOG)
    a = recheck.analyze(url, session=fast_session())
    assert ids(a) == ["tempest.api.compute.T.test_b"] and not a.truncated
    url = serve("/logs/job-output.txt.gz", gzip.compress(LOG))
    a = recheck.analyze(url, session=fast_session())
    assert ids(a) == ["tempest.api.compute.T.test_b"] and a.bytes == len(LOG)


def test_content_encoding_gzip(serve, log_server):
    url = serve("/job-output.txt", gzip.compress(LOG), headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})
    a = recheck.analyze(url, session=fast_session())
    assert ids(a) == ["tempest.api.compute.T.test_b"]
    assert a.bytes == len(LOG) and not a.truncated


def test_connection_cut_mid_body_gives_partial_analysis(serve):
    body = LOG * 3
    url = serve("/job-output.txt", body, cut_at=len(body) // 2)
    a = recheck.analyze(url, session=fast_session())
    assert a.truncated and a.warnings[0].startswith("log truncated")
    assert ids(a) == ["tempest.api.compute.T.test_b"]
    assert 0 < a.bytes < len(body)


def test_gzip_encoded_connection_cut_mid_body(serve):
    body = gzip.compress(LOG * 3)
    url = serve("/job-output.txt", body, headers={"Content-Encoding": "gzip"}, cut_at=len(body) // 2)
    a = recheck.analyze(url, session=fast_session())
    assert a.truncated
    assert ids(a) == ["tempest.api.compute.T.test_b"]


def test_gzip_file_cut_mid_body(serve):
    body = gzip.compress(LOG * 3)
    url = serve("/job-output.txt.gz", body, cut_at=len(body) // 2)
    a = recheck.analyze(url, session=fast_session())
    assert a.truncated and ids(a) == ["tempest.api.compute.T.test_b"]


def test_missing_log_is_not_found(serve, log_server):
    with pytest.raises(NotFound):
        recheck.analyze(log_server.url + "/expired/job-output.txt", session=fast_session())


def test_unreachable_server():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionFailed):
        recheck.analyze(f"http://127.0.0.1:{port}/job-output.txt", session=fast_session())


def test_console_html_over_http(serve):
    html = b"<html><pre>\n<span>FAIL: test_x (nova.tests.T)</span>\n" + b"-" * 70 + b"\nTraceback\nKeyError: &#39;cpus&#39;\n</pre></html>\n"
    url = serve("/31/64831/1/check/gate-nova-python27/287c655/console.html", html)
    a = recheck.analyze(url, session=fast_session())
    assert ids(a) == ["nova.tests.T.test_x"]
    assert a.failures[0].message == "KeyError: 'cpus'"
