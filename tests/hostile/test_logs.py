"""Hostile logs (issue 17, classes 1-3 for job-output.json and class 8): one line at most on
stderr, the right exit code, no traceback, bounded wall time and peak memory.

Each case runs ``ostk recheck FILE --json`` through ``ostk.cli.main`` in a fresh child
process and measures that child alone (``os.wait4``'s rusage).
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: The child reports its own peak RSS when main() returns: VmHWM, the high-water mark
#: of its own address space (getrusage's ru_maxrss would include the parent's RSS, which
#: Linux carries across fork and exec).
_CHILD = """
import sys
from ostk.cli import main
try:
    code = main(['recheck', sys.argv[1], '--json'])
finally:
    with open('/proc/self/status') as status, open(sys.argv[2], 'w') as f:
        f.write(next(ln for ln in status if ln.startswith('VmHWM:')).split()[1])
sys.exit(code)
"""


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: list[str]
    seconds: float
    peak_mb: float

    def report(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.stdout)
        (job,) = doc["jobs"]
        return dict(job)


def recheck(path: Path, *, kill_after: float = 170) -> Run:
    rss = path.with_name(path.name + ".rss")
    start = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(rss)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = proc.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"ostk recheck {path.name} still running after {kill_after} s")
    peak_kb = int(rss.read_text())
    print(f"{path.name}: exit {proc.returncode}, {time.monotonic() - start:.1f} s, {peak_kb / 1024:.0f} MB peak")
    return Run(
        proc.returncode,
        out.decode("utf-8", "replace"),
        [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()],
        time.monotonic() - start,
        peak_kb / 1024,
    )


def assert_contract(run: Run, *, code: int = 0, within: float, peak_mb: float) -> None:
    assert run.code == code, (run.code, run.stderr)
    assert len(run.stderr) <= 1, run.stderr
    assert not any("Traceback" in ln for ln in run.stderr)
    assert run.seconds < within, f"{run.seconds:.1f} s"
    assert run.peak_mb < peak_mb, f"{run.peak_mb:.0f} MB"


# -- class 8: gzip bombs and pathological logs ----------------------------------------------


def _gzip_of_repeats(path: Path, line: bytes, compressed_mb: int) -> int:
    """A multi-member gzip (``cat a.gz b.gz`` is valid gzip) of ``line`` repeated: each
    member is 4 MiB of lines, repeated until the file is ``compressed_mb`` MB. Returns
    the plain size it stands for."""
    block = line * (4 * 1024 * 1024 // len(line))
    member = gzip.compress(block, compresslevel=9)
    count = compressed_mb * 1024 * 1024 // len(member)
    with path.open("wb") as f:
        for _ in range(count):
            f.write(member)
    return count * len(block)


@pytest.mark.parametrize(
    "line",
    [
        b"{0} tempest.api.compute.test_servers.ServersTest.test_x [1.0s] ... FAILED\n",
        b"FAIL\n",
        b"2024-01-01 10:00:00.000 | controller | ERROR\n",
    ],
    ids=["subunit-trace-FAILED", "bare-FAIL", "zuul-ERROR"],
)
def test_a_200_mb_gzip_of_failure_lines_is_read_within_bounds(tmp_path: Path, line: bytes) -> None:
    bomb = tmp_path / "job-output.txt.gz"
    plain = _gzip_of_repeats(bomb, line, 200)
    assert bomb.stat().st_size > 190 * 1024 * 1024 and plain > 40 * 1024**3
    run = recheck(bomb)
    assert_contract(run, within=120, peak_mb=400)
    job = run.report()
    assert job["truncated"] is True
    assert any("once decompressed" in w or "not read to the end" in w for w in job["warnings"])
    assert len(job["failures"]) <= 5000


def test_a_gzip_of_64_kib_failure_lines_bounds_the_work_per_line(tmp_path: Path) -> None:
    bomb = tmp_path / "job-output.txt.gz"
    _gzip_of_repeats(bomb, b"FAILED tests/test_x.py::test_y - " + b"x" * (64 * 1024) + b"\n", 50)
    run = recheck(bomb)
    assert_contract(run, within=60, peak_mb=400)
    assert len(run.report()["failures"]) <= 5000


def test_a_gzip_bomb_named_like_a_subunit_stream_is_bounded(tmp_path: Path) -> None:
    bomb = tmp_path / "testrepository.subunit.gz"
    _gzip_of_repeats(bomb, b"FAIL\n", 50)
    run = recheck(bomb)
    assert_contract(run, within=60, peak_mb=400)


def test_a_gzip_of_a_real_subunit_stream_repeated_is_bounded(tmp_path: Path, shared_fixtures: Path) -> None:
    # mmtreinish/stestr's sample stream (63 tests, one failure), over and over.
    stream = (shared_fixtures / "recheck" / "subunit" / "stestr_failure.subunit").read_bytes()
    bomb = tmp_path / "testrepository.subunit.gz"
    _gzip_of_repeats(bomb, stream, 100)
    run = recheck(bomb)
    assert_contract(run, within=120, peak_mb=400)
    job = run.report()
    assert 0 < len(job["failures"]) <= 5000
    assert any("not read further" in w or "only that much was read" in w for w in job["warnings"])


def test_tracebacks_of_pathological_lines_cost_linear_time(tmp_path: Path) -> None:
    # A lazy "name + Error suffix" regex took 15 ms on each of these lines: 100 s per 130 failures.
    line = b"    " + b"ErrorErrorError" * 66 + b"!\n"
    block = b"{0} t.T.test_x [1.0s] ... FAILED\n\nCaptured traceback:\n~~~~~~~~~~~~~~~~~~~\n" + line * 60
    log = tmp_path / "job-output.txt"
    log.write_bytes(block * 2000)
    run = recheck(log)
    assert_contract(run, within=60, peak_mb=400)
    assert run.report()["failures"]


def test_one_failed_test_followed_by_endless_output_is_bounded(tmp_path: Path) -> None:
    bomb = tmp_path / "job-output.txt.gz"
    head = gzip.compress(b"{0} t.T.test_x [1.0s] ... FAILED\n\nCaptured traceback:\n~~~~~~~~~~~~~~~~~~~\n")
    with bomb.open("wb") as f:
        f.write(head)
    _gzip_of_repeats(tmp_path / "body.gz", b"    AssertionError: still failing\n", 100)
    with bomb.open("ab") as f, (tmp_path / "body.gz").open("rb") as body:
        f.write(body.read())
    run = recheck(bomb)
    assert_contract(run, within=120, peak_mb=400)
    (failure,) = run.report()["failures"]
    assert failure["id"] == "t.T.test_x" and failure["message"] == "AssertionError: still failing"


def test_a_log_of_endless_exit_traps_stays_cheap(tmp_path: Path) -> None:
    log = tmp_path / "devstacklog.txt"
    trap = b"+lib/keystone:create_keystone_accounts:1   exit_trap\n+./stack.sh:exit_trap:549   local r=1\nError on exit\n"
    log.write_bytes(trap * 200_000)
    run = recheck(log)
    assert_contract(run, within=60, peak_mb=400)
    failures = run.report()["failures"]
    assert failures and all(f["kind"] == "setup" for f in failures)


def test_one_line_of_100_mb_is_cut_not_held(tmp_path: Path) -> None:
    log = tmp_path / "job-output.txt"
    with log.open("wb") as f:
        f.write(b"FAILED tests/test_x.py::test_y - " + b"{" * (100 * 1024 * 1024) + b"\n")
        f.write(b"FAILED tests/test_z.py::test_w\n")
    run = recheck(log)
    assert_contract(run, within=60, peak_mb=400)
    job = run.report()
    assert [f["id"] for f in job["failures"]] == ["tests/test_x.py::test_y", "tests/test_z.py::test_w"]
    assert any("very long line" in w for w in job["warnings"])


# -- classes 1-3: job-output.json ------------------------------------------------------------


def _playbook(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"phase": "run", "playbook": "playbooks/run.yaml", "plays": [], "stats": {}}
    base.update(fields)
    return base


_FAILED_TASK = {
    "task": {"name": "Run tempest"},
    "hosts": {"controller": {"failed": True, "rc": 1, "msg": "non-zero return code", "stdout": "boom"}},
}


@pytest.mark.parametrize(
    "doc",
    [
        [_playbook(plays=3)],
        [_playbook(plays=[{"play": {"name": "x"}, "tasks": "not a list"}])],
        [_playbook(plays=[{"play": "x", "tasks": [{"task": {"name": "t"}, "hosts": ["controller"]}]}])],
        [_playbook(stats=["controller"])],
        [_playbook(stats={"controller": {"failures": "many"}, "h2": {"failures": True}})],
        [_playbook(plays=[{"play": {"name": 5}, "tasks": [{"task": 7, "hosts": {"h": 3}}]}])],
        [3, "x", None, [], _playbook(phase=["run"], playbook={"a": 1})],
        {"plays": []},
        [],
    ],
    ids=["plays-int", "tasks-string", "hosts-list", "stats-list", "stats-failures-wrong", "names-wrong", "junk-playbooks", "object", "empty"],
)
def test_job_output_json_of_the_wrong_shape_is_read_as_far_as_it_makes_sense(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "job-output.json"
    path.write_text(json.dumps(doc))
    run = recheck(path)
    assert_contract(run, within=30, peak_mb=300)
    assert run.report()["failures"] == []


def test_job_output_json_wrong_shapes_beside_a_real_failure_keep_the_failure(tmp_path: Path) -> None:
    doc = [
        _playbook(plays=3),
        _playbook(plays=[{"play": {"name": "tempest"}, "tasks": ["junk", _FAILED_TASK, {"hosts": []}]}], stats=[1]),
    ]
    path = tmp_path / "job-output.json"
    path.write_text(json.dumps(doc))
    run = recheck(path)
    assert_contract(run, within=30, peak_mb=300)
    (failure,) = run.report()["failures"]
    assert failure["id"] == "tempest/Run tempest/controller"
    assert failure["message"] == "non-zero return code; rc=1"


@pytest.mark.parametrize("opener", ["[", '{"a":'], ids=["arrays", "objects"])
def test_deeply_nested_job_output_json_is_refused_cleanly(tmp_path: Path, opener: str) -> None:
    depth = 200_000
    closer = "]" if opener == "[" else "}"
    body = opener * depth + "1" + closer * depth
    path = tmp_path / "job-output.json"
    path.write_text(f'[{{"phase": "run", "plays": [{{"tasks": [{{"hosts": {{"h": {body}}}}}]}}]}}]')
    run = recheck(path)
    assert_contract(run, within=30, peak_mb=300)
    job = run.report()
    assert job["failures"] == []
    assert any("nested deeper than 64 levels" in w for w in job["warnings"])


def test_a_100_mb_job_output_json_is_read_within_a_fixed_memory_budget(tmp_path: Path) -> None:
    path = tmp_path / "job-output.json"
    ok_task = {
        "task": {"name": "noisy"},
        "hosts": {"controller": {"changed": True, "rc": 0, "stdout": "ok line\n" * 1200, "stdout_lines": ["ok"] * 50}},
    }
    chunk = json.dumps(ok_task)
    count = 100 * 1024 * 1024 // len(chunk)
    with path.open("w") as f:
        f.write('[{"phase": "run", "playbook": "playbooks/tempest.yaml", "plays": [{"play": {"name": "tempest"}, ')
        f.write('"tasks": [')
        for _ in range(count):
            f.write(chunk)
            f.write(", ")
        f.write(json.dumps(_FAILED_TASK))
        f.write("]}], \"stats\": {\"controller\": {\"failures\": 1}}}]")
    assert path.stat().st_size > 100 * 1024 * 1024
    run = recheck(path)
    # json.load needed ~1.3 GB for this; the bounded reader maps the file instead.
    assert_contract(run, within=90, peak_mb=350)
    (failure,) = run.report()["failures"]
    assert failure["id"] == "tempest/Run tempest/controller"


def test_a_job_output_json_of_millions_of_small_values_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    # 17 million strings in a list that is not needed: json.load takes ~1.4 GB for this one.
    path = tmp_path / "job-output.json"
    with path.open("w") as f:
        f.write('[{"phase": "run", "plays": [{"play": {"name": "tempest"}, "tasks": [{"task": {"name": "noisy"}, ')
        f.write('"hosts": {"controller": {"rc": 0, "stdout_lines": [')
        f.write(", ".join(['"ok"'] * (100 * 1024 * 1024 // 6)))
        f.write("]}}}, " + json.dumps(_FAILED_TASK) + "]}]}]")
    run = recheck(path)
    assert_contract(run, within=90, peak_mb=350)
    (failure,) = run.report()["failures"]
    assert failure["id"] == "tempest/Run tempest/controller"


def test_job_output_json_that_is_not_json_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "job-output.json"
    path.write_bytes(b'[{"plays": [{"tasks": [{"hosts": {"h": {"failed": tru' + bytes(range(256)))
    run = recheck(path)
    assert_contract(run, within=30, peak_mb=300)
    assert any("not valid JSON" in w for w in run.report()["warnings"])


def test_a_damaged_gzip_is_a_partial_analysis(tmp_path: Path) -> None:
    data = gzip.compress(b"FAILED tests/test_x.py::test_y - boom\n" * 1000)
    path = tmp_path / "job-output.txt.gz"
    path.write_bytes(data[: len(data) // 2] + zlib.compress(b"garbage") * 10)
    run = recheck(path)
    assert_contract(run, within=30, peak_mb=300)
    job = run.report()
    assert job["truncated"] is True
