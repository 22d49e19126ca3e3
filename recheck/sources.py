"""Where a log comes from: a local path, an http(s) URL, or an open binary stream."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ostk.errors import InputError, TruncatedDownload
from recheck.engine import LogScanner, read_chunks
from recheck.models import LogAnalysis
from recheck.signatures import SignatureSet

if TYPE_CHECKING:
    import requests

#: Bytes per HTTP read: a connection cut loses at most the chunk being read.
HTTP_CHUNK = 64 * 1024
#: Bytes per read from a local file: big blocks keep per-chunk overhead negligible.
FILE_CHUNK = 1024 * 1024


def is_url(source: object) -> bool:
    """True for http:// and https:// strings."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def open_path(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a local log, mapping OS errors to :class:`InputError` (exit 3)."""
    p = Path(path)
    try:
        if p.is_dir():
            raise InputError(f"{p} is a directory, not a log file")
        return p.open("rb")
    except FileNotFoundError as exc:
        raise InputError(f"no such log file: {p}") from exc
    except PermissionError as exc:
        raise InputError(f"cannot read {p}: permission denied") from exc
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror or exc}") from exc


def analyze(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    signatures: SignatureSet | None = None,
    session: requests.Session | None = None,
    job_name: str | None = None,
    every_line: bool = False,
) -> LogAnalysis:
    """Analyse one log from a path, an http(s) URL or a binary stream.

    URLs are downloaded in streaming fashion through ``ostk.http`` (timeouts,
    retries, Content-Encoding); a download cut mid-body gives a partial
    analysis (``truncated=True``). Raises :class:`~ostk.errors.InputError`
    for unreadable local files and :class:`~ostk.errors.ServiceError` when
    the server cannot be reached or answers with an error. ``every_line``: see
    :func:`~recheck.engine.analyze_stream`.
    """
    if is_url(source):
        # Imported here: requests costs a third of a second to import, which a
        # local-file analysis need not pay.
        from ostk.http import build_session, iter_bytes, redact_url

        url = str(source)
        scanner = LogScanner(name=url, signatures=signatures, job_name=job_name, every_line=every_line)
        chunks = iter_bytes(
            session or build_session(), url, what=f"downloading {redact_url(url)}", chunk_size=HTTP_CHUNK
        )
        return _drain(scanner, chunks)
    if isinstance(source, (str, os.PathLike)):
        scanner = LogScanner(
            name=os.fspath(source), signatures=signatures, job_name=job_name, every_line=every_line
        )
        with open_path(source) as stream:
            return _drain(scanner, _file_chunks(stream, os.fspath(source)), threaded=True)
    name = str(getattr(source, "name", "") or "")
    scanner = LogScanner(name=name, signatures=signatures, job_name=job_name, every_line=every_line)
    return _drain(scanner, read_chunks(source, FILE_CHUNK), threaded=True)


def _drain(scanner: LogScanner, chunks: Iterable[bytes], *, threaded: bool = False) -> LogAnalysis:
    try:
        scanner.consume(chunks, threaded=threaded)
    except (TruncatedDownload, EOFError):
        return scanner.finish(truncated=True)
    return scanner.finish()


def _file_chunks(stream: BinaryIO, name: str) -> Iterator[bytes]:
    try:
        yield from read_chunks(stream, FILE_CHUNK)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc
