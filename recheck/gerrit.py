"""A small Gerrit REST client: read a change and its messages, post a review.

Gerrit prefixes every JSON body with ``)]}'`` (against XSSI) and serves
authenticated calls under ``/a/`` with HTTP Basic and the user's *HTTP
password* (Settings → HTTP Credentials), which people keep in ``~/.netrc``.
Reads are anonymous; only posting needs credentials.
"""
from __future__ import annotations

import json
import netrc
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
import requests

from ostk.errors import AuthFailed, ConfigError, NotFound, ServiceError, UsageError
from ostk.http import build_session, check_status, get_json, redact_url, service_errors
from recheck.boundary import MalformedAnswer, validate
from recheck.comments import ChangeMessage, parse_gerrit_date

XSSI_PREFIX = ")]}'"


class _AccountDoc(msgspec.Struct):
    username: str | None = None
    name: str | None = None


class _MessageDoc(msgspec.Struct):
    message: str = ""
    _revision_number: int | None = msgspec.field(default=None, name="_revision_number")
    author: _AccountDoc | None = None
    date: str | None = None
    tag: str | None = None


class _RevisionDoc(msgspec.Struct):
    _number: int | None = msgspec.field(default=None, name="_number")


class _ChangeDoc(msgspec.Struct):
    """The parts of Gerrit's ChangeInfo we read (o=MESSAGES, CURRENT_REVISION)."""

    _number: int = msgspec.field(name="_number")
    project: str = ""
    branch: str = ""
    change_id: str = ""
    status: str = ""
    subject: str = ""
    current_revision: str | None = None
    revisions: dict[str, _RevisionDoc] = {}
    messages: list[_MessageDoc] = []


@dataclass(frozen=True)
class GerritCredentials:
    """A Gerrit username and HTTP password (never printed; ``repr`` hides it)."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"GerritCredentials(username={self.username!r}, password=***)"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], host: str) -> GerritCredentials | None:
        """``OSTK_GERRIT_USER``/``OSTK_GERRIT_PASSWORD``, else ``~/.netrc`` for ``host``."""
        user = environ.get("OSTK_GERRIT_USER")
        password = environ.get("OSTK_GERRIT_PASSWORD")
        if user and password:
            return cls(user, password)
        if user or password:
            raise ConfigError("set both OSTK_GERRIT_USER and OSTK_GERRIT_PASSWORD, or neither")
        path = Path(environ["NETRC"]) if environ.get("NETRC") else Path(environ.get("HOME") or os.path.expanduser("~")) / ".netrc"
        if not path.is_file():
            return None
        try:
            entry = netrc.netrc(str(path)).authenticators(host)
        except (netrc.NetrcParseError, OSError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        if not entry:
            return None
        login, _account, secret = entry
        if not login or not secret:
            return None
        return cls(login, secret)


@dataclass(frozen=True)
class Change:
    """The parts of a Gerrit change the recheck workflow needs."""

    number: int
    project: str
    branch: str
    change_id: str
    #: The current (latest) patch set number.
    current_patchset: int
    status: str
    messages: tuple[ChangeMessage, ...]
    #: Web URL of the change.
    url: str


@dataclass(frozen=True)
class ChangeSummary:
    """One hit of a change query (to list ambiguous Change-Ids)."""

    number: int
    project: str
    branch: str
    status: str
    subject: str


class GerritClient:
    """Talks to one Gerrit server.

    >>> gerrit = GerritClient("https://review.opendev.org")
    >>> change = gerrit.change(123456)
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        credentials: GerritCredentials | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or build_session()
        self.credentials = credentials

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def change(self, change: int | str) -> Change:
        """The change with its messages and current patch set; NotFound names the change."""
        what = f"reading change {change} from Gerrit"
        url = f"{self.base_url}/changes/{quote(str(change), safe='~')}"
        params = [("o", "MESSAGES"), ("o", "CURRENT_REVISION"), ("o", "DETAILED_ACCOUNTS")]
        try:
            data = self._get(url, what=what, params=params)
        except NotFound as exc:
            raise NotFound(
                f"change {change} not found on {self.base_url}", status=exc.status, url=exc.url
            ) from exc
        return self._change_from(data)

    def query_change_id(self, change_id: str) -> list[ChangeSummary]:
        """Every change (any project/branch) with this Change-Id."""
        what = f"looking up Change-Id {change_id} on Gerrit"
        data = self._get(f"{self.base_url}/changes/", what=what, params={"q": f"change:{change_id}"})
        docs = validate(data, list[_ChangeDoc], source="Gerrit change query", error=MalformedAnswer)
        return [ChangeSummary(d._number, d.project, d.branch, d.status, d.subject) for d in docs]

    def post_review(self, change: int, message: str, *, revision: str = "current") -> None:
        """Post ``message`` on ``change`` (sent once: a POST is never retried)."""
        if self.credentials is None:
            raise ConfigError(
                f"posting needs Gerrit credentials for {self.host}: put them in ~/.netrc "
                "or set OSTK_GERRIT_USER and OSTK_GERRIT_PASSWORD (your Gerrit HTTP password)"
            )
        what = f"posting the comment on change {change}"
        url = f"{self.base_url}/a/changes/{change}/revisions/{revision}/review"
        with service_errors(what):
            response = self.session.post(
                url,
                json={"message": message},
                auth=(self.credentials.username, self.credentials.password),
            )
        if response.status_code in (401, 403):
            raise AuthFailed(
                f"{what}: Gerrit refused the credentials for {self.credentials.username!r} "
                f"(HTTP {response.status_code}); use your Gerrit HTTP password",
                status=response.status_code,
                url=redact_url(url),
            )
        check_status(response, what)

    # ------------------------------------------------------------------
    def _get(self, url: str, *, what: str, params: Any = None) -> Any:
        # ostk.http.get_json: size cap, stall timeout, depth-limited parse, )]}' stripped.
        return get_json(self.session, url, what=what, params=params)

    def _change_from(self, data: Any) -> Change:
        doc = validate(data, _ChangeDoc, source="Gerrit change", error=MalformedAnswer)
        if not 0 < doc._number < 10**10:
            raise MalformedAnswer("Gerrit change: unexpected answer (change number out of range)")
        current = doc.revisions.get(doc.current_revision or "")
        numbers = [r._number for r in doc.revisions.values() if r._number is not None]
        numbers += [m._revision_number for m in doc.messages if m._revision_number is not None]
        current_ps = (current._number if current else None) or max([*numbers, 1])
        messages = tuple(
            ChangeMessage(
                message=item.message,
                patchset=item._revision_number,
                author=(item.author.username or item.author.name) if item.author else None,
                date=parse_gerrit_date(item.date),
                tag=item.tag,
            )
            for item in doc.messages
        )
        project = doc.project
        return Change(
            number=doc._number,
            project=project,
            branch=doc.branch,
            change_id=doc.change_id,
            current_patchset=int(current_ps),
            status=doc.status,
            messages=messages,
            url=f"{self.base_url}/c/{project}/+/{doc._number}" if project else f"{self.base_url}/{doc._number}",
        )


def parse_json(text: str, *, what: str) -> Any:
    """Decode a Gerrit JSON body, stripping the ``)]}'`` line."""
    if text.startswith(XSSI_PREFIX):
        text = text[len(XSSI_PREFIX):]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ServiceError(f"{what}: Gerrit did not return JSON") from exc


def ambiguous(change_id: str, candidates: list[ChangeSummary]) -> UsageError:
    """The error for a Change-Id that names several changes (lists them)."""
    lines = "; ".join(f"{c.number} ({c.project} {c.branch}, {c.status.lower()})" for c in candidates)
    return UsageError(f"Change-Id {change_id} matches {len(candidates)} changes: {lines}; pass the change number")


