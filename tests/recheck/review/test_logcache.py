"""The analysis cache: round trip, LRU under a size cap, atomic and private."""
from __future__ import annotations

import os
import stat
import time

from recheck.logcache import LogCache
from recheck.models import BugMatch, Failure, FailureKind, LogAnalysis

ANALYSIS = LogAnalysis(
    failures=(Failure(FailureKind.TEST, "tempest.x.T.test_y", "boom", 12, "Traceback..."),),
    signature_matches=(BugMatch(1234, "boom bug", None, "https://bugs.launchpad.net/bugs/1234", 1.0, "signature", ("query",)),),
    lines=100,
    bytes=5000,
)


def test_round_trip(tmp_path):
    cache = LogCache(tmp_path / "c")
    assert cache.get("http://x/job-output.txt") is None
    cache.put("http://x/job-output.txt", ANALYSIS)
    assert cache.get("http://x/job-output.txt") == ANALYSIS


def test_private_and_no_temporary_files_left(tmp_path):
    cache = LogCache(tmp_path / "c")
    cache.put("k", ANALYSIS)
    assert stat.S_IMODE(os.stat(cache.directory).st_mode) == 0o700
    [entry] = os.listdir(cache.directory)
    assert entry.endswith(".json") and not entry.startswith(".")
    assert stat.S_IMODE(os.stat(cache.directory / entry).st_mode) == 0o600


def test_truncated_analyses_are_not_cached(tmp_path):
    cache = LogCache(tmp_path / "c")
    cache.put("k", LogAnalysis(failures=(), truncated=True))
    assert cache.get("k") is None


def test_least_recently_used_entries_go_first(tmp_path):
    cache = LogCache(tmp_path / "c", max_bytes=10**9)
    for key in ("a", "b", "c"):
        cache.put(key, ANALYSIS)
    old = time.time() - 100
    for key, age in (("a", 10), ("b", 20), ("c", 30)):
        os.utime(cache.path_for(key), (old + age, old + age))
    assert cache.get("a") == ANALYSIS  # touching "a" makes it the most recent
    size = cache.path_for("a").stat().st_size
    cache.max_bytes = 2 * size
    cache.prune()
    assert cache.get("b") is None
    assert cache.get("a") == ANALYSIS and cache.get("c") == ANALYSIS


def test_a_damaged_entry_is_a_miss(tmp_path):
    cache = LogCache(tmp_path / "c")
    cache.put("k", ANALYSIS)
    cache.path_for("k").write_text("{not json")
    assert cache.get("k") is None
