"""The cache of finished log analyses, so a second ``ostk recheck`` is instant.

A job's logs never change once the build finished, so its analysis is keyed
by the log URL (and the cache format). Only complete analyses are stored:
a cut download or an interrupted run leaves nothing behind, and every entry
is written atomically (temporary file + rename), so a reader never sees half
an entry even after Ctrl-C. The directory is private (0700) and bounded:
when it grows past ``max_bytes`` the least recently used entries go
(reading an entry refreshes its mtime).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ostk.files import atomic_write, ensure_private_dir
from recheck.models import BugMatch, Failure, FailureKind, LogAnalysis

#: Bump when the stored shape or the engine's findings change meaning.
FORMAT = 1
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int


class LogCache:
    """Finished analyses under ``directory`` (``~/.cache/ostk/recheck/analyses``).

    >>> cache = LogCache.for_cache_dir(env.cache_dir)
    >>> cache.get(url) or cache.put(url, analyse(url))
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes

    @classmethod
    def for_cache_dir(cls, cache_dir: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LogCache:
        return cls(cache_dir / "recheck" / "analyses", max_bytes=max_bytes)

    def path_for(self, key: str) -> Path:
        digest = hashlib.sha256(f"{FORMAT}\0{key}".encode()).hexdigest()
        return self.directory / f"{digest}.json"

    def get(self, key: str) -> LogAnalysis | None:
        """The stored analysis for ``key``, or None (a damaged entry counts as missing)."""
        path = self.path_for(key)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            analysis = analysis_from_json(data["analysis"])
            if data.get("key") != key:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return analysis

    def put(self, key: str, analysis: LogAnalysis) -> None:
        """Store a complete analysis (truncated ones are refused: they are not final)."""
        if analysis.truncated:
            return
        ensure_private_dir(self.directory)
        document = {"format": FORMAT, "key": key, "analysis": analysis_to_json(analysis)}
        atomic_write(self.path_for(key), json.dumps(document), mode=0o600)
        self.prune()

    def prune(self) -> None:
        """Drop least-recently-used entries until the cache fits ``max_bytes``."""
        entries = []
        total = 0
        try:
            scan = list(os.scandir(self.directory))
        except OSError:
            return
        for entry in scan:
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            try:
                info = entry.stat()
            except OSError:
                continue
            entries.append((info.st_mtime, info.st_size, entry.path))
            total += info.st_size
        for _mtime, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
                total -= size

    def stats(self) -> CacheStats:
        files = [p for p in self.directory.glob("*.json")] if self.directory.is_dir() else []
        return CacheStats(len(files), sum(p.stat().st_size for p in files))


def analysis_to_json(analysis: LogAnalysis) -> dict[str, Any]:
    return {
        "failures": [f.to_json() for f in analysis.failures],
        "signature_matches": [m.to_json() for m in analysis.signature_matches],
        "truncated": analysis.truncated,
        "warnings": list(analysis.warnings),
        "lines": analysis.lines,
        "bytes": analysis.bytes,
    }


def analysis_from_json(data: dict[str, Any]) -> LogAnalysis:
    return LogAnalysis(
        failures=tuple(
            Failure(
                kind=FailureKind(f["kind"]),
                id=f["id"],
                message=f["message"],
                line=f.get("line"),
                excerpt=f.get("excerpt", ""),
            )
            for f in data["failures"]
        ),
        signature_matches=tuple(
            BugMatch(
                number=int(m["number"]),
                title=m["title"],
                status=m.get("status"),
                url=m["url"],
                score=float(m["score"]),
                source=m["source"],
                why=tuple(m.get("why", ())),
            )
            for m in data.get("signature_matches", ())
        ),
        truncated=bool(data.get("truncated", False)),
        warnings=tuple(data.get("warnings", ())),
        lines=int(data.get("lines", 0)),
        bytes=int(data.get("bytes", 0)),
    )
