"""The records a text scan builds: failures, the one still collecting its
excerpt, and the bounds that keep a pathological log cheap.

``TextScanner`` (``recheck.scanner``) is assembled from this base and one
class of rules per family of formats it reads (``recheck.testrules``,
``recheck.ansiblerules``); they share the state kept here.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from recheck.logtext import (
    Excerpt,
    clean_controls,
    exception_message,
    one_line,
    strip_prefixes,
)
from recheck.models import Failure, FailureKind
from recheck.signatures import SignatureMatcher

#: Failure records kept per log (a runaway log must not exhaust memory).
MAX_FAILURES = 5000
#: Lines above a non-test failure that are checked against the signatures.
CONTEXT_LINES = 30
CONTEXT_BYTES = 16 * 1024

#: A block reader: takes (text, host, line number); False when the line is not its own.
BlockReader = Callable[[str, "str | None", int], bool]


@dataclass
class Pending:
    """A failure still collecting its excerpt."""

    kind: FailureKind
    id: str
    message: str
    line: int
    excerpt: Excerpt = field(default_factory=Excerpt)
    #: The message came from the marker line; a better one may come from the excerpt.
    refine_message: bool = True


@dataclass
class Found:
    """What a text scan found (before de-duplication and ordering)."""

    failures: list[Failure] = field(default_factory=list)
    invalid_utf8: bool = False
    long_lines: int = 0
    #: Failures beyond MAX_FAILURES, counted but not kept.
    dropped: int = 0
    #: Why the scan stopped looking for failures early, if it did.
    stopped: str | None = None
    #: The first sign that the job failed (exit trap, recap "failed: 1", RUN END result).
    failed_sign: tuple[str, int] | None = None


class Records:
    """State shared by the rules: found failures, the open block, the current place."""

    def __init__(self, matcher: SignatureMatcher | None) -> None:
        self.found = Found()
        self._matcher = matcher
        self._block: BlockReader | None = None
        #: Called when the open block ends (a block that builds its failure at the end).
        self._block_end: Callable[[], None] | None = None
        self._pending: Pending | None = None
        #: The block and offset of the line being handled, and its line number.
        self._where: tuple[bytes, int, int] = (b"", 0, 0)

    def _decode(self, raw: bytes) -> tuple[str, str | None]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.found.invalid_utf8 = True
            text = raw.decode("utf-8", "replace")
        if not text.isprintable():
            text = clean_controls(text)
        return strip_prefixes(text)

    def _stop(self, why: str) -> None:
        self._end_block()
        self.found.stopped = why

    def _failed_sign(self, why: str, number: int) -> None:
        if self.found.failed_sign is None:
            self.found.failed_sign = (why, number)

    def _collect(self, text: str) -> bool:
        assert self._pending is not None
        self._pending.excerpt.add(text)
        return True

    def _start_pending(self, kind: FailureKind, fid: str, message: str, number: int) -> None:
        self._flush_pending()
        self._pending = Pending(kind, fid, message, number)

    def _flush_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        message = pending.message
        if pending.refine_message:
            message = exception_message(pending.excerpt.lines()) or message
        excerpt = pending.excerpt.text()
        self._add(pending.kind, pending.id, message, pending.line, excerpt)
        if self._matcher is not None and excerpt:
            self._matcher.feed(excerpt, pending.line)

    def _end_block(self) -> None:
        end, self._block_end = self._block_end, None
        self._block = None
        if end is not None:
            end()
        self._flush_pending()

    def _add(self, kind: FailureKind, fid: str, message: str, number: int | None, excerpt: str = "") -> None:
        if len(self.found.failures) >= MAX_FAILURES:
            self.found.dropped += 1
            self._stop(f"more than {MAX_FAILURES} failures: failures after line {number} not read")
            return
        self.found.failures.append(Failure(kind, fid.strip()[:300], one_line(message), number, excerpt))
        if self._matcher is not None and kind is not FailureKind.TEST and number == self._where[2]:
            self._match_context()

    def _match_context(self) -> None:
        """Show the signatures the lines just above a set-up/task/infra failure.

        Known bugs often print their tell-tale line ("No space left on device",
        "dpkg status database is locked") just before the [ERROR] that the scan
        finds, on lines that carry no marker; tests carry theirs in the excerpt."""
        block, start, number = self._where
        lines = block[max(0, start - CONTEXT_BYTES) : start].split(b"\n")[-CONTEXT_LINES - 1 : -1]
        for offset, raw in enumerate(lines):
            text, _ = self._decode(raw)
            self._matcher.feed(text, number - len(lines) + offset)  # type: ignore[union-attr]


def zuul_end(stripped: str) -> bool:
    return stripped.startswith(("TASK [", "PLAY [", "PLAY RECAP", "RUN END", "RUN START", "POST-RUN", "PRE-RUN"))
