"""Benchmark: ostk's full log analysis vs ``zcat FILE | grep -E 'FAILED|FAIL:|ERROR'``.

Generates a realistic tempest-like Zuul ``job-output.txt`` (devstack xtrace,
ansible banners, service log lines, ~two thousand tempest results per 10 MB,
a few failures with tracebacks) of the requested size and its ``.gz``, then
in one run times, on the same files:

- ours: ``recheck.analyze(FILE, signatures=load_signatures(...))`` in a child
  process (so its peak RSS can be measured alone);
- the peer: ``zcat FILE.gz | grep -E 'FAILED|FAIL:|ERROR'`` (and ``grep -E``
  on the plain file).

Goal: at most 1.5x grep's time, and peak RSS under 100 MB on a 1 GB log.
Usage::

    .venv/bin/python benchmarks/recheck_scan.py --size-mb 300
    .venv/bin/python benchmarks/recheck_scan.py --size-mb 5      # smoke run
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GREP_PATTERN = "FAILED|FAIL:|ERROR"

_SERVICES = ["nova", "neutron", "cinder", "glance", "keystone", "swift", "placement"]
_TEMPEST = [
    "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON",
    "tempest.api.compute.servers.test_create_server.ServersTestJSON",
    "tempest.api.network.test_ports.PortsTestJSON",
    "tempest.api.volume.test_volumes_actions.VolumesActionsTest",
    "tempest.api.image.v2.test_images.BasicOperationsImagesTest",
    "tempest.api.identity.admin.v3.test_users.UsersV3TestJSON",
    "tempest.scenario.test_network_basic_ops.TestNetworkBasicOps",
    "tempest.api.object_storage.test_container_services.ContainerTest",
]
_VERBS = ["create", "delete", "list", "show", "update", "attach", "detach", "reboot", "rebuild", "resize"]
_NOUNS = ["server", "port", "volume", "image", "user", "network", "subnet", "router", "container", "snapshot"]


class _Clock:
    def __init__(self) -> None:
        self.t = 1715677923.115004

    def stamp(self) -> str:
        self.t += random.random() * 0.01
        base = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.t))
        return f"{base}.{int((self.t % 1) * 1e6):06d}"


def _devstack_lines(rng: random.Random, clock: _Clock, n: int) -> list[str]:
    out = []
    for _ in range(n):
        svc = rng.choice(_SERVICES)
        kind = rng.random()
        if kind < 0.6:
            fn = rng.choice(["iniset", "is_service_enabled", "get_or_create_endpoint", "pip_install", "git_clone"])
            text = (
                f"+ lib/{svc}:configure_{svc}:{rng.randint(100, 900)} : {fn} /etc/{svc}/{svc}.conf "
                f"DEFAULT {rng.choice(['debug', 'transport_url', 'my_ip', 'state_path'])} "
                f"{rng.getrandbits(48):x}"
            )
        elif kind < 0.8:
            text = (
                f"{clock.stamp()} {rng.randint(1000, 40000)} DEBUG {svc}.api.openstack.wsgi "
                f"[req-{rng.getrandbits(64):016x} admin admin] Action: '{rng.choice(_VERBS)}', "
                f"calling method: <bound method {rng.choice(_NOUNS).title()}Controller.{rng.choice(_VERBS)}>"
            )
        elif kind < 0.97:
            text = (
                f"{clock.stamp()} | controller | Collecting python-{svc}client>={rng.randint(1, 9)}.{rng.randint(0, 20)}.0 "
                f"(from -r /opt/stack/{svc}/requirements.txt (line {rng.randint(2, 60)}))"
            )
        elif kind < 0.999:
            text = (
                f"{clock.stamp()} {rng.randint(1000, 40000)} WARNING {svc}.conf [-] Option "
                f"'{rng.choice(['auth_strategy', 'use_neutron', 'lock_path'])}' is deprecated"
            )
        else:
            # Real logs do carry harmless ERROR lines: grep pays for them too.
            text = (
                f"{clock.stamp()} {rng.randint(1000, 40000)} ERROR oslo.messaging._drivers.impl_rabbit "
                f"[-] Connection failed: [Errno 111] ECONNREFUSED (retrying in 1.0 seconds)"
            )
        out.append(f"{clock.stamp()} | controller | {text}")
    return out


def _tempest_lines(rng: random.Random, clock: _Clock, n: int, fail_every: int) -> list[str]:
    out = []
    for _ in range(n):
        cls = rng.choice(_TEMPEST)
        test = f"test_{rng.choice(_VERBS)}_{rng.choice(_NOUNS)}_{rng.getrandbits(20):x}"
        uuid = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-{rng.getrandbits(16):04x}"
        worker = rng.randint(0, 3)
        elapsed = f"{rng.random() * 30:.6f}"
        stamp = clock.stamp()
        if fail_every and rng.randrange(fail_every) == 0:
            out.append(f"{stamp} | controller | {{{worker}}} {cls}.{test}[id-{uuid},smoke] [{elapsed}s] ... FAILED")
            out.append(f"{stamp} | controller | ")
            out.append(f"{stamp} | controller | Captured traceback:")
            out.append(f"{stamp} | controller | ~~~~~~~~~~~~~~~~~~~")
            out.append(f"{stamp} | controller |     Traceback (most recent call last):")
            out.append(
                f'{stamp} | controller |       File "/opt/stack/tempest/tempest/common/waiters.py", line 96, '
                f"in wait_for_server_status"
            )
            out.append(f"{stamp} | controller |         raise lib_exc.TimeoutException(message)")
            out.append(
                f"{stamp} | controller |     tempest.lib.exceptions.TimeoutException: Request timed out"
            )
            out.append(
                f"{stamp} | controller |     Details: (ServerActionsTestJSON:test_reboot) Server {uuid} failed to "
                f"reach ACTIVE status and task state \"None\" within the required time (196 s). Current status: "
                f"REBOOT. Current task state: reboot_started_hard."
            )
        elif rng.random() < 0.03:
            out.append(
                f"{stamp} | controller | {{{worker}}} {cls}.{test} ... SKIPPED: "
                f"{rng.choice(_NOUNS)} extension not enabled."
            )
        else:
            out.append(f"{stamp} | controller | {{{worker}}} {cls}.{test}[id-{uuid}] [{elapsed}s] ... ok")
    return out


def generate(path: Path, size_mb: int, seed: int = 1) -> None:
    """Write a ~size_mb MB job-output.txt and its .gz (level 6, like gzip(1))."""
    rng = random.Random(seed)
    clock = _Clock()
    target = size_mb * 1024 * 1024
    written = 0
    gz_path = path.with_name(path.name + ".gz")
    with path.open("w", encoding="utf-8") as plain, gzip.open(gz_path, "wt", compresslevel=6, encoding="utf-8") as gz:
        header = [
            f"{clock.stamp()} | Job console starting",
            f"{clock.stamp()} | RUN START: [untrusted : opendev.org/openstack/tempest/playbooks/devstack-tempest.yaml@master]",
            f"{clock.stamp()} | PLAY [controller]",
            f"{clock.stamp()} | TASK [run-devstack : Run devstack]",
        ]
        plain.write("\n".join(header) + "\n")
        gz.write("\n".join(header) + "\n")
        in_tempest = False
        while written < target:
            if written < target * 0.45:
                lines = _devstack_lines(rng, clock, 5000)
            else:
                lines = []
                if not in_tempest:
                    in_tempest = True
                    lines += [f"{clock.stamp()} | controller | ok: Runtime: 0:42:13.120004", f"{clock.stamp()} | ",
                              f"{clock.stamp()} | TASK [run-tempest : Run tempest]"]
                lines += _tempest_lines(rng, clock, 4000, fail_every=20000)
                lines += _devstack_lines(rng, clock, 1000)
            block = "\n".join(lines) + "\n"
            plain.write(block)
            gz.write(block)
            written += len(block)
        tail = [
            f"{clock.stamp()} | controller | ERROR",
            f"{clock.stamp()} | controller | {{",
            f'{clock.stamp()} | controller |   "msg": "non-zero return code",',
            f'{clock.stamp()} | controller |   "rc": 1',
            f"{clock.stamp()} | controller | }}",
            f"{clock.stamp()} | RUN END RESULT_NORMAL: [untrusted : opendev.org/openstack/tempest/playbooks/devstack-tempest.yaml@master]",
        ]
        plain.write("\n".join(tail) + "\n")
        gz.write("\n".join(tail) + "\n")


def _ours(path: Path) -> dict:
    """Run our full analysis in a child process; return its time, RSS and findings."""
    code = (
        "import json, os, resource, sys, time\n"
        "t0 = time.perf_counter()\n"
        "import recheck\n"
        "sigs = recheck.load_signatures(os.environ)\n"
        "a = recheck.analyze(sys.argv[1], signatures=sigs)\n"
        "dt = time.perf_counter() - t0\n"
        "print(json.dumps({'seconds': dt, 'max_rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        " 'failures': len(a.failures), 'bugs': [b.number for b in a.signature_matches[:3]],"
        " 'lines': a.lines, 'bytes': a.bytes, 'warnings': list(a.warnings)}))\n"
    )
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    doc = json.loads(done.stdout)
    doc["wall"] = wall
    return doc


def _grep(cmd: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd} | wc -l"], capture_output=True, text=True)
    return time.perf_counter() - t0, int(done.stdout.strip() or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300, help="size of the plain log (default 300)")
    parser.add_argument("--workdir", type=Path, help="keep/reuse the generated logs here")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each contender")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.mkdtemp(prefix="recheck-bench-")
        workdir = Path(tmp)
    workdir.mkdir(parents=True, exist_ok=True)
    plain = workdir / f"job-output-{args.size_mb}mb.txt"
    gz_path = plain.with_name(plain.name + ".gz")
    try:
        if not (plain.exists() and gz_path.exists()):
            t0 = time.perf_counter()
            generate(plain, args.size_mb)
            print(f"generated {plain} ({plain.stat().st_size / 1e6:.0f} MB, gz {gz_path.stat().st_size / 1e6:.1f} MB)"
                  f" in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        from recheck import inflate

        backend = "isal" if inflate.decompressobj.__module__.startswith(("isal", "igzip")) else "zlib"
        results: dict = {"size_mb": args.size_mb, "plain_bytes": plain.stat().st_size,
                         "gz_bytes": gz_path.stat().st_size, "load": os.getloadavg(), "inflate": backend}
        for label, path, peer in (
            ("gz", gz_path, f"zcat {gz_path} | grep -E '{GREP_PATTERN}'"),
            ("plain", plain, f"grep -E '{GREP_PATTERN}' {plain}"),
        ):
            ours = min((_ours(path) for _ in range(args.repeat)), key=lambda d: d["wall"])
            grep_time, grep_lines = min(_grep(peer) for _ in range(args.repeat))
            results[label] = {
                "ours_wall_s": round(ours["wall"], 3),
                "ours_analysis_s": round(ours["seconds"], 3),
                "ours_max_rss_mb": round(ours["max_rss_kb"] / 1024, 1),
                "ours_failures": ours["failures"],
                "ours_bugs": ours["bugs"],
                "ours_lines": ours["lines"],
                "grep_s": round(grep_time, 3),
                "grep_matching_lines": grep_lines,
                "ratio": round(ours["wall"] / grep_time, 2) if grep_time else None,
            }
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            print(f"log: {results['plain_bytes'] / 1e6:.0f} MB plain, {results['gz_bytes'] / 1e6:.1f} MB gzip;"
                  f" inflate with {backend}; load average {', '.join(f'{x:.1f}' for x in results['load'])}"
                  " (other jobs share this machine)")
            for label in ("gz", "plain"):
                r = results[label]
                peer = "zcat | grep -E" if label == "gz" else "grep -E"
                print(
                    f"{label:5}: ours {r['ours_wall_s']:.2f}s (analysis {r['ours_analysis_s']:.2f}s, "
                    f"peak RSS {r['ours_max_rss_mb']:.0f} MB, {r['ours_failures']} failures, "
                    f"{r['ours_lines']} lines)  vs  {peer} {r['grep_s']:.2f}s ({r['grep_matching_lines']} lines)"
                    f"  ratio {r['ratio']}x"
                )
        return 0
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
