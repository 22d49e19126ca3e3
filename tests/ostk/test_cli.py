"""The CLI's one place for exit codes, error lines, --json and --debug."""
from __future__ import annotations

import json
import types

import pytest

from ostk import __version__, cli, output
from ostk.environment import Environment
from ostk.errors import ConnectionFailed, ExitStatus, InputError, UsageError


def _group(handler):
    """A throw-away command group `ostk probe` whose handler is ``handler``."""

    def register(subparsers, common):
        sub = subparsers.add_parser("probe", parents=[common])
        sub.add_argument("--secret")
        sub.set_defaults(handler=handler)

    return types.SimpleNamespace(register=register)


@pytest.fixture
def run(monkeypatch):
    def _run(handler, *argv, environ=None):
        monkeypatch.setitem(cli._GROUPS, "probe", _group(handler))
        env = Environment.for_test(environ or {})
        code = cli.main(["probe", *argv], env=env)
        return code, env.stdout.getvalue(), env.stderr.getvalue()

    return _run


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (InputError("cannot read token.pem: No such file"), ExitStatus.INPUT),
        (ConnectionFailed("fetching certs: cannot reach http://127.0.0.1:1 (connection refused)"), ExitStatus.SERVICE),
        (UsageError("refusing: nothing failed"), ExitStatus.USAGE),
        (KeyboardInterrupt(), ExitStatus.INTERRUPTED),
    ],
)
def test_errors_map_to_exit_codes_with_one_line(run, exc, status):
    def handler(args, env):
        raise exc

    code, out, err = run(handler)
    assert code == status
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error:")
    assert "Traceback" not in err


def test_debug_shows_traceback_without_secrets(run):
    def handler(args, env):
        raise InputError(f"bad token {args.secret}")

    code, _, err = run(handler, "--secret", "PKIZ_" + "A" * 64, "--debug")
    assert code == ExitStatus.INPUT
    assert "Traceback" in err
    assert "A" * 40 not in err


def test_unexpected_exception_is_one_line_internal_error(run):
    def handler(args, env):
        raise ZeroDivisionError("oops")

    code, _, err = run(handler)
    assert code == cli.INTERNAL_ERROR
    assert "internal error: ZeroDivisionError" in err and "Traceback" not in err


def test_json_mode_prints_one_document(run):
    def handler(args, env):
        output.warn(env, "progress goes to stderr")
        output.print_json(env, {"json": args.json, "ok": True})
        return 0

    code, out, err = run(handler, "--json")
    assert code == 0
    assert json.loads(out) == {"json": True, "ok": True}
    assert "progress goes to stderr" in err


def test_bad_flag_is_a_usage_error():
    env = Environment.for_test({})
    assert cli.main(["pki", "--no-such-flag"], env=env) == ExitStatus.USAGE
    assert "unrecognized arguments" in env.stderr.getvalue()


def test_only_the_named_command_group_is_loaded():
    parser = cli.build_parser("pki")
    env = Environment.for_test({})
    assert cli.main(["pki", "hash", "--help"], env=env) == 0
    assert "pki" in parser.format_help()
    subparsers = next(a for a in parser._actions if a.dest == "==SUPPRESS==" and a.choices)
    assert list(subparsers.choices) == ["pki"]


def test_no_command_prints_help_and_exits_2():
    env = Environment.for_test({})
    assert cli.main([], env=env) == ExitStatus.USAGE
    assert "usage: ostk" in env.stderr.getvalue()


def test_version_and_help_go_to_stdout():
    env = Environment.for_test({})
    assert cli.main(["--version"], env=env) == 0
    assert env.stdout.getvalue().strip() == f"ostk {__version__}"
    env = Environment.for_test({})
    assert cli.main(["--help"], env=env) == 0
    for command in ("recheck", "pki", "swift-functest-setup", "stack"):
        assert command in env.stdout.getvalue()


def test_colour_only_on_a_tty_and_never_with_no_color():
    env = Environment.for_test({})
    env.stderr_isatty = True
    assert env.err.color_system is not None
    env = Environment.for_test({"NO_COLOR": "1"})
    env.stderr_isatty = True
    assert env.err.color_system is None and env.err.no_color
    assert Environment.for_test({}).err.color_system is None
