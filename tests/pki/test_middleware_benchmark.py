"""The middleware benchmark runs end to end (a smoke run; real figures are taken by hand)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pki_middleware.py"


def test_benchmark_smoke_run_prints_the_ratios():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cached / bare" in proc.stdout and "uncached / bare" in proc.stdout
    assert "in-process" in proc.stdout
