"""Read elastic-recheck's Lucene queries into plain matching conditions.

elastic-recheck described each known gate bug as a Lucene query over
logstash events (``message:"…" AND tags:"console" AND build_name:…``). We
keep what can be checked offline against one log: message phrases (required
or forbidden), file name/tag filters and build (job) names. Other fields
(``project``, ``build_queue``, ``loglevel``…) describe the indexing, not the
failure, and are recorded as ignored.

The query is turned into disjunctive normal form: a list of alternatives,
each one a conjunction that a single log event must satisfy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: Fields whose value names the log file the event came from.
FILE_FIELDS = frozenset({"tags", "filename", "@tags", "@fields.filename"})
BUILD_FIELDS = frozenset({"build_name", "@fields.build_name"})
MESSAGE_FIELDS = frozenset({"message", "@message"})

#: A DNF bigger than this is a query we do not try to represent.
MAX_ALTERNATIVES = 64

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))', re.S)


#: A parsed query: ``("term", field, value)``, ``("not", node)``, ``("and"|"or", [nodes])``.
Node = tuple[Any, ...]


class QueryError(ValueError):
    """The query is not Lucene we understand."""


@dataclass(frozen=True)
class Alternative:
    """One way a signature matches: every condition must hold for one event."""

    #: Phrases the event must contain (case-insensitive, token-wise like Lucene).
    phrases: tuple[str, ...] = ()
    #: Phrases the event must not contain.
    forbidden: tuple[str, ...] = ()
    #: File name or tag patterns the log must match (all of them).
    files: tuple[str, ...] = ()
    files_not: tuple[str, ...] = ()
    #: Build (job) name patterns; all must match when the job name is known.
    builds: tuple[str, ...] = ()
    builds_not: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        doc = {
            "phrases": list(self.phrases),
            "forbidden": list(self.forbidden),
            "files": list(self.files),
            "files_not": list(self.files_not),
            "builds": list(self.builds),
            "builds_not": list(self.builds_not),
        }
        return {k: v for k, v in doc.items() if v}


@dataclass(frozen=True)
class ParsedQuery:
    """A query as alternatives, plus the fields we could not check offline."""

    alternatives: tuple[Alternative, ...]
    ignored_fields: tuple[str, ...] = field(default=())


def parse_query(text: str) -> ParsedQuery:
    """Parse a Lucene query string; raise :class:`QueryError` if we cannot."""
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    node = parser.expression()
    if parser.pos != len(tokens):
        raise QueryError(f"unexpected {tokens[parser.pos][1]!r}")
    ignored: set[str] = set()
    alternatives = []
    for conjunction in _dnf(node, False):
        alt = _alternative(conjunction, ignored)
        if alt is not None and alt not in alternatives:
            alternatives.append(alt)
    return ParsedQuery(tuple(alternatives), tuple(sorted(ignored)))


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise QueryError(f"cannot read the query near {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group(1):
            tokens.append(("(", "("))
        elif m.group(2):
            tokens.append((")", ")"))
        elif m.group(3) is not None:
            tokens.append(("phrase", re.sub(r"\\(.)", r"\1", m.group(3), flags=re.S)))
        else:
            word = m.group(4)
            if word in ("AND", "&&"):
                tokens.append(("AND", word))
            elif word in ("OR", "||"):
                tokens.append(("OR", word))
            elif word in ("NOT", "!"):
                tokens.append(("NOT", word))
            else:
                tokens.append(("word", word))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise QueryError("the query ends too early")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expression(self, default_field: str = "message") -> Node:
        items = [self.conjunction(default_field)]
        while self.peek() == "OR":
            self.take()
            items.append(self.conjunction(default_field))
        return items[0] if len(items) == 1 else ("or", items)

    def conjunction(self, default_field: str) -> Node:
        items = [self.unary(default_field)]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
            items.append(self.unary(default_field))
        return items[0] if len(items) == 1 else ("and", items)

    def unary(self, default_field: str) -> Node:
        if self.peek() == "NOT":
            self.take()
            return ("not", self.unary(default_field))
        return self.primary(default_field)

    def primary(self, default_field: str) -> Node:
        kind, value = self.take()
        if kind == "(":
            group = self.expression(default_field)
            if self.take()[0] != ")":
                raise QueryError("unbalanced parentheses")
            return group
        if kind == "phrase":
            return ("term", default_field, value)
        if kind != "word":
            raise QueryError(f"unexpected {value!r}")
        negate = value.startswith("-") and len(value) > 1
        if negate:
            value = value[1:]
        if ":" in value and not value.startswith(":"):
            name, _, rest = value.partition(":")
            name = name.lower()
            if rest:
                node: Node = ("term", name, rest)
            elif self.peek() == "(":
                self.take()
                node = self.expression(name)
                if self.take()[0] != ")":
                    raise QueryError("unbalanced parentheses")
            else:
                vkind, vvalue = self.take()
                if vkind not in ("phrase", "word"):
                    raise QueryError(f"{name}: has no value")
                node = ("term", name, vvalue)
        else:
            node = ("term", default_field, value)
        return ("not", node) if negate else node


def _dnf(node: Node, negated: bool) -> list[list[tuple[str, str, bool]]]:
    kind = node[0]
    if kind == "term":
        return [[(node[1], node[2], negated)]]
    if kind == "not":
        return _dnf(node[1], not negated)
    parts = [_dnf(child, negated) for child in node[1]]
    if (kind == "or") != negated:
        return [conj for part in parts for conj in part]
    result: list[list[tuple[str, str, bool]]] = [[]]
    for part in parts:
        result = [a + b for a in result for b in part]
        if len(result) > MAX_ALTERNATIVES:
            raise QueryError("the query has too many alternatives")
    return result


def _alternative(conjunction: list[tuple[str, str, bool]], ignored: set[str]) -> Alternative | None:
    phrases: list[str] = []
    forbidden: list[str] = []
    files: list[str] = []
    files_not: list[str] = []
    builds: list[str] = []
    builds_not: list[str] = []
    for name, value, negated in conjunction:
        value = value.strip()
        if name in MESSAGE_FIELDS:
            (forbidden if negated else phrases).append(" ".join(value.split()))
        elif name in FILE_FIELDS:
            (files_not if negated else files).append(value)
        elif name in BUILD_FIELDS:
            (builds_not if negated else builds).append(value)
        else:
            ignored.add(name)
    if not phrases:
        return None
    return Alternative(
        tuple(phrases), tuple(forbidden), tuple(files), tuple(files_not), tuple(builds), tuple(builds_not)
    )
