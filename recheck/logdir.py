"""A job's other log files: the ones some signature names, fetched and checked.

Many gate bugs show only as a line in a service log (``tags:"screen-n-cpu.txt"``:
nova-compute's log), far from the failing test in the console. Given the list
of a build's files (from its ``zuul-manifest.json`` tree, or a log
directory's index page), :func:`needed_files` picks those that some signature
names (see :mod:`recheck.filenames` for how old names map to today's), and
:func:`analyze_files` downloads them concurrently, streamed, each checked on
every line against only the signatures that name it::

    paths = manifest_paths(manifest)                     # or list_log_dir(url, session)
    wanted = needed_files(paths, sigs)
    for result in analyze_files(log_url, wanted, sigs, session=session, job_name=job):
        print(result.path, [b.number for b in result.analysis.signature_matches])
"""
from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from ostk.errors import NotFound, OstkError, TruncatedDownload
from recheck.engine import LogScanner
from recheck.filenames import CONSOLE_TAGS, NO_FILE_TAGS, TAG_GLOBS, log_path, stem
from recheck.models import BugMatch, LogAnalysis
from recheck.signatures import SignatureSet

if TYPE_CHECKING:
    import requests

#: Files fetched at once: log servers are far; inflating and scanning keep up.
WORKERS = 4
#: At most this many files per job (a signature naming ``*.txt`` must not fetch a thousand).
MAX_FILES = 40
#: Index pages read when a log directory has no manifest.
MAX_PAGES = 60
MAX_DEPTH = 4
HTTP_CHUNK = 256 * 1024


@dataclass(frozen=True)
class FileAnalysis:
    """One fetched log file and what the signatures that name it found there."""

    #: Path relative to the build's log root (``controller/logs/screen-n-cpu.txt``).
    path: str
    url: str
    analysis: LogAnalysis
    #: Why the file could not be read, when it could not (the analysis is then empty).
    error: str | None = None


def _file_patterns(signatures: SignatureSet) -> tuple[frozenset[str], tuple[str, ...]]:
    """The stems that signatures name, and their glob patterns."""
    stems: set[str] = set()
    globs: set[str] = set()
    for sig in signatures.signatures:
        for alt in sig.alternatives:
            for pattern in alt.files:
                p = pattern.lower().strip()
                if p in CONSOLE_TAGS or p in NO_FILE_TAGS:
                    continue
                if p in TAG_GLOBS:
                    globs.update(TAG_GLOBS[p])
                elif "*" in p or "?" in p:
                    globs.add(p)
                    tail = re.split(r"[*?/]", p)[-1]
                    if tail:
                        stems.add(stem(tail))
                else:
                    stems.add(stem(p))
    return frozenset(stems), tuple(sorted(globs))


def needed_files(paths: Iterable[str], signatures: SignatureSet, *, limit: int = MAX_FILES) -> tuple[str, ...]:
    """The files among ``paths`` (a job's log tree) that some signature's file filter names.

    The console log is not among them (it is analysed anyway). Paths are
    returned in the order given, at most ``limit`` of them; directories
    (ending in ``/``) are skipped.
    """
    stems, globs = _file_patterns(signatures)
    out: list[str] = []
    for path in paths:
        if not path or path.endswith("/"):
            continue
        p = log_path(path)
        base = p.rsplit("/", 1)[-1]
        if base in CONSOLE_TAGS:
            continue
        if stem(base) in stems or any(fnmatch.fnmatchcase(base, g) or fnmatch.fnmatchcase(p, g) for g in globs):
            out.append(path)
            if len(out) >= limit:
                break
    return tuple(out)


def manifest_paths(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """Every file path in a ``zuul-manifest.json`` document (``{"tree": [{"name", "children"?}]}``).

    Zuul's upload roles write it (zuul-jobs ``generate-zuul-manifest``);
    anything not shaped like it is skipped, not trusted.
    """
    out: list[str] = []

    def walk(nodes: object, prefix: str, depth: int) -> None:
        if not isinstance(nodes, list) or depth > 32:
            return
        for node in nodes:
            if not isinstance(node, dict) or not isinstance(node.get("name"), str):
                continue
            name = node["name"].strip("/")
            if not name or name in (".", ".."):
                continue
            children = node.get("children")
            if isinstance(children, list):
                walk(children, f"{prefix}{name}/", depth + 1)
            else:
                out.append(prefix + name)

    walk(manifest.get("tree") if isinstance(manifest, Mapping) else None, "", 0)
    return tuple(out)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def list_log_dir(url: str, session: requests.Session) -> tuple[str, ...]:
    """The files of a build's log directory: its ``zuul-manifest.json``, else its index pages.

    Raises :class:`~ostk.errors.ServiceError` when the directory itself cannot be read.
    """
    from ostk.http import get_json, redact_url, request

    root = url if url.endswith("/") else url + "/"
    try:
        doc = get_json(session, root + "zuul-manifest.json", what="reading the build's zuul-manifest.json")
        paths = manifest_paths(doc)
        if paths:
            return paths
    except NotFound:
        pass
    except OstkError:
        pass  # not JSON, or not readable: the index pages may still be there
    out: list[str] = []
    queue = [(root, 0)]
    pages = 0
    while queue and pages < MAX_PAGES:
        page, depth = queue.pop(0)
        pages += 1
        response = request(session, "GET", page, what=f"listing {redact_url(page)}")
        parser = _Links()
        parser.feed(response.text[: 4 * 1024 * 1024])
        for href in parser.hrefs:
            target = urljoin(page, href)
            if urlsplit(target).query or not target.startswith(root) or target == page:
                continue
            rel = unquote(target[len(root):])
            if not rel or rel.startswith("..") or len(target) <= len(page):
                continue
            if rel.endswith("/"):
                if depth + 1 < MAX_DEPTH:
                    queue.append((target, depth + 1))
            else:
                out.append(rel)
    return tuple(dict.fromkeys(out))


def analyze_files(
    base_url: str,
    paths: Sequence[str],
    signatures: SignatureSet,
    *,
    session: requests.Session,
    job_name: str | None = None,
    workers: int = WORKERS,
) -> tuple[FileAnalysis, ...]:
    """Download ``paths`` (relative to ``base_url``) concurrently and check each, streamed,
    on every line against the signatures that name it. A file that cannot be read gives
    a :class:`FileAnalysis` with ``error`` set; the others are unaffected."""
    root = base_url if base_url.endswith("/") else base_url + "/"

    def one(path: str) -> FileAnalysis:
        url = root + path
        scanner = LogScanner(name=path, signatures=signatures, job_name=job_name, signatures_only=True)
        try:
            scanner.consume(_chunks(session, url, path), threaded=False)
        except TruncatedDownload:
            return FileAnalysis(path, url, scanner.finish(truncated=True))
        except NotFound:
            # Listed but gone (logs expire file by file): nothing to say about it.
            return FileAnalysis(path, url, scanner.finish())
        except OstkError as exc:
            return FileAnalysis(path, url, scanner.finish(truncated=True), error=str(exc))
        return FileAnalysis(path, url, scanner.finish())

    if not paths:
        return ()
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(paths))), thread_name_prefix="recheck-fetch") as pool:
        return tuple(pool.map(one, paths))


def _chunks(session: requests.Session, url: str, path: str) -> Iterator[bytes]:
    from ostk.http import iter_bytes, redact_url

    yield from iter_bytes(session, url, what=f"downloading {redact_url(url)}", chunk_size=HTTP_CHUNK)


def merge_matches(*groups: Iterable[BugMatch]) -> tuple[BugMatch, ...]:
    """One list of bugs from several logs: each bug once, with its best score, best first."""
    best: dict[int, BugMatch] = {}
    for group in groups:
        for bug in group:
            old = best.get(bug.number)
            if old is None or bug.score > old.score:
                best[bug.number] = bug
    return tuple(sorted(best.values(), key=lambda b: (-b.score, b.number)))


def analyze_log_dir(
    url: str,
    signatures: SignatureSet,
    *,
    session: requests.Session,
    job_name: str | None = None,
    paths: Sequence[str] | None = None,
) -> tuple[FileAnalysis, ...]:
    """The service logs of a build's log directory that some signature names, analysed.

    ``paths``: the directory's file list when the caller has it (a manifest it
    already read); otherwise it is listed with :func:`list_log_dir`.
    """
    listing = list_log_dir(url, session) if paths is None else tuple(paths)
    return analyze_files(url, needed_files(listing, signatures), signatures, session=session, job_name=job_name)


def with_service_logs(
    url: str,
    analysis: LogAnalysis,
    signatures: SignatureSet,
    *,
    session: requests.Session,
    job_name: str | None = None,
    paths: Sequence[str] | None = None,
) -> LogAnalysis:
    """``analysis`` (of the job's console log) plus the signature matches found in the
    service logs of the build's log directory ``url`` that some signature names.

    A directory that cannot be listed, or a file that cannot be read, becomes a
    warning: the console's analysis stands on its own.
    """
    try:
        results = analyze_log_dir(url, signatures, session=session, job_name=job_name, paths=paths)
    except OstkError as exc:
        return dataclasses.replace(analysis, warnings=(*analysis.warnings, f"service logs not checked: {exc}"))
    warnings = [f"{r.path}: {r.error}" for r in results if r.error]
    bugs = merge_matches(analysis.signature_matches, *(r.analysis.signature_matches for r in results))
    return dataclasses.replace(analysis, signature_matches=bugs, warnings=(*analysis.warnings, *warnings))
