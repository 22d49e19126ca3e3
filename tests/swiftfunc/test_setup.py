"""``swiftfunc.setup``/``teardown``/``check``: the command as library calls, on a real keystone."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import swiftfunc
from ostk.errors import InputError

pytestmark = pytest.mark.integration


def _conf(path: Path) -> Path:
    """A test.conf naming accounts unique to this test (setup reads names back from it)."""
    tag = uuid.uuid4().hex[:6]
    path.write_text(
        "[func_test]\n"
        f"username = {tag}-tester\npassword = pw-{tag}\naccount = {tag}-test\n"
        f"username2 = {tag}-tester2\npassword2 = pw2-{tag}\naccount2 = {tag}-test2\n"
    )
    return path


def test_setup_twice_writes_nothing_the_second_time_and_teardown_undoes_it(keystone_stack: Any, tmp_path: Path) -> None:
    conf = _conf(tmp_path / "test.conf")
    options = swiftfunc.SetupOptions(conf_path=conf, users=2)
    try:
        first = swiftfunc.setup(keystone_stack.admin, options)
        assert first.provision.writes > 0
        assert first.conf_outcome is swiftfunc.ConfOutcome.WRITTEN
        assert conf.stat().st_mode & 0o777 == 0o600

        second = swiftfunc.setup(keystone_stack.admin, options)
        assert second.provision.writes == 0 and not second.provision.changed
        assert second.conf_outcome is swiftfunc.ConfOutcome.UNCHANGED
    finally:
        removed = swiftfunc.teardown(keystone_stack.admin)
    assert any(change.outcome is swiftfunc.Outcome.DELETED for change in removed.changes)
    assert swiftfunc.teardown(keystone_stack.admin).writes == 0


def test_dry_run_leaves_keystone_and_the_conf_alone(keystone_stack: Any, tmp_path: Path) -> None:
    conf = _conf(tmp_path / "test.conf")
    before = conf.read_text()
    report = swiftfunc.setup(keystone_stack.admin, swiftfunc.SetupOptions(conf_path=conf, users=1, dry_run=True))
    assert report.provision.dry_run and report.provision.writes == 0
    assert report.conf_outcome is swiftfunc.ConfOutcome.WOULD_WRITE
    assert conf.read_text() == before


def test_a_malformed_conf_is_refused_before_keystone_is_touched(keystone_stack: Any, tmp_path: Path) -> None:
    conf = tmp_path / "test.conf"
    conf.write_text("no section header\n")
    with pytest.raises(InputError):
        swiftfunc.setup(keystone_stack.admin, swiftfunc.SetupOptions(conf_path=conf))
