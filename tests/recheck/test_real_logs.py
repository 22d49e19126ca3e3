"""Real logs through ``ostk recheck PATH --json``: what a person reading them would conclude.

The devstack logs are real runs pasted in public repositories (see
``data/real/PROVENANCE.md``); the stestr consoles are produced here by the
real stestr / python-subunit / testtools, running small test modules.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ostk.cli import main

REAL = Path(__file__).parent / "data" / "real"


def recheck_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["recheck", str(path), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out)
    (job,) = doc["jobs"]
    return dict(job)


@pytest.mark.parametrize(
    ("name", "cause", "where"),
    [
        (
            "devstack-exit-trap-keystone-http502.log",
            ("Could not find versioned identity endpoints when attempting to authenticate. Please check that "
            "your auth_url is correct. Bad Gateway (HTTP 502)"),
            "stack.sh failed in lib/keystone:create_keystone_accounts (exit 1)",
        ),
        ("devstack-exit-trap-keystone-manage-importerror.log", "ImportError: No module named config", None),
        (
            "devstack-exit-trap-wait-for-compute.log",
            "Didn't find service registered by hostname after 60 seconds",
            "stack.sh failed in lib/nova:is_nova_ready (exit 124)",
        ),
        (
            "devstack-exit-trap-pip-egg-info.log",
            'Command "python setup.py egg_info" failed with error code 1 in /tmp/pip-build-xH46KU/rcssmin/',
            "stack.sh failed in inc/python:pip_install (exit 1)",
        ),
    ],
)
def test_a_run_ending_through_the_exit_trap_is_a_setup_failure_whose_message_is_the_cause(
    name: str, cause: str, where: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    job = recheck_json(REAL / name, capsys)
    (failure,) = job["failures"]
    assert failure["kind"] == "setup" and failure["id"] == "devstack"
    assert failure["message"] == cause
    if where:
        assert failure["excerpt"].splitlines()[0] == where
    # The line is the "Error on exit" line: where the run ended.
    lines = (REAL / name).read_text(encoding="utf-8").splitlines()
    assert lines[failure["line"] - 1].endswith("Error on exit")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "devstack-die-git-call-failed.log",
            ("[ERROR] /devstack/functions-common:510 git call failed: [git clone "
            "git://git.openstack.org/openstack/requirements.git /opt/stack/requirements]"),
        ),
        (
            "devstack-die-neutron-net-create.log",
            ("[ERROR] /home/stack/devstack/functions-common:532 Failure creating NET_ID for "
            "c9c0a95dd6564175939baf46fa012d72"),
        ),
    ],
)
def test_devstack_die_before_the_exit_trap_is_reported_once_by_its_error_line(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    job = recheck_json(REAL / name, capsys)
    assert [(f["kind"], f["message"]) for f in job["failures"]] == [("setup", message)]


def test_an_exit_trap_without_an_error_line_names_the_failing_step_and_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real wait_for_compute run, without the lines that say why: only the trace is left.
    lines = (REAL / "devstack-exit-trap-wait-for-compute.log").read_text(encoding="utf-8").splitlines()
    kept = [ln for ln in lines if "| +" in ln or "| ++" in ln or ln.endswith("Error on exit")]
    log = tmp_path / "job-output.txt"
    log.write_text("\n".join(kept) + "\n", encoding="utf-8")
    (failure,) = recheck_json(log, capsys)["failures"]
    assert failure["kind"] == "setup"
    assert failure["message"] == (
        "stack.sh exited through its exit trap in lib/nova:is_nova_ready (exit 124); last command: "
        "wait_for_compute: openstack --os-cloud devstack-admin --os-region RegionOne compute service list"
    )


def test_a_log_that_shows_the_job_failed_is_never_a_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # zuul/zuul tests/remote/test_remote_zuul_stream.py: a failed task leaves "failed: 1" in the
    # recap while the playbook banner still says RESULT_NORMAL.
    log = tmp_path / "job-output.txt"
    log.write_text(
        "2024-01-01 10:00:00.000000 | PLAY RECAP\n"
        "2024-01-01 10:00:00.000000 | controller | ok: 3 changed: 1 unreachable: 0 failed: 1\n"
        "2024-01-01 10:00:00.000000 | RUN END RESULT_NORMAL: [untrusted : example.com/org/project/"
        "playbooks/command.yaml@master]\n",
        encoding="utf-8",
    )
    (failure,) = recheck_json(log, capsys)["failures"]
    assert failure["id"] == "job" and failure["line"] == 2
    assert "no specific failure was found" in failure["message"] and "failed: 1" in failure["message"]
    log.write_text("2024-01-01 10:00:00 | controller | ok: 3 changed: 1 unreachable: 0 failed: 0\n", encoding="utf-8")
    assert recheck_json(log, capsys)["failures"] == []


# -- stestr: real consoles and streams ------------------------------------------------

#: A tempest-shaped exception: the message, then "Details: …" (openstack/tempest
#: tempest/lib/exceptions.py, TempestException.__init__), written here, not copied.
_TEMPEST_EXCEPTIONS = '''
class TempestException(Exception):
    message = "An unknown exception occurred"

    def __init__(self, *args):
        text = self.message
        if args:
            text += "\\nDetails: %s" % "\\n".join(args)
        super().__init__(text)


class TimeoutException(TempestException):
    message = "Request timed out"
'''

_TESTS = '''
import testtools
from testtools.content import text_content

from tempest.lib import exceptions


class ServersTestJSON(testtools.TestCase):
    def test_create_server(self):
        raise exceptions.TimeoutException(
            "(ServersTestJSON:test_create_server) Server 5d1 failed to reach ACTIVE status and task "
            "state \\"None\\" within the required time (196 s). Current status: BUILD. Current task "
            "state: spawning."
        )

    def test_huge_console(self):
        # More than subunit v2's 4 MiB packet limit: the worker dies reporting it.
        self.addDetail("console", text_content("x" * (5 * 1024 * 1024)))
        self.fail("boom")

    def test_passes(self):
        pass
'''


@pytest.fixture(scope="module")
def stestr_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(console, subunit stream) of a real ``stestr run`` of the tests above."""
    root = tmp_path_factory.mktemp("stestr")
    (root / "tempest" / "lib").mkdir(parents=True)
    (root / "tempest" / "__init__.py").write_text("")
    (root / "tempest" / "lib" / "__init__.py").write_text("")
    (root / "tempest" / "lib" / "exceptions.py").write_text(textwrap.dedent(_TEMPEST_EXCEPTIONS))
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_servers.py").write_text(textwrap.dedent(_TESTS))
    (root / ".stestr.conf").write_text("[DEFAULT]\ntest_path=./tests\ntop_dir=./\n")
    stestr = [sys.executable, "-m", "stestr"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [*stestr, "run", "--serial"], cwd=root, env=env, capture_output=True, timeout=300, check=False
    )
    assert done.returncode == 1
    console = root / "console.txt"
    console.write_bytes(done.stdout + done.stderr)
    stream = subprocess.run(
        [*stestr, "last", "--subunit"], cwd=root, env=env, capture_output=True, timeout=120, check=True
    ).stdout
    (root / "testrepository.subunit").write_bytes(stream)
    return console, root / "testrepository.subunit"


def test_tempest_failures_carry_their_exception_and_details_line_from_the_console(
    stestr_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    console, _ = stestr_run
    failures = {f["id"]: f for f in recheck_json(console, capsys)["failures"]}
    f = failures["tests.test_servers.ServersTestJSON.test_create_server"]
    assert f["kind"] == "test"
    assert f["message"].startswith(
        "tempest.lib.exceptions.TimeoutException: Request timed out Details: (ServersTestJSON:test_create_server)"
        " Server 5d1 failed to reach ACTIVE status"
    )


def test_tempest_failures_carry_their_exception_and_details_line_from_subunit(
    stestr_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, stream = stestr_run
    failures = {f["id"]: f for f in recheck_json(stream, capsys)["failures"]}
    f = failures["tests.test_servers.ServersTestJSON.test_create_server"]
    assert f["message"].startswith("tempest.lib.exceptions.TimeoutException: Request timed out Details: ")
    assert "failed to reach ACTIVE status" in f["message"]


def test_a_runner_crash_after_a_failed_test_is_a_failure_of_its_own(
    stestr_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    console, _ = stestr_run
    text = console.read_text(encoding="utf-8")
    assert "ValueError: Length too long" in text  # the real worker really died
    failures = recheck_json(console, capsys)["failures"]
    by_id = {f["id"]: f for f in failures}
    test = by_id["tests.test_servers.ServersTestJSON.test_create_server"]
    assert "Length too long" not in test["message"] and "Length too long" not in test["excerpt"]
    crash = by_id["test runner"]
    assert crash["kind"] == "task"
    assert crash["message"].startswith("the test runner crashed: ValueError: Length too long: ")
    assert "subunit/v2.py" in crash["excerpt"]


def test_the_test_a_worker_died_in_is_reported_without_inventing_a_traceback(
    stestr_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, stream = stestr_run
    failures = {f["id"]: f for f in recheck_json(stream, capsys)["failures"]}
    died = failures["tests.test_servers.ServersTestJSON.test_huge_console"]
    assert "no traceback recorded" in died["message"]
    assert "Request timed out" in failures["tests.test_servers.ServersTestJSON.test_create_server"]["message"]


# -- real consoles and streams from public repositories (data/real/PROVENANCE.md) -----


def test_a_real_tempest_console_names_the_failed_test_and_its_exception_with_details(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # openstack/rally's tutorial: a real tempest run (subunit-trace) whose one failure is a 409.
    name = "tempest-rally-aggregates-conflict.log"
    job = recheck_json(REAL / name, capsys)
    (failure,) = job["failures"]
    assert failure["kind"] == "test"
    assert failure["id"] == (
        "tempest.api.compute.admin.test_aggregates.AggregatesAdminTestJSON."
        "test_aggregate_add_host_create_server_with_az"
    )
    assert failure["message"] == (
        "tempest.lib.exceptions.Conflict: An object with that identifier already exists "
        "Details: {u'message': u'Cannot add host node-2.domain.tld in aggregate 422: host exists', u'code': 409}"
    )
    lines = (REAL / name).read_text(encoding="utf-8").splitlines()
    assert lines[failure["line"] - 1].endswith("[0.572658s] ... FAILED")
    # The captured traceback is indented under its title: the test's, not a runner crash.
    assert "raise exceptions.Conflict(resp_body, resp=resp)" in failure["excerpt"]
    assert all(f["id"] != "test runner" for f in job["failures"])


def test_a_real_subunit_stream_reports_each_failure_and_the_unexpected_success(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # openstack/rally's parser fixture: a real testtools run with 3 failures and 1 unexpected success.
    job = recheck_json(REAL / "rally-test-foo.subunit", capsys)
    got = {f["id"]: (f["kind"], f["message"]) for f in job["failures"]}
    assert got == {
        "test_foo.SimpleTestCase.test_something_that_fails": ("test", "AssertionError: False is not True, sorry"),
        "test_foo.SimpleTestCaseWithBrokenSetup.test_something": ("test", "RuntimeError: broken setUp method"),
        "test_foo.SimpleTestCaseWithBrokenCleanup.test_something": ("test", "RuntimeError: broken tearDown method"),
        "test_foo.SimpleTestCase.test_something_with_expected_fail": (
            "test",
            "test_foo.SimpleTestCase.test_something_with_expected_fail passed unexpectedly "
            "(it is marked as an expected failure)",
        ),
    }


def test_a_real_tox4_run_names_the_failed_pytest_test_and_the_tox_env(capsys: pytest.CaptureFixture[str]) -> None:
    name = "tox4-pytest-unit-load-params.log"
    job = recheck_json(REAL / name, capsys)
    got = [(f["kind"], f["id"], f["message"]) for f in job["failures"]]
    assert got == [
        (
            "test",
            "tests/unit_harness/test_actions.py::TestActions::test_add_admin",
            "AttributeError: Mock object has no attribute 'load_params'",
        ),
        ("task", "tox:unit", "unit: FAIL code 1 (1.84=setup[0.77]+cmd[1.07] seconds)"),
    ]
    lines = (REAL / name).read_text(encoding="utf-8").splitlines()
    assert lines[job["failures"][0]["line"] - 1].startswith("FAILED tests/unit_harness/test_actions.py::")


def test_a_real_tox4_env_that_failed_before_running_is_a_failure_of_that_env(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # devstack's configure_tempest ran "tox -revenv-tempest --notest" with tox 4, which refused
    # tempest's tox.ini: the run failed, and says so only in tox's own words.
    job = recheck_json(REAL / "tox4-devstack-venv-tempest-pass-env.log", capsys)
    (failure,) = job["failures"]
    assert failure["kind"] == "task" and failure["id"] == "tox:venv-tempest"
    assert failure["message"] == "venv-tempest: FAIL code 1 (0.00 seconds)"
    assert failure["line"] == 4


def test_a_real_zuul_log_of_a_nested_ansible_yaml_failure_names_the_host_and_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Ansible run from a Zuul job on a bastion, with the yaml stdout callback: "FAILED! =>"
    # ends the line and the result follows, indented, on lines of their own.
    name = "zuul-nested-ansible-fatal-yaml.log"
    job = recheck_json(REAL / name, capsys)
    (failure,) = job["failures"]
    assert failure["kind"] == "task"
    assert failure["id"] == "nb01.sjc1.vexxhost.zuul.ansible.com"
    assert failure["message"] == "Unexpected failure during module execution."
    assert failure["line"] == 2
    assert failure["excerpt"].splitlines() == ["  msg: Unexpected failure during module execution.", "  stdout: ''"]


@pytest.mark.parametrize(
    "name",
    [
        # openstack/rally's tutorial: a real passing tempest console, Totals "- Failed: 0" included.
        "tempest-rally-passing-totals.log",
        # openstack/stackviz's fixture: a real tempest subunit stream of one passing test.
        "stackviz-tempest-one-pass.subunit",
    ],
)
def test_a_real_passing_tempest_run_has_no_failures(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    job = recheck_json(REAL / name, capsys)
    assert job["failures"] == [] and job["warnings"] == []


def test_the_real_tempest_console_reads_the_same_behind_zuul_prefixes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same real console as Zuul's job-output.txt would carry it: "<time> | <host> | <line>",
    # the line's own indentation kept (zuul/zuul zuul_stream.py). The captured traceback stays
    # indented after the prefix, so it is still the test's and not a runner crash.
    lines = (REAL / "tempest-rally-aggregates-conflict.log").read_text(encoding="utf-8").splitlines()
    log = tmp_path / "job-output.txt"
    log.write_text("".join(f"2016-05-09 15:32:40.000000 | controller | {ln[4:]}\n" for ln in lines), encoding="utf-8")
    direct = recheck_json(REAL / "tempest-rally-aggregates-conflict.log", capsys)["failures"]
    prefixed = recheck_json(log, capsys)["failures"]
    assert [(f["kind"], f["id"], f["message"], f["line"]) for f in prefixed] == [
        (f["kind"], f["id"], f["message"], f["line"]) for f in direct
    ]


def test_real_plain_ansible_failures_on_two_hosts_name_task_host_and_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = recheck_json(REAL / "ansible-two-hosts-shell-fatal.log", capsys)
    got = [(f["kind"], f["id"], f["message"], f["line"]) for f in job["failures"]]
    assert got == [
        ("task", "Execute Shell/appadmin@172.18.1.3", "non-zero return code; rc=1", 8),
        ("task", "Execute Shell/appadmin@172.18.1.4", "non-zero return code; rc=1", 9),
    ]


def test_real_loop_item_failures_are_failures_unless_ansible_ignored_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The whole excerpt: three "failed: [localhost] (item=…)" lines, one "...ignoring", and a
    # recap with failed=0 ignored=2: the run passed.
    name = "ansible-loop-failures-ignored.log"
    assert recheck_json(REAL / name, capsys)["failures"] == []
    # The same real text cut before "...ignoring" (a log that stops there): the loop failed.
    lines = (REAL / name).read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("TASK [setup-wg-spoke : Execute Port Knocking]"))
    cut = tmp_path / "cut.log"
    cut.write_text("\n".join(lines[start : start + 4]) + "\n", encoding="utf-8")
    (failure,) = recheck_json(cut, capsys)["failures"]
    assert failure["id"] == "setup-wg-spoke : Execute Port Knocking/localhost"
    assert failure["message"] == "non-zero return code; rc=1"
    assert "nc -t -w 1 35.212.186.167 1110" in failure["excerpt"]
