"""The CI simulator itself: what users of ``recheck.testing`` rely on."""
from __future__ import annotations

import gzip
import time

import requests

from recheck.testing import CISimulator, SimLog


def test_binds_a_free_loopback_port_and_stops():
    with CISimulator() as one, CISimulator() as two:
        assert one.url.startswith("http://127.0.0.1:") and one.url != two.url
        url = one.url
    try:
        requests.get(url + "/changes/1", timeout=1)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the simulator still answers after stopping")


def test_gerrit_bodies_carry_the_xssi_prefix_and_a_requires_auth(sim):
    sim.add_change(1)
    assert requests.get(f"{sim.url}/changes/1", timeout=5).text.startswith(")]}'\n")
    assert requests.get(f"{sim.url}/a/changes/1", timeout=5).status_code == 401
    assert requests.get(f"{sim.url}/a/changes/1", auth=(sim.username, sim.password), timeout=5).status_code == 200


def test_log_encodings(sim):
    text = b"line\n" * 1000
    plain = sim.add_log("a/job-output.txt", SimLog(text))
    encoded = sim.add_log("b/job-output.txt", SimLog(text, encoding="gzip"))
    dotgz = sim.add_log("c/job-output.txt.gz", SimLog(text, encoding="gz"))
    assert requests.get(plain, timeout=5).content == text
    response = requests.get(encoded, timeout=5)
    assert response.headers["Content-Encoding"] == "gzip" and response.content == text
    raw = requests.get(dotgz, timeout=5)
    assert "Content-Encoding" not in raw.headers and gzip.decompress(raw.content) == text
    assert requests.get(f"{sim.logs_url}/nope", timeout=5).status_code == 404


def test_bandwidth_cap_and_503_bursts(sim):
    url = sim.add_log("slow.txt", SimLog(b"x" * 100_000, rate=200_000))
    started = time.monotonic()
    assert len(requests.get(url, timeout=5).content) == 100_000
    assert time.monotonic() - started >= 0.4
    sim.fail_next("logs", 2)
    assert [requests.get(url, timeout=5).status_code for _ in range(2)] == [503, 503]


def test_truncated_bodies_close_the_connection_early(sim):
    url = sim.add_log("cut.txt", SimLog(b"y" * 500_000, truncate_at=100_000))
    try:
        _ = requests.get(url, timeout=5).content
    except requests.exceptions.ChunkedEncodingError:
        pass
    else:
        raise AssertionError("a truncated body must not look complete")


def test_the_documented_example_runs():
    import textwrap

    import recheck.testing

    doc = recheck.testing.__doc__
    block = doc.split("::\n", 1)[1].split("\nReal data:", 1)[0]
    namespace: dict = {}
    exec(compile(textwrap.dedent(block), "recheck.testing docstring", "exec"), namespace)
    assert namespace["report"].suggestion == "recheck bug #1900001"
