"""``ostk swift-functest-setup``: keystone accounts + test.conf for Swift's functional tests."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from ostk import output
from ostk.auth import AuthConfig, add_auth_arguments, flags_from_args, resolve
from ostk.cli.parser import url_arg
from ostk.environment import Environment
from ostk.errors import ConfigError, ExitStatus, UsageError

_STYLE = {
    "created": "green",
    "repaired": "yellow",
    "password reset": "yellow",
    "deleted": "red",
    "unchanged": "dim",
    "kept": "dim",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sub = subparsers.add_parser(
        "swift-functest-setup",
        parents=[common],
        help="create the keystone accounts Swift's functional tests need; write test.conf",
        description="Create (idempotently, through keystone's v3 API) every domain, project, user, role and "
        "role assignment Swift's functional tests use, and write the [func_test] section of test.conf. "
        "A second run changes nothing; drift is repaired. Account names and passwords default to Swift's "
        "sample.conf (test/tester/testing ... tester6); ones already set in the conf's [func_test] win. "
        "--teardown removes only objects whose description marks them as this tool's; it leaves test.conf alone.",
    )
    add_auth_arguments(sub)
    sub.add_argument(
        "--local", action="store_true", help="use the admin of the 'ostk stack' keystone (and its swift, if up)"
    )
    sub.add_argument(
        "--dir", type=Path, metavar="DIR", help="with --local: the stack's directory (default: that of 'ostk stack')"
    )
    sub.add_argument("--conf", metavar="PATH", help="test.conf to write (default: /etc/swift/test.conf)")
    sub.add_argument(
        "--swift-url", metavar="URL", type=url_arg, help="Swift proxy base URL: register the object-store service/endpoints if missing"
    )
    sub.add_argument("--users", metavar="N|all", default="all", help="configure only the first N of the six users")
    sub.add_argument(
        "--reset-passwords", action="store_true", help="set existing users' passwords to the planned ones"
    )
    sub.add_argument("--s3", action="store_true", help="also create EC2 credentials and write the s3api keys")
    sub.add_argument("--check", action="store_true", help="then log in as every user with swiftclient and touch its account")
    sub.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    sub.add_argument("--teardown", action="store_true", help="delete what this tool created (and nothing else)")
    sub.set_defaults(handler=run)


def run(args: argparse.Namespace, env: Environment) -> int:
    import swiftfunc

    if args.check and (args.dry_run or args.teardown):
        raise UsageError("--check cannot be combined with --dry-run or --teardown")
    if args.dir is not None and not args.local:
        raise UsageError("--dir names the local stack: use it with --local")
    auth, stack_status = _auth(args, env)
    if args.teardown:
        report = swiftfunc.teardown(auth, dry_run=args.dry_run)
        return _render(env, args, report, conf=None, results=())

    swift_url = args.swift_url or (stack_status.swift_url if stack_status else None)
    if swift_url and not swift_url.startswith(("http://", "https://")):
        raise UsageError(f"--swift-url {swift_url!r} is not an http(s) URL")
    conf_path = Path(args.conf) if args.conf else swiftfunc.DEFAULT_TEST_CONF
    if not conf_path.is_absolute():
        conf_path = env.cwd / conf_path
    options = swiftfunc.SetupOptions(
        conf_path=conf_path,
        users=_users(args.users),
        swift_url=swift_url,
        storage_domain=stack_status.storage_domain if stack_status else None,
        s3=args.s3,
        reset_passwords=args.reset_passwords,
        dry_run=args.dry_run,
        check=args.check,
    )
    result = swiftfunc.setup(auth, options)
    return _render(
        env, args, result.provision, conf=(result.conf_path, result.conf_outcome.value), results=result.check
    )


def _users(value: str) -> int | None:
    if value == "all":
        return None
    try:
        count = int(value)
    except ValueError:
        raise UsageError(f"--users expects a number from 1 to 6 or 'all', not {value!r}") from None
    if not 1 <= count <= 6:
        raise UsageError(f"--users expects a number from 1 to 6 or 'all', not {value!r}")
    return count


def _auth(args: argparse.Namespace, env: Environment) -> tuple[AuthConfig, Any]:
    """The admin credentials, and with ``--local`` the stack's status (swift URL, storage domain)."""
    flags = flags_from_args(args)
    if not args.local:
        return resolve(flags, env.environ, env.cwd), None
    if flags:
        raise UsageError("--local uses the local stack's admin: drop the --os-* options")
    from stack import Stack, default_dir

    directory = args.dir if args.dir is not None else default_dir(env.environ)
    if not directory.is_absolute():
        directory = env.cwd / directory
    stack = Stack(directory, environ=env.environ)
    if not stack.layout.state_file.exists():
        raise ConfigError(f"no local stack in {directory}: run 'ostk stack up' first")
    return stack.admin, stack.status()


def _render(
    env: Environment,
    args: argparse.Namespace,
    report: Any,
    *,
    conf: tuple[Path, str] | None,
    results: tuple[Any, ...],
) -> int:
    failed = [r for r in results if not r.passed]
    status = ExitStatus.NEGATIVE if failed else ExitStatus.OK
    if getattr(args, "json", False):
        output.print_json(
            env,
            {
                "action": "teardown" if args.teardown else "setup",
                "dry_run": report.dry_run,
                "changed": report.changed,
                "writes": report.writes,
                "changes": report.changes,
                "conf": {"path": conf[0], "outcome": conf[1]} if conf else None,
                "check": results if args.check else None,
            },
        )
        return status

    table = Table(title="would change" if report.dry_run else None, show_edge=False, pad_edge=False)
    for column in ("kind", "name", "outcome", "detail"):
        table.add_column(column)
    for change in report.changes:
        word = change.outcome.value
        if report.dry_run and change.outcome.value not in ("unchanged", "kept"):
            word = f"would be {word}" if word != "password reset" else "password would be reset"
        table.add_row(change.kind, escape(change.name), f"[{_STYLE.get(change.outcome.value, '')}]{escape(word)}[/]", escape(change.detail))
    env.out.print(table)

    counts: dict[str, int] = {}
    for change in report.changes:
        counts[change.outcome.value] = counts.get(change.outcome.value, 0) + 1
    summary = ", ".join(f"{n} {word}" for word, n in counts.items())
    if report.dry_run:
        env.out.print(f"dry run: {summary}; nothing was written")
    elif not report.changed:
        what = "nothing to delete" if args.teardown else "nothing to do: keystone already holds every account"
        env.out.print(f"{what} (0 keystone writes)")
    else:
        env.out.print(f"{summary}; {report.writes} keystone writes")
    if conf:
        path, outcome = conf
        env.out.print(f"test.conf {escape(str(path))}: {outcome}")

    if results:
        check_table = Table(show_edge=False, pad_edge=False)
        for column in ("user", "project", "expected", "result", "detail"):
            check_table.add_column(column)
        for r in results:
            mark = "[green]passed[/]" if r.passed else "[bold red]FAILED[/]"
            check_table.add_row(escape(r.username), escape(r.project), r.expected, mark, escape(r.detail))
        env.out.print(check_table)
        env.out.print(f"check: {len(results) - len(failed)} of {len(results)} users passed")
    return status
