"""Benchmark: ``ostk recheck REVIEW`` on a review with 4 big failed jobs.

The CI simulator (``recheck.testing``) serves a change whose 4 failed jobs
each have a ~200 MB ``job-output.txt`` (gzip-encoded on the wire, ~10 MB),
every connection capped at ``--rate`` bytes/s. We time, in one run:

1. the peer: downloading the single largest log alone at the same cap
   (raw bytes, no analysis) — the floor for any tool that reads the logs;
2. ours: ``python -m ostk recheck <change> --json`` end to end (Gerrit,
   Zuul, 4 logs downloaded and analysed concurrently, Launchpad), in a
   child process so its peak RSS can be measured;
3. ours again: the second run, answered from the analysis cache.

Goals: (2) ≤ 1.3 x (1); (3) < 1 s; peak RSS of (2) < 150 MB.

    .venv/bin/python benchmarks/recheck_review.py               # the full run
    .venv/bin/python benchmarks/recheck_review.py --size-mb 8   # smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import requests

from recheck.logcache import LogCache
from recheck.review import check_review
from recheck.testing import CISimulator, SimBug, SimJob, SimLog

FAILED_TEST = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_reboot_server_hard"
TAIL = (
    f"2026-11-20 09:59:58.000001 | controller | {{1}} {FAILED_TEST} [196.2s] ... FAILED\n"
    "2026-11-20 09:59:58.000002 | controller | Traceback (most recent call last):\n"
    "2026-11-20 09:59:58.000003 | controller | AssertionError: Server 1234 failed to reach ACTIVE status\n"
).encode()


def job_output_lines(size: int, seed: int) -> Iterator[bytes]:
    """Zuul-like job-output.txt lines: mostly passing tests and devstack chatter."""
    rnd = random.Random(seed)
    tests = [f"tempest.api.compute.servers.test_servers_{i}.ServersTestJSON.test_case_{j}" for i in range(10) for j in range(10)]
    written = 0
    second = 0
    while written < size:
        second += 1
        stamp = f"2026-11-20 {8 + second // 3600 % 10:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        block = []
        for _ in range(20):
            if rnd.random() < 0.8:
                block.append(f"{stamp}.{rnd.randrange(10)}00000 | controller | {{{rnd.randrange(4)}}} {rnd.choice(tests)} [{rnd.randrange(3)}.{rnd.randrange(10)}s] ... ok\n")
            else:
                block.append(f"{stamp} | controller | + lib/nova:start_nova:{rnd.randrange(10)} : sleep 1\n")
        data = "".join(block).encode()
        written += len(data)
        yield data
    yield TAIL


def make_log(size: int, seed: int = 1) -> tuple[bytes, int]:
    """(gzip bytes, plain size) of a job-output.txt of about ``size`` bytes, built in pieces."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    parts, pending, plain = [], [], 0
    for piece in job_output_lines(size, seed):
        pending.append(piece)
        plain += len(piece)
        if len(pending) >= 256:
            parts.append(compressor.compress(b"".join(pending)))
            pending = []
    parts.append(compressor.compress(b"".join(pending)))
    parts.append(compressor.flush())
    return b"".join(parts), plain


def download_alone(url: str) -> float:
    """The peer: stream one log's bytes as sent (no decoding, no analysis)."""
    started = time.monotonic()
    with requests.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        for _ in response.raw.stream(256 * 1024, decode_content=False):
            pass
    return time.monotonic() - started


def tree_memory_kb(root: int) -> tuple[int, int]:
    """(summed RSS, summed PSS) in KB of ``root`` and all its descendants, from /proc.

    RSS counts pages shared by forked children once per process (an upper
    bound); PSS splits shared pages between their users (the real footprint).
    """
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    rss = pss = 0
    for pid in parents:
        node = pid
        while node > 1 and node != root:
            node = parents.get(node, 0)
        if node != root:
            continue
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def run_cli(argv: list[str], environ: dict[str, str]) -> tuple[float, tuple[int, int], dict]:
    """(wall seconds, peak (RSS, PSS) in KB of the whole process tree, JSON report) of one ``ostk`` run."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "ostk", *argv], stdout=out, stderr=err, env=environ)
        peak = [0, 0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                rss, pss = tree_memory_kb(process.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        done.set()
        sampler.join()
        elapsed = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"ostk exited {process.returncode}: {err.read().decode()[-2000:]}")
        return elapsed, (max(peak[0], usage.ru_maxrss), max(peak[1], usage.ru_maxrss)), json.loads(out.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=200, help="plain size of each log (default 200)")
    parser.add_argument("--jobs", type=int, default=4, help="failed jobs (default 4)")
    parser.add_argument(
        "--rate-kb", type=float, default=512,
        help="bandwidth cap per connection in KB/s of wire (gzip) bytes (default 512)",
    )
    args = parser.parse_args()

    print(f"building a {args.size_mb:.0f} MB job-output.txt ...", flush=True)
    started = time.monotonic()
    gz, plain = make_log(int(args.size_mb * 1024 * 1024))
    print(f"  {plain / 1e6:.0f} MB plain, {len(gz) / 1e6:.1f} MB gzip ({plain / len(gz):.0f}x) in {time.monotonic() - started:.1f}s")
    rate = args.rate_kb * 1024

    with CISimulator() as sim, tempfile.TemporaryDirectory() as home:
        sim.add_change(900001, project="openstack/nova")
        jobs = [
            SimJob(f"tempest-full-{i}", "FAILURE", log_file=SimLog(gz, encoding="gzip", compressed=True, rate=rate))
            for i in range(args.jobs)
        ]
        sim.add_buildset(900001, 1, jobs=jobs)
        sim.add_bug(SimBug(1900001, "reboot hard fails", description=f"{FAILED_TEST} fails", projects=("nova",)))
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OSTK_")},
            "HOME": home,
            "XDG_CACHE_HOME": str(Path(home) / "cache"),
            **sim.service_environ(),
        }
        largest = f"{sim.logs_url}/{900001 % 100:02d}/900001/1/check/{jobs[0].name}/{jobs[0].uuid[:7]}/job-output.txt"

        peer = download_alone(largest)
        ours, rss_kb, report = run_cli(["recheck", "900001", "--json"], environ)
        again, rss2_kb, report2 = run_cli(["recheck", "900001", "--json"], environ)
        # Where the second run's time goes: interpreter + imports of every command group...
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "ostk", "--version"], env=environ, check=True, capture_output=True)
        startup = time.monotonic() - started
        # ...and the workflow itself, in-process, answered from the same cache.
        started = time.monotonic()
        cached = check_review(
            "900001", gerrit=sim.gerrit_url, zuul=sim.zuul_url, launchpad=sim.launchpad_url,
            cache=LogCache.for_cache_dir(Path(home) / "cache" / "ostk"), environ=environ,
        )
        in_process = time.monotonic() - started
        assert [j.to_json() for j in cached.jobs] == report["jobs"]

    analysed = [j for j in report["jobs"] if j["failures"]]
    assert len(analysed) == args.jobs, report
    assert report2["jobs"] == report["jobs"]
    ratio = ours / peer
    print(f"jobs: {args.jobs} x {plain / 1e6:.0f} MB ({len(gz) / 1e6:.1f} MB gzip), cap {args.rate_kb:.0f} KB/s per connection")
    print(f"peer  download of the largest log alone : {peer:7.2f} s")
    print(f"ours  ostk recheck ({args.jobs} logs, end to end)  : {ours:7.2f} s   ratio {ratio:.2f}x (goal <= 1.3x)")
    print(f"ours  second run (analysis cache)        : {again:7.2f} s   (goal < 1 s)")
    print(f"        of which 'ostk --version' startup : {startup:7.2f} s   (interpreter + imports of all command groups)")
    print(f"        the cached workflow in-process    : {in_process:7.2f} s   (recheck.check_review)")
    print(f"peak memory of ostk (first run), PSS     : {rss_kb[1] / 1024:7.1f} MB  (goal < 150 MB; second run {rss2_kb[1] / 1024:.1f} MB)")
    print(f"                                  RSS    : {rss_kb[0] / 1024:7.1f} MB  (shared pages counted per process)")
    print("        (summed over ostk and its analysis processes, sampled every 0.1 s)")
    print(f"suggestion: {report['suggestion']}")
    print("note: figures taken on a shared, loaded 2-core machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
