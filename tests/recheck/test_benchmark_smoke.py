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
    for label in ("gz", "plain"):
        r = doc[label]
        # The generator plants failures (and a failed ansible task); both contenders see the same log.
        assert r["ours_failures"] >= 1
        assert r["grep_matching_lines"] >= 1
        assert r["ours_lines"] > 10_000
        assert r["ratio"] > 0 and r["ours_max_rss_mb"] < 200
    assert doc["gz"]["ours_lines"] == doc["plain"]["ours_lines"]
