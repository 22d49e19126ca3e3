"""The log engine: bytes of one job log in, a :class:`LogAnalysis` out.

``LogScanner`` is push-based so a downloader can feed chunks as they arrive
and still get a partial answer when the download breaks::

    scanner = LogScanner(name="job-output.txt.gz")
    try:
        for chunk in download():
            scanner.feed(chunk)
    except TruncatedDownload:
        return scanner.finish(truncated=True)
    return scanner.finish()
"""
from __future__ import annotations

import itertools
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable
from typing import BinaryIO

from recheck.inflate import GZIP_MAGIC, Inflater
from recheck.markers import MARKERS
from recheck.matcher import LineIndex
from recheck.models import BugMatch, Failure, FailureKind, LogAnalysis
from recheck.scanner import MAX_LINE, TextScanner
from recheck.signatures import SignatureSet
from recheck.structured import SUBUNIT_V2_SIGNATURE, read_job_output_json, read_subunit

#: Bytes looked at before deciding the format.
SNIFF = 4096
#: Structured documents are spooled to disk beyond this size.
SPOOL_IN_MEMORY = 8 * 1024 * 1024
#: A subunit stream is read up to this size (real tempest streams are tens of MB).
MAX_SUBUNIT = 512 * 1024 * 1024
#: A job-output.json larger than this is not parsed: json needs it whole in memory
#: (a few times its size); logs that big are read through job-output.txt instead.
MAX_JSON = 128 * 1024 * 1024

#: Root causes first: a broken node or devstack explains the test failures after it.
_RANK = {
    FailureKind.INFRA: 0,
    FailureKind.SETUP: 1,
    FailureKind.TIMEOUT: 2,
    FailureKind.TEST: 3,
    FailureKind.TASK: 4,
}

TEXT, HTML, SUBUNIT, JOB_JSON = "text", "html", "subunit", "job-output.json"


class LogScanner:
    """Incremental analysis of one log; see the module docstring."""

    def __init__(
        self,
        *,
        name: str = "",
        content_encoding: str | None = None,
        signatures: SignatureSet | None = None,
        job_name: str | None = None,
        every_line: bool = True,
        signatures_only: bool = False,
    ) -> None:
        """``every_line`` is accepted for compatibility: every line is always checked.

        ``signatures_only``: a log fetched for the signatures that name it (a
        service log): only those signatures are checked, no failure is looked for.
        """
        self.name = name
        self._signatures_only = signatures_only
        # gzip is recognised by its magic bytes: a ".gz" name or a Content-Encoding
        # header is only a hint (HTTP clients often decode the body already).
        self.content_encoding = content_encoding
        self._signatures = signatures
        self._job_name = job_name
        self._matcher = (
            signatures.matcher(log_name=name, job_name=job_name, only_named=signatures_only) if signatures else None
        )
        self._head = b""
        self._decided = False
        self._inflater: Inflater | None = None
        self._format: str | None = None
        self._text: TextScanner | None = None
        self._spool: tempfile.SpooledTemporaryFile[bytes] | None = None
        #: A structured document reached its size cap: the rest is not read.
        self._spool_full = False
        self._bytes = 0
        self._warnings: list[str] = []
        self._finished: LogAnalysis | None = None

    @property
    def format(self) -> str | None:
        """The detected format (``text``, ``html``, ``subunit``, ``job-output.json``), once known."""
        return self._format

    def feed(self, data: bytes) -> None:
        """Consume the next raw bytes of the log (compressed or not)."""
        if not data or self._finished is not None:
            return
        if not self._decided:
            self._head += data
            if len(self._head) < 2:
                return
            self._decided = True
            data, self._head = self._head, b""
            if data[:2] == GZIP_MAGIC:
                self._inflater = Inflater()
        if self._inflater is not None:
            for block in self._inflater.feed(data):
                self._plain(block)
        else:
            self._plain(data)

    def consume(self, chunks: Iterable[bytes], *, threaded: bool = True) -> None:
        """Feed every chunk of ``chunks``; exceptions of the iterator propagate.

        With ``threaded``, a gzip stream is read and decompressed in a helper
        thread while this one scans: zlib releases the GIL, so on two cores
        decompression costs (almost) no wall time. Memory stays bounded (a
        few blocks in flight). Only pass iterators that may be consumed from
        another thread.
        """
        it = iter(chunks)
        first = b""
        for first in it:
            if first:
                break
        if not first:
            return
        if not threaded or self._decided or first[:2] != GZIP_MAGIC or len(first) < 2:
            self.feed(first)
            for chunk in it:
                self.feed(chunk)
            return
        self._decided = True
        self._inflater = inflater = Inflater()
        blocks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=4)
        stop = threading.Event()

        def put(item: bytes | BaseException | None) -> None:
            while not stop.is_set():
                try:
                    blocks.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def inflate() -> None:
            try:
                for chunk in itertools.chain((first,), it):
                    for block in inflater.feed(chunk):
                        put(block)
                        if stop.is_set():
                            return
                    if inflater.limited:
                        break
                put(None)
            except BaseException as exc:
                put(exc)

        worker = threading.Thread(target=inflate, name="recheck-inflate", daemon=True)
        worker.start()
        try:
            while True:
                item = blocks.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                self._plain(item)
                if self._spool_full or (self._text is not None and self._text.found.stopped is not None):
                    break  # the scan gave up on a pathological log: reading on is wasted
        finally:
            stop.set()
            worker.join(timeout=5)

    def finish(self, truncated: bool = False) -> LogAnalysis:
        """Flush and return the analysis; ``truncated`` says the input was cut short."""
        if self._finished is not None:
            return self._finished
        if not self._decided and self._head:
            self._decided = True
            self._plain(self._head)
            self._head = b""
        if self._inflater is not None:
            if self._inflater.limited:
                mib = self._inflater.output / 1024**2
                self._warnings.append(f"log larger than {mib:,.0f} MiB once decompressed: only that much was read")
            if self._inflater.error is not None:
                truncated = True
                self._warnings.append(f"log corrupt ({self._inflater.error}); analysed what was readable")
            elif not self._inflater.complete:
                truncated = True
        if self._format is None and self._head:
            self._decide_format(self._head)
            self._dispatch(self._head)
            self._head = b""
        failures: list[Failure] = []
        lines = 0
        if self._format in (TEXT, HTML) and self._text is not None:
            self._text.close()
            failures = self._text.found.failures
            lines = self._text.lines
            if self._text.found.invalid_utf8:
                self._warnings.append("invalid UTF-8 replaced")
            if self._text.found.stopped:
                self._warnings.append(f"log not read to the end: {self._text.found.stopped}")
            if self._text.found.long_lines:
                self._warnings.append(
                    f"{self._text.found.long_lines} very long line(s) cut to {MAX_LINE // 1024} KiB"
                )
        elif self._format in (SUBUNIT, JOB_JSON):
            if self._spool_full and self._format == SUBUNIT:
                truncated = True
                self._warnings.append(f"subunit stream larger than {MAX_SUBUNIT >> 20} MiB: only that much was read")
            failures = self._structured(truncated)
        if self._bytes == 0:
            self._warnings.append("log is empty")
        if truncated:
            self._warnings.insert(0, "log truncated: the analysis covers only what was read")
        ordered = order_failures(failures)
        bugs: tuple[BugMatch, ...] = ()
        if self._matcher is not None:
            if self._format in (SUBUNIT, JOB_JSON):
                for f in ordered:
                    self._matcher.feed(f"{f.message}\n{f.excerpt}", f.line)
            tests = [f.id for f in ordered if f.kind is FailureKind.TEST]
            bugs = self._matcher.results(tests)
        self._finished = LogAnalysis(
            failures=tuple(ordered),
            signature_matches=bugs,
            truncated=truncated,
            warnings=tuple(dict.fromkeys(self._warnings)),
            lines=lines,
            bytes=self._bytes,
        )
        return self._finished

    # -- plain bytes -------------------------------------------------------------

    def _plain(self, block: bytes) -> None:
        if not block:
            return
        self._bytes += len(block)
        if self._format is None:
            self._head += block
            if len(self._head) < SNIFF:
                return
            block, self._head = self._head, b""
            self._decide_format(block)
        self._dispatch(block)

    def _decide_format(self, head: bytes) -> None:
        base = _base(self.name)
        if base.endswith(".gz"):
            base = base[:-3]
        first = head.lstrip()[:1]
        if self._signatures_only:
            self._format = TEXT
        elif head[:1] == bytes([SUBUNIT_V2_SIGNATURE]) or base.endswith(".subunit"):
            self._format = SUBUNIT
        elif base.endswith(".json") or (first == b"[" and (b'"plays"' in head or b'"playbook"' in head)):
            self._format = JOB_JSON
        elif base.endswith((".html", ".htm")) or any(
            tag in head[:1024].lower() for tag in (b"<html", b"<!doctype", b"<pre", b"<span", b"<body")
        ):
            self._format = HTML
        else:
            self._format = TEXT
        if self._format in (TEXT, HTML):
            sample = head[:SNIFF]
            junk = sum(1 for b in sample if b < 9 or 13 < b < 32)
            if sample and junk > len(sample) // 10:
                self._warnings.append("log looks binary; scanned as text anyway")
            html = self._format == HTML
            self._text = TextScanner(html_input=html, matcher=self._matcher, block_hook=self._block_hook(html))
        else:
            self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)

    def _block_hook(self, html: bool) -> Callable[[bytes, int, int, int | LineIndex, tuple[bytes, ...]], list[int]] | None:
        """Every line against every signature, in the pass that finds the failure markers."""
        if self._matcher is None or not len(self._matcher):
            return None
        # Every needle the text scanner may ask for (trigger ones included): one database.
        needles = tuple(m.needle for m in MARKERS if html or m.when != "html")
        hook = self._matcher.block_hook(needles)
        if not self._signatures_only:
            return hook
        # No markers asked for: the text scanner then only counts lines.
        return lambda block, pos, size, first, markers: hook(block, pos, size, first, ())

    def _dispatch(self, block: bytes) -> None:
        if self._text is not None:
            self._text.feed(block)
        elif self._spool is not None:
            if self._spool.tell() + len(block) > (MAX_JSON if self._format == JOB_JSON else MAX_SUBUNIT):
                self._spool_full = True
                return
            self._spool.write(block)

    def _structured(self, truncated: bool) -> list[Failure]:
        assert self._spool is not None
        self._spool.seek(0)
        try:
            if self._format == SUBUNIT:
                failures, warnings, _ = read_subunit(self._spool)
                self._warnings.extend(warnings)
                return failures
            if self._bytes > MAX_JSON:
                self._warnings.append("job-output.json too large to parse")
                return []
            try:
                failures, warnings = read_job_output_json(
                    self._spool, lambda: TextScanner(matcher=self._matcher)
                )
            except ValueError as exc:
                if not truncated:
                    self._warnings.append(str(exc))
                return []
            self._warnings.extend(warnings)
            return failures
        finally:
            self._spool.close()


def order_failures(failures: Iterable[Failure]) -> list[Failure]:
    """De-duplicate, then put root causes first (infra, set-up, timeouts, tests, tasks)."""
    merged: dict[tuple[object, ...], Failure] = {}
    for f in failures:
        key = (f.kind, f.id) if f.kind is FailureKind.TEST else (f.kind, f.id, f.message)
        old = merged.get(key)
        if old is None:
            merged[key] = f
            continue
        # Same failure reported twice (the FAILED line and the "output below" section):
        # keep the earliest line and the most informative message and excerpt.
        line = old.line if old.line is not None else f.line
        excerpt = old.excerpt if len(old.excerpt) >= len(f.excerpt) else f.excerpt
        message = old.message if not old.message.endswith(" failed") else f.message
        if old.message.endswith("... FAILED") and not f.message.endswith("... FAILED"):
            message = f.message
        merged[key] = Failure(old.kind, old.id, message, line, excerpt)
    # A devstack run is often reported twice ([ERROR] line and "stack.sh failed"): both
    # stay, they say different things. Python's sort is stable: same rank and line keep
    # the order they were found in.
    out = list(merged.values())
    return sorted(out, key=lambda f: (_RANK[f.kind], f.line if f.line is not None else 0))


def analyze_stream(
    chunks: Iterable[bytes],
    *,
    name: str = "",
    content_encoding: str | None = None,
    signatures: SignatureSet | None = None,
    job_name: str | None = None,
    every_line: bool = True,
) -> LogAnalysis:
    """Analyse a log given as an iterable of raw byte chunks (see :class:`LogScanner`).

    Signatures are checked on every line (in one pass with the failure
    markers, see :mod:`recheck.matcher`) and on failure excerpts;
    ``every_line`` is accepted for compatibility and changes nothing.

    A gzip stream that ends early, or an iterator that raises
    :class:`~ostk.errors.TruncatedDownload` or :class:`EOFError`, gives a
    partial analysis with ``truncated=True``; other errors propagate.
    """
    from ostk.errors import TruncatedDownload

    scanner = LogScanner(
        name=name, content_encoding=content_encoding, signatures=signatures, job_name=job_name
    )
    try:
        for chunk in chunks:
            scanner.feed(chunk)
    except (TruncatedDownload, EOFError):
        return scanner.finish(truncated=True)
    return scanner.finish()


def _base(name: str) -> str:
    name = name.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return os.path.basename(name).lower()


def read_chunks(stream: BinaryIO, size: int = 1024 * 1024) -> Iterable[bytes]:
    """Read ``stream`` in ``size`` pieces until EOF."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk
