"""Benchmark: ``ostk swift-functest-setup`` vs devstack's way (the ``openstack`` CLI, one process per call).

Against one real keystone on loopback (``stack.local_stack``), in one run:

1. ours, fresh: ``python -m ostk swift-functest-setup`` creating all six users
   (domain, projects, users, roles, assignments) and writing test.conf;
2. ours, no-op: the same command again (nothing to do);
3. ``--teardown`` (not timed), so the peer starts from the same empty state;
4. the peer, fresh: the same objects created the way devstack's
   ``create_swift_accounts`` does it: ``openstack role/domain/project/user
   create --or-show`` and, per assignment, ``openstack role assignment list``
   then ``openstack role add`` — one ``openstack`` process per call;
5. the peer, no-op: the same script again (devstack has no other way to be idempotent).

Prints the wall times and the ratios (goal: ours >= 10x faster in both cases).
python-openstackclient goes into its own venv under the XDG cache (created
on the first run, ~1-2 min); it is not a dependency of ostk.

    .venv/bin/python benchmarks/swift_functest_setup.py
    .venv/bin/python benchmarks/swift_functest_setup.py --users 2   # smaller
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ostk import dirs
from stack import local_stack
from swiftfunc.accounts import Plan, default_plan

#: The openstackclient the peer runs (pinned so runs compare).
OSC_REQUIREMENT = "python-openstackclient==10.5.0"


def osc_venv(cache: Path) -> Path:
    """``openstack`` from a private venv, created once."""
    venv = cache / "bench-openstackclient"
    openstack = venv / "bin" / "openstack"
    if not openstack.exists():
        print(f"creating {venv} with {OSC_REQUIREMENT} (first run only)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", OSC_REQUIREMENT], check=True)
    return openstack


def devstack_script(plan: Plan) -> list[list[str]]:
    """The ``openstack`` calls devstack's create_swift_accounts makes (one list per process)."""
    calls: list[list[str]] = []
    for role in plan.roles:
        calls.append(["role", "create", "--or-show", "-f", "value", "-c", "id", role])
    for domain in plan.domains:
        if domain != "Default":
            calls.append(["domain", "create", "--or-show", "-f", "value", "-c", "id", "--description", "bench", domain])
    for project, domain in plan.projects:
        calls.append(["project", "create", project, "--domain", domain, "--or-show", "-f", "value", "-c", "id"])
    for a in plan.accounts:
        calls.append(["user", "create", a.username, "--password", a.password, "--domain", a.domain, "--or-show", "-f", "value", "-c", "id"])
    return calls


def run_peer(openstack: Path, plan: Plan, environ: dict[str, str]) -> tuple[float, int]:
    """Run the devstack-style sequence; return (seconds, processes started)."""
    processes = 0
    started = time.perf_counter()

    def osc(*args: str) -> str:
        nonlocal processes
        processes += 1
        done = subprocess.run([str(openstack), *args], env=environ, capture_output=True, text=True, check=True)
        return done.stdout

    for call in devstack_script(plan):
        osc(*call)
    for a in plan.accounts:
        # get_or_add_user_project_role: look, and add (then look again) if missing.
        where = ["--user", a.username, "--user-domain", a.domain, "--project", a.project, "--project-domain", a.domain]
        found = osc("role", "assignment", "list", "--role", a.role, *where, "-f", "value", "-c", "Role")
        if not found.strip():
            osc("role", "add", a.role, *where)
            osc("role", "assignment", "list", "--role", a.role, *where, "-f", "value", "-c", "Role")
    return time.perf_counter() - started, processes


def run_ours(conf: Path, users: int, environ: dict[str, str], *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ostk", "swift-functest-setup", "--conf", str(conf), "--users", str(users), *extra],
        env=environ,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=6, help="how many of the six users (default 6)")
    args = parser.parse_args()
    plan = default_plan(args.users)
    openstack = osc_venv(dirs.cache_dir(os.environ))

    with local_stack() as stack, tempfile.TemporaryDirectory(prefix="ostk-bench-") as tmp:
        environ = {**os.environ, **stack.os_environ(), "OS_IDENTITY_API_VERSION": "3"}
        conf = Path(tmp) / "test.conf"
        ours_fresh = run_ours(conf, args.users, environ)
        ours_noop = run_ours(conf, args.users, environ)
        run_ours(conf, args.users, environ, "--teardown")
        peer_fresh, peer_calls = run_peer(openstack, plan, environ)
        peer_noop, peer_noop_calls = run_peer(openstack, plan, environ)

    print(f"keystone on loopback, {len(plan.accounts)} users; machine shared with other jobs (figures taken under load)")
    print(f"{'':28}{'ours':>10}{'openstack CLI':>16}{'ratio':>9}")
    print(f"{'fresh setup':28}{ours_fresh:>9.2f}s{peer_fresh:>15.2f}s{peer_fresh / ours_fresh:>8.1f}x   ({peer_calls} CLI processes)")
    print(f"{'no-op re-run':28}{ours_noop:>9.2f}s{peer_noop:>15.2f}s{peer_noop / ours_noop:>8.1f}x   ({peer_noop_calls} CLI processes)")
    goal = min(peer_fresh / ours_fresh, peer_noop / ours_noop) >= 10
    print(f"goal >= 10x in both: {'met' if goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
