"""Proof on real data: real subunit streams, rendered by the real tools, wrapped
the way Zuul writes job-output.txt, gzipped — the exact failing tests come out
with their tracebacks. Same when the subunit stream itself is read."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import subunit
import testtools

import recheck
from recheck import FailureKind

TOOLS = [
    "subunit-trace",
    "subunit-trace --fails",
    "subunit-trace --no-failure-debug --fails",  # tempest's way: only the "output below" section
    "subunit2pyunit",
    "stestr last",
]


def expected_failures(stream: Path) -> dict[str, str]:
    """What python-subunit itself says failed: test id (without attributes) → traceback."""
    found: dict[str, str] = {}

    def on_test(test: dict) -> None:
        if test["status"] in ("fail", "uxsuccess"):
            tb = test["details"].get("traceback")
            found[test["id"].split("[", 1)[0]] = tb.as_text() if tb else ""

    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    subunit.ByteStreamToStreamResult(io.BytesIO(stream.read_bytes())).run(result)
    result.stopTestRun()
    return found


def last_traceback_line(traceback: str) -> str:
    return [ln for ln in traceback.splitlines() if ln.strip()][-1].strip()


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("host", ["controller", None])
def test_rendered_failing_run_gives_the_exact_failing_test_and_its_traceback(
    subunit_dir, render, wrap, gzipped, tool, host
):
    stream = subunit_dir / "stestr_failure.subunit"
    expected = expected_failures(stream)
    assert len(expected) == 1  # the fixture: 63 tests, 1 failure
    log = gzipped(wrap(render(tool, stream), host))

    analysis = recheck.analyze(io.BytesIO(log))

    tests = [f for f in analysis.failures if f.kind is FailureKind.TEST]
    assert [f.id for f in tests] == list(expected)
    (_test_id, traceback), failure = next(iter(expected.items())), tests[0]
    assert failure.message == last_traceback_line(traceback)
    assert 'File "stestr/tests/test_subunit_trace.py", line 84, in test_trace_with_all_skips' in failure.excerpt
    # Zuul's prefixes are gone from what we report.
    assert "2024-05-14" not in failure.excerpt and "controller |" not in failure.excerpt
    assert failure.line is not None and failure.line > 1
    assert not analysis.truncated and analysis.warnings == ()


@pytest.mark.parametrize("tool", TOOLS[:4])
@pytest.mark.parametrize("name", ["stestr_successful.subunit", "stestr_all_skips.subunit", "neutron-tempest-plugin.subunit"])
def test_rendered_passing_runs_report_no_test_failure(subunit_dir, render, wrap, gzipped, tool, name):
    log = gzipped(wrap(render(tool, subunit_dir / name)))
    analysis = recheck.analyze(io.BytesIO(log))
    assert [f for f in analysis.failures if f.kind is FailureKind.TEST] == []


@pytest.mark.parametrize(
    "name",
    ["stestr_failure.subunit", "stestr_successful.subunit", "stestr_all_skips.subunit", "neutron-tempest-plugin.subunit"],
)
def test_subunit_streams_read_directly_give_exactly_the_failed_tests(subunit_dir, name):
    stream = subunit_dir / name
    expected = expected_failures(stream)

    analysis = recheck.analyze(stream)

    assert [f.id for f in analysis.failures] == list(expected)
    for failure in analysis.failures:
        assert failure.kind is FailureKind.TEST
        assert failure.message == last_traceback_line(expected[failure.id])
        assert "Traceback (most recent call last):" in failure.excerpt


def test_subunit_stream_gzipped_and_unnamed_is_still_recognised(subunit_dir, gzipped):
    data = gzipped((subunit_dir / "stestr_failure.subunit").read_bytes())
    analysis = recheck.analyze_stream([data[i : i + 1000] for i in range(0, len(data), 1000)])
    assert [f.id for f in analysis.failures] == [
        "stestr.tests.test_subunit_trace.TestSubunitTrace.test_trace_with_all_skips"
    ]


def test_truncated_subunit_stream_gives_what_was_read_without_exception(subunit_dir):
    data = (subunit_dir / "neutron-tempest-plugin.subunit").read_bytes()
    analysis = recheck.analyze_stream([data[: len(data) // 2]], name="tempest.subunit")
    assert analysis.failures == ()
    assert analysis.bytes == len(data) // 2
    assert any(w.startswith("subunit stream damaged: Short read") for w in analysis.warnings)


def test_bundled_example_is_built_from_the_fixtures_and_reproducible(tmp_path, shared_fixtures):
    import runpy

    repo = Path(__file__).resolve().parents[2]
    builder = runpy.run_path(str(repo / "examples" / "build_job_output.py"))
    data = builder["build"](shared_fixtures)
    shipped = (repo / "examples" / "job-output.txt.gz").read_bytes()
    assert data == shipped, "examples/job-output.txt.gz is stale: run examples/build_job_output.py"
    assert len(shipped) < 500_000

    analysis = recheck.analyze(repo / "examples" / "job-output.txt.gz")

    assert [(f.kind, f.id) for f in analysis.failures] == [
        (FailureKind.TEST, "stestr.tests.test_subunit_trace.TestSubunitTrace.test_trace_with_all_skips"),
        (FailureKind.TASK, "Run unit tests/controller"),
    ]
    assert analysis.failures[1].message == "non-zero return code; rc=1"
