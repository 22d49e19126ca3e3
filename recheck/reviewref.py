"""The REVIEW argument of ``ostk recheck``: which change, on which server.

A review can be named five ways, and users paste all of them::

    123456                                            a change number
    https://review.opendev.org/c/openstack/nova/+/123456/3
    https://review.opendev.org/123456                 short Gerrit URL
    https://review.openstack.org/#/c/123456/          old (GWT UI) Gerrit URL
    I0ce62e720e797718dbfde6bfcd4b22a213985867          a Change-Id
    https://zuul.opendev.org/t/openstack/build/<uuid> a Zuul build page (or its /logs,
                                                      /console, /log/<path> tabs)
    https://zuul.opendev.org/t/openstack/buildset/<uuid>  a Zuul buildset page
    https://zuul.example.org/build/<uuid>             a whitelabeled tenant (no /t/T)

:func:`parse_review` turns one into a :class:`ReviewTarget` without any
network access; the workflow resolves Change-Ids and Zuul builds later.
"""
from __future__ import annotations

import configparser
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ostk.errors import UsageError

#: Where OpenStack's Gerrit lives when nothing else says.
DEFAULT_GERRIT = "https://review.opendev.org"
DEFAULT_TENANT = "openstack"

_NUMBER = re.compile(r"^(\d{1,9})(?:[,/](\d{1,4}))?$")
_CHANGE_ID = re.compile(r"^I[0-9a-f]{40}$")
# /c/<project>/+/<n>[/<ps>]  (PolyGerrit), possibly behind a "#" of the old UI.
_NEW_URL = re.compile(r"^(?P<prefix>.*?)/c/(?P<project>.+?)/\+/(?P<change>\d+)(?:/(?P<ps>\d+))?(?:/.*)?$")
# /c/<n>[/<ps>]  and the old /#/c/<n>[/<ps>]/
_OLD_URL = re.compile(r"^(?P<prefix>.*?)/c/(?P<change>\d+)(?:/(?P<ps>\d+))?/?$")
# /<n>[/<ps>]
# /<n>[/<ps>] at the site root only: deeper numeric paths are log directories.
_SHORT_URL = re.compile(r"^(?P<prefix>(?:/#)?)/(?P<change>\d+)(?:/(?P<ps>\d+))?/?$")
_CHANGE_ID_TRAILER = re.compile(r"^Change-Id:\s*(I[0-9a-f]{40})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ReviewTarget:
    """What the user asked about, before any lookup.

    Exactly one of ``change``, ``change_id`` or ``zuul_build`` is set.
    """

    #: The change number, when the argument names one.
    change: int | None = None
    #: A Change-Id (``I`` + 40 hex), to be looked up (may be ambiguous).
    change_id: str | None = None
    #: The patch set named in the URL, if any.
    patchset: int | None = None
    #: The project named in the URL, if any (``openstack/nova``).
    project: str | None = None
    #: The Gerrit base URL the argument names (None: use the configured one).
    gerrit: str | None = None
    #: A Zuul build or buildset uuid, with the Zuul base URL and tenant it came from.
    zuul_build: str | None = None
    zuul_buildset: str | None = None
    zuul: str | None = None
    tenant: str | None = None
    #: The Zuul URL had no ``/t/<tenant>``: a whitelabeled tenant (API under ``/api/``).
    whitelabel: bool = False


def is_review(text: str) -> bool:
    """True when ``text`` looks like a review rather than a log file or log URL."""
    try:
        parse_review(text)
    except UsageError:
        return False
    return True


def parse_review(text: str) -> ReviewTarget:
    """Parse the REVIEW argument; raise :class:`UsageError` if it is none of the forms.

    >>> parse_review("https://review.opendev.org/c/openstack/nova/+/123456/3").patchset
    3
    """
    value = text.strip()
    number = _NUMBER.match(value)
    if number:
        return ReviewTarget(change=int(number.group(1)), patchset=_int(number.group(2)))
    if _CHANGE_ID.match(value):
        return ReviewTarget(change_id=value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"not a review: {text!r} (expected a change number, Gerrit URL, Change-Id or Zuul build URL)")
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    # The old UI keeps the route in the fragment: https://host/#/c/123456/
    if parts.fragment.startswith("/"):
        path = path + parts.fragment.rstrip("/")
    from recheck.zuul import parse_zuul_url  # HTTP client: imported for Zuul URLs only

    page = parse_zuul_url(base + path)
    if page is not None:
        return ReviewTarget(
            zuul_build=page.uuid if page.kind == "build" else None,
            zuul_buildset=page.uuid if page.kind == "buildset" else None,
            zuul=page.base,
            tenant=page.tenant,
            whitelabel=page.tenant is None,
        )
    for pattern in (_NEW_URL, _OLD_URL, _SHORT_URL):
        match = pattern.match(path)
        if match:
            prefix = match.group("prefix")
            # "#" routes of the old UI live after the site root, not under it.
            prefix = prefix.split("/#", 1)[0]
            project = match.groupdict().get("project")
            return ReviewTarget(
                change=int(match.group("change")),
                patchset=_int(match.group("ps")),
                project=unquote(project) if project else None,
                gerrit=(base + prefix).rstrip("/"),
            )
    raise UsageError(f"not a review URL: {text!r}")


def gerrit_base(
    explicit: str | None, environ: Mapping[str, str], cwd: Path | None
) -> str:
    """The Gerrit base URL: ``--gerrit``, ``OSTK_GERRIT_URL``, the repo's ``.gitreview``, else opendev."""
    if explicit:
        return explicit.rstrip("/")
    from_env = environ.get("OSTK_GERRIT_URL")
    if from_env:
        return from_env.rstrip("/")
    if cwd is not None:
        host = gitreview_host(cwd)
        if host:
            return f"https://{host}"
    return DEFAULT_GERRIT


def gitreview_host(cwd: Path) -> str | None:
    """The ``host`` of the ``.gitreview`` of the git repository containing ``cwd``."""
    for directory in (cwd, *cwd.parents):
        candidate = directory / ".gitreview"
        if candidate.is_file():
            parser = configparser.ConfigParser()
            try:
                parser.read(candidate, encoding="utf-8")
            except (configparser.Error, OSError, UnicodeDecodeError):
                return None
            host = parser.get("gerrit", "host", fallback="").strip()
            return host or None
        if (directory / ".git").exists():
            # The repository root has no .gitreview: not a Gerrit project.
            return None
    return None


def head_change_id(cwd: Path) -> str:
    """The ``Change-Id:`` trailer of ``HEAD`` in the git checkout at ``cwd`` (what git-review users have)."""
    try:
        done = subprocess.run(
            ["git", "log", "-1", "--format=%B", "HEAD"],
            cwd=cwd, capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"no REVIEW given and git could not be run here ({exc})") from exc
    if done.returncode != 0:
        raise UsageError("no REVIEW given and this is not a git checkout: name a change, URL or Change-Id")
    found = _CHANGE_ID_TRAILER.findall(done.stdout)
    if not found:
        raise UsageError("no REVIEW given and HEAD has no Change-Id trailer (was it sent with git-review?)")
    return str(found[-1])


def _int(value: str | None) -> int | None:
    return int(value) if value else None
