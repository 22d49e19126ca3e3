"""Fixtures for the log engine tests: real renderings of real subunit streams,
Zuul-style wrapping, and a real HTTP server on 127.0.0.1 for URL inputs."""
from __future__ import annotations

import gzip
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# stestr's subunit_trace module does not import subunit.test_results itself.
_SUBUNIT_TRACE = (
    "import subunit.test_results, sys; from stestr import subunit_trace; "
    "sys.argv = ['subunit-trace'] + sys.argv[1:]; sys.exit(subunit_trace.main())"
)
_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def subunit_dir(shared_fixtures: Path) -> Path:
    return shared_fixtures / "recheck" / "subunit"


def _run(argv: list[str], stdin: Path) -> str:
    # A CI console shows stdout and stderr together (subunit2pyunit reports on stderr).
    with stdin.open("rb") as f:
        done = subprocess.run(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, check=False)
    assert done.stdout
    return done.stdout.decode("utf-8")


@pytest.fixture(scope="session")
def render() -> Callable[[str, Path], str]:
    """render(tool, stream) → the console text the real tool prints for ``stream``.

    tools: ``subunit-trace``, ``subunit-trace --fails``, ``subunit2pyunit``,
    ``stestr last`` (load into a fresh repository, then ``stestr last``).
    """
    cache: dict[tuple[str, Path], str] = {}

    def _render(tool: str, stream: Path) -> str:
        key = (tool, stream)
        if key not in cache:
            if tool.startswith("subunit-trace"):
                cache[key] = _run([sys.executable, "-c", _SUBUNIT_TRACE, *tool.split()[1:]], stream)
            elif tool == "subunit2pyunit":
                cache[key] = _run([str(_BIN / "subunit2pyunit")], stream)
            elif tool == "stestr last":
                import tempfile

                with tempfile.TemporaryDirectory() as tmp:
                    repo = Path(tmp)
                    (repo / ".stestr.conf").write_text("[DEFAULT]\ntest_path=.\n")
                    subprocess.run([str(_BIN / "stestr"), "init"], cwd=repo, capture_output=True, check=True)
                    subprocess.run(
                        [str(_BIN / "stestr"), "load"], cwd=repo, stdin=stream.open("rb"), capture_output=True,
                        check=False,
                    )
                    done = subprocess.run(
                        [str(_BIN / "stestr"), "last"], cwd=repo, capture_output=True, check=False, timeout=120
                    )
                    cache[key] = done.stdout.decode("utf-8")
                    assert cache[key], done.stderr
            else:
                raise ValueError(tool)
        return cache[key]

    return _render


def zuul_wrap(text: str, host: str | None = "controller") -> str:
    """Prefix every line as Zuul's job-output.txt does (timestamp, ``| host |``)."""
    out = []
    for i, line in enumerate(text.splitlines()):
        # Zuul drops the fraction when it is zero: exercise both forms.
        stamp = f"2024-05-14 09:12:{i % 60:02d}" + ("" if i % 7 == 0 else f".{i:06d}")
        out.append(f"{stamp} | " + (f"{host} | " if host else "") + line)
    return "\n".join(out) + "\n"


def gz(data: bytes | str) -> bytes:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return gzip.compress(data, mtime=0)


@dataclass
class Served:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    #: Announce the full length but send only this many bytes, then close.
    cut_at: int | None = None


class LogServer:
    """A real HTTP server on 127.0.0.1 (free port) serving ``routes[path]``."""

    def __init__(self) -> None:
        self.routes: dict[str, Served] = {}
        self.seen_headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # http.server's naming
                outer.seen_headers.append(dict(self.headers))
                served = outer.routes.get(self.path)
                if served is None:
                    served = Served(b"not found", status=404)
                self.send_response(served.status)
                for key, value in served.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(served.body)))
                if served.cut_at is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                body = served.body if served.cut_at is None else served.body[: served.cut_at]
                self.wfile.write(body)
                self.wfile.flush()
                if served.cut_at is not None:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LogServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def log_server() -> Iterator[LogServer]:
    with LogServer() as server:
        yield server


@pytest.fixture(scope="session")
def wrap() -> Callable[..., str]:
    """The :func:`zuul_wrap` helper, for test modules (conftest is not importable)."""
    return zuul_wrap


@pytest.fixture(scope="session")
def gzipped() -> Callable[[bytes | str], bytes]:
    return gz


@pytest.fixture
def serve(log_server: LogServer) -> Callable[..., str]:
    """serve(path, body, headers=..., status=..., cut_at=...) → the URL of that log."""

    def _serve(path: str, body: bytes, **kw: object) -> str:
        log_server.routes[path] = Served(body, **kw)  # type: ignore[arg-type]
        return log_server.url + path

    return _serve
