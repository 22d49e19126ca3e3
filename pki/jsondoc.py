"""JSON documents from outside (revocation lists, payloads to sign), parsed with a depth limit.

Uses the core's ``ostk.documents.parse_json`` once it exists; until then the
same contract here: nesting deeper than ``max_depth`` (or deep enough to
exhaust Python's recursion) is ``error(f"{source}: ...")``, one line, never
a RecursionError.
"""
from __future__ import annotations

import json
from typing import Any

from ostk.errors import OstkError

__all__ = ["parse_json"]

MAX_DEPTH = 64


def _depth_ok(document: Any, max_depth: int) -> bool:
    # Iterative, so checking a deep document cannot itself overflow the stack.
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > max_depth:
                return False
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def parse_json(data: bytes | str, *, source: str, error: type[OstkError], max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data``; anything malformed or too deep raises ``error`` naming ``source``."""
    try:
        from ostk.documents import parse_json as core_parse_json  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        return core_parse_json(data, source=source, error=error, max_depth=max_depth)
    try:
        document = json.loads(data)
    except RecursionError:
        raise error(f"{source}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{source}: not JSON ({exc})") from None
    if not _depth_ok(document, max_depth):
        raise error(f"{source}: JSON nested deeper than {max_depth} levels")
    return document
