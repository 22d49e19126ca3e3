"""The stand-in's HTTP plumbing: a threaded wsgiref server that can misbehave on purpose."""
from __future__ import annotations

import json
import socketserver
import time
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication

#: Request bodies larger than this are refused (413).
MAX_BODY = 1024 * 1024


class Reply(Exception):
    def __init__(self, status: str, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise Reply("405 Method Not Allowed", error(405, "Method Not Allowed", f"use {allowed}"))


def error(code: int, title: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "title": title, "message": message}}


def json_reply(start_response: Callable[..., Any], status: str, document: Any) -> list[bytes]:
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def read_json(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise Reply("413 Request Entity Too Large", error(413, "Request Entity Too Large", "body too large"))
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise Reply("400 Bad Request", error(400, "Bad Request", "body is not JSON")) from exc


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = False
    #: the KeystoneStandIn (its _record counts requests and picks faults)
    standin: Any


class Handler(WSGIRequestHandler):
    """wsgiref's handler, quiet, able to drop a connection without answering."""

    server: Server

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536 or not self.parse_request():
            return
        path = urlsplit(self.path).path or "/"
        if path != "/":
            path = path.rstrip("/")
        fault = self.server.standin._record(path)
        if fault is not None and fault[0] == "close":
            # Simulate a crashed or restarting server: no status line at all.
            self.close_connection = True
            return
        environ = self.get_environ()
        environ["ostk.counted"] = True
        if fault is not None and fault[0] == "503":
            environ["ostk.fault"] = "503"
        # socketserver types wfile as BufferedIOBase; it is the socket's binary file.
        stdout = cast("IO[bytes]", self.wfile)
        handler = ServerHandler(self.rfile, stdout, self.get_stderr(), environ, multithread=True)
        handler.request_handler = self  # type: ignore[attr-defined]
        app = self.server.get_app()
        if app is None:
            raise RuntimeError("the stand-in's server has no WSGI application")
        if fault is not None:
            app = faulty(app, *fault)
        handler.run(app)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests do not want an access log on stderr


def lying_length(start_response: Callable[..., Any]) -> Callable[..., Any]:
    """Announce a longer body than is sent, so the client sees a cut download."""

    def wrapped(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        changed = [(k, str(int(v) * 2 + 100) if k.lower() == "content-length" else v) for k, v in headers]
        return start_response(status, changed, exc_info)

    return wrapped


def faulty(app: WSGIApplication, kind: str, delay: float) -> WSGIApplication:
    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if kind == "slow":
            time.sleep(delay)
            return app(environ, start_response)
        if kind == "truncate":
            return app(environ, lying_length(start_response))
        return json_reply(start_response, "503 Service Unavailable",
                     {"error": {"code": 503, "message": "stand-in outage", "title": "Service Unavailable"}})
    return wrapped
