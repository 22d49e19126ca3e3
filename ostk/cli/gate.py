"""``ostk gate report``: which bugs are hitting the gate (the rechecks page again).

Parses the options, calls :func:`recheck.gate_report` once, renders the
typed result: rich tables on stdout, or ``--json``, and/or ``--html FILE``.
``--timeout`` bounds the Zuul listing and Launchpad (default here: an hour);
each build's log downloads have their own 15-minute budget.
Exit codes: 0 done (also for a partial report: its warnings say what is
missing), 2 usage, 3 an unusable store or HTML path, 4 Zuul unreachable,
130 interrupted (the store keeps every build finished so far).
"""
from __future__ import annotations

import argparse
import datetime as _dt

from rich.markup import escape
from rich.table import Table

from ostk import output
from ostk.cli.parser import DEFAULT_TIMEOUT, positive_int_arg
from ostk.environment import Environment
from ostk.errors import ExitStatus, InputError, UsageError
from ostk.http import Deadline, current_deadline, use_deadline

DEFAULT_ZUUL = "https://zuul.opendev.org"
#: The budget of the Zuul listing and the Launchpad searches when --timeout is not
#: given: a week of OpenDev's gate is thousands of builds, dozens of pages. Each
#: build's log downloads have their own budget (AnalysisSettings.build_timeout).
GATE_TIMEOUT = 3600.0
DEFAULT_LAUNCHPAD = "https://api.launchpad.net/1.0"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("gate", help="which bugs are hitting the gate (Zuul builds + logs)")
    commands = group.add_subparsers(title="gate commands", metavar="COMMAND")
    report = commands.add_parser(
        "report", parents=[common], help="bugs, uncategorized failures and job failure rates of a window",
        description="List the window's final builds from Zuul's builds API, analyse the logs of the failed "
        "ones (only those not analysed by an earlier run), match failures to known bugs (offline signatures, "
        "Launchpad) and to each other, and report per bug, per uncategorized failure and per job.",
    )
    report.add_argument(
        "--zuul", metavar="URL", help=f"Zuul base URL (default: $OSTK_ZUUL_URL, else {DEFAULT_ZUUL})"
    )
    report.add_argument("--tenant", default="openstack", metavar="NAME", help="Zuul tenant (default: openstack)")
    report.add_argument(
        "--pipeline", default="gate", metavar="NAME", help="pipeline (default: gate; 'all' for every pipeline)"
    )
    report.add_argument(
        "--project", dest="projects", action="append", default=[], metavar="P",
        help="only this project (openstack/nova); repeatable",
    )
    report.add_argument(
        "--since", default="24h", type=_since, metavar="SPAN|DATE",
        help="window start: 24h, 7d, 90m, 2w before now, or a date/time in UTC (default: 24h)",
    )
    report.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page to FILE")
    report.add_argument(
        "--workers", type=positive_int_arg, metavar="N",
        help="local processes analysing logs concurrently (default: the CPUs this process may use)",
    )
    report.add_argument(
        "--dask", metavar="tcp://HOST:PORT",
        help="send each build's analysis to this Dask scheduler's workers (pip install 'ostk[dask]')",
    )
    report.add_argument(
        "--launchpad", metavar="URL",
        help=f"Launchpad API root (default: $OSTK_LAUNCHPAD_URL, else {DEFAULT_LAUNCHPAD})",
    )
    report.add_argument("--offline-bugs", action="store_true", help="match bugs with the offline signatures only")
    report.add_argument("--store", metavar="FILE", help="the SQLite store (default: $XDG_DATA_HOME/ostk/gate.sqlite3)")
    report.set_defaults(handler=_report)


def _since(text: str) -> str:
    from recheck.gate import parse_since

    try:
        parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text



def _report(args: argparse.Namespace, env: Environment) -> int:
    from recheck.gate import gate_report

    if args.dask and args.workers:
        raise UsageError("ostk gate report: give --workers or --dask, not both")
    if args.dask and not args.dask.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
        raise UsageError(f"ostk gate report: --dask wants a scheduler address like tcp://host:8786, not {args.dask!r}")
    environ = env.environ
    launchpad = None if args.offline_bugs else (args.launchpad or environ.get("OSTK_LAUNCHPAD_URL") or DEFAULT_LAUNCHPAD)
    progress = output.download_progress(env)
    task = progress.add_task("analysing failed builds", total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    deadline = current_deadline()
    if args.timeout == DEFAULT_TIMEOUT:
        # The CLI's default suits one review's round trip, not a week of builds.
        deadline = Deadline(GATE_TIMEOUT, "ostk gate report")
    with progress, use_deadline(deadline):
        report = gate_report(
            args.zuul or environ.get("OSTK_ZUUL_URL") or DEFAULT_ZUUL,
            tenant=args.tenant,
            pipeline=None if args.pipeline == "all" else args.pipeline,
            projects=args.projects,
            since=args.since,
            launchpad=launchpad,
            store=args.store,
            workers=args.workers,
            dask=args.dask,
            environ=environ,
            progress=advance,
        )
    if args.html:
        # Imported only for --html: jinja2 and pygal cost a noticeable part of a re-run.
        from recheck.gate.html import write_html

        try:
            write_html(report, args.html)
        except OSError as exc:
            raise InputError(f"cannot write {args.html}: {exc.strerror or exc}") from exc
    if args.json:
        output.print_json(env, report.to_json())
    else:
        _render(env, report)
        if args.html:
            output.info(env, f"wrote {args.html}")
    for warning in report.warnings:
        output.warn(env, warning)
    return ExitStatus.OK


def _render(env: Environment, report: object) -> None:
    from recheck.gate import GateReport

    assert isinstance(report, GateReport)
    out = env.out
    span = f"{_stamp(report.window.since)} to {_stamp(report.window.until)}"
    out.print(f"[bold]{report.builds_analysed}[/] failed builds analysed, {escape(span)}")
    bugs = Table(title="Known bugs", title_justify="left")
    for column in ("bug", "hits", "changes", "jobs", "title"):
        bugs.add_column(
            column, justify="right" if column in ("hits", "changes") else "left",
            no_wrap=column in ("bug", "hits", "changes"), overflow="fold",
        )
    for bug in report.bugs:
        bug_jobs = ", ".join(f"{name} ({n})" for name, n in bug.jobs.items())
        bugs.add_row(f"#{bug.number}", str(bug.hits), str(bug.changes), escape(bug_jobs), escape(bug.title))
    out.print(bugs)
    groups = Table(title="Uncategorized failures", title_justify="left")
    # Example links are in --json and --html: a terminal line has room for the failure only.
    for column in ("hits", "changes", "kind", "failure", "jobs"):
        groups.add_column(
            column, justify="right" if column in ("hits", "changes") else "left",
            no_wrap=column != "failure", overflow="fold",
        )
    for group in report.uncategorized:
        jobs_text = ", ".join(f"{name} ({n})" for name, n in group.jobs.items())
        groups.add_row(str(group.hits), str(group.changes), group.kind, escape(group.key), escape(jobs_text))
    out.print(groups)
    jobs = Table(title="Jobs", title_justify="left")
    for column in ("job", "builds", "failures", "rate"):
        jobs.add_column(column, justify="left" if column == "job" else "right")
    for job in report.jobs:
        jobs.add_row(escape(job.name), str(job.builds), str(job.failures), f"{job.failure_rate:.0%}")
    out.print(jobs)


def _stamp(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
