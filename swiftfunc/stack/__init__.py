"""Deprecated alias of :mod:`stack` (``ostk stack`` is its own package now).

Kept for one release so that ``from swiftfunc.stack import local_stack`` and
``pytest_plugins = ["swiftfunc.stack.pytest_plugin"]`` keep working; import
:mod:`stack` instead.
"""
from __future__ import annotations

import warnings

warnings.warn(
    "swiftfunc.stack moved to the top-level package 'stack'; import stack instead",
    DeprecationWarning,
    stacklevel=2,
)

from stack import *  # noqa: E402,F403  (the alias re-exports the whole public API)
from stack import __all__  # noqa: E402,F401
