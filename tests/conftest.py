"""Fixtures shared by the whole suite."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

pytest_plugins = ["stack.pytest_plugin"]

#: The public, real-world fixtures (see ../shared/fixtures/README.md).
SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """Path to ../shared/fixtures; the suite needs it (CI clones shared/ beside the repo)."""
    assert SHARED_FIXTURES.is_dir(), f"missing {SHARED_FIXTURES}"
    return SHARED_FIXTURES


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the code under test however the suite was started.

    A background job of a non-interactive shell (``cmd &`` in a script) starts
    with SIGINT ignored, and Python then installs no KeyboardInterrupt handler;
    the Ctrl-C tests (exit 130, nothing cached) would see nothing. Python's own
    handler here; the programs the tests start inherit the default action.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
