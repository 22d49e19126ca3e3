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

import requests

from ostk.errors import AuthFailed, ConfigError, NotFound, ServiceError, UsageError
from ostk.http import build_session, redact_url, request, service_errors, check_status
from recheck.comments import ChangeMessage, parse_gerrit_date

XSSI_PREFIX = ")]}'"


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
        if not isinstance(data, list):
            raise ServiceError(f"{what}: unexpected answer")
        return [
            ChangeSummary(
                number=int(item["_number"]),
                project=str(item.get("project", "")),
                branch=str(item.get("branch", "")),
                status=str(item.get("status", "")),
                subject=str(item.get("subject", "")),
            )
            for item in data
            if isinstance(item, dict) and "_number" in item
        ]

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
        response = request(self.session, "GET", url, what=what, params=params)
        return parse_json(response.text, what=what)

    def _change_from(self, data: Any) -> Change:
        if not isinstance(data, dict) or "_number" not in data:
            raise ServiceError("Gerrit returned an unexpected change document")
        revisions = data.get("revisions") or {}
        current = revisions.get(data.get("current_revision"), {}) if isinstance(revisions, dict) else {}
        numbers = [r.get("_number") for r in revisions.values() if isinstance(r, dict)] if isinstance(revisions, dict) else []
        messages_raw = data.get("messages") or []
        current_ps = current.get("_number") or max(
            [n for n in numbers if isinstance(n, int)]
            + [m.get("_revision_number") for m in messages_raw if isinstance(m.get("_revision_number"), int)]
            + [1]
        )
        messages = tuple(
            ChangeMessage(
                message=str(item.get("message", "")),
                patchset=item.get("_revision_number"),
                author=_author(item.get("author")),
                date=parse_gerrit_date(item.get("date")),
                tag=item.get("tag"),
            )
            for item in messages_raw
            if isinstance(item, dict)
        )
        number = int(data["_number"])
        project = str(data.get("project", ""))
        return Change(
            number=number,
            project=project,
            branch=str(data.get("branch", "")),
            change_id=str(data.get("change_id", "")),
            current_patchset=int(current_ps),
            status=str(data.get("status", "")),
            messages=messages,
            url=f"{self.base_url}/c/{project}/+/{number}" if project else f"{self.base_url}/{number}",
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


def _author(author: Any) -> str | None:
    if not isinstance(author, dict):
        return None
    return author.get("username") or author.get("name")
