"""``check_accounts`` against a real keystone: a failed login is a failed row, not a crash."""
from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from ostk.auth import keystone_session
from swiftfunc.accounts import default_plan
from swiftfunc.check import check_accounts
from swiftfunc.provision import provision, teardown

pytestmark = pytest.mark.integration


def test_wrong_password_fails_that_user_only(keystone_stack: Any):
    tag = uuid.uuid4().hex[:6]
    plan = default_plan(2, overrides={1: {"username": f"{tag}-a", "project": f"{tag}-p"}, 2: {"username": f"{tag}-b", "project": f"{tag}-q"}})
    session = keystone_session(keystone_stack.admin)
    try:
        provision(session, plan)
        wrong = replace(plan, accounts=(plan.accounts[0], replace(plan.accounts[1], password="not-it")))
        results = check_accounts(wrong, keystone_stack.keystone_url)
        assert [r.username for r in results] == [f"{tag}-a", f"{tag}-b"]
        assert not results[1].passed and results[1].detail.startswith("login: keystone refused") and "401" in results[1].detail
        # The good user logged in: it either touched its account (swift up) or
        # found no object-store endpoint (keystone only) -- never a login failure.
        assert not results[0].detail.startswith("login")
        assert "not-it" not in repr(results)
    finally:
        teardown(session)


def test_unreachable_keystone_fails_every_row(keystone_stack: Any):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    results = check_accounts(default_plan(2), f"http://127.0.0.1:{port}/v3", timeout=5)
    assert [r.passed for r in results] == [False, False]
    assert all(r.detail.startswith("login: cannot reach keystone") for r in results)
