"""The benchmark script runs (a smoke run; the real figures are taken by hand)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pki_verify.py"


def test_benchmark_smoke_run_prints_the_ratios():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "ours / keystoneclient" in proc.stdout
    assert "ours / bare RSA" in proc.stdout
    assert "revocation list of" in proc.stdout
