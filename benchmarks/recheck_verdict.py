"""Benchmark: the verdict's cost — ``ostk recheck REVIEW`` with and without the job history.

The CI simulator (``recheck.testing``, with ``sim.history``) serves a change
whose 4 failed jobs each have a ``job-output.txt`` of ``--size-mb`` (gzip on
the wire, every connection capped at ``--rate-kb``), and for every job 20
final builds on other changes (half of them failed, with logs of the same
size that fail the same test: the verdict is ``flaky``; with ``--distinct``
each job fails a test of its own, so no job's reads settle another's).
In one run:

1. the review without history (``ostk recheck <change> --no-history``), cold cache;
2. the review with its verdict (``ostk recheck <change>``), cold cache
   (Zuul history listings, other changes' logs analysed, Gerrit's files);
3. the same again, from the cache.

Goals: (2) ≤ 1.5 x (1); (3) < 1 s. Runs are in-process ``recheck.check_review``
calls (what ``ostk recheck`` runs); the cold ones alternate, median of ``--repeat``.

    .venv/bin/python benchmarks/recheck_verdict.py               # the real run
    .venv/bin/python benchmarks/recheck_verdict.py --size-mb 2   # smoke run
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recheck_review  # the sibling benchmark's log generator
from recheck_review import FAILED_TEST, make_log

from recheck.logcache import LogCache
from recheck.models import Report
from recheck.review import check_review
from recheck.testing import CISimulator, SimJob, SimLog

CHANGE = 900001
#: One letter per history build, newest first: 10 failures in 20.
HISTORY = "FSFSFFSSFSFSSFFSSFSF"


def _logs_read(sim: CISimulator) -> list[str]:
    return [p for _m, p in sim.requests if p.endswith("/job-output.txt")]


def timed_review(sim: CISimulator, cache_dir: Path, *, history: bool) -> tuple[float, Report]:
    """(wall seconds, report) of one in-process ``check_review`` with the cache under ``cache_dir``."""
    started = time.monotonic()
    report = check_review(
        str(CHANGE), gerrit=sim.gerrit_url, zuul=sim.zuul_url, launchpad=sim.launchpad_url,
        cache=LogCache.for_cache_dir(cache_dir), environ={"HOME": str(cache_dir)}, history=history,
    )
    return time.monotonic() - started, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=20, help="plain size of every log (default 20)")
    parser.add_argument("--jobs", type=int, default=4, help="failed jobs (default 4)")
    parser.add_argument("--history", type=int, default=20, help="history builds per job (default 20)")
    parser.add_argument("--distinct", action="store_true", help="every job fails a different test (the harder case)")
    parser.add_argument("--debug", action="store_true", help="print the warm run's requests and verdicts")
    parser.add_argument("--repeat", type=int, default=5, help="cold runs of each kind, median taken (default 5)")
    parser.add_argument("--rate-kb", type=float, default=1024, help="cap per connection, KB/s of gzip bytes (default 1024)")
    args = parser.parse_args()

    # The failing test as subunit-trace prints it (stestr/subunit_trace.py): its captured
    # traceback indented, then the summary (an unindented traceback would be a crashed runner).
    lines = [
        f"{{1}} {FAILED_TEST} [196.2s] ... FAILED", "", "Captured traceback:", "~~~~~~~~~~~~~~~~~~~",
        "    Traceback (most recent call last):", "    AssertionError: Server 1234 failed to reach ACTIVE status", "",
        "======", "Totals", "======", "Ran: 2001 tests in 3600.0000 sec.", " - Passed: 2000", " - Failed: 1",
    ]
    recheck_review.TAIL = "".join(f"2026-11-20 09:59:58.000001 | controller | {line}\n" for line in lines).encode()
    logs = []
    for index in range(args.jobs if args.distinct else 1):
        if args.distinct:
            # Each job fails its own test, on its own history too: no job's reads help another's.
            recheck_review.TAIL = recheck_review.TAIL.replace(b"test_reboot_server_", b"test_reboot_server_x")
        logs.append(make_log(int(args.size_mb * 1024 * 1024), seed=index + 1))
    gz, plain = logs[0]
    print(f"logs: {plain / 1e6:.1f} MB plain, {len(gz) / 1e6:.2f} MB gzip; {args.jobs} failed jobs, "
          f"{args.history} history builds per job ({HISTORY[: args.history].count('F')} failed)")
    rate = args.rate_kb * 1024
    pattern = (HISTORY * (args.history // len(HISTORY) + 1))[: args.history]

    with CISimulator() as sim, tempfile.TemporaryDirectory() as home:
        sim.add_change(CHANGE, project="openstack/nova")
        names = [f"tempest-full-{i}" for i in range(args.jobs)]
        log_of = {name: logs[index % len(logs)][0] for index, name in enumerate(names)}
        sim.add_buildset(CHANGE, 1, jobs=[
            SimJob(name, "FAILURE", log_file=SimLog(log_of[name], encoding="gzip", compressed=True, rate=rate)) for name in names
        ])
        for index, name in enumerate(names):
            for offset, letter in enumerate(pattern):
                failed = letter == "F"
                sim.history.add_build(
                    name, change=800000 + 100 * index + offset, result="FAILURE" if failed else "SUCCESS",
                    log_file=SimLog(log_of[name], encoding="gzip", compressed=True, rate=rate) if failed else None,
                )

        # Cold runs alternate (each on a fresh cache) so a busy machine hurts both alike.
        base_times, cold_times = [], []
        for attempt in range(args.repeat):
            elapsed, base_report = timed_review(sim, Path(home) / f"base-{attempt}", history=False)
            base_times.append(elapsed)
            logs_before = len(_logs_read(sim))
            elapsed, report = timed_review(sim, Path(home) / f"full-{attempt}", history=True)
            cold_times.append(elapsed)
            history_logs = len(_logs_read(sim)) - logs_before - args.jobs
        requests_before = len(sim.requests)
        warm, again = timed_review(sim, Path(home) / "full-0", history=True)
        warm_requests = len(sim.requests) - requests_before
        if args.debug:
            print("\n".join(p for _m, p in sim.requests[requests_before:]))
            for job in again.jobs:
                print(job.name, job.verdict)
        # A command adds the interpreter and its imports to the warm run.
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "ostk", "--version"], check=True, capture_output=True)
        startup = time.monotonic() - started

    # The median of alternating runs: a busy shared machine slows single runs of either kind.
    base, cold = statistics.median(base_times), statistics.median(cold_times)
    assert base_report.verdict is not None and report.verdict is not None and again.verdict is not None
    kinds = sorted({job.verdict.kind.value for job in report.jobs if job.verdict})
    print(f"1. review without history (cold):  {base:6.2f} s  verdict {base_report.verdict.kind.value}  "
          f"(runs: {', '.join(f'{t:.2f}' for t in base_times)})")
    print(f"2. review with its verdict (cold):  {cold:6.2f} s  verdict {report.verdict.kind.value}  "
          f"(runs: {', '.join(f'{t:.2f}' for t in cold_times)}; jobs: {', '.join(kinds)}; "
          f"{history_logs} logs of other changes read)")
    print(f"3. again, from the cache:           {warm:6.2f} s  verdict {again.verdict.kind.value} ({warm_requests} requests)")
    print(f"   (a command adds interpreter + imports: {startup:.2f} s for ostk --version)")
    ratio = cold / base
    best = min(cold_times) / min(base_times)
    print(f"ratio cold/without history: {ratio:.2f}x of medians, {best:.2f}x of bests "
          f"(goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}); "
          f"from the cache {warm:.2f} s (goal < 1 s: {'met' if warm < 1 else 'NOT met'})")
    print(f"suggestion: {report.suggestion}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
