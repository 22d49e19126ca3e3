"""The benchmark script runs (tiny size): it generates, analyses and compares."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_smoke_run(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "recheck_scan.py"), "--size-mb", "2", "--json",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    doc = json.loads(done.stdout)
    # The generator plants failures (and a failed ansible task); every contender reads the same log.
    assert doc["ours"]["failures"] >= 1 and doc["ours_all"]["failures"] == doc["ours"]["failures"]
    assert doc["grep"]["matching_lines"] >= 1
    assert doc["inflate"]["seconds"] > 0 and doc["ours"]["max_rss_mb"] < 200
    # The pure-Python matcher finds exactly what Hyperscan finds.
    assert doc["ratios"]["same_findings_python"] is True
    assert set(doc["ratios"]) >= {"ours_vs_inflate", "ours_all_vs_inflate", "ours_vs_grep"}
