"""Apply a :class:`~swiftfunc.accounts.Plan` to keystone, idempotently; undo it.

Everything goes through python-keystoneclient's v3 API on the one keystoneauth
session the caller passes in. Keystone is read once (one list call per kind of
object, issued concurrently), the difference is computed locally, and only the
missing or broken pieces are written. A second run therefore writes nothing,
a run after drift (a deleted user, a revoked role) repairs exactly that, and a
run interrupted half-way is completed by the next one.

>>> report = provision(session, default_plan())          # doctest: +SKIP
>>> report.writes, report.changed                        # doctest: +SKIP
(0, False)
"""
from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ostk.auth import keystone_errors
from ostk.catalog import (
    ENDPOINT_INTERFACES,
    OBJECT_STORE_NAME,
    OBJECT_STORE_TYPE,
    Endpoint,
    object_store_url,
    plan_endpoints,
)
from ostk.errors import HTTPError, InputError
from swiftfunc.accounts import DEFAULT_DOMAIN, DESCRIPTION, Plan, TestAccount, is_ours

T = TypeVar("T")

#: Placeholder id for objects a dry run would create.
NEW = "(new)"
#: Pauses before retrying a read that failed with a 5xx (then one last try).
READ_RETRY_DELAYS = (0.5, 1.5)


class Outcome(str, enum.Enum):
    """What happened to one object (in a dry run: what would happen)."""

    CREATED = "created"
    UNCHANGED = "unchanged"
    REPAIRED = "repaired"
    PASSWORD_RESET = "password reset"
    DELETED = "deleted"
    #: Teardown left it: not created by this tool, or still in use.
    KEPT = "kept"


@dataclass(frozen=True)
class Change:
    """One row of the result table."""

    #: domain, project, user, role, assignment, service, endpoint, ec2 credential
    kind: str
    name: str
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True)
class Ec2Credential:
    """An EC2 access/secret pair for the s3api tests. ``secret`` is never printed."""

    username: str
    project: str
    access: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Report:
    """The result of :func:`provision` or :func:`teardown`."""

    changes: tuple[Change, ...]
    #: Keystone write calls made (POST/PUT/PATCH/DELETE); 0 in a dry run.
    writes: int
    dry_run: bool = False
    #: Project ids by project name (for storage URLs); NEW in a dry run.
    project_ids: dict[str, str] = field(default_factory=dict)
    #: EC2 credentials by account index (with ``s3=True``).
    ec2: dict[int, Ec2Credential] = field(default_factory=dict, repr=False)

    @property
    def changed(self) -> bool:
        """True if anything was (or in a dry run would be) written."""
        return any(c.outcome not in (Outcome.UNCHANGED, Outcome.KEPT) for c in self.changes)


class PasswordMismatch(InputError):
    """Existing users whose password is not the planned one (and no reset was asked)."""

    def __init__(self, usernames: list[str]) -> None:
        names = ", ".join(usernames)
        super().__init__(
            f"user(s) {names} already exist with a different password; pass --reset-passwords "
            "to set the password from the plan, or put the real password in test.conf"
        )
        self.usernames = usernames


class Keystone:
    """keystoneclient v3 with every call named (for errors) and every write counted."""

    def __init__(self, session: Any, *, interface: str = "public", region_name: str | None = None) -> None:
        from keystoneclient.v3 import client as ks_client

        self.session = session
        self.interface = interface
        self.client = ks_client.Client(session=session, interface=interface, region_name=region_name)
        self.writes = 0

    def read(self, what: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from keystoneauth1 import exceptions as ka

        with keystone_errors(what):
            # Reads are idempotent: retry a server error a couple of times (a
            # sqlite-backed keystone answers 500 "database is locked" under load).
            for delay in READ_RETRY_DELAYS:
                try:
                    return call(*args, **kwargs)
                except (ka.InternalServerError, ka.BadGateway, ka.ServiceUnavailable, ka.GatewayTimeout):
                    time.sleep(delay)
            return call(*args, **kwargs)

    def write(self, what: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self.writes += 1
        with keystone_errors(what):
            return call(*args, **kwargs)

    def read_all(self, calls: dict[str, tuple[str, Callable[[], Any]]]) -> dict[str, Any]:
        """Run independent read calls, all but the first concurrently.

        The first goes alone: a keystone that just started loads its policy
        rules on the first request, and requests racing that load are refused
        with a spurious 403.
        """
        items = list(calls.items())
        first_key, (first_what, first_call) = items[0]
        results = {first_key: self.read(first_what, first_call)}
        rest = items[1:]
        if rest:
            with ThreadPoolExecutor(max_workers=len(rest)) as pool:
                futures = {key: pool.submit(self.read, what, call) for key, (what, call) in rest}
                results.update({key: future.result() for key, future in futures.items()})
        return results

    def password_ok(self, user_id: str, password: str, name: str = "") -> bool:
        """True if ``password`` is the user's password (an unscoped login; no write)."""
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": user_id, "password": password}}}}}
        who = name or user_id
        with keystone_errors(f"log in as user {who}"):
            response = self.session.post(
                "/auth/tokens",
                json=body,
                authenticated=False,
                raise_exc=False,
                endpoint_filter={"service_type": "identity", "interface": self.interface, "version": (3, 0)},
            )
        if response.status_code == 201:
            return True
        if response.status_code == 401:
            return False
        raise HTTPError(
            f"log in as user {who}: keystone answered HTTP {response.status_code}",
            status=response.status_code,
            url=str(getattr(response, "url", "")),
        )


def provision(
    session: Any,
    plan: Plan,
    *,
    dry_run: bool = False,
    reset_passwords: bool = False,
    swift_url: str | None = None,
    s3: bool = False,
    interface: str = "public",
    region_name: str | None = None,
) -> Report:
    """Make keystone hold everything in ``plan``; return what was done.

    Raises :class:`PasswordMismatch` (before writing anything) if a planned
    user exists with another password and ``reset_passwords`` is false.
    """
    ks = Keystone(session, interface=interface, region_name=region_name)
    return _Provisioner(ks, plan, dry_run=dry_run, reset_passwords=reset_passwords).run(
        swift_url=swift_url, s3=s3, region=region_name or "RegionOne"
    )


class _Provisioner:
    def __init__(self, ks: Keystone, plan: Plan, *, dry_run: bool, reset_passwords: bool) -> None:
        self.ks = ks
        self.c = ks.client
        self.plan = plan
        self.dry_run = dry_run
        self.reset_passwords = reset_passwords
        self.changes: list[Change] = []
        #: Users (by name) and projects (by (name, domain)) created in this run.
        self.created: set[Any] = set()
        self.role_names: dict[str, str] = {}

    def note(self, kind: str, name: str, outcome: Outcome, detail: str = "") -> None:
        self.changes.append(Change(kind, name, outcome, detail))

    def write(self, what: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        if self.dry_run:
            return None
        return self.ks.write(what, call, *args, **kwargs)

    def run(self, *, swift_url: str | None, s3: bool, region: str) -> Report:
        c = self.c
        reads: dict[str, tuple[str, Callable[[], Any]]] = {
            "domains": ("list domains", c.domains.list),
            "projects": ("list projects", c.projects.list),
            "users": ("list users", c.users.list),
            "roles": ("list roles", c.roles.list),
            "assignments": ("list role assignments", c.role_assignments.list),
        }
        if swift_url:
            reads["services"] = ("list services", lambda: c.services.list(type="object-store"))
            reads["endpoints"] = ("list endpoints", c.endpoints.list)
        seen = self.ks.read_all(reads)

        domain_ids = self._domains(seen["domains"])
        role_ids = self._roles(seen["roles"])
        project_ids = self._projects(seen["projects"], domain_ids)
        user_ids = self._users(seen["users"], domain_ids)
        self._assignments(seen["assignments"], user_ids, project_ids, role_ids)
        if swift_url:
            self._object_store(seen["services"], seen["endpoints"], swift_url, region)
        ec2 = self._ec2(user_ids, project_ids) if s3 else {}
        return Report(
            changes=tuple(self.changes),
            writes=self.ks.writes,
            dry_run=self.dry_run,
            project_ids={name: project_ids[(name, domain)] for name, domain in self.plan.projects},
            ec2=ec2,
        )

    # domains, roles, projects ----------------------------------------------
    def _domains(self, existing: list[Any]) -> dict[str, str]:
        by_name = {d.name: d for d in existing}
        ids: dict[str, str] = {}
        for name in self.plan.domains:
            domain = by_name.get(name)
            if domain is None and name == DEFAULT_DOMAIN:
                domain = next((d for d in existing if d.id == "default"), None)
            if domain is None:
                created = self.write(f"create domain {name}", self.c.domains.create, name, description=DESCRIPTION)
                ids[name] = created.id if created else NEW
                self.note("domain", name, Outcome.CREATED)
            elif not getattr(domain, "enabled", True):
                self.write(f"enable domain {name}", self.c.domains.update, domain.id, enabled=True)
                ids[name] = domain.id
                self.note("domain", name, Outcome.REPAIRED, "was disabled")
            else:
                ids[name] = domain.id
                self.note("domain", name, Outcome.UNCHANGED)
        return ids

    def _roles(self, existing: list[Any]) -> dict[str, str]:
        # Domain-specific roles cannot be assigned on projects of other domains.
        by_name = {r.name: r for r in existing if not getattr(r, "domain_id", None)}
        self.role_names = {r.id: r.name for r in existing}
        ids: dict[str, str] = {}
        for name in self.plan.roles:
            role = by_name.get(name)
            if role is None:
                created = self.write(f"create role {name}", self.c.roles.create, name, description=DESCRIPTION)
                ids[name] = created.id if created else NEW
                self.note("role", name, Outcome.CREATED)
            else:
                ids[name] = role.id
                self.note("role", name, Outcome.UNCHANGED)
        return ids

    def _projects(self, existing: list[Any], domain_ids: dict[str, str]) -> dict[tuple[str, str], str]:
        by_key = {(p.name, p.domain_id): p for p in existing}
        ids: dict[tuple[str, str], str] = {}
        for name, domain in self.plan.projects:
            label = name if domain == DEFAULT_DOMAIN else f"{name} ({domain})"
            project = by_key.get((name, domain_ids[domain]))
            if project is None:
                created = self.write(
                    f"create project {label}", self.c.projects.create, name, domain_ids[domain], description=DESCRIPTION
                )
                ids[(name, domain)] = created.id if created else NEW
                self.created.add((name, domain))
                self.note("project", label, Outcome.CREATED)
            elif not getattr(project, "enabled", True):
                self.write(f"enable project {label}", self.c.projects.update, project.id, enabled=True)
                ids[(name, domain)] = project.id
                self.note("project", label, Outcome.REPAIRED, "was disabled")
            else:
                ids[(name, domain)] = project.id
                self.note("project", label, Outcome.UNCHANGED)
        return ids

    # users -------------------------------------------------------------------
    def _users(self, existing: list[Any], domain_ids: dict[str, str]) -> dict[str, str]:
        by_key = {(u.name, u.domain_id): u for u in existing}
        found: dict[str, Any] = {}
        for account in self.plan.users:
            user = by_key.get((account.username, domain_ids[account.domain]))
            if user is not None:
                found[account.username] = user
        # Check every enabled user's password before writing anything, so a
        # mismatch stops the run with keystone untouched.
        enabled = [a for a in self.plan.users if a.username in found and getattr(found[a.username], "enabled", True)]
        verdicts = self._check_passwords([(a, found[a.username].id) for a in enabled])
        wrong = [a.username for a in enabled if not verdicts[a.username]]
        if wrong and not self.reset_passwords:
            raise PasswordMismatch(wrong)

        ids: dict[str, str] = {}
        for account in self.plan.users:
            user = found.get(account.username)
            label = _user_label(account)
            if user is None:
                created = self.write(
                    f"create user {label}",
                    self.c.users.create,
                    account.username,
                    domain=domain_ids[account.domain],
                    password=account.password,
                    description=DESCRIPTION,
                    enabled=True,
                )
                ids[account.username] = created.id if created else NEW
                self.created.add(account.username)
                self.note("user", label, Outcome.CREATED, account.purpose)
                continue
            ids[account.username] = user.id
            if not getattr(user, "enabled", True):
                # A disabled user cannot log in, so its password cannot be
                # checked: enabling it sets the planned password too.
                self.write(
                    f"enable user {label}", self.c.users.update, user.id, enabled=True, password=account.password
                )
                self.note("user", label, Outcome.REPAIRED, "was disabled; password set")
            elif account.username in wrong:
                self.write(f"reset password of user {label}", self.c.users.update, user.id, password=account.password)
                self.note("user", label, Outcome.PASSWORD_RESET)
            else:
                self.note("user", label, Outcome.UNCHANGED, account.purpose)
        return ids

    def _check_passwords(self, users: list[tuple[TestAccount, str]]) -> dict[str, bool]:
        # One after the other: a login writes to keystone's database (last
        # activity, failure counts), and a sqlite-backed keystone answers
        # concurrent logins with HTTP 500 "database is locked".
        return {account.username: self.ks.password_ok(user_id, account.password, account.username) for account, user_id in users}

    # role assignments ----------------------------------------------------------
    def _assignments(
        self,
        existing: list[Any],
        user_ids: dict[str, str],
        project_ids: dict[tuple[str, str], str],
        role_ids: dict[str, str],
    ) -> None:
        held: set[tuple[str, str, str]] = set()
        for assignment in existing:
            user = (getattr(assignment, "user", None) or {}).get("id")
            project = ((getattr(assignment, "scope", None) or {}).get("project") or {}).get("id")
            role = (getattr(assignment, "role", None) or {}).get("id")
            if user and project and role:
                held.add((user, project, role))

        for wanted in self.plan.assignments:
            user_id = user_ids[wanted.user]
            project_id = project_ids[(wanted.project, wanted.project_domain)]
            role_id = role_ids[wanted.role]
            if (user_id, project_id, role_id) in held:
                self.note("assignment", str(wanted), Outcome.UNCHANGED)
                continue
            self.write(f"grant role {wanted}", self.c.roles.grant, role_id, user=user_id, project=project_id)
            # Missing between objects that already existed: drift, repaired.
            fresh = wanted.user in self.created or (wanted.project, wanted.project_domain) in self.created
            self.note("assignment", str(wanted), Outcome.CREATED if fresh else Outcome.REPAIRED)

        # Users whose tests rely on being refused must not hold the wrong roles
        # on the primary account.
        primary = self.plan.primary
        primary_project = project_ids[(primary.project, primary.domain)]
        for account in self.plan.users:
            forbidden = self.plan.forbidden_roles(account)
            if forbidden is None or (account.project == primary.project and not forbidden):
                continue
            user_id = user_ids[account.username]
            for held_user, held_project, held_role in sorted(held):
                if held_user != user_id or held_project != primary_project:
                    continue
                if held_role == role_ids.get(account.role) and account.project == primary.project:
                    continue  # its own planned role
                name = self.role_names.get(held_role, held_role)
                if forbidden and name not in forbidden:
                    continue
                self.write(
                    f"revoke role {name} of user {account.username} on project {primary.project}",
                    self.c.roles.revoke,
                    held_role,
                    user=user_id,
                    project=primary_project,
                )
                self.note(
                    "assignment",
                    f"{account.username} {name} on {primary.project}",
                    Outcome.REPAIRED,
                    "revoked: Swift's tests need this user refused there",
                )

    # object-store service and endpoints ---------------------------------------
    def _object_store(self, services: list[Any], endpoints: list[Any], swift_url: str, region: str) -> None:
        url = object_store_url(swift_url)
        service = services[0] if services else None
        if service is None:
            created = self.write(
                "create object-store service",
                self.c.services.create,
                OBJECT_STORE_NAME,
                OBJECT_STORE_TYPE,
                description=DESCRIPTION,
            )
            service_id = created.id if created else NEW
            self.note("service", "swift (object-store)", Outcome.CREATED)
        else:
            service_id = service.id
            self.note("service", f"{service.name} (object-store)", Outcome.UNCHANGED)
        mine = [
            Endpoint(e.id, e.interface, e.url, getattr(e, "region_id", None))
            for e in endpoints if e.service_id == service_id
        ]
        # A shared cloud: an existing endpoint is kept even with another URL.
        plan = plan_endpoints(mine, url, region, replace_stale=False)
        for interface in ENDPOINT_INTERFACES:
            have = plan.kept.get(interface)
            if have is not None:
                detail = "" if have.url == url else f"kept existing {have.url}"
                self.note("endpoint", f"object-store {interface}", Outcome.UNCHANGED, detail)
                continue
            self.write(
                f"create object-store {interface} endpoint",
                self.c.endpoints.create,
                service_id,
                url,
                interface=interface,
                region=region,
                description=DESCRIPTION,
            )
            self.note("endpoint", f"object-store {interface}", Outcome.CREATED, url)

    # EC2 credentials for the s3api tests ----------------------------------------
    def _ec2(self, user_ids: dict[str, str], project_ids: dict[tuple[str, str], str]) -> dict[int, Ec2Credential]:
        wanted = [a for a in self.plan.users if a.index in (1, 2, 3)]
        result: dict[int, Ec2Credential] = {}
        for account in wanted:
            user_id = user_ids[account.username]
            project_id = project_ids[(account.project, account.domain)]
            label = f"{account.username} on {account.project}"
            existing = [] if NEW == user_id else self.ks.read(f"list EC2 credentials of {account.username}", self.c.ec2.list, user_id)
            match = next((e for e in existing if getattr(e, "tenant_id", None) == project_id), None)
            if match is not None:
                result[account.index] = Ec2Credential(account.username, account.project, match.access, match.secret)
                self.note("ec2 credential", label, Outcome.UNCHANGED)
                continue
            created = self.write(f"create EC2 credential for {label}", self.c.ec2.create, user_id, project_id)
            access, secret = (created.access, created.secret) if created else (NEW, NEW)
            result[account.index] = Ec2Credential(account.username, account.project, access, secret)
            self.note("ec2 credential", label, Outcome.CREATED)
        return result


def teardown(
    session: Any,
    *,
    dry_run: bool = False,
    interface: str = "public",
    region_name: str | None = None,
) -> Report:
    """Delete every keystone object whose description marks it as this tool's.

    Objects without the marker are never touched. A domain we created is kept
    if it holds projects or users that are not ours (deleting a domain would
    delete them). Role assignments go away with their user or project; EC2
    credentials with their user; endpoints with their service.
    """
    ks = Keystone(session, interface=interface, region_name=region_name)
    c = ks.client
    seen = ks.read_all(
        {
            "users": ("list users", c.users.list),
            "projects": ("list projects", c.projects.list),
            "domains": ("list domains", c.domains.list),
            "roles": ("list roles", c.roles.list),
            "services": ("list services", c.services.list),
            "endpoints": ("list endpoints", c.endpoints.list),
        }
    )
    changes: list[Change] = []

    def delete(kind: str, name: str, call: Callable[..., Any], *args: Any) -> None:
        if not dry_run:
            ks.write(f"delete {kind} {name}", call, *args)
        changes.append(Change(kind, name, Outcome.DELETED))

    domain_names = {d.id: d.name for d in seen["domains"]}
    ours = _ours
    for user in ours(seen["users"]):
        delete("user", _label(user.name, domain_names.get(user.domain_id)), c.users.delete, user.id)
    for project in ours(seen["projects"]):
        delete("project", _label(project.name, domain_names.get(project.domain_id)), c.projects.delete, project.id)
    our_services = {s.id for s in ours(seen["services"])}
    for endpoint in ours(seen["endpoints"]):
        if endpoint.service_id not in our_services:
            delete("endpoint", f"{endpoint.interface} {endpoint.url}", c.endpoints.delete, endpoint.id)
    for service in ours(seen["services"]):
        delete("service", f"{service.name} ({service.type})", c.services.delete, service.id)
    for role in ours(seen["roles"]):
        delete("role", role.name, c.roles.delete, role.id)
    for domain in ours(seen["domains"]):
        foreign = [
            o.name
            for o in [*seen["users"], *seen["projects"]]
            if o.domain_id == domain.id and not is_ours(getattr(o, "description", None))
        ]
        if foreign:
            changes.append(Change("domain", domain.name, Outcome.KEPT, f"holds objects not created here: {', '.join(sorted(foreign))}"))
            continue
        # Keystone refuses to delete an enabled domain.
        if not dry_run and getattr(domain, "enabled", True):
            ks.write(f"disable domain {domain.name}", c.domains.update, domain.id, enabled=False)
        delete("domain", domain.name, c.domains.delete, domain.id)
    return Report(changes=tuple(changes), writes=ks.writes, dry_run=dry_run)


def _ours(objects: Iterable[Any]) -> list[Any]:
    return [o for o in objects if is_ours(getattr(o, "description", None))]


def _label(name: str, domain: str | None) -> str:
    return name if domain in (None, DEFAULT_DOMAIN) else f"{name} ({domain})"


def _user_label(account: TestAccount) -> str:
    return _label(account.username, account.domain)


def login(session: Any, config: Any) -> None:
    """Authenticate now, so bad credentials fail as one named call (and the
    concurrent reads that follow share one token)."""
    who = config.username or config.user_id or "token"
    with keystone_errors(f"log in to {config.auth_url} as {who}"):
        session.get_token()
