"""What the simulated CI serves: job results and the log files they leave.

Plain data, shared by the simulator and the modules that feed it
(:mod:`recheck.testing.history`, :mod:`recheck.testing.replay`).
"""
from __future__ import annotations

import gzip
import uuid as _uuid
from dataclasses import dataclass, field

__all__ = ["SimJob", "SimLog", "gzip_bytes"]


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """``data`` gzip-compressed (what a log server stores)."""
    return gzip.compress(data, compresslevel=level, mtime=0)


@dataclass
class SimLog:
    """A file on the simulated log server.

    ``encoding``: ``"plain"``; ``"gzip"`` (stored compressed, served with
    ``Content-Encoding: gzip`` like logs.openstack.org); ``"gz"`` (a ``.gz``
    file served as bytes). ``data`` is the plain content, or already
    compressed bytes when ``compressed=True`` (cheap for huge logs).
    """

    data: bytes
    encoding: str = "plain"
    compressed: bool = False
    #: 404 (old logs expire).
    expired: bool = False
    #: Bytes per second per connection (None: as fast as possible).
    rate: float | None = None
    #: Close the connection after this many body bytes (Content-Length stays the full size).
    truncate_at: int | None = None

    def body(self) -> bytes:
        if self.encoding in ("gzip", "gz") and not self.compressed:
            self.data = gzip_bytes(self.data)
            self.compressed = True
        return self.data


@dataclass
class SimJob:
    """A job of a simulated buildset, with its logs.

    ``log`` is the ``job-output.txt`` content (or give ``log_file`` for full
    control); ``subunit`` adds a subunit artifact; ``has_logs=False`` is a
    build that left none (NODE_FAILURE).
    """

    name: str
    result: str = "FAILURE"
    log: bytes | None = None
    voting: bool = True
    subunit: bytes | None = None
    encoding: str = "gzip"
    expired: bool = False
    rate: float | None = None
    truncate_at: int | None = None
    has_logs: bool = True
    log_file: SimLog | None = None
    uuid: str = field(default_factory=lambda: _uuid.uuid4().hex)
    duration: str = "12m 03s"
    error_detail: str | None = None
    #: ``job-output.json`` content (zuul-jobs writes it beside job-output.txt; listed in the manifest).
    json_output: bytes | None = None
    #: Publish the "Zuul Manifest" artifact (zuul-jobs' generate-zuul-manifest role).
    manifest: bool = True
    #: Attempts Zuul retried before this one (``result: RETRY``, ``final: false`` in the builds API).
    retried: int = 0
    #: The upload ran but job-output.txt is not among the logs (the job died before writing it).
    text_log: bool = True
