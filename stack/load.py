"""A small concurrent load on keystone: tokens, projects and users, counting 5xx answers.

Used by the integration suite (zero 5xx under concurrency) and by
``benchmarks/stack_up.py`` (tokens per second). Requests are never retried:
a retry would hide exactly the 5xx answers this counts.

>>> result = keystone_load(stack.keystone_url, stack.admin.password, clients=8, seconds=10)  # doctest: +SKIP
>>> result.server_errors
0
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from ostk.http import HttpSettings, build_session


@dataclass(frozen=True)
class LoadResult:
    """What ``clients`` threads achieved in ``seconds``."""

    clients: int
    seconds: float
    #: Tokens issued (admin and the users each round creates).
    tokens: int
    #: Every request sent.
    requests: int
    #: Answers with status 500-599.
    server_errors: int
    #: Requests that got no HTTP answer at all (connection refused/reset, timeout).
    transport_errors: int
    #: Status code -> count, for the report.
    statuses: dict[int, int]
    #: The first few 5xx answers: "METHOD path -> status: body start".
    samples: tuple[str, ...]

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.tokens = 0
        self.transport = 0
        self.samples: list[str] = []

    def record(self, method: str, path: str, response: requests.Response | None) -> None:
        with self.lock:
            if response is None:
                self.transport += 1
                return
            self.statuses[response.status_code] += 1
            if response.status_code >= 500 and len(self.samples) < 5:
                self.samples.append(f"{method} {path} -> {response.status_code}: {response.text[:200]}")


def _password_auth(name: str, password: str, project: str | None, project_domain: str = "default") -> dict[str, Any]:
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": password}}}}
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"id": project_domain}}}
    return {"auth": auth}


def _client(base: str, admin_password: str, until: float, tally: _Tally) -> None:
    session = build_session(HttpSettings(read_timeout=60.0, retries=0))

    def send(method: str, path: str, **kw: Any) -> requests.Response | None:
        response: requests.Response | None
        try:
            response = session.request(method, base + path, **kw)  # type: ignore[no-untyped-call]
        except requests.RequestException:
            response = None
        tally.record(method, path, response)
        return response

    def token(body: dict[str, Any]) -> str | None:
        answer = send("POST", "/auth/tokens", json=body)
        if answer is not None and answer.status_code == 201:
            with tally.lock:
                tally.tokens += 1
            return answer.headers.get("X-Subject-Token")
        return None

    while time.monotonic() < until:
        admin = token(_password_auth("admin", admin_password, "admin"))
        if admin is None:
            continue
        headers = {"X-Auth-Token": admin}
        name = f"load-{uuid.uuid4().hex[:12]}"
        project = send("POST", "/projects", headers=headers, json={"project": {"name": name, "domain_id": "default"}})
        if project is None or project.status_code != 201:
            continue
        project_id = project.json()["project"]["id"]
        password = uuid.uuid4().hex
        user = send("POST", "/users", headers=headers, json={"user": {
            "name": name, "domain_id": "default", "password": password, "default_project_id": project_id}})
        if user is not None and user.status_code == 201:
            user_id = user.json()["user"]["id"]
            # An unscoped login: updates the user's last_active_at-style rows too.
            token(_password_auth(name, password, None))
            send("DELETE", f"/users/{user_id}", headers=headers)
        send("DELETE", f"/projects/{project_id}", headers=headers)


def keystone_load(keystone_v3: str, admin_password: str, *, clients: int = 8, seconds: float = 15.0) -> LoadResult:
    """Run ``clients`` threads against ``keystone_v3`` for ``seconds``; count what came back."""
    tally = _Tally()
    start = time.monotonic()
    until = start + seconds
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(_client, keystone_v3.rstrip("/"), admin_password, until, tally)
                       for _ in range(clients)]:
            future.result()
    elapsed = time.monotonic() - start
    statuses = dict(sorted(tally.statuses.items()))
    return LoadResult(
        clients=clients,
        seconds=elapsed,
        tokens=tally.tokens,
        requests=sum(statuses.values()) + tally.transport,
        server_errors=sum(n for code, n in statuses.items() if code >= 500),
        transport_errors=tally.transport,
        statuses=statuses,
        samples=tuple(tally.samples),
    )
