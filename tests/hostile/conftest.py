import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Let the tests here (and other engineers' tests/hostile/test_<area>.py)
# import the harness by name: `from harness import Reply, run_cli, assert_refused`.
sys.path.insert(0, str(Path(__file__).parent))

from harness import HostileServer


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A started :class:`harness.HostileServer` on 127.0.0.1."""
    with HostileServer() as server:
        yield server
