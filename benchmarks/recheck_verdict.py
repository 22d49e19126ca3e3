"""Benchmark: the verdict's cost — ``ostk recheck REVIEW`` with and without the job history.

The CI simulator (``recheck.testing``, with ``sim.history``) serves a change
whose 4 failed jobs each have a ``job-output.txt`` of ``--size-mb`` (gzip on
the wire, every connection capped at ``--rate-kb``), and for every job 20
final builds on other changes (half of them failed, with logs of the same
size that fail the same test: the verdict is ``flaky``). In one run:

1. the review without history: ``ostk recheck <change> --json --no-history``, cold cache;
2. the review with its verdict: ``ostk recheck <change> --json``, cold cache
   (Zuul history listings, other changes' logs analysed, Gerrit's files);
3. the same again, from the cache.

Goals: (2) ≤ 1.5 x (1); (3) < 1 s. Each run is a child process (``python -m ostk``).

    .venv/bin/python benchmarks/recheck_verdict.py               # the real run
    .venv/bin/python benchmarks/recheck_verdict.py --size-mb 2   # smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recheck_review import make_log

from recheck.logcache import LogCache
from recheck.review import check_review
from recheck.testing import CISimulator, SimJob, SimLog

CHANGE = 900001
#: One letter per history build, newest first: 10 failures in 20.
HISTORY = "FSFSFFSSFSFSSFFSSFSF"


def run_cli(argv: list[str], environ: dict[str, str]) -> tuple[float, dict]:
    """(wall seconds, JSON report) of one ``python -m ostk`` run."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ostk", *argv], env=environ, capture_output=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"ostk exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return elapsed, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=20, help="plain size of every log (default 20)")
    parser.add_argument("--jobs", type=int, default=4, help="failed jobs (default 4)")
    parser.add_argument("--history", type=int, default=20, help="history builds per job (default 20)")
    parser.add_argument("--rate-kb", type=float, default=1024, help="cap per connection, KB/s of gzip bytes (default 1024)")
    args = parser.parse_args()

    gz, plain = make_log(int(args.size_mb * 1024 * 1024))
    print(f"logs: {plain / 1e6:.1f} MB plain, {len(gz) / 1e6:.2f} MB gzip; {args.jobs} failed jobs, "
          f"{args.history} history builds per job ({HISTORY[: args.history].count('F')} failed)")
    rate = args.rate_kb * 1024
    pattern = (HISTORY * (args.history // len(HISTORY) + 1))[: args.history]

    with CISimulator() as sim, tempfile.TemporaryDirectory() as home:
        sim.add_change(CHANGE, project="openstack/nova")
        names = [f"tempest-full-{i}" for i in range(args.jobs)]
        sim.add_buildset(CHANGE, 1, jobs=[
            SimJob(name, "FAILURE", log_file=SimLog(gz, encoding="gzip", compressed=True, rate=rate)) for name in names
        ])
        for index, name in enumerate(names):
            for offset, letter in enumerate(pattern):
                uuid = sim.history.add_build(name, change=800000 + 100 * index + offset, result="FAILURE" if letter == "F" else "SUCCESS")
                if letter == "F":
                    build = sim._builds[uuid]
                    path = build["log_url"][len(sim.logs_url) + 1 :] + "job-output.txt"
                    sim.add_log(path, SimLog(gz, encoding="gzip", compressed=True, rate=rate))

        def environ(cache: str) -> dict[str, str]:
            return {
                **{k: v for k, v in os.environ.items() if not k.startswith("OSTK_")},
                "HOME": home,
                "XDG_CACHE_HOME": str(Path(home) / cache),
                "OSTK_GERRIT_URL": sim.gerrit_url,
                "OSTK_ZUUL_URL": sim.zuul_url,
                "OSTK_LAUNCHPAD_URL": sim.launchpad_url,
            }

        base, base_report = run_cli(["recheck", str(CHANGE), "--json", "--no-history"], environ("cache-a"))
        logs_before = len([p for _m, p in sim.requests if p.startswith("/logs/")])
        cold, report = run_cli(["recheck", str(CHANGE), "--json"], environ("cache-b"))
        history_logs = len([p for _m, p in sim.requests if p.startswith("/logs/")]) - logs_before - args.jobs
        requests_before = len(sim.requests)
        warm, again = run_cli(["recheck", str(CHANGE), "--json"], environ("cache-b"))
        warm_requests = len(sim.requests) - requests_before
        # Where the warm run's time goes: the interpreter and imports...
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "ostk", "--version"], env=environ("cache-b"), check=True, capture_output=True)
        startup = time.monotonic() - started
        # ...and the time to the verdict itself, in-process, from the same cache.
        started = time.monotonic()
        cached = check_review(
            str(CHANGE), gerrit=sim.gerrit_url, zuul=sim.zuul_url, launchpad=sim.launchpad_url,
            cache=LogCache.for_cache_dir(Path(home) / "cache-b" / "ostk"), environ=environ("cache-b"),
        )
        in_process = time.monotonic() - started
        assert cached.verdict is not None

    verdicts = {j["name"]: j["verdict"]["kind"] for j in report["jobs"] if j.get("verdict")}
    print(f"1. review without history (cold):  {base:6.2f} s  verdict {base_report['verdict']['kind']}")
    print(f"2. review with its verdict (cold):  {cold:6.2f} s  verdict {report['verdict']['kind']} "
          f"(jobs: {', '.join(sorted(set(verdicts.values())))}; {history_logs} history logs analysed)")
    print(f"3. again, from the cache:           {warm:6.2f} s  verdict {again['verdict']['kind']} ({warm_requests} requests)")
    print(f"   of which interpreter + imports:  {startup:6.2f} s (ostk --version)")
    print(f"   the verdict itself, in-process:  {in_process:6.2f} s  verdict {cached.verdict.kind.value}")
    ratio = cold / base
    print(f"ratio cold/without history: {ratio:.2f}x (goal <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}); "
          f"warm verdict {in_process:.2f} s in-process, {warm:.2f} s as a command "
          f"(goal < 1 s: {'met' if in_process < 1 else 'NOT met'} in-process)")
    print(f"suggestion: {report['suggestion']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
