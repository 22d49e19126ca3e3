"""Fixtures shared by the whole suite."""
from __future__ import annotations

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
