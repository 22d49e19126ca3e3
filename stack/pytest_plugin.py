"""pytest fixtures: one real keystone (and swift) per test run.

Enable with ``pytest_plugins = ["stack.pytest_plugin"]`` in a
conftest. ``keystone_stack`` starts keystone on a free port in a temporary
directory the first time a test asks for it; ``swift_stack`` adds swift to
that same stack. Both are stopped (and their files deleted) at the end of the
session. Venvs are reused across runs (``OSTK_VENVS_DIR`` or
``~/.local/share/ostk/venvs``); the first run creates them (~1 min).
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from stack import Stack
from stack.ports import free_ports

_WANTS_SWIFT = pytest.StashKey[bool]()


__all__ = ["keystone_stack", "pytest_collection_finish", "swift_stack"]


def pytest_collection_finish(session: pytest.Session) -> None:
    # If any selected test needs swift, the first `up` starts it too: both
    # venvs then build in parallel on a fresh machine instead of one by one.
    session.config.stash[_WANTS_SWIFT] = any(
        "swift_stack" in getattr(item, "fixturenames", ()) for item in session.items
    )


@pytest.fixture(scope="session")
def _ostk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    keystone_port, swift_port = free_ports(2)
    stack = Stack(
        tmp_path_factory.mktemp("ostk-stack"), keystone_port=keystone_port, swift_port=swift_port,
        # A test run killed with -9 must not leave servers running.
        die_with_parent=True,
    )
    try:
        yield stack
    finally:
        stack.down(purge=True)


@pytest.fixture(scope="session")
def keystone_stack(_ostk_stack: Stack, pytestconfig: pytest.Config) -> Stack:
    """A running keystone (``.keystone_url``, ``.admin``, ``.os_environ()``).

    Swift runs too when a selected test also asks for ``swift_stack``.
    """
    _ostk_stack.up(swift=pytestconfig.stash.get(_WANTS_SWIFT, False))
    return _ostk_stack


@pytest.fixture(scope="session")
def swift_stack(_ostk_stack: Stack) -> Stack:
    """The same stack with swift running too (``.swift_url``, ``.swift_python``)."""
    _ostk_stack.up(swift=True)
    return _ostk_stack
