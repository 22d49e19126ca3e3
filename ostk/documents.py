"""Parse and validate documents that come from outside: JSON and YAML, bounded.

Every document ostk reads — a Gerrit answer, a Zuul build, clouds.yaml, a
signature file, a state file — goes through here, so a hostile one is refused
the same way everywhere: as one line naming its source, raised as the
caller's ``error`` class (``ServiceError`` for a remote answer, exit 4;
``InputError`` for a local file, exit 3).

- :func:`parse_json` refuses invalid JSON, nesting deeper than ``max_depth``
  and integers too large for 64 bits.
- :func:`load_yaml` refuses the same, plus alias bombs ("billion laughs"):
  the document is measured as it would be once aliases are expanded, before
  anything is built from it.
- :func:`validate` converts a parsed document into a typed model (msgspec
  ``Struct``s, dataclasses, ``list[...]``...), turning any shape error into
  ``error("<source>: Expected `int`, got `str` - at `$.x`")``.

Example::

    class Build(msgspec.Struct):
        uuid: str
        log_url: str | None = None

    data = parse_json(body, source="Zuul build", error=ServiceError)
    build = validate(data, Build, source="Zuul build", error=ServiceError)
"""
from __future__ import annotations

from array import array
from collections.abc import Iterator
from itertools import accumulate
from typing import Any, TypeVar

import msgspec
import yaml

from ostk.errors import OstkError
from ostk.redact import escape_control

__all__ = ["MAX_DEPTH", "load_yaml", "parse_json", "validate"]

T = TypeVar("T")

#: Deeper than any real document we read (Gerrit, Zuul, keystone tokens and
#: clouds.yaml stay under 10), far below Python's recursion limit.
MAX_DEPTH = 64
#: Objects + arrays in one JSON document, and values in all: memory, not size,
#: is what a hostile answer attacks (32 MiB of ``[{},{},...]`` is 11 million
#: dicts, 1.5 GB). A keystone revocation list of 100,000 tokens, the largest
#: real document we read, has ~100,000 objects and ~400,000 values.
MAX_CONTAINERS = 500_000
MAX_VALUES = 2_000_000
#: Aliases in one YAML document: clouds.yaml and signature files use a few.
MAX_ALIASES = 100
#: Nodes a YAML document may expand to once aliases are followed.
MAX_YAML_NODES = 1_000_000
#: Longest message excerpt taken from a parser error.
_DETAIL = 200


def parse_json(
    data: bytes | str,
    *,
    source: str,
    error: type[OstkError],
    max_depth: int = MAX_DEPTH,
    max_containers: int = MAX_CONTAINERS,
    max_values: int = MAX_VALUES,
) -> Any:
    """Decode one JSON document, or raise ``error("<source>: ...")``.

    ``source`` names where it came from (a file, "reading the Zuul build:
    https://..."). Refused before anything is built: nesting deeper than
    ``max_depth``, more than ``max_containers`` objects and arrays or
    ``max_values`` values (the Python objects would take gigabytes); then
    invalid JSON and integers beyond 64 bits.
    """
    try:
        raw = data.encode("utf-8") if isinstance(data, str) else data
    except UnicodeError as exc:
        raise error(f"{source}: not valid JSON (not UTF-8: {_detail(exc)})") from None
    brackets, values = _json_structure(raw)
    containers = brackets.count(b"[") + brackets.count(b"{")
    if containers > max_containers:
        raise error(f"{source}: JSON with more than {max_containers:,} objects and arrays")
    if values > max_values:
        raise error(f"{source}: JSON with more than {max_values:,} values")
    if containers > max_depth and _depth(brackets) > max_depth:
        raise error(f"{source}: JSON nested deeper than {max_depth} levels")
    try:
        return msgspec.json.decode(raw)
    except RecursionError:
        raise error(f"{source}: JSON nested deeper than {max_depth} levels") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise error(f"{source}: not valid JSON ({_detail(exc)})") from None


def load_yaml(
    text: str | bytes,
    *,
    source: str,
    error: type[OstkError],
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_nodes: int = MAX_YAML_NODES,
) -> Any:
    """Parse one YAML document safely (``yaml.safe_load`` rules), bounded.

    Refused with ``error("<source>: ...")``: invalid YAML, nesting deeper than
    ``max_depth``, more than ``max_aliases`` aliases, an alias that refers to
    its own ancestor, and a document that expands to more than ``max_nodes``
    nodes — a "billion laughs" file is refused after reading it once, before
    any expansion happens.
    """
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text, max_depth=max_depth, max_aliases=max_aliases)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, max_depth=max_depth, max_nodes=max_nodes)
        return loader.construct_document(node)
    except _Refused as exc:
        raise error(f"{source}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise error(f"{source}: not valid YAML{where} ({_detail(problem)})") from None
    except yaml.YAMLError as exc:
        # ReaderError (binary or control characters) and friends.
        raise error(f"{source}: not valid YAML ({_detail(str(exc).splitlines()[0])})") from None
    except RecursionError:
        raise error(f"{source}: YAML nested deeper than {max_depth} levels") from None
    except (ValueError, OverflowError) as exc:
        # The constructor's own conversions (a timestamp like 2020-99-99).
        raise error(f"{source}: bad YAML value ({_detail(exc)})") from None
    finally:
        if loader is not None:
            loader.dispose()


def validate(obj: Any, model: type[T], *, source: str, error: type[OstkError], strict: bool = True) -> T:
    """Convert a parsed document into ``model``, or raise ``error("<source>: ...")``.

    ``model`` is anything ``msgspec.convert`` accepts: a ``msgspec.Struct``,
    a dataclass, ``list[Model]``, ``dict[str, Model]``... Unknown fields are
    ignored (services add fields), missing required ones and wrong types are
    refused with the path of the offending value. With ``strict=False``
    strings are accepted for numbers and booleans ("8", "true"), as YAML
    authors expect.
    """
    try:
        return msgspec.convert(obj, type=model, strict=strict)
    except msgspec.ValidationError as exc:
        raise error(f"{source}: {_detail(exc)}") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply") from None


# ---------------------------------------------------------------------------
def _detail(exc: object) -> str:
    text = escape_control(str(exc).strip())
    return text if len(text) <= _DETAIL else text[: _DETAIL - 1] + "…"


# ":" is kept so that two strings are never adjacent ('"k":"v"'): then every
# '""' left after translate() is one string without structural characters.
_NOT_STRUCTURAL = bytes(sorted(set(range(256)) - set(b'"[]{},:')))
_CHUNK = 1 << 20
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def _json_structure(data: bytes) -> tuple[bytes, int]:
    """The brackets outside strings of a JSON text, and its number of values, without parsing it.

    Only bytes-level C loops (replace, translate, split, count): ~1 s for
    32 MiB of the worst shapes, against 4 s and 1.5 GB to decode them. Exact
    for valid JSON; for invalid JSON the decoder has the last word.
    """
    # Inside strings a backslash escapes the next byte: drop "\\" pairs
    # first so that every remaining '\"' is an escaped quote, then those.
    text = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    structural = text.translate(None, _NOT_STRUCTURAL).replace(b'""', b"")
    if b'"' in structural:
        structural = _outside_strings(structural)
    brackets = structural.translate(None, b",:")
    values = structural.count(b",") + len(brackets) // 2 + 1
    return brackets, values


def _depth(brackets: bytes) -> int:
    """Deepest nesting of a run of brackets (+1 per opening, -1 per closing)."""
    return max(accumulate(array("b", brackets.translate(_DEPTH_STEPS))), default=0)


def _outside_strings(structural: bytes) -> bytes:
    """The bytes outside quoted strings, split a chunk at a time (bounded memory)."""
    kept = []
    inside = False
    for start in range(0, len(structural), _CHUNK):
        parts = structural[start : start + _CHUNK].split(b'"')
        kept.append(b"".join(parts[1 if inside else 0 :: 2]))
        if len(parts) % 2 == 0:  # an odd number of quotes in this chunk
            inside = not inside
    return b"".join(kept)


class _Refused(Exception):
    """A YAML document over one of the limits (message is user-facing)."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and nesting while composing the node graph."""

    def __init__(self, stream: str | bytes, *, max_depth: int, max_aliases: int) -> None:
        super().__init__(stream)
        self._max_depth = max_depth
        self._max_aliases = max_aliases
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self._max_aliases:
                raise _Refused(f"more than {self._max_aliases} YAML aliases")
        self._depth += 1
        try:
            if self._depth > self._max_depth:
                raise _Refused(f"YAML nested deeper than {self._max_depth} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _check_expansion(root: yaml.Node, *, max_depth: int, max_nodes: int) -> None:
    """Refuse a node graph whose alias expansion is too big, too deep or cyclic.

    Post-order walk over the graph, each node measured once (aliases share
    nodes), so the cost is linear in the file, not in its expansion.
    """
    measured: dict[int, tuple[int, int]] = {}  # id -> (expanded nodes, expanded depth)
    started: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            kids = [measured[id(kid)] for kid in _children(node)]
            size = 1 + sum(n for n, _ in kids)
            depth = 1 + max((d for _, d in kids), default=0)
            if size > max_nodes:
                raise _Refused(f"YAML aliases expand to more than {max_nodes:,} nodes")
            if depth > max_depth:
                raise _Refused(f"YAML nested deeper than {max_depth} levels (through aliases)")
            measured[key] = (size, depth)
            started.discard(key)
            continue
        if key in measured:
            continue
        if key in started:
            raise _Refused("a YAML alias refers to its own parent (recursive document)")
        started.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in _children(node) if id(kid) not in measured)
