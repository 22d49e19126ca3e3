"""``ostk swift-functest-setup`` as library calls: set up, tear down, check.

The command is these three functions plus rendering; a script does what the
command does with the same objects::

    from ostk.auth import resolve
    import swiftfunc

    auth = resolve({"cloud": "devstack-admin"}, os.environ)
    report = swiftfunc.setup(auth, swiftfunc.SetupOptions(conf_path=Path("test.conf")))
    print(report.provision.writes, report.conf_outcome)

Every local check (test.conf readable and writable) comes before keystone is
touched: a run that could not record its work must not change anything.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from ostk.auth import AuthConfig, keystone_session
from swiftfunc import accounts, testconf
from swiftfunc.check import CheckResult, check_accounts
from swiftfunc.provision import Report, login, provision
from swiftfunc.provision import teardown as _teardown


class ConfOutcome(str, enum.Enum):
    """What happened to test.conf."""

    WRITTEN = "written"
    UNCHANGED = "unchanged"
    #: A dry run: the file would have been written.
    WOULD_WRITE = "would write"


@dataclass(frozen=True)
class SetupOptions:
    """What to set up, resolved once by the caller (the CLI or a script)."""

    #: The test.conf to write (absolute, or relative to the process's cwd).
    conf_path: Path = testconf.DEFAULT_PATH
    #: Only the first N of the six users (None: all of them).
    users: int | None = None
    #: Swift proxy base URL: register the object-store service and endpoints if missing.
    swift_url: str | None = None
    #: The storage domain for Swift's domain_remap tests (a local stack knows it).
    storage_domain: str | None = None
    #: Also create EC2 credentials and write the s3api keys.
    s3: bool = False
    #: Set existing users' passwords to the planned ones.
    reset_passwords: bool = False
    #: Show what would change; write nothing.
    dry_run: bool = False
    #: Then log in as every user with swiftclient and touch its account.
    check: bool = False


@dataclass(frozen=True)
class SetupReport:
    """The outcome of :func:`setup`."""

    #: What happened in keystone, object by object.
    provision: Report
    conf_path: Path
    conf_outcome: ConfOutcome
    #: One result per user when ``check`` was asked, else empty.
    check: tuple[CheckResult, ...] = ()

    @property
    def check_failed(self) -> bool:
        """True when a user could not log in or its account misbehaved."""
        return any(not result.passed for result in self.check)


def setup(auth: AuthConfig, options: SetupOptions) -> SetupReport:
    """Create every account Swift's functional tests need and write test.conf.

    Idempotent: a second run writes nothing to keystone and leaves test.conf
    unchanged; drift (a deleted user, a revoked role) is repaired.
    """
    conf = testconf.load(options.conf_path)
    if not options.dry_run:
        testconf.check_writable(options.conf_path)
    plan = accounts.default_plan(
        options.users, overrides=accounts.overrides_from_conf(conf.section(testconf.FUNC_TEST))
    )

    session = keystone_session(auth)
    login(session, auth)
    report = provision(
        session,
        plan,
        dry_run=options.dry_run,
        reset_passwords=options.reset_passwords,
        swift_url=options.swift_url,
        s3=options.s3,
        interface=auth.interface,
        region_name=auth.region_name,
    )
    updates = testconf.updates_for(
        plan,
        auth.auth_url or "",
        insecure=auth.insecure,
        swift_url=options.swift_url,
        storage_domain=options.storage_domain,
        ec2={index: (cred.access, cred.secret) for index, cred in report.ec2.items()},
    )
    text = testconf.merge(conf.text, updates)
    if text == conf.text and conf.mode == 0o600:
        outcome = ConfOutcome.UNCHANGED
    elif options.dry_run:
        outcome = ConfOutcome.WOULD_WRITE
    else:
        testconf.write(options.conf_path, text)
        outcome = ConfOutcome.WRITTEN

    results = check(auth, plan) if options.check else ()
    return SetupReport(report, options.conf_path, outcome, results)


def teardown(auth: AuthConfig, *, dry_run: bool = False) -> Report:
    """Delete what :func:`setup` created in keystone (and nothing else).

    test.conf is left alone: it may hold settings that are not ours.
    """
    session = keystone_session(auth)
    login(session, auth)
    return _teardown(session, dry_run=dry_run, interface=auth.interface, region_name=auth.region_name)


def check(auth: AuthConfig, plan: accounts.Plan | None = None) -> tuple[CheckResult, ...]:
    """Log in as every planned user with swiftclient and touch its account."""
    return check_accounts(
        plan or accounts.default_plan(),
        auth.auth_url or "",
        insecure=auth.insecure,
        cacert=auth.cacert,
        region_name=auth.region_name,
        interface=auth.interface,
    )
