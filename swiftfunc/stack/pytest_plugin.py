"""Deprecated alias of :mod:`stack.pytest_plugin`."""
from __future__ import annotations

from stack.pytest_plugin import (  # noqa: F401  (pytest collects fixtures and hooks by name)
    _ostk_stack,
    keystone_stack,
    pytest_collection_finish,
    swift_stack,
)
