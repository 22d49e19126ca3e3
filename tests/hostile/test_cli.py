"""The CLI's own share of the contract: URL arguments, --timeout, quiet libraries, escaped text."""
from __future__ import annotations

import pytest
from harness import Reply, assert_refused, run_cli
from scripted_free_port import free_port

from ostk.cli import main
from ostk.environment import Environment

AUTH = ["--os-username", "admin", "--os-password", "pw", "--os-project-name", "admin"]


# Invalid URLs are usage errors, wherever a URL is taken -------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["recheck", "123", "--gerrit", "http://[::1"],
        ["recheck", "123", "--zuul", "http://[::1/t/openstack"],
        ["recheck", "123", "--launchpad", "https://[fe80::1/1.0"],
        ["recheck", "http://[::1/job-output.txt"],
        ["recheck", "123", "--gerrit", "http://review.example.org:99999"],
        ["recheck", "123", "--gerrit", "ftp://review.example.org"],
        ["recheck", "123", "--gerrit", "https://review.example.org/\r\nX-Injected: 1"],
        ["pki", "verify", "MIIx", "--keystone", "http://[::1"],
        ["swift-functest-setup", "--os-auth-url", "http://[::1", *AUTH],
        ["swift-functest-setup", "--swift-url", "http://[::1", "--os-auth-url", "http://127.0.0.1:1/v3", *AUTH],
    ],
)
def test_an_invalid_url_argument_is_a_usage_error(argv):
    env = Environment.for_test({"HOME": "/nonexistent"})
    assert main(argv, env) == 2
    lines = env.stderr.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in env.stderr.getvalue()


def test_a_crlf_in_an_argument_is_echoed_escaped():
    env = Environment.for_test({"HOME": "/nonexistent"})
    assert main(["recheck", "1", "--gerrit", "http://h/\r\nSet-Cookie: x=1"], env) == 2
    err = env.stderr.getvalue()
    assert err.count("\n") == 1 and "\\r\\n" in err and "\r" not in err


def test_a_bad_os_auth_url_variable_is_bad_local_input(tmp_path):
    env = Environment.for_test({"HOME": str(tmp_path), "OS_AUTH_URL": "http://[::1/v3\r\nX"}, cwd=tmp_path)
    assert main(["swift-functest-setup", "--conf", str(tmp_path / "t.conf"), *AUTH], env) == 3
    lines = env.stderr.getvalue().splitlines()
    assert len(lines) == 1 and "OS_AUTH_URL" in lines[0] and "\\r" in lines[0]


# --timeout ------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["-1", "abc", "nan", "inf", "1e9"])
def test_a_bad_timeout_is_a_usage_error(value):
    env = Environment.for_test()
    assert main(["--timeout", value, "recheck", "1"], env) == 2
    assert "--timeout" in env.stderr.getvalue()


def test_timeout_works_before_and_after_the_command(hostile):
    hostile.route("/changes/", Reply.silent())
    for argv in (["--timeout", "2", "recheck", "1", "--gerrit", hostile.url],
                 ["recheck", "1", "--gerrit", hostile.url, "--timeout", "2"]):
        run = run_cli(argv, kill_after=60)
        assert_refused(run, 4, within=8, mentions=["127.0.0.1"])


def test_the_command_runs_under_the_deadline_of_timeout(monkeypatch):
    import types

    from ostk import cli, http

    seen = []

    def register(subparsers, common):
        probe = subparsers.add_parser("probe", parents=[common])
        probe.set_defaults(handler=lambda args, env: seen.append(http.current_deadline()) or 0)

    monkeypatch.setitem(cli._GROUPS, "probe", types.SimpleNamespace(register=register))
    assert main(["probe"], Environment.for_test()) == 0
    assert seen[-1] is not None and seen[-1].seconds == 60 and seen[-1].what == "ostk probe"
    assert main(["--timeout", "7.5", "probe"], Environment.for_test()) == 0
    assert seen[-1].seconds == 7.5
    assert main(["probe", "--timeout", "0"], Environment.for_test()) == 0
    assert seen[-1] is None
    assert http.current_deadline() is None  # reset after the command


# Library loggers are quiet unless --debug -------------------------------------------
def test_unreachable_keystone_is_one_line_without_library_warnings(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v3"
    run = run_cli(["swift-functest-setup", "--os-auth-url", url, *AUTH, "--conf", str(tmp_path / "t.conf")],
                  kill_after=60)
    assert_refused(run, 4, within=30, mentions=["keystone"])
    assert "keystoneauth" not in run.stderr and "WARNING" not in run.stderr


def test_silent_keystone_is_bounded_by_the_deadline(hostile, tmp_path):
    hostile.route("/", Reply.silent())
    run = run_cli(["--timeout", "3", "swift-functest-setup", "--os-auth-url", hostile.url + "/v3", *AUTH,
                   "--conf", str(tmp_path / "t.conf")], kill_after=60)
    assert_refused(run, 4, within=12)


def test_debug_still_shows_library_logs(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v3"
    run = run_cli(["swift-functest-setup", "--debug", "--os-auth-url", url, *AUTH, "--conf", str(tmp_path / "t.conf")],
                  kill_after=60)
    assert run.exit_code == 4
    assert "keystoneauth" in run.stderr


def test_messages_are_capped_and_escaped():
    from ostk.output import one_line

    text = one_line("x" * 100_000 + "\x1b[31m")
    assert len(text) <= 1000 and "\x1b" not in text
    assert one_line("a\r\nb") == "a\\r\\nb"
    assert one_line("password=hunter2") == "password=***"


def test_a_huge_url_in_an_error_is_fast_and_one_line(hostile):
    hostile.route("/", Reply.status(500))
    run = run_cli(["recheck", "123", "--gerrit", hostile.url + "/" + "a" * 100_000, "--timeout", "5"], kill_after=60)
    assert_refused(run, 4, within=8, mentions=["500"])
    assert len(run.stderr_lines[0]) < 1200


@pytest.mark.parametrize("variable", ["OSTK_GERRIT_URL", "OSTK_ZUUL_URL", "OSTK_LAUNCHPAD_URL"])
def test_an_invalid_url_variable_is_bad_local_input(variable, tmp_path):
    env = Environment.for_test({"HOME": str(tmp_path), variable: "http://[::1"}, cwd=tmp_path)
    assert main(["recheck", "123", "--timeout", "3"], env) == 3
    lines = env.stderr.getvalue().splitlines()
    assert len(lines) == 1 and variable in lines[0]
