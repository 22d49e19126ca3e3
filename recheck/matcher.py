"""One pass, many patterns: every line of a block against every signature phrase.

A log is scanned in big blocks of complete lines. One multi-pattern engine
finds, in a single pass, the scanner's failure markers (case-sensitive
literals) and every signature phrase (Lucene-like: case-insensitive, whole
ASCII words, any punctuation or blanks between them). Python only sees the
hits: the lines where a phrase occurs, and the marker offsets.

Two engines give identical results:

- :class:`HyperscanEngine` runs the patterns in C with Hyperscan (PyPI
  ``hyperscan``, which bundles the library). Its compiled database is cached
  under the XDG cache dir, keyed by the hash of the patterns, so start-up
  costs a file read, not a compilation.
- :class:`PythonEngine` tokenizes each line and checks the few phrases whose
  rarest word the line contains; it needs nothing but the standard library
  and is an order of magnitude slower.

Both check a candidate line with the same phrase regex, so they agree by
construction; ``tests/recheck/test_matcher.py`` checks it on random logs.
``OSTK_RECHECK_MATCHER=python`` forces the pure-Python engine.
"""
from __future__ import annotations

import bisect
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

#: Word characters: what Lucene's standard analyzer keeps (ASCII letters and digits).
_WORD = re.compile(rb"[a-z0-9]+", re.I)
#: A terminal colour code (SGR) separates words like a blank: ``\x1b[01;31mERROR``.
_SGR = rb"\x1b\[[0-9;]*m"
_SGR_RE = re.compile(_SGR)
_SEP = rb"[^a-z0-9\n]"
_LEAD = rb"(?:^|" + _SEP + rb"|" + _SGR + rb")"
_BETWEEN = rb"(?:" + _SEP + rb"|" + _SGR + rb")+"
_TRAIL = rb"(?:" + _SEP + rb"|$)"

#: Environment switch for the engine: ``auto`` (Hyperscan when installed), ``python``, ``hyperscan``.
ENGINE_VARIABLE = "OSTK_RECHECK_MATCHER"


@functools.lru_cache(maxsize=65536)
def words(text: str | bytes) -> tuple[bytes, ...]:
    """The lower-case ASCII words of ``text``: how a phrase is matched."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return tuple(w.lower() for w in _WORD.findall(data))


def phrase_regex(tokens: Sequence[bytes]) -> bytes:
    """The regex (Hyperscan and Python ``re`` syntax alike) for a phrase's words on one line."""
    if not tokens or not all(_WORD.fullmatch(t) for t in tokens):
        raise ValueError("a phrase needs at least one word, and only words")
    return _LEAD + _BETWEEN.join(t.lower() for t in tokens) + _TRAIL


@functools.lru_cache(maxsize=16384)
def _literal(marker: bytes) -> bytes:
    # Hex escapes are valid in both syntaxes and need no thought about metacharacters.
    return b"".join(bytes([c]) if chr(c).isalnum() and c < 128 else b"\\x%02x" % c for c in marker)


@dataclass(frozen=True)
class Rule:
    """One way a signature matches one line: all of ``phrases``, none of ``forbidden``."""

    #: Each phrase as its words (see :func:`words`).
    phrases: tuple[tuple[bytes, ...], ...]
    forbidden: tuple[tuple[bytes, ...], ...] = ()


@dataclass(frozen=True)
class LineHit:
    """The first line of a block that a rule matched."""

    rule: int
    #: 1-based line number in the log.
    line: int
    #: The line's bytes (without its newline).
    text: bytes


@dataclass(frozen=True)
class BlockResult:
    """What one pass over a block found."""

    #: Sorted offsets (in the block) of the requested markers: at least one per marker line.
    markers: list[int]
    #: Rules matched in this block for the first time (in line order).
    hits: list[LineHit]


class LineIndex:
    """Line numbers in one block, counted only as far as someone asks.

    Counting the newlines of a 300 MB log costs a fifth of a second: a line
    number is computed only for a line that is reported (a signature hit, a
    marker line), from the nearest point already counted, and the block is
    never counted twice whoever asks (the matcher, then the text scanner).
    """

    __slots__ = ("_block", "_lines", "_offsets")

    def __init__(self, block: bytes, pos: int, first_line: int) -> None:
        self._block = block
        #: Offsets counted so far (increasing) and the line number at each.
        self._offsets = [pos]
        self._lines = [first_line]

    def line_at(self, offset: int) -> int:
        """The 1-based number of the line that ``offset`` is in (or starts)."""
        offsets = self._offsets
        if offset >= offsets[-1]:
            line = self._lines[-1] + self._block.count(b"\n", offsets[-1], offset)
            if offset > offsets[-1]:
                offsets.append(offset)
                self._lines.append(line)
            return line
        i = bisect.bisect_right(offsets, offset) - 1
        return self._lines[i] + self._block.count(b"\n", offsets[i], offset)


class Engine(Protocol):
    """A compiled pattern set; :meth:`scanner` gives a per-log scanner."""

    name: str

    def scanner(self) -> BlockScanner: ...


class _Compiled:
    """What both engines share: the rules, their regexes, their anchor words, the markers.

    A rule can only match a line that contains its anchor (its longest word),
    so the engines only look for anchors; each line with an anchor is then
    checked against the anchor's rules with Python ``re`` (the same code for
    both engines: that is why they agree).
    """

    def __init__(self, rules: Sequence[Rule], markers: Sequence[bytes]) -> None:
        self.rules = tuple(rules)
        self.markers = tuple(dict.fromkeys(markers))
        anchors: dict[bytes, list[int]] = {}
        rule_anchor = []
        for index, rule in enumerate(self.rules):
            anchor = max((w for p in rule.phrases for w in p), key=len)
            anchors.setdefault(anchor, []).append(index)
            rule_anchor.append(anchor)
        #: Per rule: its first anchor (its longest word).
        self.rule_anchor = tuple(rule_anchor)
        #: Per rule, once needed: the regexes it needs and those that veto it.
        self._checks: dict[int, tuple[tuple[re.Pattern[bytes], ...], tuple[re.Pattern[bytes], ...]]] = {}
        #: Per rule: the candidates for its Hyperscan anchor: each of its words, and its
        #: longest phrase of several words (a regex: for rules made of common words).
        self.candidates = tuple(_candidates(r) for r in self.rules)
        #: Anchor words in a fixed order (their index is the pattern id) and their rules.
        self.anchors = tuple(anchors)
        self.users = tuple(tuple(anchors[a]) for a in self.anchors)
        #: Per rule, once checked: the words a matching line must contain (see :meth:`check`).
        self._needed: list[tuple[bytes, ...] | None] = [None] * len(self.rules)

    def check(self, rule: int, line: bytes, lower: bytes | None = None) -> bool:
        """Does ``line`` (one line, no newline; ``lower``: the same in lower case) satisfy ``rule``?"""
        low = line.lower() if lower is None else lower
        needed = self._needed[rule]
        if needed is None:
            needed = self._needed[rule] = tuple(w[0] for w in self.candidates[rule] if len(w) == 1)
        # Every word as a substring first: a cheap test that rejects almost every candidate.
        for word in needed:
            if word not in low:
                return False
        regexes = self._checks.get(rule)
        if regexes is None:
            # Compiled on first use: a thousand regexes cost a second, most are never needed.
            r = self.rules[rule]
            regexes = self._checks[rule] = (
                tuple(_regex(p) for p in r.phrases), tuple(_regex(p) for p in r.forbidden)
            )
        needs, vetoes = regexes
        return all(n.search(line) for n in needs) and not any(v.search(line) for v in vetoes)


def _candidates(rule: Rule) -> tuple[tuple[bytes, ...], ...]:
    words = sorted({w for p in rule.phrases for w in p}, key=lambda w: (-len(w), w))
    # Words of one or two characters are everywhere; they anchor only a rule that has nothing else.
    out: list[tuple[bytes, ...]] = [(w,) for w in words if len(w) > 2] or [(words[0],)]
    several = [p for p in rule.phrases if len(p) > 1]
    if several:
        out.append(max(several, key=lambda p: (sum(map(len, p)), p)))
    return tuple(out)


@functools.lru_cache(maxsize=16384)
def _pattern(key: tuple[bytes, ...]) -> bytes:
    """A Hyperscan anchor: one word as a literal, or a phrase's words with any separators.

    The separators are those of :func:`phrase_regex` (colour codes included: an
    anchor must let through every line its rules match); as fast to scan as
    blanks alone.
    """
    return _BETWEEN.join(_literal(t) for t in key)


@functools.lru_cache(maxsize=4096)
def _regex(tokens: tuple[bytes, ...]) -> re.Pattern[bytes]:
    return re.compile(phrase_regex(tokens), re.I | re.M)


class BlockScanner:
    """Scans the blocks of one log; remembers which rules already matched."""

    def __init__(self, compiled: _Compiled) -> None:
        self._c = compiled
        self.done: set[int] = set()
        #: Anchor ids whose every rule is done: their hits are ignored.
        self._dead: set[int] = set()

    def scan(self, block: bytes, pos: int, size: int, first_line: int | LineIndex,
             markers: Sequence[bytes]) -> BlockResult:
        """Scan the complete lines in ``block[pos:size]``; the first is line ``first_line``
        (or: ``first_line`` numbers the block's lines, see :class:`LineIndex`)."""
        raise NotImplementedError

    def _lines(self, block: bytes, pos: int, first_line: int | LineIndex, found: Iterable[tuple[int, int]],
               users: Sequence[tuple[int, ...]]) -> list[LineHit]:
        """Turn (offset, anchor id) hits, sorted by offset, into the rules' first hits by line."""
        c, done, dead = self._c, self.done, self._dead
        index = first_line if isinstance(first_line, LineIndex) else LineIndex(block, pos, first_line)
        out: list[LineHit] = []
        end = start = -1
        for offset, aid in found:
            if aid in dead:
                continue
            if offset > end:
                start = block.rfind(b"\n", pos, offset) + 1 or pos
                end = block.find(b"\n", offset)
                end = len(block) if end < 0 else end
                line = block[start:end]
                lower = line.lower()
            for rule in users[aid]:
                if rule not in done and c.check(rule, line, lower):
                    done.add(rule)
                    # Numbered only now: most anchor lines match no rule.
                    out.append(LineHit(rule, index.line_at(start), line))
            if all(r in done for r in users[aid]):
                dead.add(aid)
        # Which anchor was found first within a line is the engine's business: order by rule.
        out.sort(key=lambda h: (h.line, h.rule))
        return out


class PythonScanner(BlockScanner):
    """Line by line: the words of a line select the candidate rules."""

    def scan(self, block: bytes, pos: int, size: int, first_line: int | LineIndex,
             markers: Sequence[bytes]) -> BlockResult:
        found: list[tuple[int, int]] = []
        c = self._c
        if c.rules and len(self.done) < len(c.rules):
            ids = {a: i for i, a in enumerate(c.anchors) if i not in self._dead}
            findall, sgr = _WORD.findall, _SGR_RE
            at = pos
            for raw in block[pos:size].split(b"\n"):
                if raw:
                    line = raw.lower()
                    tokens = set(findall(line))
                    if b"\x1b" in line:
                        # A word may start right after a colour code: "\x1b[31mERROR".
                        tokens.update(findall(sgr.sub(b" ", line)))
                    hit = sorted(ids[t] for t in tokens & ids.keys())
                    found.extend((at, aid) for aid in hit)
                at += len(raw) + 1
        return BlockResult(marker_offsets(block, pos, size, markers), self._lines(block, pos, first_line, found, c.users))


class PythonEngine:
    """The pure-Python engine (see the module docstring)."""

    name = "python"

    def __init__(self, rules: Sequence[Rule], markers: Sequence[bytes]) -> None:
        self.compiled = _Compiled(rules, markers)

    def scanner(self) -> BlockScanner:
        return PythonScanner(self.compiled)


def marker_offsets(block: bytes, lo: int, hi: int, markers: Sequence[bytes]) -> list[int]:
    """Sorted offsets of ``markers`` in ``block[lo:hi]``, one per marker and line (``bytes.find``)."""
    hits: list[int] = []
    find = block.find
    for marker in markers:
        at = find(marker, lo, hi)
        while at >= 0:
            hits.append(at)
            nl = find(b"\n", at, hi)
            if nl < 0:
                break
            at = find(marker, nl + 1, hi)
    hits.sort()
    return hits


#: Anchor hits per MiB of a block beyond which rules get rarer anchors.
HOT = 64
#: Bytes of a block in which anchor candidates are counted.
SAMPLE = 512 * 1024
#: Anchor re-choices per log (each costs one more pass over one block).
MAX_RECHOICES = 32


class HyperscanScanner(BlockScanner):
    """One Hyperscan pass per block: marker hits and anchor hits together.

    An anchor is only a filter: any word of the rule would do, and the best is
    the rarest in this log. It starts as the longest word; a word that turns
    out to be common here ("tempest", "neutron") makes its rules take the
    rarest of their words in the block just scanned (literal databases
    compile in milliseconds).
    """

    def __init__(self, engine: HyperscanEngine) -> None:
        super().__init__(engine.compiled)
        self._engine = engine
        self._rechoices = 0
        #: Hits seen per anchor candidate in the blocks measured so far.
        self._freq: dict[tuple[bytes, ...], int] = {}
        learned = engine.learned
        if learned:
            # Anchors another log of this kind taught: start from them.
            by_word: dict[tuple[bytes, ...], list[int]] = {}
            for index, default in enumerate(engine.compiled.rule_anchor):
                by_word.setdefault(learned.get(index, (default,)), []).append(index)
            self._use(tuple(by_word), tuple(tuple(v) for v in by_word.values()))
        else:
            self._use(tuple((a,) for a in engine.compiled.anchors), engine.compiled.users)

    def _use(self, words: Sequence[tuple[bytes, ...]], users: Sequence[tuple[int, ...]]) -> None:
        self._words = tuple(words)
        self._users = tuple(users)
        self._db, self._scratch = self._engine.database(self._words)
        self._dead = {w for w, rules in enumerate(self._users) if all(r in self.done for r in rules)}

    def scan(self, block: bytes, pos: int, size: int, first_line: int | LineIndex,
             markers: Sequence[bytes]) -> BlockResult:
        # A view, not a slice: the block is not copied (4 MB per block, 300 MB per big log).
        data = block if (pos == 0 and size == len(block)) else memoryview(block)[pos:size]
        hot = max(4, HOT * (size - pos) >> 20)
        found, marks = self._scan(data, pos, markers)
        # Too many anchor hits cost more in Python than another pass costs in C: pick
        # rarer anchors for the rules concerned and read the block again.
        while len(found) > hot and self._rechoices < MAX_RECHOICES and self._rechoose(block, pos, size, found, hot):
            found, marks = self._scan(data, pos, markers)
        others = [m for m in markers if m not in self._c.markers]
        if others:
            marks.extend(marker_offsets(block, pos, size, others))
        marks.sort()
        found.sort()
        return BlockResult(marks, self._lines(block, pos, first_line, found, self._users))

    def _scan(self, data: bytes | memoryview, pos: int,
              markers: Sequence[bytes]) -> tuple[list[tuple[int, int]], list[int]]:
        nwords, dead = len(self._words), self._dead
        found: list[tuple[int, int]] = []
        marks: list[int] = []
        compiled = self._c
        wanted = {compiled.markers.index(m) + nwords for m in markers if m in compiled.markers}
        marker_len = [len(m) for m in compiled.markers]
        add_found, add_mark = found.append, marks.append

        def on_match(wid: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            if wid < nwords:
                if wid not in dead:
                    add_found((pos + end - 1, wid))
            elif wid in wanted:
                add_mark(pos + end - marker_len[wid - nwords])

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        return found, marks

    def _rechoose(self, block: bytes, pos: int, size: int, found: list[tuple[int, int]], limit: int) -> bool:
        """Give the rules of common anchors their rarest candidate; False if nothing changed."""
        counts: dict[int, int] = {}
        for _, wid in found:
            counts[wid] = counts.get(wid, 0) + 1
        hot = {w for w, n in counts.items() if n > limit // 4 and w not in self._dead}
        rules = sorted({r for w in hot for r in self._users[w]} - self.done)
        if not rules:
            return False
        self._rechoices += 1
        # How often each candidate of those rules occurs in this block, added to what
        # earlier blocks said: a log changes character (set-up, then tests).
        for w, n in counts.items():
            self._freq[self._words[w]] = self._freq.get(self._words[w], 0) + n
        words = sorted({w for r in rules for w in self._c.candidates[r]})
        db, scratch = self._engine.database(tuple(words), markers=False)
        seen = [0] * len(words)

        def count(wid: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            seen[wid] += 1

        # A sample is enough to tell common from rare, and costs a fraction of the block.
        sample = block[pos : block.find(b"\n", pos + SAMPLE, size) + 1 or size]
        db.scan(sample, match_event_handler=count, scratch=scratch)
        freq = self._freq
        for key, n in zip(words, seen, strict=True):
            freq[key] = freq.get(key, 0) + n
        anchor = {r: self._words[wid] for wid, users in enumerate(self._users) for r in users}
        for r in rules:
            # The rarest word (the longest among equals); a phrase regex only when every
            # word is common here: regexes cost far more to compile than literals.
            single: list[tuple[bytes, ...]] = [w for w in self._c.candidates[r] if len(w) == 1]
            several = [w for w in self._c.candidates[r] if len(w) > 1]
            best = min(single, key=lambda w: (freq.get(w, 0), -len(w[0])))
            if several and freq.get(best, 0) > limit // 4 and freq.get(several[0], 0) < freq.get(best, 0):
                best = several[0]
            anchor[r] = best
        by_word: dict[tuple[bytes, ...], list[int]] = {}
        for r, key in sorted(anchor.items()):
            by_word.setdefault(key, []).append(r)
        before = self._words
        self._use(tuple(by_word), tuple(tuple(v) for v in by_word.values()))
        self._engine.learn(anchor)
        return self._words != before


class HyperscanEngine:
    """Anchor words and markers compiled into Hyperscan block-mode databases.

    Literal sets compile in milliseconds (the phrase regexes would take
    seconds); each database is still kept under the cache dir, keyed by the
    hash of its patterns, and reused within the process.
    """

    name = "hyperscan"

    def __init__(self, rules: Sequence[Rule], markers: Sequence[bytes], cache: Path | None) -> None:
        import hyperscan

        self._hs = hyperscan
        self._cache = cache
        self._dbs: dict[tuple[tuple[tuple[bytes, ...], ...], bool], Any] = {}
        self.compiled = _Compiled(rules, markers)
        self._rules_key = hashlib.sha256(repr(self.compiled.rules).encode()).hexdigest()[:32]
        #: Per rule, the anchor the last log scanned with these rules settled on.
        self.learned: dict[int, tuple[bytes, ...]] = self._load_learned()
        self.database(tuple((a,) for a in self.compiled.anchors))

    def _load_learned(self) -> dict[int, tuple[bytes, ...]]:
        if self._cache is None:
            return {}
        try:
            doc = json.loads((self._cache / f"{self._rules_key}.anchors.json").read_text(encoding="ascii"))
            learned = {int(k): tuple(w.encode("ascii") for w in v) for k, v in doc["anchors"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeError):
            return {}
        # Only what could have come from these rules: anything else is a stale or foreign file.
        candidates = self.compiled.candidates
        return {k: v for k, v in learned.items() if 0 <= k < len(candidates) and v in candidates[k]}

    def learn(self, anchors: Mapping[int, tuple[bytes, ...]]) -> None:
        """Remember the anchors a log settled on, for the next log with these rules."""
        self.learned = dict(anchors)
        if self._cache is None:
            return
        from ostk.files import atomic_write, ensure_private_dir

        doc = {"anchors": {str(k): [w.decode("ascii") for w in v] for k, v in sorted(anchors.items())}}
        try:
            ensure_private_dir(self._cache)
            atomic_write(self._cache / f"{self._rules_key}.anchors.json", json.dumps(doc), mode=0o600)
        except OSError:
            pass

    def database(self, words: tuple[tuple[bytes, ...], ...], *, markers: bool = True) -> tuple[Any, Any]:
        """The database for anchor ``words`` (caseless, ids in order) and, after them, the markers."""
        hs = self._hs
        db = self._dbs.get((words, markers))
        if db is None:
            marks = self.compiled.markers if markers else ()
            expressions = [_pattern(w) for w in words] + [_literal(m) for m in marks]
            flags = [hs.HS_FLAG_CASELESS] * len(words) + [0] * len(marks)
            key = hashlib.sha256(repr((hs.__version__, expressions, flags)).encode()).hexdigest()[:32]
            db = _load(hs, self._cache, key)
            if db is None:
                db = hs.Database(mode=hs.HS_MODE_BLOCK)
                if expressions:
                    db.compile(expressions=expressions, ids=list(range(len(expressions))), flags=flags)
                    _store(hs, self._cache, key, db, True)
                else:
                    db = _NoDatabase()
            if len(self._dbs) > 64:
                self._dbs.clear()
            self._dbs[(words, markers)] = db
        scratch = None if isinstance(db, _NoDatabase) else hs.Scratch(db)
        return db, scratch

    def scanner(self) -> BlockScanner:
        return HyperscanScanner(self)


class _NoDatabase:
    """Hyperscan refuses to compile nothing: scanning nothing finds nothing."""

    def scan(self, data: bytes, **_kw: object) -> None:
        return None


def _load(hs: Any, cache: Path | None, key: str) -> Any:
    if cache is None:
        return None
    path = cache / f"{key}.hsdb"
    try:
        return hs.loadb(path.read_bytes(), hs.HS_MODE_BLOCK)
    except (OSError, hs.error, ValueError, TypeError):
        return None  # absent, or written by another Hyperscan build: compile again


def _store(hs: Any, cache: Path | None, key: str, db: Any, compiled: bool) -> None:
    if cache is None or not compiled:
        return
    from ostk.files import atomic_write, ensure_private_dir

    try:
        ensure_private_dir(cache)
        atomic_write(cache / f"{key}.hsdb", hs.dumpb(db), mode=0o600)
    except OSError:
        pass  # a read-only cache costs a compilation next time, nothing else


_ENGINES: dict[tuple[Any, ...], Engine] = {}


def engine_choice(environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """``hyperscan`` or ``python``: what ``auto`` resolves to here."""
    wanted = (environ if environ is not None else os.environ).get(ENGINE_VARIABLE, "auto").strip().lower()
    if wanted == "python":
        return "python"
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        if wanted == "hyperscan":
            raise
        return "python"
    return "hyperscan"


def build_engine(rules: Sequence[Rule], markers: Sequence[bytes] = (), *, cache: Path | None = None,
                 kind: str | None = None) -> Engine:
    """The engine for ``rules`` and ``markers`` (memoised per process)."""
    kind = kind or engine_choice()
    key = (kind, tuple(rules), tuple(markers), cache)
    engine = _ENGINES.get(key)
    if engine is None:
        engine = HyperscanEngine(rules, markers, cache) if kind == "hyperscan" else PythonEngine(rules, markers)
        if len(_ENGINES) > 64:
            _ENGINES.clear()
        _ENGINES[key] = engine
    return engine


#: A block scan as the text scanner calls it: (block, pos, size, first line or the
#: block's LineIndex, markers) → marker offsets.
BlockHook = Callable[[bytes, int, int, "int | LineIndex", Sequence[bytes]], list[int]]
