"""Known-failure signatures: bug number → the log lines that betray it.

The shipped set (``recheck/data/signatures.json``) is built from
elastic-recheck's queries by ``recheck/data/build_signatures.py``. Users add
their own under ``~/.config/ostk/signatures/`` as ``*.json`` (the same
format) or ``<bug>.yaml`` (elastic-recheck's query format).

Matching is Lucene-like: case-insensitive and token-wise, so punctuation and
runs of blanks do not matter. It must stay cheap on huge logs, so each
alternative is indexed under one rare token (its longest); an event is only
checked against the alternatives whose token it contains.
"""
from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ostk.dirs import config_dir
from ostk.errors import InputError
from recheck.lucene import Alternative, QueryError, parse_query
from recheck.models import BugMatch

SHIPPED = Path(__file__).with_name("data") / "signatures.json"
LAUNCHPAD_BUG = "https://bugs.launchpad.net/bugs/{}"

#: Score of a match whose every condition was checked.
EXACT = 1.0
#: Score when the signature names a build (job) we could not check.
UNCHECKED_BUILD = 0.7
#: A resolved bug is a less likely explanation for today's failure.
RESOLVED_FACTOR = 0.5

_WORD = re.compile(r"[a-z0-9]+")
_CONSOLE_TAGS = frozenset({"console", "console.html", "consoletext", "job-output.txt", "job-output.json"})
_SERVICE_LOG = re.compile(r"(?:^|/)(?:screen-|syslog|.*\.log(?:\.txt)?$)")


def normalize(text: str) -> str:
    """Lowercase word tokens joined by single blanks, padded: ``" no space left "``."""
    return " " + " ".join(_WORD.findall(text.lower())) + " "


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


def signature_from_json(doc: Mapping[str, Any], origin: str) -> Signature:
    alternatives = tuple(
        Alternative(**{k: tuple(str(x) for x in v) for k, v in alt.items()}) for alt in doc["alternatives"]
    )
    if not alternatives or not all(a.phrases for a in alternatives):
        raise ValueError("every alternative needs phrases")
    return Signature(
        bug=int(doc["bug"]),
        title=str(doc.get("title") or f"bug {doc['bug']}"),
        alternatives=alternatives,
        test_ids=tuple(str(t) for t in doc.get("test_ids") or ()),
        resolved_at=doc.get("resolved_at"),
        query=str(doc.get("query") or ""),
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

    def __init__(self, signatures: Iterable[Signature], warnings: Iterable[str] = ()) -> None:
        self.signatures: tuple[Signature, ...] = tuple(signatures)
        #: Files or entries that could not be loaded, one line each.
        self.warnings: tuple[str, ...] = tuple(warnings)
        # Building a matcher filters every signature: reuse one per (log, job) in match().
        self._matchers: dict[tuple[str, str | None], SignatureMatcher] = {}

    def __len__(self) -> int:
        return len(self.signatures)

    def __getstate__(self) -> dict[str, Any]:
        # Sent to analysis processes: the matcher cache is rebuilt there when needed.
        state = self.__dict__.copy()
        state["_matchers"] = {}
        return state

    def matcher(self, *, log_name: str = "", job_name: str | None = None) -> SignatureMatcher:
        """A matcher for one log: file and build filters are decided once, here."""
        return SignatureMatcher(self, log_name=log_name, job_name=job_name)

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
    """Accumulates signature hits over the events of one log."""

    def __init__(self, sigset: SignatureSet, *, log_name: str, job_name: str | None) -> None:
        self._index: dict[str, list[tuple[_Indexed, float, str]]] = {}
        self._hits: dict[int, _Hit] = {}
        path = _log_path(log_name)
        for sig in sigset.signatures:
            for alt in sig.alternatives:
                if not _files_ok(alt, path):
                    continue
                score, note = _build_score(alt, job_name)
                if score == 0:
                    continue
                phrases = tuple(normalize(p) for p in alt.phrases)
                forbidden = tuple(normalize(p) for p in alt.forbidden)
                words = [w for p in phrases for w in p.split()]
                if not words:
                    continue  # phrases of punctuation only: nothing to anchor on
                anchor = max(words, key=len)
                entry = (_Indexed(sig, alt, phrases, forbidden), score, note)
                self._index.setdefault(anchor, []).append(entry)

    def fresh(self) -> SignatureMatcher:
        """A matcher with the same index and no hits yet."""
        clone = object.__new__(SignatureMatcher)
        clone._index = self._index
        clone._hits = {}
        return clone

    def feed(self, text: str, line: int | None = None) -> bool:
        """Check one event; return True if some signature matched it."""
        if not self._index:
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
                if any(p.strip() and p in norm for p in item.forbidden):
                    continue
                found = True
                self._record(item, score, note, line)
        return found

    def _record(self, item: _Indexed, score: float, note: str, line: int | None) -> None:
        sig = item.signature
        hit = self._hits.get(sig.bug)
        if hit is None:
            hit = self._hits[sig.bug] = _Hit(sig, score)
            where = f" (line {line})" if line else ""
            quoted = " + ".join(f'"{p}"' for p in item.alternative.phrases)
            hit.why.append(f"log matches {quoted}{where}")
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


def _log_path(log_name: str) -> str:
    path = log_name.split("?", 1)[0].split("#", 1)[0].rstrip("/").lower()
    if path.endswith(".gz"):
        path = path[:-3]
    return path


def _is_console(path: str) -> bool:
    base = PurePosixPath(path).name if path else ""
    if not base or base in _CONSOLE_TAGS:
        return True
    return not _SERVICE_LOG.search(path)


def _file_matches(pattern: str, path: str) -> bool:
    pattern = pattern.lower().strip()
    if pattern in _CONSOLE_TAGS:
        return _is_console(path)
    if not path:
        return False
    base = PurePosixPath(path).name
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(path, "*" + pattern.lstrip("*")) or fnmatch.fnmatchcase(base, pattern)
    return base == pattern or path.endswith("/" + pattern) or path == pattern


def _files_ok(alt: Alternative, path: str) -> bool:
    if not all(_file_matches(p, path) for p in alt.files):
        return False
    return not any(_file_matches(p, path) for p in alt.files_not)


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

    Raises :class:`InputError` when the file cannot be read or understood.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read signature file {path}: {exc}") from exc
    origin = origin or str(path)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
        if not isinstance(doc, dict) or "query" not in doc:
            raise InputError(f"{path}: expected an elastic-recheck query document with 'query:'")
        bug = doc.get("bug") or path.stem
        try:
            return [signature_from_query(int(bug), doc, origin)]
        except (ValueError, QueryError) as exc:
            raise InputError(f"{path}: cannot use this query: {exc}") from exc
    try:
        doc = json.loads(text)
        entries = doc["signatures"] if isinstance(doc, dict) else doc
        return [signature_from_json(entry, origin) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a signature file ({exc.__class__.__name__}: {exc})") from exc


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
    return SignatureSet(by_bug.values(), warnings)
