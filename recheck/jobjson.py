"""A bounded reader for Zuul's job-output.json.

The document (zuul/zuul ``zuul/ansible/*/callback/zuul_json.py``) is a list of
playbooks: ``{"phase", "playbook", "plays": [{"play": {"name"}, "tasks":
[{"task": {"name"}, "hosts": {host: result}}]}], "stats": {host: {...}}}``.
It can be 100 MB; ``json.load`` would need ten times that in memory. This
reader walks the bytes with C-speed regexes, keeps only the few fields a
failure needs (long strings are cut to a head and a tail), skips everything
else without building it, refuses nesting deeper than ``MAX_DEPTH``, and
treats any value of the wrong shape as absent.
"""
from __future__ import annotations

import json
import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass

#: Deepest nesting accepted (Zuul's documents are ~10 levels deep).
MAX_DEPTH = 64
#: Longest string kept whole; longer strings keep their head and tail.
MAX_STRING = 2 * 1024 * 1024
#: Of a cut string: characters kept from the head (the rest of MAX_STRING from the tail).
STRING_HEAD = 64 * 1024

_WS = re.compile(rb"[ \t\r\n]*")
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_SCALAR = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
#: What skipping a container can jump over in one step: strings, and anything but brackets
#: (a list of a million strings is one regex match, not a million Python steps).
#: Possessive quantifiers (Python 3.11): the regex engine keeps no backtracking state per
#: repetition, so a match over millions of strings costs no memory.
_FLAT = re.compile(rb'(?:[^"\[\]{}]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")++', re.DOTALL)


#: What the reader reads: bytes, or a memory-mapped file.
Buffer = bytes | mmap.mmap


class JobJsonError(ValueError):
    """The document is not JSON, or is nested too deep."""


class TooDeep(JobJsonError):
    """The document nests deeper than MAX_DEPTH: refused, not parsed."""


class _Skip:
    """Marks a value that was skipped (never a result)."""


SKIPPED = _Skip()


@dataclass
class _Reader:
    data: Buffer
    pos: int = 0

    def ws(self) -> None:
        m = _WS.match(self.data, self.pos)
        if m:
            self.pos = m.end()

    def peek(self) -> bytes:
        self.ws()
        return bytes(self.data[self.pos : self.pos + 1])

    def expect(self, char: bytes) -> None:
        if self.peek() != char:
            raise JobJsonError(f"expected {char.decode()!r} at byte {self.pos}")
        self.pos += 1

    def string(self) -> str:
        if self.peek() != b'"':
            raise JobJsonError(f"expected a string at byte {self.pos}")
        m = _STRING.match(self.data, self.pos)
        if m is None:
            raise JobJsonError(f"unterminated string at byte {self.pos}")
        start, end = m.span()
        self.pos = end
        if end - start <= MAX_STRING:
            return _decode_string(bytes(self.data[start:end]))
        head = _decode_fragment(bytes(self.data[start + 1 : start + 1 + STRING_HEAD]), from_start=True)
        tail = _decode_fragment(bytes(self.data[end - 1 - (MAX_STRING - STRING_HEAD) : end - 1]), from_start=False)
        return f"{head}\n[... {end - start - MAX_STRING} bytes omitted ...]\n{tail}"

    def value(self, depth: int) -> object:
        """Parse one value fully (small values: messages, names, numbers)."""
        char = self.peek()
        if char == b'"':
            return self.string()
        if char in (b"{", b"["):
            start = self.pos
            self.skip(depth)
            if self.pos - start > MAX_STRING:
                return SKIPPED
            try:
                return json.loads(bytes(self.data[start : self.pos]))
            except (ValueError, RecursionError) as exc:
                raise JobJsonError(f"invalid JSON at byte {start}") from exc
        m = _SCALAR.match(self.data, self.pos)
        if m is None:
            raise JobJsonError(f"invalid JSON at byte {self.pos}")
        self.pos = m.end()
        return json.loads(m.group())

    def skip(self, depth: int) -> None:
        """Step over one value without building it (iteratively: no recursion)."""
        char = self.peek()
        if char not in (b"{", b"["):
            self.value(depth)
            return
        level = 0
        data = self.data
        while True:
            m = _FLAT.match(data, self.pos)
            if m:
                self.pos = m.end()
            char = bytes(data[self.pos : self.pos + 1])
            if char in (b"{", b"["):
                level += 1
                if depth + level > MAX_DEPTH:
                    raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
                self.pos += 1
            elif char in (b"}", b"]"):
                level -= 1
                self.pos += 1
                if level == 0:
                    return
            elif char == b'"':
                m = _STRING.match(data, self.pos)
                if m is None:
                    raise JobJsonError(f"unterminated string at byte {self.pos}")
                self.pos = m.end()
            else:
                raise JobJsonError("the document ends inside a value")

    def items(self, depth: int) -> Iterator[str]:
        """Keys of the object starting here; the caller reads or skips each value."""
        self.expect(b"{")
        if depth > MAX_DEPTH:
            raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
        if self.peek() == b"}":
            self.pos += 1
            return
        while True:
            key = self.string()
            self.expect(b":")
            yield key
            char = self.peek()
            self.pos += 1
            if char == b"}":
                return
            if char != b",":
                raise JobJsonError(f"expected ',' or '}}' at byte {self.pos - 1}")

    def elements(self, depth: int) -> Iterator[None]:
        """Positions of the elements of the array starting here."""
        self.expect(b"[")
        if depth > MAX_DEPTH:
            raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
        if self.peek() == b"]":
            self.pos += 1
            return
        while True:
            yield None
            char = self.peek()
            self.pos += 1
            if char == b"]":
                return
            if char != b",":
                raise JobJsonError(f"expected ',' or ']' at byte {self.pos - 1}")


def _decode_string(raw: bytes) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw[1:-1].decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _decode_fragment(raw: bytes, *, from_start: bool) -> str:
    """Decode a piece cut out of a JSON string (escapes may be cut at its ends)."""
    text = raw.decode("utf-8", "replace")
    if from_start:
        cut = text.rfind("\\n")
        text = text[:cut] if cut > 0 else text
    else:
        cut = text.find("\\n")
        text = text[cut:] if cut >= 0 else text
        # An odd run of backslashes before the cut belongs to an escape we lost.
    try:
        value = json.loads(f'"{text}"')
    except ValueError:
        return text.replace("\\n", "\n").replace('\\"', '"')
    return value if isinstance(value, str) else ""


#: Fields of a host result that a failure needs; the rest is skipped.
RESULT_FIELDS = frozenset(
    {"failed", "unreachable", "skipped", "ignore_errors", "msg", "rc", "stderr", "stdout", "cmd",
     "module_stderr", "results"}
)


@dataclass(frozen=True)
class HostResult:
    """One host's result for one task, with only the fields a failure needs."""

    phase: str
    playbook: str
    play: str
    task: str
    host: str
    result: dict[str, object]


@dataclass(frozen=True)
class HostStats:
    """A playbook's stats line for one host."""

    phase: str
    playbook: str
    host: str
    unreachable: bool
    #: Failed tasks on the host (ansible's stats "failures").
    failures: int = 0


def walk(data: Buffer) -> Iterator[HostResult | HostStats]:
    """Every host result and stats entry in a job-output.json, in document order.

    Raises :class:`JobJsonError` for invalid JSON or too deep nesting; values of
    the wrong shape (``plays: 3``, tasks as a string, ``hosts`` a list) are
    treated as absent.
    """
    r = _Reader(data)
    if r.peek() != b"[":
        if r.peek() == b"":
            raise JobJsonError("empty document")
        r.skip(0)
        raise JobJsonError("job-output.json should be a list of playbooks")
    for _ in r.elements(1):
        if r.peek() != b"{":
            r.skip(1)
            continue
        playbook: dict[str, str] = {"phase": "run", "playbook": "playbook"}
        pending_stats: list[HostStats] = []
        for key in r.items(2):
            if key in ("phase", "playbook"):
                value = r.value(2)
                if isinstance(value, str) and value:
                    playbook[key] = value
            elif key == "plays" and r.peek() == b"[":
                yield from _plays(r, playbook)
            elif key == "stats" and r.peek() == b"{":
                for host in r.items(3):
                    stats = r.value(3)
                    if not isinstance(stats, dict):
                        continue
                    failures = stats.get("failures")
                    failures = failures if isinstance(failures, int) and not isinstance(failures, bool) else 0
                    if stats.get("unreachable") or failures > 0:
                        pending_stats.append(
                            HostStats(
                                playbook["phase"], playbook["playbook"], host, bool(stats.get("unreachable")), failures
                            )
                        )
            else:
                r.skip(2)
        yield from pending_stats
    r.ws()
    if r.pos < len(r.data):
        raise JobJsonError(f"extra data after the document at byte {r.pos}")


def _plays(r: _Reader, playbook: dict[str, str]) -> Iterator[HostResult]:
    for _ in r.elements(3):
        if r.peek() != b"{":
            r.skip(3)
            continue
        play = "play"
        for key in r.items(4):
            if key == "play" and r.peek() == b"{":
                play = _name(r, 5) or play
            elif key == "tasks" and r.peek() == b"[":
                yield from _tasks(r, playbook, play)
            else:
                r.skip(4)


def _tasks(r: _Reader, playbook: dict[str, str], play: str) -> Iterator[HostResult]:
    for _ in r.elements(5):
        if r.peek() != b"{":
            r.skip(5)
            continue
        task = "task"
        results: list[tuple[str, dict[str, object]]] = []
        for key in r.items(6):
            if key == "task" and r.peek() == b"{":
                task = _name(r, 7) or task
            elif key == "hosts" and r.peek() == b"{":
                for host in r.items(7):
                    result = _result(r, 8)
                    if result is not None:
                        results.append((host, result))
            else:
                r.skip(6)
        # Zuul writes "task" before "hosts", but JSON objects have no order: name after.
        for host, result in results:
            yield HostResult(playbook["phase"], playbook["playbook"], play, task, host, result)


def _name(r: _Reader, depth: int) -> str | None:
    name = None
    for key in r.items(depth):
        if key == "name":
            value = r.value(depth)
            name = value if isinstance(value, str) else None
        else:
            r.skip(depth)
    return name


def _result(r: _Reader, depth: int) -> dict[str, object] | None:
    if r.peek() != b"{":
        r.skip(depth)
        return None
    result: dict[str, object] = {}
    for key in r.items(depth):
        if key in RESULT_FIELDS:
            value = r.value(depth)
            if value is not SKIPPED:
                result[key] = value
        else:
            r.skip(depth)
    return result
