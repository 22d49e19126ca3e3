"""Provisioning against a real keystone: idempotent, repairs drift, tears down only its own.

Writes are counted independently of the code under test, by recording every
request the keystoneauth session sends.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from keystoneclient.v3 import client as ks_client

from ostk.auth import keystone_session
from ostk.errors import AuthFailed
from swiftfunc.accounts import DESCRIPTION, Plan, default_plan
from swiftfunc.provision import Outcome, PasswordMismatch, login, provision, teardown

pytestmark = pytest.mark.integration


class Recorder:
    """Records (method, url) of every request a keystoneauth session sends."""

    def __init__(self, session: Any, *, interrupt_after: int | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.interrupt_after = interrupt_after
        original = session.request

        def request(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
            if _is_write(method, url) and self.interrupt_after is not None and len(self.writes) >= self.interrupt_after:
                raise KeyboardInterrupt  # as if Ctrl-C arrived half-way
            self.calls.append((method.upper(), url))
            return original(url, method, *args, **kwargs)

        session.request = request

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, u) for m, u in self.calls if _is_write(m, u)]


def _is_write(method: str, url: str) -> bool:
    # Logging in (POST /auth/tokens) reads; everything else but GET/HEAD writes.
    return method.upper() not in ("GET", "HEAD") and not url.rstrip("/").endswith("/auth/tokens")


@pytest.fixture
def admin(keystone_stack: Any) -> Iterator[Any]:
    """A fresh admin session; whatever this tool created is torn down afterwards."""
    session = keystone_session(keystone_stack.admin)
    login(session, keystone_stack.admin)
    yield session
    teardown(keystone_session(keystone_stack.admin))


@pytest.fixture
def ks(keystone_stack: Any) -> Any:
    """A plain keystoneclient for setting up and inspecting state behind the tool's back."""
    return ks_client.Client(session=keystone_session(keystone_stack.admin), interface="public")


def isolated_plan(users: int | None = None) -> Plan:
    """The default plan with unique names, so tests never see each other's objects."""
    tag = uuid.uuid4().hex[:6]
    overrides = {
        i: {"username": f"{tag}-tester{i}", "password": f"pw{i}-{tag}", "project": f"{tag}-test{i}"} for i in range(1, 7)
    }
    overrides[4]["domain"] = f"{tag}-domain"
    return default_plan(users, overrides=overrides)


def _user(ks: Any, name: str) -> Any:
    return next(u for u in ks.users.list() if u.name == name)


def _project(ks: Any, name: str) -> Any:
    return next(p for p in ks.projects.list() if p.name == name)


def test_fresh_run_creates_everything_and_a_second_run_writes_nothing(admin, ks, keystone_stack):
    plan = isolated_plan()
    first = provision(admin, plan)
    outcomes = {(c.kind, c.name): c.outcome for c in first.changes}
    assert outcomes[("user", plan.accounts[0].username)] is Outcome.CREATED
    assert outcomes[("domain", plan.accounts[3].domain)] is Outcome.CREATED
    assert first.writes > 15 and first.changed

    # Keystone really holds the table: roles on the right projects.
    tester5 = _user(ks, plan.accounts[4].username)
    assignments = ks.role_assignments.list(user=tester5.id)
    assert [a.role["id"] for a in assignments] == [next(r.id for r in ks.roles.list() if r.name == "service")]
    assert _user(ks, plan.accounts[0].username).description == DESCRIPTION

    session = keystone_session(keystone_stack.admin)
    recorder = Recorder(session)
    second = provision(session, plan)
    assert recorder.writes == []
    assert second.writes == 0 and not second.changed
    assert all(c.outcome is Outcome.UNCHANGED for c in second.changes)


def test_no_op_run_needs_few_round_trips(admin, keystone_stack):
    plan = isolated_plan()
    provision(admin, plan)
    session = keystone_session(keystone_stack.admin)
    recorder = Recorder(session)
    provision(session, plan)
    # discovery + login + 5 lists + one password check per user (6), nothing per object.
    assert len(recorder.calls) <= 14, recorder.calls


def test_drift_is_repaired_deleted_user_revoked_role_disabled_project(admin, ks):
    plan = isolated_plan()
    provision(admin, plan)
    tester2, tester = plan.accounts[1], plan.accounts[0]
    ks.users.delete(_user(ks, tester2.username).id)
    admin_role = next(r for r in ks.roles.list() if r.name == "admin")
    ks.roles.revoke(admin_role, user=_user(ks, tester.username).id, project=_project(ks, tester.project).id)
    ks.projects.update(_project(ks, plan.accounts[4].project).id, enabled=False)

    report = provision(admin, plan)
    changed = {(c.kind, c.name): c.outcome for c in report.changes if c.outcome is not Outcome.UNCHANGED}
    assert changed == {
        ("user", tester2.username): Outcome.CREATED,
        ("assignment", f"{tester2.username} admin on {tester2.project}"): Outcome.CREATED,
        ("assignment", f"{tester.username} admin on {tester.project}"): Outcome.REPAIRED,
        ("project", plan.accounts[4].project): Outcome.REPAIRED,
    }
    assert report.writes == 4
    assert provision(admin, plan).writes == 0


def test_forbidden_roles_on_the_primary_account_are_revoked(admin, ks):
    plan = isolated_plan()
    provision(admin, plan)
    admin_role = next(r for r in ks.roles.list() if r.name == "admin")
    primary = _project(ks, plan.accounts[0].project)
    ks.roles.grant(admin_role, user=_user(ks, plan.accounts[2].username).id, project=primary.id)
    ks.roles.grant(admin_role, user=_user(ks, plan.accounts[4].username).id, project=primary.id)
    report = provision(admin, plan)
    repaired = sorted(c.name for c in report.changes if c.outcome is Outcome.REPAIRED)
    assert repaired == sorted(f"{plan.accounts[i].username} admin on {primary.name}" for i in (2, 4))
    assert ks.role_assignments.list(user=_user(ks, plan.accounts[4].username).id, project=primary.id) == []


def test_existing_user_with_another_password_is_an_error_naming_it_unless_reset(admin, ks, keystone_stack):
    plan = isolated_plan(2)
    provision(admin, plan)
    ks.users.update(_user(ks, plan.accounts[1].username).id, password="changed-behind-our-back")

    session = keystone_session(keystone_stack.admin)
    recorder = Recorder(session)
    with pytest.raises(PasswordMismatch) as caught:
        provision(session, plan)
    assert caught.value.usernames == [plan.accounts[1].username]
    assert plan.accounts[1].username in str(caught.value) and plan.accounts[0].username not in str(caught.value)
    assert recorder.writes == []  # stopped before touching anything

    report = provision(admin, plan, reset_passwords=True)
    assert [c.name for c in report.changes if c.outcome is Outcome.PASSWORD_RESET] == [plan.accounts[1].username]
    assert provision(admin, plan).writes == 0


def test_disabled_user_is_enabled_again(admin, ks):
    plan = isolated_plan(1)
    provision(admin, plan)
    ks.users.update(_user(ks, plan.accounts[0].username).id, enabled=False)
    report = provision(admin, plan)
    assert [(c.kind, c.outcome) for c in report.changes if c.outcome is not Outcome.UNCHANGED] == [("user", Outcome.REPAIRED)]
    assert _user(ks, plan.accounts[0].username).enabled


def test_interrupted_run_is_completed_by_the_next(admin, keystone_stack):
    plan = isolated_plan()
    needed = sum(1 for c in provision(admin, plan, dry_run=True).changes if c.outcome is not Outcome.UNCHANGED)
    session = keystone_session(keystone_stack.admin)
    Recorder(session, interrupt_after=7)
    with pytest.raises(KeyboardInterrupt):
        provision(session, plan)

    # The next run does exactly what is left, nothing twice; then all is in place.
    assert provision(admin, plan).writes == needed - 7
    assert provision(admin, plan).writes == 0


def test_dry_run_writes_nothing_but_reports_what_it_would_do(admin, ks, keystone_stack):
    plan = isolated_plan()
    session = keystone_session(keystone_stack.admin)
    recorder = Recorder(session)
    report = provision(session, plan, dry_run=True, swift_url="http://127.0.0.1:1", s3=True)
    assert recorder.writes == [] and report.writes == 0 and report.dry_run
    assert {c.kind for c in report.changes if c.outcome is Outcome.CREATED} >= {"domain", "project", "user", "assignment"}
    assert not any(u.name == plan.accounts[0].username for u in ks.users.list())


def test_object_store_service_endpoints_and_ec2_credentials_are_created_once(admin, ks):
    plan = isolated_plan(3)
    services_before = {s.id for s in ks.services.list(type="object-store")}
    first = provision(admin, plan, swift_url="http://127.0.0.1:1/", s3=True)
    second = provision(admin, plan, swift_url="http://127.0.0.1:1/", s3=True)
    assert second.writes == 0
    assert first.ec2.keys() == second.ec2.keys() == {1, 2, 3}
    assert first.ec2[1].access == second.ec2[1].access and first.ec2[1].secret == second.ec2[1].secret
    if not services_before:
        service = ks.services.list(type="object-store")[0]
        urls = {e.interface: e.url for e in ks.endpoints.list(service=service)}
        assert urls == {i: "http://127.0.0.1:1/v1/AUTH_%(project_id)s" for i in ("public", "internal", "admin")}


def test_teardown_removes_only_what_this_tool_created(admin, ks, keystone_stack):
    tag = uuid.uuid4().hex[:6]
    # Objects that existed before, without our marker: a project and a user.
    pre_project = ks.projects.create(f"{tag}-pre", "default", description="made by a human")
    pre_user = ks.users.create(f"{tag}-pre-user", domain="default", password="pw-pre")
    try:
        plan = default_plan(
            3,
            overrides={
                1: {"project": pre_project.name, "username": pre_user.name, "password": "pw-pre"},
                2: {"username": f"{tag}-t2", "project": f"{tag}-p2"},
                3: {"username": f"{tag}-t3"},
            },
        )
        report = provision(admin, plan)
        assert {c.name: c.outcome for c in report.changes}[pre_user.name] is Outcome.UNCHANGED

        session = keystone_session(keystone_stack.admin)
        dry = teardown(session, dry_run=True)
        assert dry.writes == 0 and any(c.name == f"{tag}-t2" for c in dry.changes)
        assert any(u.name == f"{tag}-t2" for u in ks.users.list())

        gone = teardown(session)
        deleted = {c.name for c in gone.changes if c.outcome is Outcome.DELETED}
        assert {f"{tag}-t2", f"{tag}-t3", f"{tag}-p2"} <= deleted
        assert pre_user.name not in deleted and pre_project.name not in deleted
        names = {u.name for u in ks.users.list()}
        assert pre_user.name in names and f"{tag}-t2" not in names
        assert pre_project.name in {p.name for p in ks.projects.list()}
        assert teardown(session).writes == 0
    finally:
        ks.users.delete(pre_user)
        ks.projects.delete(pre_project)


def test_teardown_keeps_our_domain_when_it_holds_someone_elses_project(admin, ks):
    plan = isolated_plan()
    provision(admin, plan)
    domain = next(d for d in ks.domains.list() if d.name == plan.accounts[3].domain)
    foreign = ks.projects.create(f"foreign-{uuid.uuid4().hex[:6]}", domain, description="not ours")
    try:
        report = teardown(admin)
        kept = [c for c in report.changes if c.kind == "domain"]
        assert [(c.name, c.outcome) for c in kept] == [(domain.name, Outcome.KEPT)]
        assert foreign.name in kept[0].detail
    finally:
        ks.projects.delete(foreign)
        teardown(admin)
    assert not any(d.name == domain.name for d in ks.domains.list())


def test_missing_admin_rights_fail_naming_the_call(admin, keystone_stack):
    from dataclasses import replace

    # tester3 holds only a non-operator role on its project: no admin rights.
    plan = isolated_plan(3)
    provision(admin, plan)
    weak = plan.accounts[2]
    config = replace(keystone_stack.admin, username=weak.username, password=weak.password, project_name=weak.project)
    session = keystone_session(config)
    login(session, config)
    with pytest.raises(AuthFailed, match=r"^list [a-z ]+: keystone refused: HTTP 403"):
        provision(session, isolated_plan(1))
