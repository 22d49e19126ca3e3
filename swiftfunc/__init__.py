"""Keystone accounts and test.conf for Swift's functional tests.

>>> from swiftfunc import default_plan, provision, check_accounts     # doctest: +SKIP
>>> report = provision(session, default_plan(), swift_url="http://127.0.0.1:8080")
>>> report.writes                        # 0 on a second run
"""
from __future__ import annotations

from swiftfunc.accounts import DESCRIPTION, MARKER, Assignment, Plan, TestAccount, default_plan, is_ours
from swiftfunc.check import CheckResult, check_accounts
from swiftfunc.provision import (
    Change,
    Ec2Credential,
    Outcome,
    PasswordMismatch,
    Report,
    login,
    provision,
    teardown,
)
from swiftfunc.testconf import DEFAULT_PATH as DEFAULT_TEST_CONF
from swiftfunc.testconf import TestConf

__all__ = [
    "Assignment",
    "Change",
    "CheckResult",
    "DEFAULT_TEST_CONF",
    "DESCRIPTION",
    "Ec2Credential",
    "MARKER",
    "Outcome",
    "PasswordMismatch",
    "Plan",
    "Report",
    "TestAccount",
    "TestConf",
    "check_accounts",
    "default_plan",
    "is_ours",
    "login",
    "provision",
    "teardown",
]
