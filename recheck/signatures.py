"""Known-failure signatures: bug number → the log lines that betray it.

The shipped set (``recheck/data/signatures.json``) is built from
elastic-recheck's queries by ``recheck/data/build_signatures.py``. Users add
their own under ``~/.config/ostk/signatures/`` as ``*.json`` (the same
format) or ``<bug>.yaml`` (elastic-recheck's query format).

Matching is Lucene-like: case-insensitive and token-wise, so punctuation and
runs of blanks do not matter. Every line of a log is checked in one pass by
:mod:`recheck.matcher` (Hyperscan, or its pure-Python twin); multi-line
events (a traceback excerpt) are checked here, each alternative indexed under
one rare token (its longest) so that an event is only checked against the
alternatives whose token it contains.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ostk.dirs import cache_dir, config_dir
from ostk.errors import InputError
from recheck.filenames import files_ok, log_path, restricted
from recheck.lucene import Alternative, QueryError, parse_query
from recheck.matcher import BlockHook, LineIndex, Rule, build_engine, words
from recheck.models import BugMatch

SHIPPED = Path(__file__).with_name("data") / "signatures.json"
LAUNCHPAD_BUG = "https://bugs.launchpad.net/bugs/{}"

#: Score of a match whose every condition was checked.
EXACT = 1.0
#: Score when the signature names a build (job) we could not check.
UNCHECKED_BUILD = 0.7
#: A resolved bug is a less likely explanation for today's failure.
RESOLVED_FACTOR = 0.5

#: ASCII words only, as in :func:`recheck.matcher.words`: the line scan and the event
#: check must agree on what a word is.
_WORD = re.compile(r"[a-z0-9]+", re.I | re.A)
#: A signature file larger than this is not read (the shipped one is ~0.5 MiB).
MAX_FILE = 16 * 1024 * 1024
#: Longest matched line quoted in a match's explanation.
QUOTE = 300


def normalize(text: str) -> str:
    """Lowercase word tokens joined by single blanks, padded: ``" no space left "``."""
    return " " + " ".join(_WORD.findall(text)).lower() + " "


@dataclass(frozen=True)
class Signature:
    """One known bug and the ways its failure shows in a log."""

    bug: int
    title: str
    alternatives: tuple[Alternative, ...]
    #: Tests that fail with this bug; when set, a failing test must be among them.
    test_ids: tuple[str, ...] = ()
    #: When the bug was marked fixed (free text as written by elastic-recheck).
    resolved_at: str | None = None
    #: The original query, for ``signatures list``.
    query: str = ""
    #: Where the signature was loaded from ("shipped" or a file path).
    origin: str = "shipped"

    @property
    def url(self) -> str:
        return LAUNCHPAD_BUG.format(self.bug)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "bug": self.bug,
            "title": self.title,
            "query": self.query,
            "alternatives": [a.to_json() for a in self.alternatives],
        }
        if self.test_ids:
            doc["test_ids"] = list(self.test_ids)
        if self.resolved_at:
            doc["resolved_at"] = self.resolved_at
        return doc


def signature_from_query(bug: int, doc: Mapping[str, Any], origin: str = "shipped") -> Signature:
    """Build a :class:`Signature` from an elastic-recheck query document.

    Raises :class:`QueryError` for queries we cannot represent.
    """
    query = str(doc.get("query") or "")
    parsed = parse_query(query)
    if not parsed.alternatives:
        raise QueryError("no message phrase to look for")
    first = parsed.alternatives[0].phrases[0]
    title = str(doc.get("title") or f'"{first[:100]}"')
    resolved = doc.get("resolved_at")
    return Signature(
        bug=bug,
        title=title,
        alternatives=parsed.alternatives,
        test_ids=tuple(str(t) for t in doc.get("test_ids") or ()),
        resolved_at=str(resolved) if resolved else None,
        query=" ".join(query.split()),
        origin=origin,
    )


class _AlternativeDoc(msgspec.Struct, forbid_unknown_fields=True):
    """One alternative as ``signatures.json`` writes it (``Alternative.to_json``)."""

    phrases: list[str]
    forbidden: list[str] = []
    files: list[str] = []
    files_not: list[str] = []
    builds: list[str] = []
    builds_not: list[str] = []


class _SignatureDoc(msgspec.Struct):
    """One entry of a signature JSON file (``Signature.to_json``)."""

    bug: int
    alternatives: list[_AlternativeDoc]
    title: str | None = None
    query: str = ""
    test_ids: list[str] = []
    resolved_at: str | None = None


class _SignatureFile(msgspec.Struct):
    signatures: list[_SignatureDoc]


class _QueryDoc(msgspec.Struct):
    """An elastic-recheck ``queries/<bug>.yaml`` document."""

    query: str
    bug: int | None = None
    title: str | None = None
    test_ids: list[str] = []
    #: YAML reads ``2014-07-01`` as a date: any scalar is kept as text.
    resolved_at: Any = None


def signature_from_json(doc: Mapping[str, Any] | _SignatureDoc, origin: str) -> Signature:
    """A :class:`Signature` from one entry of a signature JSON file; ValueError if unusable."""
    if isinstance(doc, _SignatureDoc):
        entry = doc
    else:
        from ostk.documents import validate  # YAML and generic validation: user files only

        entry = validate(doc, _SignatureDoc, source=origin, error=InputError)
    if entry.bug <= 0:
        raise ValueError(f"bug {entry.bug} is not a bug number")
    alternatives = tuple(
        Alternative(
            tuple(a.phrases), tuple(a.forbidden), tuple(a.files), tuple(a.files_not), tuple(a.builds),
            tuple(a.builds_not),
        )
        for a in entry.alternatives
    )
    if not alternatives or not all(a.phrases for a in alternatives):
        raise ValueError("every alternative needs phrases")
    return Signature(
        bug=entry.bug,
        title=entry.title or f"bug {entry.bug}",
        alternatives=alternatives,
        test_ids=tuple(entry.test_ids),
        resolved_at=entry.resolved_at,
        query=entry.query,
        origin=origin,
    )


@dataclass(frozen=True)
class _Indexed:
    signature: Signature
    alternative: Alternative
    phrases: tuple[str, ...]
    forbidden: tuple[str, ...]


class SignatureSet:
    """A searchable collection of signatures.

    Example::

        sigs = load_signatures(os.environ)
        matches = sigs.match("No space left on device", log_name="console.html")
    """

    def __init__(
        self, signatures: Iterable[Signature], warnings: Iterable[str] = (), *, cache: Path | None = None
    ) -> None:
        self.signatures: tuple[Signature, ...] = tuple(signatures)
        #: Files or entries that could not be loaded, one line each.
        self.warnings: tuple[str, ...] = tuple(warnings)
        #: Where compiled line matchers are kept between runs (None: compiled per process).
        self.cache = cache
        # Building a matcher filters every signature: reuse one per (log, job) in match().
        self._matchers: dict[tuple[str, str | None], SignatureMatcher] = {}

    def __len__(self) -> int:
        return len(self.signatures)

    def __getstate__(self) -> dict[str, Any]:
        # Sent to analysis processes: the matcher cache is rebuilt there when needed.
        state = self.__dict__.copy()
        state["_matchers"] = {}
        return state

    def matcher(
        self, *, log_name: str = "", job_name: str | None = None, only_named: bool = False
    ) -> SignatureMatcher:
        """A matcher for one log: file and build filters are decided once, here.

        ``only_named``: only the signatures whose file filter names this log
        (for service logs fetched because some signature needs them)."""
        return SignatureMatcher(self, log_name=log_name, job_name=job_name, only_named=only_named)

    def unmatchable(self) -> tuple[tuple[int, str], ...]:
        """(bug, why) for each alternative that can never match a line: Lucene drops
        phrases without a word (``"+"``, ``"::"``), so an alternative made only of
        those has nothing to look for."""
        out = []
        for sig in self.signatures:
            for alt in sig.alternatives:
                if _rule(alt) is None:
                    quoted = " + ".join(f'"{p}"' for p in alt.phrases)
                    out.append((sig.bug, f"no word to look for in {quoted}"))
        return tuple(out)

    def match(
        self,
        text: str,
        *,
        log_name: str = "",
        job_name: str | None = None,
        failed_tests: Collection[str] = (),
    ) -> tuple[BugMatch, ...]:
        """The bugs whose signature one event (a line, or a traceback) matches, best first."""
        key = (log_name, job_name)
        base = self._matchers.get(key)
        if base is None:
            base = self._matchers[key] = self.matcher(log_name=log_name, job_name=job_name)
        m = base.fresh()
        m.feed(text)
        return m.results(failed_tests)


@dataclass
class _Hit:
    signature: Signature
    score: float
    why: list[str] = field(default_factory=list)


class SignatureMatcher:
    """Accumulates signature hits over the events of one log.

    ``only_named``: keep only the alternatives that name this file in a
    ``tags``/``filename`` filter (a service log fetched for those signatures).
    """

    def __init__(
        self, sigset: SignatureSet, *, log_name: str, job_name: str | None, only_named: bool = False
    ) -> None:
        self._index: dict[str, list[tuple[_Indexed, float, str]]] = {}
        self._hits: dict[int, _Hit] = {}
        self._sigset = sigset
        #: Set once a block hook checks every line (see :meth:`block_hook`).
        self._lines_checked = False
        self._where = "" if not only_named else f" in {log_name.split('?', 1)[0].rstrip('/')}"
        #: The alternatives checked on every line, as matcher rules (same order).
        self._entries: list[tuple[_Indexed, float, str]] = []
        self._rules: list[Rule] = []
        path = log_path(log_name)
        for sig in sigset.signatures:
            for alt in sig.alternatives:
                if not files_ok(alt, path) or (only_named and not restricted(alt)):
                    continue
                score, note = _build_score(alt, job_name)
                if score == 0:
                    continue
                rule = _rule(alt)
                if rule is None:
                    continue  # phrases of punctuation only: nothing to look for
                phrases = tuple(normalize(p) for p in alt.phrases if words(p))
                forbidden = tuple(normalize(p) for p in alt.forbidden if words(p))
                entry = (_Indexed(sig, alt, phrases, forbidden), score, note)
                anchor = max((w for p in phrases for w in p.split()), key=len)
                self._index.setdefault(anchor, []).append(entry)
                self._entries.append(entry)
                self._rules.append(rule)

    def __len__(self) -> int:
        """How many alternatives apply to this log."""
        return len(self._entries)

    def fresh(self) -> SignatureMatcher:
        """A matcher with the same index and no hits yet."""
        clone = object.__new__(SignatureMatcher)
        clone.__dict__.update(self.__dict__)
        clone._hits = {}
        clone._lines_checked = False
        return clone

    def block_hook(self, markers: tuple[bytes, ...] = (), *, engine: str | None = None) -> BlockHook:
        """Check every line of the blocks given to the hook against every alternative.

        The hook takes ``(block, pos, size, first_line, markers)`` (complete lines
        in ``block[pos:size]``), records the signature hits, and returns the
        offsets of the requested ``markers``, found in the same pass.
        """
        scanner = build_engine(self._rules, markers, cache=self._sigset.cache, kind=engine).scanner()
        entries = self._entries
        # Every line goes through the hook: single-line events need no second look.
        self._lines_checked = True

        def hook(block: bytes, pos: int, size: int, first_line: int | LineIndex, wanted: Sequence[bytes]) -> list[int]:
            result = scanner.scan(block, pos, size, first_line, wanted)
            for hit in result.hits:
                item, score, note = entries[hit.rule]
                self._record(item, score, note, hit.line, hit.text)
            return result.markers

        return hook

    def feed(self, text: str, line: int | None = None) -> bool:
        """Check one event (a line, a traceback); return True if some signature matched it."""
        if not self._index or (self._lines_checked and "\n" not in text):
            return False
        norm = normalize(text)
        found = False
        for word in set(norm.split()):
            entries = self._index.get(word)
            if not entries:
                continue
            for item, score, note in entries:
                if not all(p in norm for p in item.phrases):
                    continue
                if any(p in norm for p in item.forbidden):
                    continue
                found = True
                self._record(item, score, note, line)
        return found

    def _record(self, item: _Indexed, score: float, note: str, line: int | None, text: bytes = b"") -> None:
        sig = item.signature
        hit = self._hits.get(sig.bug)
        if hit is None:
            hit = self._hits[sig.bug] = _Hit(sig, score)
            where = f" ({self._where.strip()}, line {line})" if self._where and line else (
                f" (line {line})" if line else self._where)
            quoted = " + ".join(f'"{p}"' for p in item.alternative.phrases)
            hit.why.append(f"log matches {quoted}{where}")
            if text:
                quote = text[:QUOTE].decode("utf-8", "replace")
                hit.why.append("  " + clean_text(quote) + ("…" if len(text) > QUOTE else ""))
            if note:
                hit.why.append(note)
        elif score > hit.score:
            hit.score = score

    def results(self, failed_tests: Collection[str] = ()) -> tuple[BugMatch, ...]:
        """The bugs matched so far, best first."""
        out = []
        tests = {_bare_test_id(t) for t in failed_tests}
        for hit in self._hits.values():
            sig = hit.signature
            score = hit.score
            why = list(hit.why)
            if sig.test_ids:
                wanted = {_bare_test_id(t) for t in sig.test_ids}
                if tests and not tests & wanted:
                    continue
                if not tests:
                    score = min(score, UNCHECKED_BUILD)
                    why.append("the signature names tests; none were identified in the log")
                else:
                    why.append("a failing test is one the signature names")
            if sig.resolved_at:
                score *= RESOLVED_FACTOR
                why.append(f"marked resolved ({sig.resolved_at})")
            out.append(
                BugMatch(
                    number=sig.bug,
                    title=sig.title,
                    status=None,
                    url=sig.url,
                    score=score,
                    source="signature",
                    why=tuple(why),
                )
            )
        out.sort(key=lambda b: (-b.score, b.number))
        return tuple(out)


def _bare_test_id(test_id: str) -> str:
    return test_id.split("[", 1)[0].strip()


def _rule(alt: Alternative) -> Rule | None:
    """An alternative as a line rule; None when no phrase has a word to look for.

    Lucene drops a phrase that its analyzer reduces to nothing (``"+"``,
    ``"::"``): such a phrase constrains nothing, so it is left out here too.
    """
    phrases = tuple(w for w in (words(p) for p in alt.phrases) if w)
    if not phrases:
        return None
    forbidden = tuple(w for w in (words(p) for p in alt.forbidden) if w)
    return Rule(phrases, forbidden)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|\x1b\[[0-9;]*[A-Za-z]")


def one_line(text: str) -> str:
    """An error detail fit for one line: blanks collapsed, controls dropped, bounded."""
    text = " ".join(clean_text(text).split())
    return text if len(text) <= 200 else text[:199] + "…"


def clean_text(text: str) -> str:
    """A log line fit to print: no colour codes or control characters."""
    return _CONTROL.sub("", text).strip()


def _build_score(alt: Alternative, job_name: str | None) -> tuple[float, str]:
    if not alt.builds and not alt.builds_not:
        return EXACT, ""
    if job_name is None:
        names = ", ".join(alt.builds) or "not " + ", ".join(alt.builds_not)
        return UNCHECKED_BUILD, f"the signature is for builds {names}; the job name is unknown"
    if not all(fnmatch.fnmatchcase(job_name, b) for b in alt.builds):
        return 0.0, ""
    if any(fnmatch.fnmatchcase(job_name, b) for b in alt.builds_not):
        return 0.0, ""
    return EXACT, ""


def read_signature_file(path: Path, origin: str | None = None) -> list[Signature]:
    """Signatures from one file: our JSON format, or one elastic-recheck ``<bug>.yaml``.

    Raises :class:`InputError` (one line naming the file) when the file cannot
    be read or understood: bad syntax, nesting or alias bombs, wrong shapes.
    """
    try:
        if path.stat().st_size > MAX_FILE:
            raise InputError(f"{path}: larger than {MAX_FILE // (1024 * 1024)} MiB, not a signature file")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read signature file {path}: {exc}") from exc
    origin = origin or str(path)
    source = str(path)
    if path.suffix in (".yaml", ".yml"):
        # PyYAML is imported only for elastic-recheck YAML files (start-up, issue 14).
        from ostk.documents import load_yaml, validate

        doc = load_yaml(text, source=source, error=InputError)
        if not isinstance(doc, dict) or "query" not in doc:
            raise InputError(f"{path}: expected an elastic-recheck query document with 'query:'")
        query = validate(doc, _QueryDoc, source=source, error=InputError, strict=False)
        resolved = query.resolved_at
        if isinstance(resolved, (dict, list)):
            raise InputError(f"{path}: resolved_at must be a date or text")
        fields = {"query": query.query, "title": query.title, "test_ids": query.test_ids,
                  "resolved_at": None if resolved is None else str(resolved)}
        try:
            return [signature_from_query(int(query.bug or path.stem), fields, origin)]
        except (ValueError, QueryError) as exc:
            raise InputError(f"{path}: cannot use this query: {exc}") from exc
    try:
        # Decoded straight into the model: a wrong shape or nesting stops at its first
        # byte, and the shipped file loads without a generic pass over its tree.
        shaped = msgspec.json.decode(text, type=_SignatureFile | list[_SignatureDoc])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InputError(f"{path}: not a signature file ({one_line(str(exc))})") from None
    except RecursionError:
        raise InputError(f"{path}: not a signature file (nested too deeply)") from None
    entries = shaped.signatures if isinstance(shaped, _SignatureFile) else shaped
    try:
        return [signature_from_json(entry, origin) for entry in entries]
    except ValueError as exc:
        raise InputError(f"{path}: not a signature file ({exc})") from exc


def load_signatures(environ: Mapping[str, str], *, shipped: bool = True) -> SignatureSet:
    """The shipped signatures plus the user's (``~/.config/ostk/signatures/*.{json,yaml}``).

    A user file that cannot be read is skipped with a warning, not an error:
    one bad file should not stop the analysis of a log. User signatures for a
    bug replace the shipped one.
    """
    warnings: list[str] = []
    by_bug: dict[int, Signature] = {}
    if shipped:
        for sig in read_signature_file(SHIPPED, "shipped"):
            by_bug[sig.bug] = sig
    user_dir = config_dir(environ) / "signatures"
    if user_dir.is_dir():
        for path in sorted(user_dir.iterdir()):
            if path.suffix not in (".json", ".yaml", ".yml") or not path.is_file():
                continue
            try:
                for sig in read_signature_file(path):
                    by_bug[sig.bug] = sig
            except InputError as exc:
                warnings.append(f"signature file skipped: {exc}")
    return SignatureSet(by_bug.values(), warnings, cache=cache_dir(environ) / "recheck" / "matchers")
