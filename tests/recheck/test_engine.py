"""The engine on awkward input: chunking, gzip, truncation, junk, huge lines."""
from __future__ import annotations

import gzip
import io
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recheck
from ostk.errors import TruncatedDownload
from recheck import FailureKind, LogScanner

FAILING = (
    b"2024-05-14 09:12:00.000001 | controller | {0} tempest.api.compute.T.test_a [1.0s] ... ok\n"
    b"2024-05-14 09:12:01.000002 | controller | {1} tempest.api.compute.T.test_b [1.0s] ... FAILED\n"
    b"2024-05-14 09:12:01.000003 | controller | \n"
    b"2024-05-14 09:12:01.000004 | controller | Captured traceback:\n"
    b"2024-05-14 09:12:01.000005 | controller | ~~~~~~~~~~~~~~~~~~~\n"
    b"2024-05-14 09:12:01.000006 | controller |     Traceback (most recent call last):\n"
    b"2024-05-14 09:12:01.000007 | controller |     tempest.lib.exceptions.BuildErrorException: Server failed to build\n"
    b"2024-05-14 09:12:02 | controller | {0} tempest.api.compute.T.test_c [1.0s] ... ok\n"
    b"2024-05-14 09:12:03.000001 | controller | ERROR\n"
    b"2024-05-14 09:12:03.000002 | controller | {\n"
    b'2024-05-14 09:12:03.000003 | controller |   "msg": "non-zero return code",\n'
    b'2024-05-14 09:12:03.000004 | controller |   "rc": 1\n'
    b"2024-05-14 09:12:03.000005 | controller | }\n"
)


def summary(a):
    return [(f.kind, f.id, f.message, f.line, f.excerpt) for f in a.failures]


REFERENCE = summary(recheck.analyze_stream([FAILING]))


def test_reference_log_findings():
    assert [(k, i, m, ln) for k, i, m, ln, _ in REFERENCE] == [
        (FailureKind.TEST, "tempest.api.compute.T.test_b", "tempest.lib.exceptions.BuildErrorException: Server failed to build", 2),
        (FailureKind.TASK, "controller", "non-zero return code; rc=1", 9),
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(FAILING)), max_size=30), st.booleans())
def test_any_chunking_gives_the_same_answer(cuts, compress):
    data = gzip.compress(FAILING, mtime=0) if compress else FAILING
    points = sorted({c % len(data) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=False)]
    assert summary(recheck.analyze_stream(pieces)) == REFERENCE


def test_gzip_detected_by_magic_whatever_the_name():
    a = recheck.analyze_stream([gzip.compress(FAILING)], name="console.txt")
    assert summary(a) == REFERENCE


def test_plain_bytes_under_a_gz_name_are_read_as_plain():
    # Servers often decode Content-Encoding for us although the name says .gz.
    a = recheck.analyze_stream([FAILING], name="job-output.txt.gz", content_encoding="gzip")
    assert summary(a) == REFERENCE and not a.truncated


def test_multi_member_gzip_is_read_to_the_end():
    half = len(FAILING) // 2
    cut = FAILING.rindex(b"\n", 0, half) + 1
    data = gzip.compress(FAILING[:cut]) + gzip.compress(FAILING[cut:])
    assert summary(recheck.analyze_stream([data])) == REFERENCE


def test_truncated_gzip_gives_a_partial_analysis_and_a_warning():
    data = gzip.compress(FAILING * 50)
    a = recheck.analyze_stream([data[: len(data) * 2 // 3]])
    assert a.truncated
    assert a.warnings[0].startswith("log truncated")
    assert any(f.id == "tempest.api.compute.T.test_b" for f in a.failures)


def test_corrupt_gzip_is_reported_not_raised():
    data = bytearray(gzip.compress(FAILING * 20))
    data[200:260] = b"\xff" * 60
    a = recheck.analyze_stream([bytes(data)])
    assert a.truncated
    assert any("corrupt" in w for w in a.warnings)


def test_iterator_raising_truncated_download_gives_partial_result():
    def chunks():
        yield FAILING[:300]
        raise TruncatedDownload("downloading x: download cut short (connection reset)")

    a = recheck.analyze_stream(chunks())
    assert a.truncated and a.bytes == 300
    assert a.failures[0].id == "tempest.api.compute.T.test_b"


def test_log_scanner_can_be_finished_by_the_downloader_after_a_cut():
    scanner = LogScanner(name="job-output.txt")
    scanner.feed(FAILING[:400])
    a = scanner.finish(truncated=True)
    assert a.truncated and a.failures[0].id == "tempest.api.compute.T.test_b"
    assert scanner.finish() is a  # finishing twice is harmless


def test_empty_log():
    a = recheck.analyze_stream([])
    assert a.failures == () and a.bytes == 0 and "log is empty" in a.warnings
    a = recheck.analyze_stream([b""], name="x.gz")
    assert a.failures == () and not a.truncated


def test_binary_junk_and_nul_bytes_do_not_break_the_scan():
    junk = bytes(range(256)) * 64
    a = recheck.analyze_stream([junk, b"\x00\x00FAIL: x.T.test_z\n\x00", junk])
    assert any("binary" in w for w in a.warnings)
    assert all("\x00" not in f.message for f in a.failures)


def test_invalid_utf8_is_replaced_with_a_warning():
    a = recheck.analyze_stream([b"{0} tempest.x.T.test_\xff\xfe [1.0s] ... FAILED\n"])
    assert a.failures[0].id == "tempest.x.T.test_\ufffd\ufffd"
    assert "invalid UTF-8 replaced" in a.warnings


def test_a_100_mb_line_without_newline_keeps_memory_bounded():
    block = b"x" * (1024 * 1024)

    def chunks():
        yield b"FAIL: before.T.test_1\n"
        for _ in range(100):
            yield block
        yield b"\n{0} after.T.test_2 [1.0s] ... FAILED\n"

    tracemalloc.start()
    try:
        a = recheck.analyze_stream(chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, peak
    assert [f.id for f in a.failures] == ["before.T.test_1", "after.T.test_2"]
    assert a.failures[1].line == 3
    assert any("very long line" in w for w in a.warnings)


def test_a_huge_line_without_any_newline_at_all():
    a = recheck.analyze_stream(iter([b"ERROR " + b"y" * 300_000]))
    assert a.lines == 1 and a.bytes == 300_006


def test_html_entities_in_plain_text_logs_are_left_alone():
    a = recheck.analyze_stream([b"FAILED tests/t.py::test_a - assert '&lt;' == '<'\n"])
    assert a.failures[0].message == "assert '&lt;' == '<'"


def test_analyze_reads_paths_and_streams(tmp_path):
    p = tmp_path / "job-output.txt.gz"
    p.write_bytes(gzip.compress(FAILING))
    assert summary(recheck.analyze(p)) == REFERENCE
    assert summary(recheck.analyze(str(p))) == REFERENCE
    assert summary(recheck.analyze(io.BytesIO(FAILING))) == REFERENCE


def test_missing_path_is_an_input_error(tmp_path):
    from ostk.errors import InputError

    with pytest.raises(InputError, match="no such log file"):
        recheck.analyze(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="directory"):
        recheck.analyze(tmp_path)


def test_ansi_colours_and_control_characters_never_reach_the_report():
    log = (
        b"\x1b[31m{0} tempest.x.T.test_y [1.0s] ... FAILED\x1b[0m\n"
        b"    Traceback (most recent call last):\n"
        b"    ValueError: bad \x1b]0;pwned\x07title\x07 \x08\x1b[2J\r\n"
        b"{1} tempest.x.T.test_z [1.0s] ... ok\n"
    )
    a = recheck.analyze_stream([log])
    (f,) = a.failures
    assert f.id == "tempest.x.T.test_y"
    assert f.message == "ValueError: bad title"
    for text in (f.id, f.message, f.excerpt):
        assert not any(ord(c) < 32 and c not in "\n\t" for c in text), repr(text)


_PIECES = st.sampled_from(
    [
        b"FAIL: a.T.test_x\n", b"-" * 70 + b"\n", b"=" * 70 + b"\n", b"Traceback (most recent call last):\n",
        b"{0} t.T.test_y [1.0s] ... FAILED\n", b"Failed 2 tests - output below:\n", b"Totals\n",
        b"2024-05-14 09:12:00.1 | controller | ERROR\n", b"2024-05-14 09:12:00 | controller | {\n", b"}\n",
        b"RUN END RESULT_TIMED_OUT: [x]\n", b"[ERROR] f:1 boom\n", b"<span>&amp;&#x1F600;</span>\n",
        b"\x1f\x8b", b"\xb3", b"\x00\xff\xfe", b"\r\n", b"[", b"\n",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.binary(max_size=40)), max_size=40), st.sampled_from(
    ["", "job-output.txt", "console.html", "job-output.json", "x.subunit", "a.txt.gz"]))
def test_arbitrary_input_never_raises(pieces, name):
    a = recheck.analyze_stream(pieces, name=name)
    assert a.bytes >= 0
    for f in a.failures:
        assert len(f.excerpt) <= 5000 and len(f.message) <= 500


HTML = (
    b"<html><body><pre>\n"
    b"<span class=\"ts\">2014-01-14 18:31:23.456</span> | FAIL: test_x (nova.tests.T)\n"
    + b"-" * 70 + b"\n"
    b"Traceback (most recent call last):\n"
    b"MismatchError: &lt;Response [500]&gt; != &quot;ok&quot;\n"
    + b"=" * 70 + b"\n"
    + b"".join(b"<span>2014-01-14 18:31:24</span> | ok line %d &amp; more</span>\n" % i for i in range(200))
    + b"<a href='x'>Slave went offline during the build</a>\n</pre></body></html>\n"
)
HTML_REFERENCE = summary(recheck.analyze_stream([HTML], name="console.html"))


def test_html_reference():
    assert [(k, i, m) for k, i, m, _, _ in HTML_REFERENCE] == [
        (FailureKind.INFRA, "job", "Slave went offline during the build"),
        (FailureKind.TEST, "nova.tests.T.test_x", 'MismatchError: <Response [500]> != "ok"'),
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(HTML)), max_size=20))
def test_html_any_chunking_gives_the_same_answer(cuts):
    points = sorted(set(cuts))
    pieces = [HTML[a:b] for a, b in zip([0, *points], [*points, len(HTML)], strict=False)]
    assert summary(recheck.analyze_stream(pieces, name="console.html")) == HTML_REFERENCE


def test_a_runaway_log_keeps_a_bounded_number_of_failures():
    from recheck.scanner import MAX_FAILURES

    log = b"".join(b"{0} t.T.test_%d [1.0s] ... FAILED\n" % i for i in range(MAX_FAILURES + 50))
    a = recheck.analyze_stream([log])
    assert len(a.failures) == MAX_FAILURES
    # Past the cap the log is not read for failures any more: a runaway log costs
    # seconds, not minutes (issue 17, class 8).
    assert any(f"more than {MAX_FAILURES} failures" in w for w in a.warnings)


@pytest.fixture(params=["isal", "zlib"])
def inflater_backend(request, monkeypatch):
    """Run with ISA-L (the default when installed) and with the plain-zlib fallback."""
    import zlib

    from recheck import inflate

    if request.param == "zlib":
        monkeypatch.setattr(inflate, "decompressobj", zlib.decompressobj)
    else:
        assert inflate.decompressobj is not zlib.decompressobj, "isal is a dependency: it should be in use"
    return request.param


def test_both_inflate_backends_agree_on_whole_cut_corrupt_and_multi_member_gzip(inflater_backend, strict=False):
    whole = gzip.compress(FAILING * 50)
    assert summary(recheck.analyze_stream([whole])) == summary(recheck.analyze_stream([FAILING * 50]))
    cut = recheck.analyze_stream([whole[: len(whole) // 2]])
    assert cut.truncated and cut.failures
    bad = bytearray(whole)
    bad[100:160] = b"\xff" * 60
    corrupt = recheck.analyze_stream([bytes(bad)])
    assert corrupt.truncated and any("corrupt" in w for w in corrupt.warnings)
    two = gzip.compress(FAILING) + gzip.compress(FAILING) + b"\x00" * 16
    assert recheck.analyze_stream([two]).bytes == 2 * len(FAILING)


def test_a_gzip_bomb_is_read_up_to_the_output_cap_then_reported(monkeypatch):
    """issue 17 class 8: decompressed size is bounded, and the user is told."""
    import gzip

    from recheck import inflate

    monkeypatch.setattr(inflate, "MAX_OUTPUT", 8 * 1024 * 1024)
    member = gzip.compress(b"all quiet here\n" * 262144)  # 3.75 MiB each
    a = recheck.analyze_stream([member] * 100, name="job-output.txt.gz")
    assert a.truncated
    assert a.bytes <= 8 * 1024 * 1024 + inflate.BLOCK
    assert any("MiB once decompressed: only that much was read" in w for w in a.warnings)
