"""Placeholder handler for commands whose issue has not landed yet."""
from __future__ import annotations

import argparse

from ostk.environment import Environment
from ostk.errors import UsageError


def not_implemented(name: str):  # type: ignore[no-untyped-def]
    """A handler that refuses honestly (exit 2) instead of pretending to work."""

    def handler(args: argparse.Namespace, env: Environment) -> int:
        raise UsageError(f"'ostk {name}' is not implemented yet")

    return handler
