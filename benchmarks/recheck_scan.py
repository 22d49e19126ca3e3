"""Benchmark: the whole ``ostk recheck`` process vs the limits and the peers, one run, one log.

Generates a realistic tempest-like Zuul ``job-output.txt`` (devstack xtrace,
ansible banners, service log lines, ~two thousand tempest results per 10 MB,
a few failures with tracebacks) of the requested size and its ``.gz``, then
times, each in its own process, on the same ``.gz``:

- ``inflate``: a process that only inflates it with ISA-L (the limit);
- ``ours``: ``ostk recheck LOG.gz --json`` (every line against the signatures
  that apply to a console log, the failure scan, the report);
- ``ours-all``: every line against all 921 shipped signatures, their file
  restrictions lifted (the library call the command makes);
- ``grep``: ``zcat LOG.gz | grep -E`` with the scanner's marker patterns;
- ``python``: ``ostk recheck`` with the pure-Python matcher
  (``OSTK_RECHECK_MATCHER=python``).

Each process reports its own peak RSS. The compiled matchers are cached
under the XDG cache dir (a scratch one here); one untimed run warms it, as any
earlier ``ostk recheck`` on the machine would (``--cold`` skips that).
Goals: ours-all <= 2.5x inflate, ours <= 0.7x grep, peak RSS < 100 MB.
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
from collections.abc import Callable
from pathlib import Path

from recheck.matcher import ENGINE_VARIABLE

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


_RSS = (
    "import resource, sys; u = resource.getrusage(resource.RUSAGE_SELF);"
    " print(u.ru_utime + u.ru_stime, u.ru_maxrss, file=sys.stderr)"
)

_INFLATE = (
    "import sys\n"
    "from isal import isal_zlib\n"
    "d = isal_zlib.decompressobj(31)\n"
    "n = 0\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    while chunk := f.read(1 << 20):\n"
    "        n += len(d.decompress(chunk))\n"
    "print(n)\n" + _RSS
)
_OURS = (
    "import sys\n"
    "from ostk.cli import main\n"
    "rc = main(['recheck', sys.argv[1], '--json'])\n" + _RSS
)
_OURS_ALL = (
    "import dataclasses, json, os, sys\n"
    "import recheck\n"
    "from recheck.signatures import SignatureSet\n"
    "sigs = recheck.load_signatures(os.environ)\n"
    "free = SignatureSet([dataclasses.replace(s, alternatives=tuple(dataclasses.replace(a, files=(), files_not=(),"
    " builds=(), builds_not=()) for a in s.alternatives)) for s in sigs.signatures], cache=sigs.cache)\n"
    "a = recheck.analyze(sys.argv[1], signatures=free)\n"
    "print(json.dumps({'jobs': [{'failures': [f.to_json() for f in a.failures],"
    " 'bugs': [b.to_json() for b in a.signature_matches]}]}))\n" + _RSS
)


def marker_pattern() -> str:
    """The scanner's always-on markers as one ``grep -E`` pattern."""
    from recheck.markers import needles

    special = set(".[]()*+?{}|^$\\")
    return "|".join("".join("\\" + c if c in special else c for c in n.decode()) for n in needles())


def _child(code: str, path: Path, env: dict[str, str]) -> dict:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"child failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    cpu, rss_kb = done.stderr.strip().splitlines()[-1].split()
    out: dict = {"seconds": round(wall, 3), "cpu_s": round(float(cpu), 3), "max_rss_mb": round(int(rss_kb) / 1024, 1)}
    try:
        doc = json.loads(done.stdout)
        (job,) = doc["jobs"]
        out["failures"] = len(job["failures"])
        out["bugs"] = [b["number"] for b in job["bugs"]]
    except (ValueError, KeyError, TypeError):
        out["output"] = done.stdout.strip()[:80]
    return out


def _grep(cmd: str) -> dict:
    t0 = time.perf_counter()
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd} | wc -l"], capture_output=True, text=True)
    return {"seconds": round(time.perf_counter() - t0, 3), "matching_lines": int(done.stdout.strip() or 0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300, help="size of the plain log (default 300)")
    parser.add_argument("--workdir", type=Path, help="keep/reuse the generated logs here")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each contender")
    parser.add_argument("--cold", action="store_true", help="no warm-up run: the matcher cache starts empty")
    parser.add_argument("--skip-python", action="store_true", help="leave the (slow) pure-Python run out")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="recheck-bench-")
    workdir = args.workdir or Path(tmp)
    workdir.mkdir(parents=True, exist_ok=True)
    plain = workdir / f"job-output-{args.size_mb}mb.txt"
    gz_path = plain.with_name(plain.name + ".gz")
    env = dict(os.environ, XDG_CACHE_HOME=str(Path(tmp) / "cache"), XDG_CONFIG_HOME=str(Path(tmp) / "config"))
    env.pop(ENGINE_VARIABLE, None)
    try:
        if not (plain.exists() and gz_path.exists()):
            t0 = time.perf_counter()
            generate(plain, args.size_mb)
            print(f"generated {plain} ({plain.stat().st_size / 1e6:.0f} MB, gz {gz_path.stat().st_size / 1e6:.1f} MB)"
                  f" in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        pattern = marker_pattern()
        results: dict = {"size_mb": args.size_mb, "plain_bytes": plain.stat().st_size,
                         "gz_bytes": gz_path.stat().st_size, "load_before": os.getloadavg(), "grep_pattern": pattern}
        if not args.cold:
            _child(_OURS_ALL, gz_path, env)
            _child(_OURS, gz_path, env)

        def best(run: Callable[[], dict]) -> dict:
            return min((run() for _ in range(args.repeat)), key=lambda d: d["seconds"])

        results["inflate"] = best(lambda: _child(_INFLATE, gz_path, env))
        results["ours"] = best(lambda: _child(_OURS, gz_path, env))
        results["ours_all"] = best(lambda: _child(_OURS_ALL, gz_path, env))
        results["grep"] = best(lambda: _grep(f"zcat {gz_path} | grep -E '{pattern}'"))
        if not args.skip_python:
            results["python"] = _child(_OURS, gz_path, dict(env, **{ENGINE_VARIABLE: "python"}))
        inflate = results["inflate"]["seconds"]
        grep = results["grep"]["seconds"]
        ratios = {
            "ours_vs_inflate": round(results["ours"]["seconds"] / inflate, 2),
            "ours_all_vs_inflate": round(results["ours_all"]["seconds"] / inflate, 2),
            "ours_vs_grep": round(results["ours"]["seconds"] / grep, 2),
            "ours_all_vs_grep": round(results["ours_all"]["seconds"] / grep, 2),
        }
        if "python" in results:
            ratios["python_vs_inflate"] = round(results["python"]["seconds"] / inflate, 2)
            ratios["same_findings_python"] = (
                results["python"].get("bugs") == results["ours"].get("bugs")
                and results["python"].get("failures") == results["ours"].get("failures")
            )
        for label in ("ours", "ours_all"):
            ratios[f"{label}_cpu_vs_inflate_cpu"] = round(results[label]["cpu_s"] / results["inflate"]["cpu_s"], 2)
        results["ratios"] = ratios
        results["load_after"] = os.getloadavg()
        if args.json:
            print(json.dumps(results, indent=2))
            return 0
        print(f"log: {results['plain_bytes'] / 1e6:.0f} MB plain, {results['gz_bytes'] / 1e6:.1f} MB gzip;"
              f" load average {results['load_before'][0]:.1f} before, {results['load_after'][0]:.1f} after"
              " (other jobs share this machine)")
        for label in ("inflate", "ours", "ours_all", "grep", "python"):
            r = results.get(label)
            if r is None:
                continue
            extra = (f"peak RSS {r['max_rss_mb']:.0f} MB" if "max_rss_mb" in r else f"{r['matching_lines']} lines")
            found = f", {r['failures']} failures, bugs {r['bugs'][:5]}" if "bugs" in r else ""
            cpu = f" (CPU {r['cpu_s']:.2f}s)" if "cpu_s" in r else ""
            print(f"{label:9} {r['seconds']:7.2f}s{cpu}  {extra}{found}")
        print("ratios: " + ", ".join(f"{k} {v}" for k, v in ratios.items()))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
