"""The streaming text scan: console logs in, typed failures out.

A tempest job log is hundreds of MB of boring lines. The scan therefore works
on big blocks of complete lines and lets one compiled regex find the few lines
that carry a failure marker; Python only looks at those lines (and at the
short blocks that follow some of them: tracebacks, ansible JSON). Memory is
bounded: a line longer than ``MAX_LINE`` is cut, excerpts are capped.
"""
from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from recheck.models import Failure, FailureKind
from recheck.signatures import SignatureMatcher

#: Longest line we keep; the rest of a longer line is skipped (counted, not stored).
MAX_LINE = 64 * 1024
#: Excerpt bounds: lines kept from the head and from the tail, and characters overall.
EXCERPT_HEAD = 12
EXCERPT_TAIL = 40
EXCERPT_CHARS = 4000
#: Longest ansible JSON block we try to parse.
MAX_JSON_LINES = 4000
MAX_MESSAGE = 500
#: Lines above a non-test failure that are checked against the signatures.
CONTEXT_LINES = 30
CONTEXT_BYTES = 16 * 1024
#: Failure records kept per log (a runaway log must not exhaust memory).
MAX_FAILURES = 5000

#: Cheap markers: a line without any of these is never looked at in Python. Each
#: costs one ``bytes.find`` pass over every block (C speed, ~1 GB/s, about as much
#: as decompressing), so the list is as short as the failure formats allow.
MARKERS: tuple[bytes, ...] = (
    b"FAIL",  # FAILED, FAIL:, FAIL code, NODE_FAILURE, fatal: [host]: FAILED!
    b"ERROR",  # [ERROR], "| ERROR", ERROR: (unittest, tox 3)
    # Longer needles are searched faster (bigger skips): spell these out in full.
    b"END RESULT_",  # RUN END RESULT_TIMED_OUT / RESULT_UNREACHABLE
    b"UNREACHABLE!",  # ansible's fatal: [host]: UNREACHABLE!
    b"| TASK [",  # context: the ansible task a failure belongs to (Zuul's banner)
)
#: Markers looked for only once a failure announced them, so that logs without
#: failures do not pay for them: subunit-trace's "Failed N tests - output below"
#: follows its "... FAILED" lines; devstack's "stack.sh failed" follows its [ERROR].
AFTER_TEST_FAILURE = b"Failed "
AFTER_DEVSTACK_ERROR = b"stack.sh failed"
#: Jenkins-era consoles (console.html) say some things only in these words.
HTML_MARKERS: tuple[bytes, ...] = (
    *MARKERS, b"ailed", b"TASK [", b"FATAL", b"offline", b"Killed", b"PLAY ["
)
_ANY_MARKER = re.compile(b"|".join(re.escape(m) for m in HTML_MARKERS))

_ZUUL_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?: \| | \|$| )")
_HOST_PREFIX = re.compile(r"^([A-Za-z0-9_.:\[\]-]+) \| ")
_HTML_TAG = re.compile(rb"<[^<>\n]*>")
_HTML_ENTITY = re.compile(rb"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")

_TRACE_FAILED = re.compile(r"^\{\d+\} (.+?)(?: \[[\d.]+s\])? \.\.\. FAILED\b")
_TRACE_RESULT = re.compile(r"^\{\d+\} ")
_FAILED_SECTION = re.compile(r"^Failed (\d+) tests? - output below:")
_UNITTEST = re.compile(r"^(FAIL|ERROR): (\S+)(?: \(([\w.]+)\))?\s*$")
_PYTEST = re.compile(r"^FAILED (\S+::\S+|\S+\.py\S*)(?: - (.*))?$")
_TOX4 = re.compile(r"^([\w.-]+): FAIL code (\d+)")
_TOX3 = re.compile(r"^ERROR:\s+([\w.-]+): (commands failed|InvocationError.*)")
_ANSIBLE_FATAL = re.compile(r"^(fatal|failed): \[([^\]]+)\](?: \(item=.*?\))?: (FAILED|UNREACHABLE)! => (.*)$")
_DEVSTACK_ERROR = re.compile(r"^(?:\+ )?(?:[\w.-]+:\w+:\d+ +: +echo +')?\[ERROR\] (\S+?:\d+) (.*?)'?$")
_STACK_FAILED = re.compile(r"stack\.sh failed")
_RUN_END = re.compile(r"^((?:PRE-|POST-)?RUN) END RESULT_(\w+): \[([^\]]*)\]")
_TASK = re.compile(r"^TASK \[(.*)\]")
_PLAY = re.compile(r"^PLAY \[(.*)\]")
_INFRA = re.compile(
    r"NODE_FAILURE|RETRY_LIMIT|went offline during the build|Slave went offline|"
    r"Build timed out \(after|Killed\s+timeout -s 9"
)
#: Lines that always start something new: they close any open block.
_STARTS = re.compile(
    r"^(?:\{\d+\} |FAIL: |ERROR: |Failed \d+ tests? - output below|(?:PRE-|POST-)?RUN (?:START|END)|TASK \[|PLAY \[)"
)
_EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Failure|Exceeded|Timeout|Exit|Mismatch)\w*)(?::\s|$)")


def strip_prefixes(text: str) -> tuple[str, str | None]:
    """Drop Zuul's ``timestamp | `` and ``host | `` prefixes; return (text, host)."""
    m = _ZUUL_PREFIX.match(text)
    if m is None:
        return text, None
    zuul = "|" in m.group()
    text = text[m.end():]
    h = _HOST_PREFIX.match(text) if zuul else None
    if h is not None and not text.startswith(("TASK [", "PLAY [")):
        return text[h.end():], h.group(1)
    return text, None


_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_controls(text: str) -> str:
    """Drop ANSI colour/escape sequences and control characters (tabs stay).

    Console logs are full of colour codes; and nothing from a log may drive
    the user's terminal when we print it.
    """
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return _CONTROL.sub("", text.rstrip("\r"))


def clean_html(block: bytes) -> bytes:
    """Jenkins console.html → text: tags dropped, entities decoded."""
    block = _HTML_TAG.sub(b"", block)
    if b"&" in block:
        block = _HTML_ENTITY.sub(lambda m: html.unescape(m.group().decode("ascii")).encode("utf-8"), block)
    return block


class _Excerpt:
    """A bounded excerpt: the first lines, the last lines, and how many were skipped."""

    def __init__(self) -> None:
        self.head: list[str] = []
        self.tail: list[str] = []
        self.skipped = 0

    def add(self, text: str) -> None:
        text = text[:1000]
        if not text.isprintable():
            text = clean_controls(text)
        if len(self.head) < EXCERPT_HEAD:
            self.head.append(text)
            return
        self.tail.append(text)
        if len(self.tail) > EXCERPT_TAIL:
            del self.tail[0]
            self.skipped += 1

    def lines(self) -> list[str]:
        return self.head + self.tail

    def text(self) -> str:
        lines = list(self.head)
        if self.skipped:
            lines.append(f"[... {self.skipped} lines omitted ...]")
        lines.extend(self.tail)
        while lines and (not lines[-1].strip() or set(lines[-1].strip()) <= {"=", "-", "~"}):
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        out = "\n".join(lines)
        if len(out) > EXCERPT_CHARS:
            out = "[...]\n" + out[-EXCERPT_CHARS:]
        return out


@dataclass
class _Pending:
    """A failure still collecting its excerpt."""

    kind: FailureKind
    id: str
    message: str
    line: int
    excerpt: _Excerpt = field(default_factory=_Excerpt)
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


class TextScanner:
    """Feed bytes with :meth:`feed`; call :meth:`close` to flush; read :attr:`found`."""

    def __init__(
        self,
        *,
        html_input: bool = False,
        matcher: SignatureMatcher | None = None,
        every_line: bool = False,
        block_hook: Callable[[bytes, int, int, int, tuple[bytes, ...]], list[int]] | None = None,
    ) -> None:
        self.found = Found()
        #: One pass over each block for markers and signatures (recheck.matcher): it
        #: returns the marker offsets that ``_marker_hits`` would find.
        self._block_hook = block_hook
        self.lines = 0
        self._html = html_input
        self._matcher = matcher
        #: Check every line against the signatures, not only marker lines (slower).
        self._every_line = every_line and matcher is not None
        self._tail = b""
        self._skipping_long = False
        self._block: Callable[[str, str | None, int], bool] | None = None
        self._pending: _Pending | None = None
        self._play: str | None = None
        self._task: str | None = None
        #: Index in found.failures where the current playbook's failures start.
        self._run_mark = 0
        self._section_prev: str | None = None
        self._json: list[str] = []
        self._json_host: str | None = None
        self._json_line = 0
        self._json_depth = 0
        self._unittest_seen_rule = False
        self._unittest_preamble = 0
        self._markers = HTML_MARKERS if html_input else MARKERS
        #: The block and offset of the marker line being handled, and its line number.
        self._where: tuple[bytes, int, int] = (b"", 0, 0)

    # -- bytes in -------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Scan ``data``; an incomplete last line waits for the next call."""
        if not data:
            return
        lo = 0
        if self._skipping_long:
            nl = data.find(b"\n")
            if nl < 0:
                return
            self._skipping_long = False
            self.lines += 1
            lo = nl + 1
        end = data.rfind(b"\n", lo)
        if end < 0:
            self._tail += data[lo:]
            self._cap_tail()
            return
        if self._tail:
            # Complete the pending line on its own: no copy of the big block.
            nl = data.index(b"\n", lo)
            head, self._tail = self._tail + data[lo : nl + 1], b""
            self._scan(head, 0, len(head))
            lo = nl + 1
        self._scan(data, lo, end + 1)
        if end + 1 < len(data):
            self._tail = data[end + 1 :]
            self._cap_tail()

    def close(self) -> None:
        """Scan the last line (without newline) and finish open blocks."""
        if self._tail:
            tail, self._tail = self._tail + b"\n", b""
            self._scan(tail, 0, len(tail))
        elif self._skipping_long:
            self.lines += 1
        self._skipping_long = False
        self._end_block()

    def _cap_tail(self) -> None:
        if len(self._tail) > MAX_LINE:
            # Keep the start of the monster line; skip the rest up to its newline.
            self.found.long_lines += 1
            head = self._tail[:MAX_LINE] + b"\n"
            self._scan(head, 0, len(head))
            self.lines -= 1
            self._tail = b""
            self._skipping_long = True

    def _scan(self, block: bytes, pos: int, size: int) -> None:
        """Scan the complete lines in ``block[pos:size]``."""
        if self._html:
            block = clean_html(block[pos:size])
            pos, size = 0, len(block)
        if self._every_line:
            self._match_every_line(block, pos, size)
        markers = self._markers
        if self._block_hook is not None:
            hits = self._block_hook(block, pos, size, self.lines + 1, markers)
        else:
            hits = _marker_hits(block, pos, size, markers)
        nhits = len(hits)
        i = 0
        counted_pos = pos
        counted = self.lines
        while pos < size:
            if self._markers is not markers:
                # A failure switched a marker on: look for it in the rest of the block too.
                added = tuple(m for m in self._markers if m not in markers)
                markers = self._markers
                hits = sorted(hits[i:] + _marker_hits(block, pos, size, added))
                nhits = len(hits)
                i = 0
            if self._block is not None:
                end = block.index(b"\n", pos)
                counted += block.count(b"\n", counted_pos, pos)
                counted_pos = pos
                self._block_line(block[pos:end], counted + 1)
                pos = end + 1
                continue
            while i < nhits and hits[i] < pos:
                i += 1
            if i == nhits:
                break
            at = hits[i]
            start = block.rfind(b"\n", pos, at) + 1 or pos
            end = block.index(b"\n", at)
            counted += block.count(b"\n", counted_pos, start)
            counted_pos = start
            self._where = (block, start, counted + 1)
            self._marker_line(block[start:end], counted + 1)
            pos = end + 1
        self.lines = counted + block.count(b"\n", counted_pos, size)

    def _match_every_line(self, block: bytes, pos: int, size: int) -> None:
        number = self.lines
        matcher = self._matcher
        assert matcher is not None
        for raw in block[pos:size].split(b"\n")[:-1]:
            number += 1
            if raw:
                matcher.feed(self._decode(raw)[0], number)

    # -- lines ------------------------------------------------------------------

    def _decode(self, raw: bytes) -> tuple[str, str | None]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.found.invalid_utf8 = True
            text = raw.decode("utf-8", "replace")
        if not text.isprintable():
            text = clean_controls(text)
        return strip_prefixes(text)

    def _block_line(self, raw: bytes, number: int) -> None:
        text, host = self._decode(raw)
        assert self._block is not None
        starts = self._block != self._ansible_json and _STARTS.match(text.lstrip())
        if starts:
            self._end_block()
        if starts or not self._block(text, host, number):
            self._block = None
            if self._matcher is not None and _ANY_MARKER.search(raw):
                self._matcher.feed(text, number)
            self._handle(text, host, number)

    def _marker_line(self, raw: bytes, number: int) -> None:
        text, host = self._decode(raw)
        if self._matcher is not None:
            self._matcher.feed(text, number)
        self._handle(text, host, number)

    def _handle(self, text: str, host: str | None, number: int) -> None:
        stripped = text.strip()
        if not stripped:
            return
        m = _TRACE_FAILED.match(stripped)
        if m:
            self._want(AFTER_TEST_FAILURE)
            self._start_pending(FailureKind.TEST, _test_id(m.group(1)), stripped, number)
            self._block = self._trace_inline
            return
        m = _FAILED_SECTION.match(stripped)
        if m:
            self._end_block()
            self._section_prev = None
            self._block = self._failed_section
            return
        m = _UNITTEST.match(stripped)
        if m and (m.group(3) or "." in m.group(2)):
            name = m.group(2)
            test_id = f"{m.group(3)}.{name}" if m.group(3) else name
            self._start_pending(FailureKind.TEST, _test_id(test_id), stripped, number)
            self._unittest_seen_rule = False
            self._unittest_preamble = 0
            self._block = self._unittest_block
            return
        m = _PYTEST.match(stripped)
        if m and not stripped.startswith("FAILED ("):
            self._add(FailureKind.TEST, m.group(1), m.group(2) or stripped, number)
            return
        m = _TOX4.match(stripped) or _TOX3.match(stripped)
        if m:
            self._add(FailureKind.TASK, f"tox:{m.group(1)}", stripped, number)
            return
        if host is not None and stripped == "ERROR":
            self._json = []
            self._json_host = host
            self._json_line = number
            self._json_depth = 0
            self._block = self._ansible_json
            return
        m = _ANSIBLE_FATAL.match(stripped)
        if m:
            if self._task is None:
                self._task = self._task_before_here()
            kind = FailureKind.INFRA if m.group(3) == "UNREACHABLE" else self._task_kind()
            self._ansible_failure(kind, m.group(2), m.group(4), number)
            return
        m = _RUN_END.match(stripped)
        if m:
            if m.group(1) == "PRE-RUN":
                # Task failures since the previous banner happened while setting the node
                # up. Decided here, at the end of the phase, so that finding every
                # "RUN START" banner does not cost one more pass over the log.
                self._reclassify_setup(self._run_mark)
            self._task = None
            result = m.group(2)
            if result == "TIMED_OUT":
                self._add(FailureKind.TIMEOUT, _playbook(m.group(3)), stripped, number)
            elif result in ("UNREACHABLE", "ABORTED"):
                self._add(FailureKind.INFRA, _playbook(m.group(3)), stripped, number)
            self._run_mark = len(self.found.failures)
            return
        m = _TASK.match(stripped)
        if m:
            self._task = m.group(1)
            return
        m = _PLAY.match(stripped)
        if m:
            self._play = m.group(1)
            self._task = None
            return
        m = _DEVSTACK_ERROR.match(stripped)
        if m:
            self._want(AFTER_DEVSTACK_ERROR)
            self._add(FailureKind.SETUP, "devstack", f"[ERROR] {m.group(1)} {m.group(2)}", number)
            return
        if _STACK_FAILED.search(stripped) and "echo" not in stripped:
            self._add(FailureKind.SETUP, "devstack", stripped, number)
            return
        m = _INFRA.search(stripped)
        if m:
            kind = FailureKind.TIMEOUT if ("timed out" in m.group() or "Killed" in m.group()) else FailureKind.INFRA
            self._add(kind, "job", stripped, number)

    # -- blocks: each returns False when the line does not belong to it ----------

    def _trace_inline(self, text: str, host: str | None, number: int) -> bool:
        stripped = text.strip()
        if _TRACE_RESULT.match(stripped) or stripped.startswith("=====") or _ZUUL_END(stripped):
            self._end_block()
            return False
        return self._collect(text)

    def _failed_section(self, text: str, host: str | None, number: int) -> bool:
        stripped = text.strip()
        if stripped == "Totals" or _TRACE_RESULT.match(stripped) or _ZUUL_END(stripped):
            self._end_block()
            return False
        if stripped and set(stripped) == {"-"} and self._section_prev:
            # The previous line was a test id header: it opens a new test's output.
            test_id = _test_id(self._section_prev)
            if self._pending is not None and self._pending.excerpt.tail[-1:] == [self._section_prev]:
                self._pending.excerpt.tail.pop()
            elif self._pending is not None and self._pending.excerpt.head[-1:] == [self._section_prev]:
                self._pending.excerpt.head.pop()
            self._flush_pending()
            self._start_pending(FailureKind.TEST, test_id, f"{test_id} failed", number - 1)
            self._section_prev = None
            return True
        if stripped.startswith("=====") and self._pending is None:
            self._section_prev = None
            return True
        self._section_prev = stripped if stripped else None
        if self._pending is not None:
            self._pending.excerpt.add(text)
        return True

    def _unittest_block(self, text: str, host: str | None, number: int) -> bool:
        stripped = text.strip()
        if stripped.startswith("-----"):
            if self._unittest_seen_rule:
                self._end_block()
                return False
            self._unittest_seen_rule = True
            return True
        if stripped.startswith("=====") or _UNITTEST.match(stripped) or _ZUUL_END(stripped):
            self._end_block()
            return False
        if not self._unittest_seen_rule:
            # The test's description line(s) before the rule; no rule soon means no block.
            self._unittest_preamble += 1
            if self._unittest_preamble > 3:
                self._end_block()
                return False
            return True
        return self._collect(text)

    def _ansible_json(self, text: str, host: str | None, number: int) -> bool:
        first = text.strip()
        if not self._json and not (first in ("{", "[") or first.startswith(('{"', "[{"))):
            # "host | ERROR" without a JSON body: the failure is all there is.
            self._finish_ansible_json()
            return False
        if host != self._json_host or len(self._json) > MAX_JSON_LINES:
            self._finish_ansible_json()
            return False
        self._json.append(text)
        self._json_depth += text.count("{") + text.count("[") - text.count("}") - text.count("]")
        if self._json_depth <= 0 and text.strip() in ("}", "]"):
            self._finish_ansible_json()
            self._block = None
        return True

    def _finish_ansible_json(self) -> None:
        body = "\n".join(self._json)
        host = self._json_host or "?"
        self._json = []
        self._ansible_failure(self._task_kind(), host, body, self._json_line)

    # -- records -----------------------------------------------------------------

    def _collect(self, text: str) -> bool:
        assert self._pending is not None
        self._pending.excerpt.add(text)
        return True

    def _start_pending(self, kind: FailureKind, test_id: str, message: str, number: int) -> None:
        self._flush_pending()
        self._pending = _Pending(kind, test_id, message, number)

    def _flush_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        message = pending.message
        lines = pending.excerpt.lines()
        if pending.refine_message:
            for line in reversed(lines):
                if _EXCEPTION_LINE.match(line):
                    message = line.strip()
                    break
        excerpt = pending.excerpt.text()
        self._add(pending.kind, pending.id, message, pending.line, excerpt)
        if self._matcher is not None and excerpt:
            self._matcher.feed(excerpt, pending.line)

    def _end_block(self) -> None:
        if self._block == self._ansible_json:
            self._finish_ansible_json()
        self._block = None
        self._flush_pending()

    def _task_before_here(self) -> str | None:
        """Plain ansible output (no Zuul prefixes): find the ``TASK [`` banner above.

        Only Zuul's ``| TASK [`` banners are markers (a pass over the log each);
        for the rare plain-ansible failure, look back in the current block."""
        block, start, _ = self._where
        lo = max(0, start - 1024 * 1024)
        at = block.rfind(b"TASK [", lo, start)
        while at > 0 and block[at - 1 : at] != b"\n":
            at = block.rfind(b"TASK [", lo, at)
        if at < 0:
            return None
        end = block.find(b"\n", at)
        m = _TASK.match(block[at:end].decode("utf-8", "replace"))
        return m.group(1) if m else None

    def _want(self, marker: bytes) -> None:
        if marker not in self._markers:
            self._markers = (*self._markers, marker)

    def _reclassify_setup(self, start: int) -> None:
        failures = self.found.failures
        for index in range(start, len(failures)):
            if failures[index].kind is FailureKind.TASK:
                failures[index] = dataclasses.replace(failures[index], kind=FailureKind.SETUP)

    def _task_kind(self) -> FailureKind:
        names = f"{self._play or ''} {self._task or ''}".lower()
        if "devstack" in names or "setup" in names:
            return FailureKind.SETUP
        return FailureKind.TASK

    def _ansible_failure(self, kind: FailureKind, host: str, body: str, number: int) -> None:
        # The play is left out: finding every "PLAY [" banner would cost one more pass
        # over the whole log, and Zuul's plays are mostly named after hosts anyway.
        task_id = "/".join(x for x in (self._task, host) if x) or host
        message = ""
        doc = None
        try:
            doc = json.loads(body)
        except ValueError:
            pass
        excerpt = _Excerpt()
        if isinstance(doc, dict):
            message = _ansible_message(doc)
            for key in ("cmd", "stderr", "stdout", "module_stderr"):
                value = doc.get(key)
                if isinstance(value, list):
                    value = " ".join(str(v) for v in value)
                if value:
                    excerpt.add(f"{key}:")
                    for line in str(value).splitlines():
                        excerpt.add("  " + line)
        else:
            for line in body.splitlines():
                excerpt.add(line)
            message = body.splitlines()[0] if body.strip() else ""
        if "timed out" in message.lower() or "timeout" in message.lower():
            kind = FailureKind.TIMEOUT if kind is not FailureKind.INFRA else kind
        self._add(kind, task_id, message or f"task failed on {host}", number, excerpt.text())
        if self._matcher is not None:
            self._matcher.feed(message + "\n" + excerpt.text(), number)

    def _add(self, kind: FailureKind, fid: str, message: str, number: int | None, excerpt: str = "") -> None:
        if len(self.found.failures) >= MAX_FAILURES:
            self.found.dropped += 1
            return
        message = clean_controls(" ".join(message.split()))[:MAX_MESSAGE]
        self.found.failures.append(Failure(kind, fid.strip()[:300], message, number, excerpt))
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


def _marker_hits(block: bytes, lo: int, hi: int, markers: tuple[bytes, ...]) -> list[int]:
    """Sorted offsets of every marker in ``block[lo:hi]`` (one C-speed pass per marker)."""
    hits: list[int] = []
    find = block.find
    for marker in markers:
        at = find(marker, lo, hi)
        while at >= 0:
            hits.append(at)
            # One hit per line is enough: jump to the next line.
            nl = find(b"\n", at, hi)
            if nl < 0:
                break
            at = find(marker, nl + 1, hi)
    hits.sort()
    return hits


def _ZUUL_END(stripped: str) -> bool:
    return stripped.startswith(("TASK [", "PLAY [", "PLAY RECAP", "RUN END", "RUN START", "POST-RUN", "PRE-RUN"))


def _ansible_message(doc: dict) -> str:
    msg = doc.get("msg")
    rc = doc.get("rc")
    parts = []
    if msg:
        parts.append(str(msg) if not isinstance(msg, (dict, list)) else json.dumps(msg)[:MAX_MESSAGE])
    if rc not in (None, 0):
        parts.append(f"rc={rc}")
    stderr = str(doc.get("stderr") or "").strip().splitlines()
    if stderr:
        parts.append(stderr[-1])
    return "; ".join(parts)


def _test_id(raw: str) -> str:
    """A test id as subunit-trace prints it: without ``[id-…,smoke]`` attributes."""
    raw = raw.strip()
    if raw.endswith("]") and "[" in raw:
        raw = raw[: raw.index("[")] if not raw.startswith("setUpClass") else raw
    return raw


def _playbook(banner: str) -> str:
    # "trusted : opendev.org/zuul/zuul-jobs/playbooks/run.yaml@master" → the playbook path.
    path = banner.split(" : ", 1)[-1]
    return path.split("@", 1)[0]
