"""The benchmark script runs (tiny sizes): it lists, analyses, re-runs and reports figures."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_benchmark_smoke_run() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gate_report.py"), "--builds", "4", "--size-mb", "1",
         "--modes", "workers1", "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    figures = json.loads(done.stdout)
    assert figures["builds"] == 4
    assert figures["modes"]["workers1"]["builds_per_s"] > 0
    assert 0 < figures["modes"]["workers1"]["peak_rss_mb"] < 500
    assert figures["rerun_seconds"] > 0
