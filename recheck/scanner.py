"""The streaming text scan: console logs in, typed failures out.

A tempest job log is hundreds of MB of boring lines. The scan therefore works
on big blocks of complete lines and finds the few lines that carry a failure
marker (``recheck.markers``) with C-speed searches; Python only looks at
those lines (and at the short blocks that follow some of them: tracebacks,
ansible JSON). Memory and work are bounded: a line longer than ``MAX_LINE``
is cut, excerpts are capped, and a log that reports more than
``MAX_FAILURES`` failures or ``MAX_MARKER_LINES`` marker lines is read no
further for failures (a pathological log costs seconds, not minutes).

The rules live with what they read: test runner output in
``recheck.testrules``, ansible and Zuul in ``recheck.ansiblerules``, devstack's
exit trap in ``recheck.devstack``; this module reads bytes into lines and
hands each marker line to the rule that recognises it.
"""
from __future__ import annotations

from collections.abc import Callable

from recheck import devstack
from recheck.ansiblerules import AnsibleRules
from recheck.logtext import Excerpt, clean_html, test_id
from recheck.markers import (
    AFTER_DEVSTACK_ERROR,
    AFTER_TEST_FAILURE,
    ANY_MARKER,
    RULES,
    needles,
    triggered_by,
)
from recheck.matcher import LineIndex, marker_offsets
from recheck.models import Failure, FailureKind
from recheck.scanrecords import MAX_FAILURES, Found
from recheck.signatures import SignatureMatcher
from recheck.testrules import TestOutputRules

__all__ = ["MAX_FAILURES", "MAX_LINE", "Found", "TextScanner"]

#: Longest line we keep; the rest of a longer line is skipped (counted, not stored).
MAX_LINE = 64 * 1024
#: Lines handled in Python per log (marker lines and the blocks that follow them; each
#: costs a few microseconds), and their
#: total size (a rule costs a pass over its line: 64 KiB lines cost 1000 times more).
MAX_MARKER_LINES = 1_000_000
MAX_MARKER_BYTES = 256 * 1024 * 1024
#: Characters of a marker line the rules look at (ansible's one-line JSON results excepted).
RULE_CHARS = 4096
#: Bytes kept from earlier blocks, to read what led to devstack's exit trap.
LOOKBACK_BYTES = 128 * 1024
#: Exit traps read per log (each reads up to LOOKBACK_BYTES back).
MAX_EXIT_TRAPS = 20

R = RULES


class TextScanner(TestOutputRules, AnsibleRules):
    """Feed bytes with :meth:`feed`; call :meth:`close` to flush; read :attr:`found`."""

    def __init__(
        self,
        *,
        html_input: bool = False,
        matcher: SignatureMatcher | None = None,
        every_line: bool = False,
        block_hook: Callable[[bytes, int, int, int | LineIndex, tuple[bytes, ...]], list[int]] | None = None,
    ) -> None:
        super().__init__(matcher)
        #: One pass over each block for markers and signatures (recheck.matcher): it
        #: returns the marker offsets that ``marker_offsets`` would find.
        self._block_hook = block_hook
        self.lines = 0
        self._html = html_input
        #: Check every line against the signatures, not only marker lines (slower).
        self._every_line = every_line and matcher is not None
        self._tail = b""
        self._skipping_long = False
        self._triggers: frozenset[str] = frozenset()
        self._markers = needles(html_input=html_input)
        self._marker_lines = 0
        self._marker_bytes = 0
        self._exit_traps = 0
        #: The end of the text scanned before the current block (for look-backs).
        self._history = b""

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
        """Scan the last line (without newline), finish open blocks, and make sure a
        log that shows the job failed never reads as a pass."""
        if self._tail:
            tail, self._tail = self._tail + b"\n", b""
            self._scan(tail, 0, len(tail))
        elif self._skipping_long:
            self.lines += 1
        self._skipping_long = False
        self._end_block()
        sign = self.found.failed_sign
        if sign is not None and not self.found.failures and self.found.stopped is None:
            why, number = sign
            self.found.failures.append(
                Failure(FailureKind.TASK, "job", f"the job failed ({why}) but no specific failure was found", number)
            )

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
        first = pos
        if self.found.stopped is not None:
            if self._block_hook is not None:
                self._block_hook(block, pos, size, self.lines + 1, ())  # signatures still count
            self.lines += block.count(b"\n", pos, size)
            return
        if self._every_line:
            self._match_every_line(block, pos, size)
        markers = self._markers
        # Line numbers are counted only up to the lines that are reported, once per
        # block whoever asks (the signature pass first, then the marker lines).
        index = LineIndex(block, pos, self.lines + 1)
        if self._block_hook is not None:
            hits = self._block_hook(block, pos, size, index, markers)
        else:
            hits = marker_offsets(block, pos, size, markers)
        nhits = len(hits)
        i = 0
        while pos < size:
            if self.found.stopped is not None:
                break
            if self._markers is not markers:
                # A failure switched a marker on: look for it in the rest of the block too.
                added = tuple(m for m in self._markers if m not in markers)
                markers = self._markers
                hits = sorted(hits[i:] + marker_offsets(block, pos, size, added))
                nhits = len(hits)
                i = 0
            if self._block is not None:
                end = block.index(b"\n", pos)
                number = index.line_at(pos)
                self._where = (block, pos, number)
                self._block_line(block[pos:end], number)
                pos = end + 1
                continue
            while i < nhits and hits[i] < pos:
                i += 1
            if i == nhits:
                break
            at = hits[i]
            start = block.rfind(b"\n", pos, at) + 1 or pos
            end = block.index(b"\n", at)
            number = index.line_at(start)
            self._where = (block, start, number)
            self._marker_line(block[start:end], number)
            pos = end + 1
        self.lines = index.line_at(size) - 1
        keep = block[max(first, size - LOOKBACK_BYTES) : size]
        if len(keep) < LOOKBACK_BYTES:
            keep = self._history[len(keep) - LOOKBACK_BYTES :] + keep
        self._history = keep

    def _match_every_line(self, block: bytes, pos: int, size: int) -> None:
        number = self.lines
        matcher = self._matcher
        assert matcher is not None
        for raw in block[pos:size].split(b"\n")[:-1]:
            number += 1
            if raw:
                matcher.feed(self._decode(raw)[0], number)

    # -- lines ------------------------------------------------------------------


    def _block_line(self, raw: bytes, number: int) -> None:
        if self._over_budget(raw, number):
            return
        text, host = self._decode(raw)
        assert self._block is not None
        starts = self._block != self._ansible_json and R["starts"].match(text.lstrip())
        if starts:
            self._end_block()
        if starts or not self._block(text, host, number):
            self._block = None
            if self._matcher is not None and ANY_MARKER.search(raw):
                self._matcher.feed(text, number)
            self._handle(text, host, number)

    def _over_budget(self, raw: bytes, number: int) -> bool:
        """Count a line handled in Python (marker lines and the blocks after them); past
        the budget the scan stops: a pathological log costs seconds, not hours."""
        self._marker_lines += 1
        self._marker_bytes += len(raw)
        if self._marker_lines > MAX_MARKER_LINES or self._marker_bytes > MAX_MARKER_BYTES:
            self._stop(
                f"more than {MAX_MARKER_LINES:,} lines or {MAX_MARKER_BYTES >> 20} MiB of lines that "
                f"look like failures: failures after line {number} not read"
            )
            return True
        return False

    def _marker_line(self, raw: bytes, number: int) -> None:
        if self._over_budget(raw, number):
            return
        text, host = self._decode(raw)
        if self._matcher is not None:
            self._matcher.feed(text, number)
        self._handle(text, host, number)


    def _handle(self, text: str, host: str | None, number: int) -> None:
        stripped = text.strip()
        if not stripped:
            return
        if len(stripped) > RULE_CHARS and not stripped.startswith(("fatal: ", "failed: ")):
            # Every rule reads a line's start (an ansible result's JSON excepted): the
            # work per line stays bounded whatever its length.
            stripped = stripped[:RULE_CHARS]
        m = R["subunit-trace-failed"].match(stripped)
        if m:
            self._want(AFTER_TEST_FAILURE)
            self._start_pending(FailureKind.TEST, test_id(m.group(1)), stripped, number)
            self._block = self._trace_inline
            return
        if R["failed-section"].match(stripped):
            self._end_block()
            self._section_prev = None
            self._block = self._failed_section
            return
        m = R["unittest"].match(stripped)
        if m and (m.group(3) or "." in m.group(2)):
            name = m.group(2)
            tid = f"{m.group(3)}.{name}" if m.group(3) else name
            self._start_pending(FailureKind.TEST, test_id(tid), stripped, number)
            self._unittest_seen_rule = False
            self._unittest_preamble = 0
            self._block = self._unittest_block
            return
        m = R["pytest"].match(stripped)
        if m and not stripped.startswith("FAILED ("):
            self._add(FailureKind.TEST, m.group(1), m.group(2) or stripped, number)
            return
        m = R["tox4"].match(stripped) or R["tox3"].match(stripped)
        if m:
            self._add(FailureKind.TASK, f"tox:{m.group(1)}", stripped, number)
            return
        if host is not None and stripped == "ERROR":
            self._start_ansible_json(host, number)
            return
        m = R["ansible-fatal"].match(stripped)
        if m:
            if self._task is None:
                self._task = self._task_before_here()
            kind = FailureKind.INFRA if m.group(3) == "UNREACHABLE" else self._task_kind()
            self._ansible_failure(kind, m.group(2), m.group(4), number)
            return
        if R["ignoring"].match(stripped):
            self._take_back_ignored(number)
            return
        m = R["run-end"].match(stripped)
        if m:
            self._run_end(m.group(1), m.group(2), m.group(3), stripped, number)
            return
        m = R["task"].match(stripped)
        if m:
            self._task = m.group(1)
            return
        m = R["play"].match(stripped)
        if m:
            self._play = m.group(1)
            self._task = None
            return
        m = R["play-recap"].search(stripped)
        if m:
            if int(m.group(2)) or int(m.group(1)):
                self._failed_sign(f"{host or 'a host'}: {m.group()}", number)
            return
        m = R["devstack-error"].match(stripped)
        if m:
            self._want(AFTER_DEVSTACK_ERROR)
            self._add(FailureKind.SETUP, "devstack", f"[ERROR] {m.group(1)} {m.group(2)}", number)
            return
        if R["devstack-exit-trap"].match(stripped):
            self._exit_trap(number)
            return
        if R["stack-failed"].search(stripped) and "echo" not in stripped:
            self._add(FailureKind.SETUP, "devstack", stripped, number)
            return
        if R["runner-crash"].match(stripped):
            self._runner_crashed(stripped, number)
            return
        m = R["infra"].search(stripped)
        if m:
            kind = FailureKind.TIMEOUT if ("timed out" in m.group() or "Killed" in m.group()) else FailureKind.INFRA
            self._add(kind, "job", stripped, number)


    def _exit_trap(self, number: int) -> None:
        """``Error on exit``: stack.sh failed; the cause is in the lines above."""
        self._failed_sign("devstack's exit trap: Error on exit", number)
        self._exit_traps += 1
        if self._exit_traps > MAX_EXIT_TRAPS:
            return
        failures = self.found.failures
        last = failures[-1] if failures else None
        if (
            last is not None
            and last.id == "devstack"
            and last.message.startswith("[ERROR]")
            and last.line is not None
            and number - last.line < 50
        ):
            return  # devstack's die: its [ERROR] line, just above, is the cause
        trap = devstack.exit_trap_cause(self._lines_before(devstack.LOOKBACK_LINES * 4))
        excerpt = Excerpt()
        if trap.where:
            excerpt.add(f"stack.sh failed in {trap.where}" + (f" (exit {trap.code})" if trap.code is not None else ""))
        for line in trap.context:
            excerpt.add(line)
        if last is not None and last.id == "devstack" and "stack.sh failed" in last.message:
            failures.pop()  # err_trap's line says only that it failed; this says why
        self._add(FailureKind.SETUP, "devstack", trap.cause, number, excerpt.text())

    def _runner_crashed(self, line: str, number: int) -> None:
        """The runner's own exception line outside any test's output: the traceback
        above it is the runner's (its stderr, printed apart from the test results)."""
        lines = self._lines_before(200)
        start = max((i for i, text in enumerate(lines) if text.startswith("Traceback (")), default=len(lines))
        excerpt = Excerpt()
        for text in [*lines[start:], line]:
            excerpt.add(text)
        self._add(FailureKind.TASK, "test runner", f"the test runner crashed: {line}", number, excerpt.text())

    def _lines_before(self, count: int) -> list[str]:
        """Up to ``count`` lines (prefixes stripped) before the line being handled."""
        block, start, _ = self._where
        before = block[max(0, start - LOOKBACK_BYTES) : start]
        if len(before) < LOOKBACK_BYTES and start < LOOKBACK_BYTES:
            before = self._history[len(before) - LOOKBACK_BYTES :] + before
        return [self._decode(raw)[0] for raw in before.split(b"\n")[:-1][-count:]]

    def _want(self, trigger: str) -> None:
        if trigger not in self._triggers:
            self._triggers = self._triggers | {trigger}
            self._markers = (*self._markers, *triggered_by(trigger))
