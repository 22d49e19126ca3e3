"""The account plan matches Swift's sample.conf and devstack's create_swift_accounts."""
from __future__ import annotations

import pytest

from swiftfunc.accounts import DESCRIPTION, Assignment, default_plan, is_ours, overrides_from_conf


def test_default_plan_is_the_six_users_of_the_issue_table():
    plan = default_plan()
    rows = [(a.username, a.password, a.project, a.domain, a.role) for a in plan.accounts]
    assert rows == [
        ("tester", "testing", "test", "Default", "admin"),
        ("tester2", "testing2", "test2", "Default", "admin"),
        ("tester3", "testing3", "test", "Default", "anotherrole"),
        ("tester4", "testing4", "test4", "test-domain", "admin"),
        ("tester5", "testing5", "test5", "Default", "service"),
        ("tester6", "testing6", "test", "Default", "ResellerAdmin"),
    ]
    assert plan.domains == ("Default", "test-domain")
    assert plan.projects == (("test", "Default"), ("test2", "Default"), ("test4", "test-domain"), ("test5", "Default"))
    assert set(plan.roles) == {"admin", "anotherrole", "service", "ResellerAdmin"}
    assert Assignment("tester4", "test-domain", "admin", "test4", "test-domain") in plan.assignments


def test_unprivileged_user_has_no_operator_role_and_tester5_no_role_on_the_primary_account():
    plan = default_plan()
    tester3, tester5 = plan.accounts[2], plan.accounts[4]
    assert tester3.role not in plan.operator_roles
    assert plan.forbidden_roles(tester3) == frozenset(plan.operator_roles)
    assert plan.forbidden_roles(tester5) == frozenset()  # every role
    assert not any(a.user == "tester5" and a.project == "test" for a in plan.assignments)
    assert plan.forbidden_roles(plan.accounts[0]) is None


def test_conf_values_use_swifts_key_names():
    values = default_plan().conf_values()
    assert values["account"] == "test" and values["username"] == "tester" and values["password"] == "testing"
    assert "account3" not in values and values["username3"] == "tester3"
    assert values["domain4"] == "test-domain" and "domain" not in values
    assert values["service_prefix"] == "SERVICE"
    assert (values["account6"], values["username6"], values["password6"]) == ("test", "tester6", "testing6")


def test_users_limits_the_plan_and_its_conf_keys():
    plan = default_plan(3)
    assert [a.username for a in plan.accounts] == ["tester", "tester2", "tester3"]
    assert "username4" not in plan.conf_values() and "service_prefix" not in plan.conf_values()
    with pytest.raises(ValueError):
        default_plan(7)
    with pytest.raises(ValueError):
        default_plan(0)


def test_overrides_from_an_existing_conf_rename_users_and_keep_shared_accounts_shared():
    overrides = overrides_from_conf({"account": "acct", "username": "me", "password4": "pw4", "domain4": "d4", "collate": "C"})
    plan = default_plan(overrides=overrides)
    assert plan.accounts[0].project == "acct" and plan.accounts[0].username == "me"
    # tester3 and tester6 live in whatever the primary account is called.
    assert plan.accounts[2].project == "acct" and plan.accounts[5].project == "acct"
    assert plan.accounts[3].password == "pw4" and plan.accounts[3].domain == "d4"


def test_passwords_stay_out_of_repr():
    assert "testing" not in repr(default_plan())


def test_marker_recognises_only_our_descriptions():
    assert is_ours(DESCRIPTION)
    assert not is_ours(None) and not is_ours("") and not is_ours("created by devstack")
