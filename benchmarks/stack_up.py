"""How long ``ostk stack up --swift`` takes (cold, warm, restart; sqlite and MariaDB) and what keystone sustains.

    .venv/bin/python benchmarks/stack_up.py              # cold + warm, sqlite and --db mysql, load
    .venv/bin/python benchmarks/stack_up.py --warm-only  # reuse the default venvs dir
    .venv/bin/python benchmarks/stack_up.py --load-seconds 10
    .venv/bin/python benchmarks/stack_up.py --empty-uv-cache --db sqlite --load-seconds 0

cold:    keystone and swift venvs created in a fresh directory (one per database), new
         stack (bootstrap, rings), all servers. The installer's download cache is
         the user's (warm, as on a developer's machine after the first day) unless
         --empty-uv-cache gives each cold run a new, empty uv cache; the line
         before the figures says which installer built the venvs and from what cache.
warm:    venvs reused, new stack directory (bootstrap, rings), all servers; --warm-runs
         times (default 3), the median compared with the goal
restart: `down` then `up` of that same stack (nothing to create)
load:    8 concurrent clients issuing tokens and creating/deleting projects and users
         (stack.load.keystone_load, no retries): tokens per second and 5xx answers

Goals (issue 15): warm < 5 s, cold < 40 s, zero 5xx under load. There is no
peer that runs on this machine (devstack needs a VM and ~30 min), so the
ratios printed are against those goals. The machine is shared: the load
average is printed with each figure.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stack import Stack, default_venvs_dir, venvs
from stack.load import keystone_load
from stack.ports import free_ports
from stack.processes import rss_bytes

WARM_GOAL_S = 5.0
COLD_GOAL_S = 40.0


def _load() -> str:
    return f"(load average {os.getloadavg()[0]:.1f})"


def _timed_up(directory: Path, venvs_dir: Path, database: str) -> tuple[Stack, float]:
    keystone_port, swift_port = free_ports(2)
    stack = Stack(directory, keystone_port=keystone_port, swift_port=swift_port, venvs_dir=venvs_dir)
    start = time.monotonic()
    stack.up(swift=True, database=database)
    return stack, time.monotonic() - start


def _uv_cache() -> str:
    """Where uv caches downloads and how much it holds (``uv cache dir`` honours UV_CACHE_DIR)."""
    try:
        from uv import find_uv_bin

        where = Path(subprocess.run([find_uv_bin(), "cache", "dir"], capture_output=True, text=True,
                                    check=True).stdout.strip())
    except (ImportError, OSError, subprocess.CalledProcessError):
        return "uv not found"
    size = sum(f.stat().st_size for f in where.rglob("*") if f.is_file()) if where.is_dir() else 0
    return f"uv cache {where} ({size / 2**20:.0f} MB: {'warm' if size > 2**20 else 'empty'})"


def _installers(venvs_dir: Path) -> str:
    built = {name: venvs.built_with(venvs.venv_path(name, venvs_dir)) for name in ("keystone", "swift")}
    return ", ".join(f"{name} by {installer or 'unknown'}" for name, installer in built.items())


def _memory(stack: Stack) -> None:
    total = sum(rss_bytes(record.pid) for record in stack.process_records().values())
    print(f"  rss total {total / 2**20:7.1f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm-only", action="store_true", help="skip the cold runs; reuse the default venvs dir")
    parser.add_argument("--db", choices=("sqlite", "mysql", "both"), default="both")
    parser.add_argument("--load-seconds", type=float, default=20.0, help="duration of each load run (0: none)")
    parser.add_argument("--warm-runs", type=int, default=3, help="warm ups per database; the median is compared")
    parser.add_argument("--empty-uv-cache", action="store_true",
                        help="each cold run downloads everything: a new, empty UV_CACHE_DIR")
    args = parser.parse_args(argv)
    databases = ("sqlite", "mysql") if args.db == "both" else (args.db,)
    print(f"machine: {os.cpu_count()} cpus {_load()}, shared with other work")
    with tempfile.TemporaryDirectory(prefix="ostk-bench-") as scratch:
        root = Path(scratch)
        for database in databases:
            # Each cold run builds its venvs from nothing; the warm run reuses them.
            venvs_dir = default_venvs_dir(os.environ) if args.warm_only else root / f"venvs-{database}"
            if not args.warm_only:
                if args.empty_uv_cache:
                    os.environ["UV_CACHE_DIR"] = str(root / f"uv-cache-{database}")
                cache = _uv_cache()
                stack, cold = _timed_up(root / f"cold-{database}", venvs_dir, database)
                print(f"cold up --swift --db {database}: {cold:6.1f} s  (goal < {COLD_GOAL_S:.0f} s: "
                      f"ratio {cold / COLD_GOAL_S:.2f}) {_load()}")
                print(f"  venvs: {_installers(venvs_dir)}; before the run: {cache}")
                stack.down(purge=True)
            # Several warm runs, each a new stack: one figure on a shared machine is noise.
            warms = []
            for run in range(max(1, args.warm_runs)):
                if warms:
                    stack.down(purge=True)
                stack, seconds = _timed_up(root / f"warm-{database}-{run}", venvs_dir, database)
                warms.append(seconds)
            warm = statistics.median(warms)
            try:
                print(f"warm up --swift --db {database}: {warm:6.1f} s median of "
                      f"{', '.join(f'{w:.1f}' for w in warms)}  (goal < {WARM_GOAL_S:.0f} s: "
                      f"ratio {warm / WARM_GOAL_S:.2f}) {_load()}")
                _memory(stack)
                stack.down()
                start = time.monotonic()
                stack.up(swift=True)
                print(f"restart --db {database}:         {time.monotonic() - start:6.1f} s {_load()}")
                if args.load_seconds > 0:
                    result = keystone_load(stack.keystone_url, stack.admin.password or "", clients=8,
                                           seconds=args.load_seconds)
                    print(f"load --db {database}: 8 clients {result.seconds:.0f} s: {result.tokens_per_second:.1f} "
                          f"tokens/s, {result.requests} requests, {result.server_errors} answered 5xx, "
                          f"{result.transport_errors} unanswered {_load()}")
            finally:
                stack.down(purge=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
