"""The review benchmark script runs (tiny size): it stays runnable for the closing figures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "recheck_review.py"


@pytest.mark.slow
def test_benchmark_smoke_run():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--size-mb", "1", "--jobs", "2", "--rate-kb", "4096"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ratio" in result.stdout and "second run" in result.stdout and "peak memory" in result.stdout
    assert "recheck bug #1900001" in result.stdout
