"""How long ``ostk stack up --swift`` takes, cold and warm, and how much memory the stack uses.

    .venv/bin/python benchmarks/stack_up.py            # cold (fresh venvs dir) + warm + restart
    .venv/bin/python benchmarks/stack_up.py --warm-only  # reuse the default venvs dir

cold:    venvs created in a fresh directory, new stack (bootstrap, rings), all servers
warm:    venvs reused, new stack directory (bootstrap, rings), all servers
restart: `down` then `up` of that same stack (nothing to create)

Goals (issue 4): warm ready in under 20 s, total RSS under 600 MB. There is
no peer that runs on this machine (devstack needs a VM and ~30 min), so the
ratios printed are against those goals.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from stack import Stack, default_venvs_dir
from stack.ports import free_ports
from stack.processes import rss_bytes

WARM_GOAL_S = 20.0
RSS_GOAL_MB = 600.0


def _timed_up(directory: Path, venvs_dir: Path) -> tuple[Stack, float]:
    keystone_port, swift_port = free_ports(2)
    stack = Stack(directory, keystone_port=keystone_port, swift_port=swift_port, venvs_dir=venvs_dir)
    start = time.monotonic()
    stack.up(swift=True)
    return stack, time.monotonic() - start


def _memory(stack: Stack) -> float:
    total = 0
    for name, record in stack.process_records().items():
        rss = rss_bytes(record.pid)
        total += rss
        print(f"  rss {name:<10} {rss / 2**20:7.1f} MB")
    print(f"  rss total      {total / 2**20:7.1f} MB  (goal < {RSS_GOAL_MB:.0f} MB: ratio {total / 2**20 / RSS_GOAL_MB:.2f})")
    return total / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm-only", action="store_true", help="skip the cold run; reuse the default venvs dir")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f} (shared with other work)")
    with tempfile.TemporaryDirectory(prefix="ostk-bench-") as scratch:
        root = Path(scratch)
        if args.warm_only:
            venvs_dir = default_venvs_dir(os.environ)
        else:
            venvs_dir = root / "venvs"
            stack, cold = _timed_up(root / "cold", venvs_dir)
            print(f"cold up --swift (venvs created): {cold:6.1f} s")
            stack.down(purge=True)
        stack, warm = _timed_up(root / "warm", venvs_dir)
        try:
            print(f"warm up --swift (venvs reused):  {warm:6.1f} s  (goal < {WARM_GOAL_S:.0f} s: ratio {warm / WARM_GOAL_S:.2f})")
            _memory(stack)
            stack.down()
            start = time.monotonic()
            stack.up(swift=True)
            print(f"restart (down, then up):         {time.monotonic() - start:6.1f} s")
        finally:
            stack.down(purge=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
