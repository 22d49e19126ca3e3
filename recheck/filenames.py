"""Which log file a signature's ``tags``/``filename`` filter names.

elastic-recheck's queries name files the way logstash tagged them in 2014
(``tags:"screen-n-cpu.txt"``, ``tags:"console"``,
``filename:"logs*screen-n-api.txt"``). A job's files have other names today:
``controller/logs/screen-n-cpu.txt`` (journal exports), ``n-cpu.log``, all of
them stored as ``*.gz`` by some log servers. So a file is named by its stem:
the base name without ``.gz``, ``.txt``, ``.log`` and a ``screen-`` prefix
(``screen-n-cpu.txt`` = ``n-cpu.log`` = ``screen-n-cpu.txt.gz``). Directories
moved between eras (``logs/``, ``controller/logs/``) and are not compared.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from recheck.lucene import Alternative

#: Tags (and names) that mean the job's console log.
CONSOLE_TAGS = frozenset({"console", "console.html", "consoletext", "job-output.txt", "job-output.json"})
#: Logstash processing tags that say nothing about the file.
NO_FILE_TAGS = frozenset({"multiline"})
#: Tags that name a family of files rather than one.
TAG_GLOBS = {
    "screen": ("screen-*", "*.log"),
    "apacheerror": ("*apache*error*", "*horizon_error*"),
}
_SERVICE_LOG = re.compile(r"(?:^|/)(?:screen-|syslog|.*\.log(?:\.txt)?$)")
_SUFFIXES = (".gz", ".txt", ".log")


def log_path(log_name: str) -> str:
    """A log's name or URL as the path the filters see: lower case, no query, no ``.gz``."""
    path = log_name.split("?", 1)[0].split("#", 1)[0].rstrip("/").lower()
    if path.endswith(".gz"):
        path = path[:-3]
    return path


def stem(name: str) -> str:
    """``controller/logs/screen-n-cpu.txt.gz`` → ``n-cpu``: what names a file across eras."""
    base = name.lower().rstrip("/").rsplit("/", 1)[-1]
    for suffix in _SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base[len("screen-"):] if base.startswith("screen-") else base


def is_console(path: str) -> bool:
    """True for the job's console log (and for a log of unknown name)."""
    base = path.rstrip("/").rsplit("/", 1)[-1] if path else ""
    if not base or base in CONSOLE_TAGS:
        return True
    return not _SERVICE_LOG.search(path)


def file_matches(pattern: str, path: str) -> bool:
    """Does one ``tags``/``filename`` value name the log at ``path`` (see :func:`log_path`)?"""
    pattern = pattern.lower().strip()
    if pattern in CONSOLE_TAGS:
        return is_console(path)
    if pattern in NO_FILE_TAGS:
        return True
    if not path:
        return False
    base = path.rstrip("/").rsplit("/", 1)[-1]
    globs = TAG_GLOBS.get(pattern)
    if globs is not None:
        return any(fnmatch.fnmatchcase(base, g) or fnmatch.fnmatchcase(path, g) for g in globs)
    if "*" in pattern or "?" in pattern:
        if fnmatch.fnmatchcase(path, "*" + pattern.lstrip("*")) or fnmatch.fnmatchcase(base, pattern):
            return True
        # "logs*screen-n-api.txt": the part after the last wildcard or slash names the file.
        tail = re.split(r"[*?/]", pattern)[-1]
        return bool(tail) and stem(tail) == stem(base)
    return stem(pattern) == stem(base)


def files_ok(alt: Alternative, path: str) -> bool:
    """Do an alternative's file filters allow the log at ``path``?"""
    if not all(file_matches(p, path) for p in alt.files):
        return False
    return not any(file_matches(p, path) for p in alt.files_not)


def restricted(alt: Alternative) -> bool:
    """True when the alternative names some file other than the console."""
    return any(p.lower().strip() not in CONSOLE_TAGS | NO_FILE_TAGS for p in alt.files)


def wanted_by(alternatives: Iterable[Alternative], path: str) -> bool:
    """Does some alternative name the file at ``path`` (a file other than the console log)?"""
    p = log_path(path)
    if PurePosixPath(p).name in CONSOLE_TAGS:
        return False
    return any(restricted(a) and files_ok(a, p) for a in alternatives)
