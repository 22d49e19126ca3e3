"""Keystone accounts and test.conf for Swift's functional tests.

The command ``ostk swift-functest-setup`` is :func:`setup` (and
:func:`teardown`, :func:`check`) plus rendering::

    from ostk.auth import resolve
    import swiftfunc

    auth = resolve({"cloud": "devstack-admin"}, os.environ)
    report = swiftfunc.setup(auth, swiftfunc.SetupOptions(conf_path=Path("test.conf")))
    report.provision.writes              # 0 on a second run

The lower-level pieces (``swiftfunc.provision.provision`` on a keystoneauth
session, ``swiftfunc.testconf``) stay importable from their modules.
"""
from __future__ import annotations

from swiftfunc.accounts import Plan, TestAccount, default_plan
from swiftfunc.check import CheckResult
from swiftfunc.provision import Change, Outcome, PasswordMismatch, Report
from swiftfunc.setup import ConfOutcome, SetupOptions, SetupReport, check, setup, teardown
from swiftfunc.testconf import DEFAULT_PATH as DEFAULT_TEST_CONF

__all__ = [
    "DEFAULT_TEST_CONF",
    "Change",
    "CheckResult",
    "ConfOutcome",
    "Outcome",
    "PasswordMismatch",
    "Plan",
    "Report",
    "SetupOptions",
    "SetupReport",
    "TestAccount",
    "check",
    "default_plan",
    "setup",
    "teardown",
]
