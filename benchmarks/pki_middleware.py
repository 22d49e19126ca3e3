"""Benchmark: requests/s through gunicorn with pki.middleware (cached token, uncached) vs the bare app.

One run starts a PKI-era keystone stand-in (certificates, revocation list
over real HTTP on loopback) and three gunicorn servers (one gthread worker
each, keep-alive) serving the same tiny WSGI app:

- ``bare``: the app alone;
- ``cached``: the app behind ``pki.middleware`` (the token's verdict cached,
  revocation still checked on every request);
- ``uncached``: the same with ``token_cache_time = 0`` (the CMS signature
  verified on every request).

A client process sends GETs with the same PKI token over keep-alive
connections; the servers take turns inside each round (the machine is
shared, so a burst of load hits them alike) and the best round of each is
reported, with the ratios. Goal: cached >= 90% of bare.

    .venv/bin/python benchmarks/pki_middleware.py            # the real run
    .venv/bin/python benchmarks/pki_middleware.py --quick    # smoke run
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


# The WSGI side (imported by gunicorn in the server processes) -----------------------
def _hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b"hello " + environ.get("HTTP_X_USER_NAME", "anonymous").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def wsgi_app() -> Any:
    """gunicorn's entry point: the bare app, or the app behind the filter
    with the options in $PKI_BENCH_OPTIONS (JSON)."""
    options = os.environ.get("PKI_BENCH_OPTIONS")
    if not options:
        return _hello
    from pki.middleware import filter_factory

    return filter_factory({}, **json.loads(options))(_hello)


# The client and the run -------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(name: str, options: dict[str, str] | None, logs: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'benchmarks'}"}
    env.pop("PKI_BENCH_OPTIONS", None)
    if options is not None:
        env["PKI_BENCH_OPTIONS"] = json.dumps(options)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    with open(logs / f"{name}.log", "wb") as log:
        proc = subprocess.Popen(
            [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread",
         "--threads", "4", "--keep-alive", "30", "--no-control-socket", "--log-level", "warning",
             "pki_middleware:wsgi_app()"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    return proc, port


def _wait_ready(port: int, token: str, expect: int = 200) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/", headers={"X-Auth-Token": token})
            response = conn.getresponse()
            response.read()
            if response.status != expect:
                raise SystemExit(f"server on {port} answered {response.status}, not {expect}")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"server on {port} did not start") from None
            time.sleep(0.1)


def _load(port: int, token: str, seconds: float, clients: int) -> float:
    """Requests/s from ``clients`` keep-alive connections for ``seconds``."""
    counts = [0] * clients
    stop = time.perf_counter() + seconds

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"X-Auth-Token": token}
        while time.perf_counter() < stop:
            conn.request("GET", "/", headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            counts[index] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def _in_process(seconds: float) -> dict[str, float]:
    """Microseconds per call of the bare app and of the filter around it (best of 5)."""
    from pki.middleware import filter_factory
    from pki.testing import KeystoneStandIn

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    result = {}
    with KeystoneStandIn() as keystone, tempfile.TemporaryDirectory(prefix="pki-bench-") as tmp:
        token = keystone.issue_token("demo")
        base = {"auth_url": keystone.url, "auth_type": "password", "username": "admin", "password": "secret",
                "project_name": "admin", "user_domain_id": "default", "project_domain_id": "default"}
        apps = {
            "bare app": _hello,
            "pki.middleware, cached token": filter_factory({}, **base, signing_dir=f"{tmp}/a")(_hello),
            "pki.middleware, uncached": filter_factory({}, **base, signing_dir=f"{tmp}/b",
                                                       token_cache_time="0")(_hello),
        }
        for name, app in apps.items():
            app({"HTTP_X_AUTH_TOKEN": token, "REQUEST_METHOD": "GET"}, start_response)
            best = float("inf")
            for _ in range(5):
                calls, start = 0, time.perf_counter()
                while calls < 10 or time.perf_counter() - start < seconds / 5:
                    app({"HTTP_X_AUTH_TOKEN": token, "REQUEST_METHOD": "GET"}, start_response)
                    calls += 1
                best = min(best, (time.perf_counter() - start) / calls * 1e6)
            result[name] = best
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per server per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    seconds, rounds = (0.3, 1) if args.quick else (args.seconds, args.rounds)

    from pki.testing import KeystoneStandIn

    with KeystoneStandIn() as keystone, tempfile.TemporaryDirectory(prefix="pki-bench-") as tmp:
        work = Path(tmp)
        token = keystone.issue_token("demo")
        base = {
            "auth_url": keystone.url, "auth_type": "password", "username": "admin", "password": "secret",
            "project_name": "admin", "user_domain_id": "default", "project_domain_id": "default",
            "revocation_cache_time": "10", "include_service_catalog": "true",
        }
        servers = {
            "bare": _start("bare", None, work),
            "cached": _start("cached", {**base, "signing_dir": str(work / "s1")}, work),
            "uncached": _start("uncached", {**base, "signing_dir": str(work / "s2"), "token_cache_time": "0"},
                               work),
        }
        try:
            for _proc, port in servers.values():
                _wait_ready(port, token)
            best = dict.fromkeys(servers, 0.0)
            for _ in range(rounds):
                for name, (_proc, port) in servers.items():
                    best[name] = max(best[name], _load(port, token, seconds, args.clients))
        finally:
            for proc, _port in servers.values():
                proc.terminate()
            for proc, _port in servers.values():
                proc.wait(timeout=30)
    in_process = _in_process(seconds)
    print(f"gunicorn 1 gthread worker x 4 threads, keep-alive, {args.clients} client connections; "
          f"token {len(token)} bytes (PKI, v3, with catalog); best of {rounds} rounds")
    print("(figures taken on a shared, loaded 2-core machine; client and servers share it)")
    print(f"  bare app                              {best['bare']:9,.0f} requests/s")
    print(f"  pki.middleware, cached token          {best['cached']:9,.0f} requests/s")
    print(f"  pki.middleware, uncached (verify all) {best['uncached']:9,.0f} requests/s")
    print(f"  cached / bare   = {best['cached'] / best['bare']:.0%}   (goal >= 90%)")
    print(f"  uncached / bare = {best['uncached'] / best['bare']:.0%}")
    print("in-process, the same filter called directly (no HTTP, no client): time per request")
    for name, micros in in_process.items():
        print(f"  {name:38}{micros:9.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
