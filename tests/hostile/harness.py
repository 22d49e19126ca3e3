"""Hostile services and a measured CLI runner: the proof harness for issue 17.

The contract under test: whatever a service or a file throws at ``ostk``, the
command ends with the documented exit code, ONE line on stderr, no traceback,
in bounded time and bounded memory.

Two pieces:

``HostileServer``
    A real HTTP/1.1 server on 127.0.0.1 built on plain sockets, so it can
    misbehave the ways real servers do: wrong JSON shapes, huge or endless
    bodies, a byte a second, silence, 429 storms with ``Retry-After``, a reset
    in the middle of the body, redirect loops, gzip bombs, hostile status
    lines. Routes map a path (query ignored; longest prefix wins) to a
    :class:`Reply`; every connection is closed after its answer.

``run_cli(argv, ...)``
    Runs ``ostk.cli.main(argv)`` in a fresh child process (private HOME and
    XDG dirs, empty working directory, no inherited ``OS_*``) and returns a
    :class:`Run`: exit code, stdout, stderr lines, wall time and the child's
    own peak RSS (``VmHWM`` of its own address space, read by the child as it exits
    and polled by the parent while it runs), killing it past ``kill_after``
    seconds. Not ``getrusage``/``wait4``'s ``ru_maxrss``: Linux carries the
    parent's peak over fork and exec into it, so a child of a 340 MB pytest
    process "peaks" at 340 MB however little it uses.

Adding a case for your area (``tests/hostile/test_<area>.py``)::

    from harness import Reply, assert_refused, run_cli

    def test_zuul_build_with_numeric_log_url(hostile):      # fixture: conftest.py
        hostile.route("/api/tenant/t/build/abc", Reply.json({"uuid": "abc", "log_url": 5}))
        run = run_cli(["recheck", f"{hostile.url}/t/t/build/abc", "--timeout", "10"])
        assert_refused(run, exit_code=4, within=15, mentions=["Zuul"])

Replies (all class methods of :class:`Reply`): ``json``, ``body``, ``status``,
``huge``, ``endless``, ``drip``, ``silent``, ``retry_after``, ``reset_mid_body``,
``redirect_loop``, ``gzip_bomb``, ``deep_json``, ``slow_headers``, and
``sequence(*replies)`` for answers that change from one hit to the next.
``hostile.hits[path]`` counts requests per path.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typing_extensions import Self

__all__ = ["HostileServer", "Reply", "Run", "assert_refused", "run_cli"]

#: The peak RSS above which a run fails, in MB. A bare ``ostk`` process is
#: ~60 MB; 32 MiB bodies held twice while parsing stay well under this.
DEFAULT_MAX_RSS_MB = 250.0


# ---------------------------------------------------------------------------
# The server
@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


#: A reply writes to the client socket; ``stop`` is set when the server closes.
Handler = Callable[[socket.socket, Request, threading.Event], None]


def _head(status: int | str, headers: Mapping[str, str], reason: str | None = None) -> bytes:
    reason = reason if reason is not None else _REASONS.get(int(status), "Whatever")
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_REASONS = {200: "OK", 302: "Found", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}


def _wait(stop: threading.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless the server stops; True if it stopped."""
    return stop.wait(seconds)


@dataclass
class Reply:
    """One way of answering a request. Build them with the class methods."""

    handler: Handler
    label: str = "reply"

    def __call__(self, sock: socket.socket, request: Request, stop: threading.Event) -> None:
        self.handler(sock, request, stop)

    # Well-formed answers ---------------------------------------------------
    @classmethod
    def body(cls, data: bytes, status: int = 200, headers: Mapping[str, str] | None = None,
             content_type: str = "application/json", reason: str | None = None) -> Reply:
        """``data`` as the body, with a correct Content-Length."""
        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            head = {"Content-Type": content_type, "Content-Length": str(len(data)), "Connection": "close",
                    **(headers or {})}
            sock.sendall(_head(status, head, reason) + (b"" if request.method == "HEAD" else data))
        return cls(handler, f"body({len(data)} bytes, {status})")

    @classmethod
    def json(cls, document: Any, status: int = 200, headers: Mapping[str, str] | None = None,
             prefix: bytes = b"") -> Reply:
        """Any JSON document (``prefix=b")]}'\\n"`` for Gerrit)."""
        return cls.body(prefix + json.dumps(document).encode(), status, headers)

    @classmethod
    def status(cls, code: int, headers: Mapping[str, str] | None = None, body: bytes = b"",
               reason: str | None = None) -> Reply:
        """An HTTP status with an optional body; ``reason`` may be hostile text."""
        return cls.body(body, code, headers, content_type="text/plain", reason=reason)

    @classmethod
    def sequence(cls, *replies: Reply) -> Reply:
        """Answer the n-th request with ``replies[n]``; the last one repeats."""
        queue = list(replies)
        lock = threading.Lock()

        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            with lock:
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
            reply(sock, request, stop)
        return cls(handler, "sequence(" + ", ".join(r.label for r in replies) + ")")

    # Hostile answers ---------------------------------------------------------
    @classmethod
    def huge(cls, size: int, *, chunked: bool = False) -> Reply:
        """A valid JSON array of ``size`` bytes, generated as it is sent."""
        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            head: dict[str, str] = {"Content-Type": "application/json", "Connection": "close"}
            if chunked:
                head["Transfer-Encoding"] = "chunked"
            else:
                head["Content-Length"] = str(size)
            sock.sendall(_head(200, head))
            for piece in _json_array(size):
                if stop.is_set():
                    return
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        return cls(handler, f"huge({size})")

    @classmethod
    def endless(cls, unit: bytes = b"[" + b"0," * 32767) -> Reply:
        """A chunked body that never ends (until the client goes away)."""
        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            sock.sendall(_head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
            chunk = b"%x\r\n%s\r\n" % (len(unit), unit)
            while not stop.is_set():
                sock.sendall(chunk)
        return cls(handler, "endless")

    @classmethod
    def drip(cls, interval: float = 1.0, data: bytes = b" ", announced: int = 10_000_000,
             head: bytes = b"") -> Reply:
        """Headers at once, then ``head``, then one byte of ``data`` every ``interval`` seconds."""
        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            sock.sendall(_head(200, {"Content-Type": "application/json", "Content-Length": str(announced)}) + head)
            i = 0
            while not _wait(stop, interval):
                sock.sendall(data[i % len(data): i % len(data) + 1])
                i += 1
        return cls(handler, f"drip({interval}s)")

    @classmethod
    def slow_headers(cls, interval: float = 1.0) -> Reply:
        """The status line and headers themselves, a byte every ``interval`` seconds."""
        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            text = _head(200, {"Content-Type": "application/json", "X-Pad": "p" * 10_000, "Content-Length": "2"})
            for i in range(len(text)):
                if _wait(stop, interval):
                    return
                sock.sendall(text[i: i + 1])
            sock.sendall(b"{}")
        return cls(handler, f"slow_headers({interval}s)")

    @classmethod
    def silent(cls) -> Reply:
        """Accept the request and never answer."""
        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            stop.wait()
        return cls(handler, "silent")

    @classmethod
    def retry_after(cls, seconds: int | str = 30, status: int = 429) -> Reply:
        """``429`` (or ``status``) with ``Retry-After: seconds``, every time."""
        return cls.status(status, {"Retry-After": str(seconds)}, b"slow down")

    @classmethod
    def reset_mid_body(cls, sent: int = 1000, announced: int = 100_000) -> Reply:
        """Announce ``announced`` bytes, send ``sent``, then reset the connection (RST)."""
        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            sock.sendall(_head(200, {"Content-Type": "application/json", "Content-Length": str(announced)})
                         + b"[" + b"1," * (sent // 2))
            time.sleep(0.05)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return cls(handler, "reset_mid_body")

    @classmethod
    def redirect_loop(cls) -> Reply:
        """302 back to the same path, forever."""
        def handler(sock: socket.socket, request: Request, stop: threading.Event) -> None:
            sock.sendall(_head(302, {"Location": request.path, "Content-Length": "0", "Connection": "close"}))
        return cls(handler, "redirect_loop")

    @classmethod
    def gzip_bomb(cls, decoded_size: int = 1 << 30) -> Reply:
        """``Content-Encoding: gzip`` whose body inflates to ``decoded_size`` bytes of spaces."""
        data = _gzip_of_spaces(decoded_size)
        return cls.body(data, headers={"Content-Encoding": "gzip"})

    @classmethod
    def deep_json(cls, depth: int = 100_000) -> Reply:
        """``[[[[...]]]]`` nested ``depth`` levels."""
        return cls.body(b"[" * depth + b"]" * depth)


def _json_array(size: int) -> Iterable[bytes]:
    """Pieces of ``[0,0,...,0]`` adding up to exactly ``size`` bytes (size >= 3)."""
    yield b"["
    left = size - 3
    block = b"0," * 32768
    while left > 0:
        piece = block[: min(left, len(block))]
        if len(piece) % 2:
            piece = piece[:-1] + b" "
        left -= len(piece)
        yield piece
    yield b"0]"


_GZIP_CACHE: dict[int, bytes] = {}


def _gzip_of_spaces(size: int) -> bytes:
    if size not in _GZIP_CACHE:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = b" " * (1 << 20)
        parts = []
        for _ in range(size // len(block)):
            parts.append(compressor.compress(block))
        parts.append(compressor.compress(b" " * (size % len(block))))
        parts.append(compressor.flush())
        _GZIP_CACHE[size] = b"".join(parts)
    return _GZIP_CACHE[size]


class HostileServer:
    """A misbehaving HTTP server on 127.0.0.1; use as a context manager.

    ``route(path, reply)`` (path without query; the longest matching prefix
    wins; unknown paths get 404). ``url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(self) -> None:
        self._routes: dict[str, Reply] = {}
        self.hits: dict[str, int] = defaultdict(int)
        self.requests: list[Request] = []
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()

    def route(self, path: str, reply: Reply) -> None:
        self._routes[path] = reply

    def _reply_for(self, path: str) -> Reply:
        bare = path.split("?", 1)[0]
        best = max((p for p in self._routes if bare.startswith(p)), key=len, default=None)
        return self._routes[best] if best is not None else Reply.status(404, body=b"no such path")

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = self._read_request(conn)
                if request is None:
                    return
                bare = request.path.split("?", 1)[0]
                self.hits[bare] += 1
                self.requests.append(request)
                self._reply_for(request.path)(conn, request, self._stop)
            except OSError:
                pass  # the client went away: that is what we are testing

    @staticmethod
    def _read_request(conn: socket.socket) -> Request | None:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return None
            data += piece
        conn.settimeout(None)
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = [*lines[0].split(" "), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:
            piece = conn.recv(65536)
            if not piece:
                break
            rest += piece
        return Request(method, path, headers)


# ---------------------------------------------------------------------------
# The runner
@dataclass(frozen=True)
class Run:
    """What one ``ostk`` child process did."""

    argv: tuple[str, ...]
    #: The exit status; None if the harness had to kill it.
    exit_code: int | None
    stdout: str
    stderr: str
    #: Wall-clock seconds from start to exit (or kill).
    seconds: float
    #: The child's own peak resident set size, in MB.
    peak_rss_mb: float
    killed: bool = False

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def describe(self) -> str:
        return (f"ostk {' '.join(self.argv)[:300]} -> exit {self.exit_code} in {self.seconds:.1f}s, "
                f"{self.peak_rss_mb:.0f} MB, stderr {self.stderr[:2000]!r}")


_CHILD = """
import os, sys
from ostk.cli import main
try:
    code = main(sys.argv[1:])
finally:
    with open(os.environ["OSTK_HARNESS_PEAK"], "w") as out:
        out.write(open("/proc/self/status").read())
sys.exit(code)
"""


def _peak_kb(status_text: str) -> int:
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _polled_peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return _peak_kb(status.read())
    except OSError:
        return 0


def run_cli(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    cwd: Path | None = None,
    home: Path | None = None,
    kill_after: float = 120.0,
) -> Run:
    """Run ``ostk.cli.main(argv)`` in a child process and measure it.

    The child gets a private HOME (``home`` or a new temporary directory) with
    XDG dirs inside it, ``cwd`` (default: an empty directory), ``NO_COLOR``,
    and only the variables in ``env`` beyond PATH/LANG — never the caller's
    ``OS_*`` or ``OSTK_*``.
    """
    scratch = Path(tempfile.mkdtemp(prefix="ostk-hostile-"))
    home = home or scratch / "home"
    home.mkdir(parents=True, exist_ok=True)
    workdir = cwd or scratch / "cwd"
    workdir.mkdir(parents=True, exist_ok=True)
    child_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OSTK_HARNESS_PEAK": str(scratch / "peak"),
        **(env or {}),
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *argv],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=child_env, cwd=workdir,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    try:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    killed = False
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, _polled_peak_kb(proc.pid))
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > kill_after:
            proc.send_signal(signal.SIGKILL)
            killed = True
            pid, status = os.waitpid(proc.pid, 0)
            break
        time.sleep(0.02)
    with contextlib.suppress(OSError):
        peak_kb = max(peak_kb, _peak_kb((scratch / "peak").read_text()))
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(5)
    return Run(
        argv=tuple(argv),
        exit_code=None if killed else proc.returncode,
        stdout=b"".join(out).decode("utf-8", "replace"),
        stderr=b"".join(err).decode("utf-8", "replace"),
        seconds=seconds,
        peak_rss_mb=peak_kb / 1024,
        killed=killed,
    )


def assert_refused(
    run: Run,
    exit_code: int,
    *,
    within: float,
    max_rss_mb: float = DEFAULT_MAX_RSS_MB,
    mentions: Iterable[str] = (),
) -> None:
    """The contract: ``exit_code``, one stderr line, no traceback, bounded time and memory.

    ``mentions``: substrings the error line must contain (the file or host it
    names, the kind of problem).
    """
    what = run.describe()
    assert not run.killed, f"had to kill it: {what}"
    assert run.exit_code == exit_code, what
    assert "Traceback" not in run.stderr, what
    assert "internal error" not in run.stderr, what
    assert len(run.stderr_lines) == 1, f"expected one stderr line: {what}"
    assert run.stderr_lines[0].startswith("error: "), what
    for text in mentions:
        assert text in run.stderr_lines[0], f"{text!r} not in the error: {what}"
    assert run.seconds <= within, f"took {run.seconds:.1f}s > {within}s: {what}"
    assert run.peak_rss_mb <= max_rss_mb, f"peak RSS {run.peak_rss_mb:.0f} MB > {max_rss_mb}: {what}"

