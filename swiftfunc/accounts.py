"""The plan: which keystone domains, projects, users and roles Swift's functional tests use.

The defaults follow Swift's ``test/sample.conf`` and devstack's
``create_swift_accounts``: three users in the Default domain (two account
owners and one unprivileged user), a fourth in a non-default domain, a fifth
with only the service role (service-token tests) and a sixth with the
reseller-admin role (access-control tests).

>>> plan = default_plan()
>>> [a.username for a in plan.accounts]
['tester', 'tester2', 'tester3', 'tester4', 'tester5', 'tester6']
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

T = TypeVar("T")

#: Every object this tool creates carries a description starting with this,
#: so ``--teardown`` can tell its own objects from everyone else's.
MARKER = "ostk swift-functest-setup"
#: The description set on created domains, projects, users, roles, services, endpoints.
DESCRIPTION = f"{MARKER}: created for Swift's functional tests"

#: Keystone's built-in domain (its id is always ``default``).
DEFAULT_DOMAIN = "Default"


def is_ours(description: str | None) -> bool:
    """True if a keystone object's description says this tool created it."""
    return bool(description) and str(description).startswith(MARKER)


@dataclass(frozen=True)
class TestAccount:
    """One user of the functional tests and the role it needs on its project."""

    #: 1-6: the numbered key set in test.conf (``username``, ``username2``...).
    index: int
    username: str
    #: Never printed: ``repr`` hides it.
    password: str
    #: The keystone project, which is the Swift account (``AUTH_<project id>``).
    project: str
    #: The domain of both the user and its project.
    domain: str
    #: The one role the user gets on the project.
    role: str
    #: Why the tests need this user (shown in tables).
    purpose: str

    def __repr__(self) -> str:
        return (
            f"TestAccount(index={self.index}, username={self.username!r}, project={self.project!r}, "
            f"domain={self.domain!r}, role={self.role!r})"
        )

    def conf_keys(self) -> dict[str, str]:
        """The ``[func_test]`` keys for this user, as Swift's test runner reads them."""
        suffix = "" if self.index == 1 else str(self.index)
        keys: dict[str, str] = {}
        # tester3 shares the primary account: Swift reads it from ``account``.
        if self.index != 3:
            keys[f"account{suffix}"] = self.project
        keys[f"username{suffix}"] = self.username
        keys[f"password{suffix}"] = self.password
        if self.domain != DEFAULT_DOMAIN:
            keys[f"domain{suffix}"] = self.domain
        return keys


@dataclass(frozen=True)
class Assignment:
    """A role a user holds on a project (both named with their domains)."""

    user: str
    user_domain: str
    role: str
    project: str
    project_domain: str

    def __str__(self) -> str:
        return f"{self.user} {self.role} on {self.project}"


@dataclass(frozen=True)
class Plan:
    """Everything to create. Build one with :func:`default_plan`."""

    accounts: tuple[TestAccount, ...]
    #: ``service_prefix`` in test.conf: the second reseller prefix of the proxy.
    service_prefix: str = "SERVICE"
    #: Roles the proxy treats as account owners (``operator_roles``).
    operator_roles: tuple[str, ...] = ("admin", "member")

    @property
    def domains(self) -> tuple[str, ...]:
        """Domains the accounts live in, Default first."""
        return _unique([DEFAULT_DOMAIN, *(a.domain for a in self.accounts)])

    @property
    def projects(self) -> tuple[tuple[str, str], ...]:
        """(project, domain) pairs."""
        return _unique((a.project, a.domain) for a in self.accounts)

    @property
    def users(self) -> tuple[TestAccount, ...]:
        return self.accounts

    @property
    def roles(self) -> tuple[str, ...]:
        return _unique(a.role for a in self.accounts)

    @property
    def assignments(self) -> tuple[Assignment, ...]:
        return tuple(Assignment(a.username, a.domain, a.role, a.project, a.domain) for a in self.accounts)

    def forbidden_roles(self, account: TestAccount) -> frozenset[str] | None:
        """Roles ``account`` must NOT hold on the primary project (None: no rule).

        The unprivileged user must not be an operator there, and the
        service-token user must hold no role on it at all (Swift's
        sample.conf), or the tests that rely on being refused would fail.
        """
        if account.index == 3:
            return frozenset(self.operator_roles)
        if account.index == 5:
            return frozenset()  # empty = every role is forbidden
        return None

    @property
    def primary(self) -> TestAccount:
        return self.accounts[0]

    def conf_values(self) -> dict[str, str]:
        """The account keys of ``[func_test]`` (without the auth URL keys)."""
        values: dict[str, str] = {}
        for account in self.accounts:
            values.update(account.conf_keys())
            if account.index == 5:
                values["service_prefix"] = self.service_prefix
        return values


_DEFAULTS = (
    TestAccount(1, "tester", "testing", "test", DEFAULT_DOMAIN, "admin", "account owner"),
    TestAccount(2, "tester2", "testing2", "test2", DEFAULT_DOMAIN, "admin", "second account owner"),
    TestAccount(3, "tester3", "testing3", "test", DEFAULT_DOMAIN, "anotherrole", "same account, not an operator"),
    TestAccount(4, "tester4", "testing4", "test4", "test-domain", "admin", "keystone v3 domain tests"),
    TestAccount(5, "tester5", "testing5", "test5", DEFAULT_DOMAIN, "service", "service-token tests"),
    TestAccount(6, "tester6", "testing6", "test", DEFAULT_DOMAIN, "ResellerAdmin", "reseller admin (access control)"),
)


def default_plan(
    users: int | None = None,
    *,
    overrides: dict[int, dict[str, str]] | None = None,
    service_prefix: str = "SERVICE",
) -> Plan:
    """The accounts from Swift's sample.conf, the first ``users`` of them (all if None).

    ``overrides`` maps an account index to field replacements, e.g.
    ``{1: {"password": "s3cret"}}``.
    """
    count = len(_DEFAULTS) if users is None else users
    if not 1 <= count <= len(_DEFAULTS):
        raise ValueError(f"users must be between 1 and {len(_DEFAULTS)}")
    accounts = []
    for account in _DEFAULTS[:count]:
        changes: dict[str, Any] = dict((overrides or {}).get(account.index) or {})
        accounts.append(replace(account, **changes))
    # tester3 and tester6 share the primary account, whatever it is called.
    primary = accounts[0]
    for i, account in enumerate(accounts):
        if account.index in (3, 6):
            accounts[i] = replace(account, project=primary.project, domain=primary.domain)
    return Plan(tuple(accounts), service_prefix=service_prefix)


def _conf_fields() -> dict[str, tuple[int, str]]:
    """test.conf key -> (account index, TestAccount field), for reading overrides back."""
    fields: dict[str, tuple[int, str]] = {}
    for account in _DEFAULTS:
        for key in account.conf_keys():
            name = key.rstrip("0123456789")
            fields[key] = (account.index, "project" if name == "account" else name)
    return fields


CONF_FIELDS = _conf_fields()


def overrides_from_conf(func_test: dict[str, str]) -> dict[int, dict[str, str]]:
    """Account fields set in an existing ``[func_test]`` section, keyed by account index."""
    overrides: dict[int, dict[str, str]] = {}
    for key, value in func_test.items():
        if key in CONF_FIELDS and value.strip():
            index, field = CONF_FIELDS[key]
            overrides.setdefault(index, {})[field] = value.strip()
    return overrides


def _unique(items: Iterable[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(items))
