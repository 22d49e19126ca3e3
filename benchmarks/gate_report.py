"""Benchmark: ``ostk gate report`` over 200 failed gate builds with ~20 MB logs each.

The CI simulator (``recheck.testing.gate``) serves the builds from Zuul's
builds API and their ``job-output.txt`` (gzip on the wire) from a loopback
log server whose bandwidth is capped twice: per connection (``--conn-rate``)
and for the whole link (``--link-rate``), as a real log host behind one
network link. Each mode runs ``python -m ostk gate report --json`` in a
child process with a fresh store and cache, and we time, in one run:

1. ``--workers 1``: one process downloads and scans one build at a time;
2. ``--workers 2``: two local worker processes;
3. ``--dask``: a Dask LocalCluster with 2 worker processes on loopback;
4. the incremental re-run (the store from 2): nothing new to download.

Goals: builds/s scale with workers until the link cap; the re-run < 2 s.
Peak RSS is the largest sum over the ostk process tree (the CLI and its
worker processes; Dask's workers belong to the cluster and are not counted);
CPU seconds are those of the ostk process itself (getrusage of the reaped
child: a process pool's forkserver children and Dask's workers are not
counted, so the figure means something for ``--workers 1`` and the re-run;
wall time on a loaded machine can be several times the CPU time).

    .venv/bin/python benchmarks/gate_report.py                       # the full run
    .venv/bin/python benchmarks/gate_report.py --builds 12 --size-mb 2   # smoke run
    .venv/bin/python benchmarks/gate_report.py --page /tmp/gate-page  # the simulated week's page + screenshot
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from recheck.testing import SimBug
from recheck.testing.gate import BUG_A, GateSimulator, add_gate_week, big_failure_log, console_success

MB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", type=int, default=200, help="failed builds (default 200)")
    parser.add_argument("--size-mb", type=float, default=20, help="uncompressed log size per build (default 20)")
    parser.add_argument("--conn-rate", type=float, default=8, help="MB/s per connection (default 8)")
    parser.add_argument("--link-rate", type=float, default=12, help="MB/s for the whole log server (default 12)")
    parser.add_argument("--modes", default="workers1,workers2,dask", help="comma-separated: workers1,workers2,dask")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--page", metavar="DIR", help="write the simulated week's HTML page and a Chromium screenshot")
    args = parser.parse_args()
    if args.page:
        return page(Path(args.page))
    figures = run(args)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for mode, r in figures["modes"].items():
            print(f"{mode:9} {r['builds_per_s']:6.2f} builds/s  {r['seconds']:7.1f} s  {r['mb_per_s']:5.1f} MB/s on the wire"
                  f"  peak RSS {r['peak_rss_mb']:.0f} MB")
        print(f"re-run    {figures['rerun_seconds']:.2f} s (goal < 2 s), {figures['rerun_cpu_seconds']:.2f} s CPU")
        print(f"log: {figures['log_mb']:.1f} MB ({figures['wire_mb']:.1f} MB gzip on the wire) x {figures['builds']} builds;"
              f" caps: {args.conn_rate} MB/s per connection, {args.link_rate} MB/s link")
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:
    until = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    body = big_failure_log(int(args.size_mb * MB), seed="bench", at=until)
    figures: dict[str, Any] = {"builds": args.builds, "log_mb": args.size_mb, "wire_mb": len(body) / MB, "modes": {}}
    with GateSimulator() as sim, tempfile.TemporaryDirectory(prefix="ostk-gate-bench-") as tmp:
        sim.add_bug(SimBug(BUG_A, "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON"
                           ".test_rebuild_server fails", projects=("nova",), tags=("gate-failure",)))
        for n in range(args.builds):
            end = until - dt.timedelta(minutes=5 + n)
            # One body shared by every build (distinct URLs): the server's memory stays small.
            sim.add_build(job_name=f"tempest-full-py3-{n % 4}", result="FAILURE", end_time=end, change=200000 + n,
                          compressed_log=body, rate=args.conn_rate * MB)
            sim.add_build(job_name=f"tempest-full-py3-{n % 4}", result="SUCCESS", end_time=end, change=300000 + n,
                          log=console_success(at=end))
        sim.total_rate = args.link_rate * MB
        modes = [m for m in args.modes.split(",") if m]
        cluster = None
        try:
            for mode in modes:
                extra = ["--workers", mode.removeprefix("workers")] if mode.startswith("workers") else []
                if mode == "dask":
                    from distributed import LocalCluster

                    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None, worker_dashboard_address=None)
                    extra = ["--dask", cluster.scheduler_address]
                home = Path(tmp) / mode
                before = _log_bytes(sim)
                result = _ostk(sim, home, extra)
                doc = result["doc"]
                hits = doc["bugs"][0]["hits"] if doc["bugs"] else 0
                if doc["builds_analysed"] != args.builds or hits != args.builds:
                    raise SystemExit(f"{mode}: {doc['builds_analysed']} builds analysed, bug hits {hits}: {doc['warnings'][:5]}")
                wire = (_log_bytes(sim) - before) / MB
                figures["modes"][mode] = {
                    "seconds": round(result["seconds"], 2),
                    "builds_per_s": round(args.builds / result["seconds"], 3),
                    "mb_per_s": round(wire / result["seconds"], 2),
                    "peak_rss_mb": round(result["peak_rss"] / MB, 1),
                    "cpu_seconds": round(result["cpu"], 2),
                }
            rerun_home = Path(tmp) / ("workers2" if "workers2" in modes else modes[-1])
            requests_before = len(sim.log_requests())
            again = _ostk(sim, rerun_home, ["--workers", "2"])
            assert len(sim.log_requests()) == requests_before, "the re-run downloaded logs"
            figures["rerun_seconds"] = round(again["seconds"], 2)
            figures["rerun_cpu_seconds"] = round(again["cpu"], 2)
            figures["rerun_peak_rss_mb"] = round(again["peak_rss"] / MB, 1)
        finally:
            if cluster is not None:
                cluster.close()
    return figures


def _ostk(sim: GateSimulator, home: Path, extra: list[str]) -> dict[str, Any]:
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "OSTK_ZUUL_URL": sim.zuul_url,
        "OSTK_LAUNCHPAD_URL": sim.launchpad_url,
    }
    argv = [sys.executable, "-m", "ostk", "gate", "report", "--json", "--since", "24h", *extra]
    cpu_before = _children_cpu()
    started = time.monotonic()
    child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        process = psutil.Process(child.pid)
        while not done.is_set():
            try:
                tree = [process, *process.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"ostk gate report {' '.join(extra)} failed ({child.returncode}): {err.decode()[-2000:]}")
    # CPU of the ostk process and the worker processes it waited for (not Dask's workers).
    cpu = _children_cpu() - cpu_before
    return {"seconds": seconds, "doc": json.loads(out), "peak_rss": peak[0], "cpu": cpu}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _log_bytes(sim: GateSimulator) -> int:
    # The bytes a full download of every requested log costs (the sizes are known to the server).
    with sim._lock:
        logs = dict(sim._logs)
    total = 0
    for path in sim.log_requests():
        log = logs.get(path.removeprefix("/logs/"))
        if log is not None and not log.expired:
            total += len(log.body())
    return total


def page(directory: Path) -> int:
    """The simulated week's page (the gate tests' data), and a headless Chromium screenshot of it."""
    directory.mkdir(parents=True, exist_ok=True)
    html = directory / "gate-report.html"
    png = directory / "gate-report.png"
    until = dt.datetime(2026, 11, 27, 12, tzinfo=dt.timezone.utc)
    with GateSimulator() as sim, tempfile.TemporaryDirectory(prefix="ostk-gate-page-") as tmp:
        add_gate_week(sim, until=until)
        import recheck
        from recheck.gate import write_html

        report = recheck.gate_report(sim.zuul_url, since="7d", until=until, launchpad=sim.launchpad_url,
                                     store=Path(tmp) / "gate.sqlite3", workers=1, environ={"HOME": tmp})
        write_html(report, html)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print(f"wrote {html}; no chromium to take a screenshot (apt-get install -y chromium)", file=sys.stderr)
        return 3
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2200",
         f"--screenshot={png}", html.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    print(f"wrote {html} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
