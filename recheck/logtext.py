"""Text helpers shared by the log readers: prefixes, control characters,
bounded excerpts, test ids, exception lines, ansible results.

The text scan (``scanner``), the structured readers (``structured``) and the
devstack exit-trap reader (``devstack``) all build the same kind of record
from these; nothing here keeps state between lines.
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence

#: Longest failure message kept.
MAX_MESSAGE = 500
#: Excerpt bounds: lines kept from the head and from the tail, and characters overall.
EXCERPT_HEAD = 12
EXCERPT_TAIL = 40
EXCERPT_CHARS = 4000
#: Longest excerpt line kept.
EXCERPT_LINE = 1000

_ZUUL_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?: \| | \|$| )")
_HOST_PREFIX = re.compile(r"^([A-Za-z0-9_.:\[\]-]+) \| ")
_HTML_TAG = re.compile(rb"<[^<>\n]*>")
_HTML_ENTITY = re.compile(rb"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# An exception line: "AssertionError: 1 != 2", "testtools.matchers._impl.MismatchError: …",
# and tempest's module-qualified exceptions whose names carry no "Error" suffix
# ("tempest.lib.exceptions.ServerFault: Got server fault", "…exceptions.NotFound: …").
# Checked with one possessive token match and string tests: a regex with a lazy name and
# suffix alternatives costs O(n²) per line (15 ms on a 1000-character "ErrorError…" line).
_NAME = re.compile(r"[A-Za-z_][\w.]*+")
_SUFFIXES = ("Error", "Exception", "Failure", "Exceeded", "Timeout", "Exit", "Mismatch", "Fault")
#: tempest's exceptions print their detail on the next line (tempest/lib/exceptions.py).
_DETAILS = "Details:"
#: Lines of a multi-line ``Details:`` kept (waiters add "Current status: …" lines).
DETAILS_LINES = 3


def is_exception_line(line: str) -> bool:
    """``Name: message`` or a bare ``Name`` where Name looks like an exception class."""
    text = line.lstrip()
    m = _NAME.match(text)
    if m is None:
        return False
    name, rest = m.group(), text[m.end() :]
    with_message = rest[:1] == ":" and rest[1:2] in (" ", "\t")
    if not with_message and rest.strip() not in ("", ":"):
        return False
    *modules, last = name.split(".")
    if last and any(suffix in last for suffix in _SUFFIXES):
        return True
    # tempest.lib.exceptions.NotFound: modules in lower case, the class capitalised.
    return with_message and bool(modules) and last[:1].isupper() and all(
        part[:1].islower() or part[:1] == "_" for part in modules
    )


def strip_prefixes(text: str) -> tuple[str, str | None]:
    """Drop Zuul's ``timestamp | `` and ``host | `` prefixes; return (text, host)."""
    m = _ZUUL_PREFIX.match(text)
    if m is None:
        return text, None
    zuul = "|" in m.group()
    text = text[m.end() :]
    h = _HOST_PREFIX.match(text) if zuul else None
    if h is not None and not text.startswith(("TASK [", "PLAY [")):
        return text[h.end() :], h.group(1)
    return text, None


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


def one_line(message: str) -> str:
    """A message as one bounded line without control characters."""
    return clean_controls(" ".join(message.split()))[:MAX_MESSAGE]


class Excerpt:
    """A bounded excerpt: the first lines, the last lines, and how many were skipped."""

    def __init__(self) -> None:
        self.head: list[str] = []
        self.tail: list[str] = []
        self.skipped = 0

    def add(self, text: str) -> None:
        text = text[:EXCERPT_LINE]
        if not text.isprintable():
            text = clean_controls(text)
        if len(self.head) < EXCERPT_HEAD:
            self.head.append(text)
            return
        self.tail.append(text)
        if len(self.tail) > EXCERPT_TAIL:
            del self.tail[0]
            self.skipped += 1

    def drop_last(self, text: str) -> None:
        """Remove ``text`` when it is the last line added (a header that belongs elsewhere)."""
        for part in (self.tail, self.head):
            if part:
                if part[-1] == text:
                    part.pop()
                return

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


def exception_message(lines: Sequence[str]) -> str | None:
    """The last exception line of ``lines``, with tempest's ``Details:`` line(s) after it.

    ``tempest.lib.exceptions.TimeoutException: Request timed out`` says little;
    the ``Details: (ServersTest:test_x) Server … failed to reach ACTIVE status …``
    line below it says what went wrong.
    """
    for index in range(len(lines) - 1, -1, -1):
        if not is_exception_line(lines[index]):
            continue
        parts = [lines[index].strip()]
        for following in lines[index + 1 : index + 1 + DETAILS_LINES]:
            text = following.strip()
            if not text or (len(parts) == 1 and not text.startswith(_DETAILS)):
                break
            if len(parts) > 1 and (is_exception_line(following) or text.startswith(("File ", "Traceback"))):
                break
            parts.append(text)
        return " ".join(parts)
    return None


def test_id(raw: str) -> str:
    """A test id as subunit-trace prints it: without ``[id-…,smoke]`` attributes."""
    raw = raw.strip()
    if raw.endswith("]") and "[" in raw:
        raw = raw[: raw.index("[")] if not raw.startswith("setUpClass") else raw
    return raw


def ansible_message(doc: Mapping[str, object]) -> str:
    """``msg``, a non-zero ``rc`` and the last stderr line of an ansible result."""
    msg = doc.get("msg")
    rc = doc.get("rc")
    parts = []
    if msg:
        parts.append(str(msg) if not isinstance(msg, (dict, list)) else json.dumps(msg)[:MAX_MESSAGE])
    if rc not in (None, 0, "0"):
        parts.append(f"rc={str(rc)[:20]}")
    stderr = str(doc.get("stderr") or "").strip().splitlines()
    if stderr:
        parts.append(stderr[-1][:MAX_MESSAGE])
    return "; ".join(parts)


def ansible_excerpt(doc: Mapping[str, object]) -> str:
    """The command and its output from an ansible result, bounded."""
    excerpt = Excerpt()
    for key in ("cmd", "stderr", "stdout", "module_stderr"):
        value = doc.get(key)
        if isinstance(value, list):
            value = " ".join(str(v) for v in value[:200])
        if value:
            excerpt.add(f"{key}:")
            text = str(value)
            if len(text) > 4 * EXCERPT_CHARS:
                # Only the head and the tail lines are kept: split just those.
                text = text[: 2 * EXCERPT_CHARS] + "\n[...]\n" + text[-2 * EXCERPT_CHARS :]
            for line in text.splitlines():
                excerpt.add("  " + line)
    return excerpt.text()
