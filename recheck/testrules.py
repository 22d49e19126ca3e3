"""Rules for test runner output: subunit-trace (stestr) and unittest.

subunit-trace (mtreinish/stestr ``stestr/subunit_trace.py``) prints
``{N} test.id [1.23s] ... FAILED`` and then the test's attachments, each
under a title (``Captured traceback:``) and indented four spaces; at the end
``Failed N tests - output below:`` repeats each failed test under its id and a
rule of dashes. Anything at column 0 inside those attachments is not the
test's: a ``Traceback`` there is the runner's own (a stestr worker dying on
python-subunit's "Length too long"), and becomes a failure of its own.
"""
from __future__ import annotations

from recheck.logtext import is_exception_line, test_id
from recheck.markers import RULES as R
from recheck.models import FailureKind
from recheck.scanrecords import Records, zuul_end


class TestOutputRules(Records):
    """Blocks that follow a failed test's marker line."""

    _section_prev: str | None = None
    _unittest_seen_rule = False
    _unittest_preamble = 0

    def _trace_inline(self, text: str, host: str | None, number: int) -> bool:
        stripped = text.strip()
        if R["subunit-trace-result"].match(stripped) or stripped.startswith("=====") or zuul_end(stripped):
            self._end_block()
            return False
        if _runner_output(text):
            self._runner_crash(text, number)
            return True
        return self._collect(text)

    def _failed_section(self, text: str, host: str | None, number: int) -> bool:
        stripped = text.strip()
        if stripped == "Totals" or R["subunit-trace-result"].match(stripped) or zuul_end(stripped):
            self._end_block()
            return False
        if stripped and set(stripped) == {"-"} and self._section_prev:
            # The previous line was a test id header: it opens a new test's output.
            tid = test_id(self._section_prev)
            if self._pending is not None:
                self._pending.excerpt.drop_last(self._section_prev)
            self._flush_pending()
            self._start_pending(FailureKind.TEST, tid, f"{tid} failed", number - 1)
            self._section_prev = None
            return True
        if stripped.startswith("=====") and self._pending is None:
            self._section_prev = None
            return True
        if _runner_output(text) and self._pending is not None and self._pending.kind is FailureKind.TEST:
            self._runner_crash(text, number)
            self._block = self._failed_section
            return True
        self._section_prev = stripped if stripped else None
        if self._pending is not None:
            self._pending.excerpt.add(text)
        return True

    def _runner_crash(self, text: str, number: int) -> None:
        """Output at column 0 inside a test's (indented) attachments: the runner's own
        traceback (a stestr worker dying on subunit's "Length too long"). The test keeps
        its traceback; the crash becomes a failure of its own."""
        self._flush_pending()
        self._start_pending(FailureKind.TASK, "test runner", "the test runner crashed", number)
        assert self._pending is not None
        self._pending.excerpt.add(text)
        self._block = self._crash_block

    def _crash_block(self, text: str, host: str | None, number: int) -> bool:
        self._collect(text)
        if text[:1] not in (" ", "\t") and R["starts"].match(text) is None and _exception_at_col0(text):
            pending = self._pending
            assert pending is not None
            pending.message = f"the test runner crashed: {text.strip()}"
            pending.refine_message = False
            self._end_block()
        return True

    def _unittest_block(self, text: str, host: str | None, number: int) -> bool:
        stripped = text.strip()
        if stripped.startswith("-----"):
            if self._unittest_seen_rule:
                self._end_block()
                return False
            self._unittest_seen_rule = True
            return True
        if stripped.startswith("=====") or R["unittest"].match(stripped) or zuul_end(stripped):
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


def _runner_output(text: str) -> bool:
    """A runner traceback: subunit-trace indents a test's attachments, the runner does not."""
    return text.startswith("Traceback (most recent call last):")


def _exception_at_col0(text: str) -> bool:
    return is_exception_line(text)
