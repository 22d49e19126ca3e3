"""``ostk recheck [REVIEW|LOG]``: what failed, which bug it is, what to comment.

The one CLI module of ``ostk recheck``: it parses, calls the library
(``recheck.analyze`` for a log, ``recheck.check_review`` for a review) and
renders. With no argument inside a git checkout, the review is HEAD's
Change-Id.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ostk import output
from ostk.cli.parser import positive_int_arg, url_arg, url_or_word_arg
from ostk.environment import Environment
from ostk.errors import UsageError
from recheck.reviewref import DEFAULT_TENANT
from recheck.sources import is_url

# What only some paths need is imported there: `ostk recheck LOG` imports the log
# engine, not the review workflow, the HTTP stack or the renderer (start-up is
# a measurable part of a whole-log scan, issue 14).
if TYPE_CHECKING:
    from recheck import JobReport, LogAnalysis, Report, SignatureSet
    from recheck.verdict import Verdict

_KIND_STYLE = {"infra": "magenta", "setup": "red", "timeout": "yellow", "test": "red", "task": "cyan"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sub = subparsers.add_parser(
        "recheck",
        parents=[common],
        help="analyse failed CI jobs of a review (or one log) and suggest a recheck comment",
        description="Analyse one CI log (path or http(s) URL: job-output.txt[.gz], console.html, "
        "job-output.json, *.subunit) or a review's failed jobs, and suggest a recheck comment. "
        "'ostk recheck signatures list' shows the known-failure signatures; "
        "'ostk recheck signatures check FILE' tests a log against them.",
    )
    sub.add_argument(
        "target",
        metavar="REVIEW_OR_LOG",
        type=url_or_word_arg,
        nargs="?",
        help="a review (number, URL, Change-Id), a log path/URL ('-' for stdin), or 'signatures' "
        "(default: the Change-Id of HEAD in this git checkout)",
    )
    sub.add_argument("words", nargs="*", metavar="ARG", help=argparse.SUPPRESS)
    sub.add_argument(
        "--build-name",
        metavar="JOB",
        help="the job that produced the log (lets signatures restricted to some jobs apply)",
    )
    sub.add_argument(
        "--every-line",
        action="store_true",
        help="accepted for compatibility: every log line is always checked against the signatures",
    )
    sub.add_argument(
        "--no-shipped-signatures",
        action="store_true",
        help="use only your own signatures (~/.config/ostk/signatures/)",
    )
    _add_review_arguments(sub)
    sub.set_defaults(handler=run, remote=_remote)


def _add_review_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("review options")
    group.add_argument(
        "--gerrit", metavar="URL", type=url_arg,
        help="Gerrit base URL (default: $OSTK_GERRIT_URL, the repo's .gitreview, else https://review.opendev.org)",
    )
    group.add_argument(
        "--zuul", metavar="URL", type=url_arg,
        help="Zuul base URL (or .../t/<tenant>); also asks its builds API (default: $OSTK_ZUUL_URL)",
    )
    group.add_argument("--tenant", metavar="NAME", help=f"Zuul tenant (default: from the URL, else {DEFAULT_TENANT})")
    group.add_argument(
        "--launchpad", metavar="URL", type=url_arg,
        help="Launchpad API root (default: $OSTK_LAUNCHPAD_URL, else https://api.launchpad.net/1.0)",
    )
    group.add_argument("--patchset", metavar="N", type=positive_int_arg, help="the patch set to look at (default: the latest)")
    group.add_argument(
        "--pipeline", metavar="NAME",
        help="only this pipeline; for one without a vote (experimental, check-arm64) the comment is its trigger",
    )
    group.add_argument(
        "--all", dest="all_jobs", action="store_true",
        help="include successful jobs, and analyse non-voting failures too",
    )
    group.add_argument(
        "--post", action="store_true",
        help="post the suggested comment (credentials: ~/.netrc or OSTK_GERRIT_USER/OSTK_GERRIT_PASSWORD); "
        "a refusal exits 5",
    )
    group.add_argument("--yes", action="store_true", help="with --post: do not ask for confirmation")
    group.add_argument(
        "--force", action="store_true",
        help="with --post: post even when the verdict is that the change caused the failure",
    )
    group.add_argument(
        "--no-history", dest="history", action="store_false",
        help="skip the look-ups on other changes (Zuul job history, their logs, the previous patch set)",
    )


def _remote(args: argparse.Namespace, env: Environment) -> bool:
    """False when the command reads only a local log (a file, or stdin as ``-``):
    then no remote call needs a deadline (see ``ostk.cli._deadline``)."""
    target = args.target
    if target is None or is_url(target):
        return True
    return not (target == "-" or Path(env.cwd, target).exists())


def run(args: argparse.Namespace, env: Environment) -> int:
    from recheck.reviewref import head_change_id, is_review

    if args.target is None:
        if args.words:
            raise UsageError(f"unexpected argument(s): {' '.join(args.words)}")
        args.target = head_change_id(env.cwd)
        return _review(args, env)
    target: str = args.target
    local = not is_url(target) and Path(env.cwd, target).exists()
    if not local and target == "signatures":
        return _signatures(args, env)
    if not local and is_review(target):
        if args.words:
            raise UsageError(f"unexpected argument(s): {' '.join(args.words)}")
        return _review(args, env)
    if args.words:
        raise UsageError(f"unexpected argument(s): {' '.join(args.words)}")
    return _log(args, env, target)


def _signature_set(args: argparse.Namespace, env: Environment) -> SignatureSet:
    from recheck.signatures import load_signatures

    sigs = load_signatures(env.environ, shipped=not getattr(args, "no_shipped_signatures", False))
    for warning in sigs.warnings:
        output.warn(env, warning)
    return sigs


def _log(args: argparse.Namespace, env: Environment, target: str) -> int:
    from recheck.models import Report
    from recheck.sources import analyze
    from recheck.suggestion import suggest

    sigs = _signature_set(args, env)
    url = is_url(target)
    job_name = args.build_name
    if url:
        from ostk.http import build_session
        from recheck.review.locate import analyze_log_url, job_name_from_url

        job_name = job_name or job_name_from_url(target)
        session = build_session()
        target, analysis = analyze_log_url(
            target, session=session, signatures=sigs, job_name=job_name, every_line=args.every_line
        )
    elif target == "-":
        # e.g. `zcat job-output.txt.gz | ostk recheck -`
        analysis = analyze(env.stdin, signatures=sigs, job_name=job_name, every_line=args.every_line)  # type: ignore[arg-type]
    else:
        source = str(Path(env.cwd, target))
        analysis = analyze(source, signatures=sigs, job_name=job_name, every_line=args.every_line)
    name = job_name or ("stdin" if target == "-" else _log_name(target))
    job = job_from_analysis(name, target if url else None, analysis)
    # Without a known job name the comment should not name the log file as if it were a job.
    suggestion = suggest([job if job_name else dataclasses.replace(job, name="")])
    report = Report(review=None, jobs=(job,), suggestion=suggestion, posted=False)
    if args.json:
        output.print_json(env, report.to_json())
    else:
        render_report(env, report)
    return 0


def job_from_analysis(name: str, log_url: str | None, analysis: LogAnalysis, **fields: object) -> JobReport:
    """A :class:`JobReport` for one analysed log (``fields``: result, voting, pipeline…)."""
    from recheck.models import JobReport

    return JobReport(
        name=name,
        result=fields.pop("result", None),  # type: ignore[arg-type]
        log_url=log_url,
        failures=analysis.failures,
        bugs=analysis.signature_matches,
        warnings=analysis.warnings,
        truncated=analysis.truncated,
        **fields,  # type: ignore[arg-type]
    )


def _log_name(target: str) -> str:
    name = target.split("?", 1)[0].rstrip("/")
    return os.path.basename(name) or name


def render_report(env: Environment, report: Report, *, max_failures: int = 10) -> None:
    """Print ``report`` for humans on stdout (rich): per job its failures, bugs and warnings,
    then the suggested comment. Shared by the log and review commands."""
    from rich.markup import escape
    from rich.text import Text

    from recheck.verdict import VerdictKind

    out = env.out
    if report.review is not None:
        r = report.review
        out.print(f"[bold]Review {r.change},{r.patchset}[/] {escape(r.project)}  {escape(r.url)}")
    for warning in report.warnings:
        output.warn(env, warning)
    if report.verdict is not None:
        _render_verdict(env, "Verdict", report.verdict, indent="")
    voting = [job for job in report.jobs if job.pipeline_votes]
    apart = [job for job in report.jobs if not job.pipeline_votes]
    for job in voting:
        _render_job(env, job, max_failures)
    if apart:
        out.print()
        out.print("[bold]Pipelines without a vote[/] [dim](never drive the suggestion)[/]")
        for job in apart:
            _render_job(env, job, max_failures)
    out.print()
    if report.advice:
        out.print(Text.assemble(("Advice: ", "bold"), report.advice))
    if report.suggestion:
        out.print(Text.assemble(("Suggested comment: ", "bold"), (report.suggestion, "bold green")))
        if report.posted:
            out.print("[green]posted[/]")
    elif report.verdict is not None and report.verdict.kind is VerdictKind.CHANGE:
        out.print("[dim]No recheck comment suggested: fix the change (--post --force posts one anyway).[/]")
    else:
        out.print("[dim]No recheck comment suggested: no failed voting job.[/]")


_VERDICT_STYLE = {"known-bug": "green", "flaky": "yellow", "infra": "cyan", "change": "red", "unknown": "magenta"}


def _render_verdict(env: Environment, label: str, verdict: Verdict, *, indent: str) -> None:
    """One line for the verdict, then its evidence under it."""
    from rich.text import Text

    style = _VERDICT_STYLE.get(verdict.kind.value, "bold")
    env.out.print(
        Text.assemble(indent, (f"{label}: ", "bold"), (verdict.kind.value, f"bold {style}"), (f" ({verdict.confidence:.2f})", "dim"))
    )
    for line in verdict.evidence:
        env.out.print(Text(f"{indent}  - {line}"))


def _render_job(env: Environment, job: JobReport, max_failures: int) -> None:
    from rich.panel import Panel
    from rich.text import Text

    from recheck.suggestion import CONFIDENT

    out = env.out
    result = job.result or ("failures found" if job.failures else "no failure found")
    title = Text.assemble((job.name, "bold"), "  ", (result, "red" if job.failures or job.result else "green"))
    if not job.voting:
        title.append("  (non-voting)", style="dim")
    out.print()
    out.print(title)
    if job.log_url:
        out.print(Text(job.log_url, style="dim"))
    if job.verdict is not None:
        _render_verdict(env, "verdict", job.verdict, indent="  ")
    for warning in job.warnings:
        output.warn(env, f"{job.name}: {warning}")
    for failure in job.failures[:max_failures]:
        style = _KIND_STYLE.get(failure.kind.value, "red")
        where = f" (line {failure.line})" if failure.line else ""
        head = Text.assemble(("  " + failure.kind.value.upper(), f"bold {style}"), " ", (failure.id, "bold"), where)
        out.print(head)
        if failure.message:
            out.print(Text("    " + failure.message))
        if failure.excerpt:
            out.print(Panel(Text(failure.excerpt), expand=False, border_style="dim"), soft_wrap=False)
    hidden = len(job.failures) - max_failures
    if hidden > 0:
        out.print(f"  [dim]... and {hidden} more failure(s) (use --json to see all)[/]")
    for bug in job.bugs[:5]:
        style = "bold green" if bug.score >= CONFIDENT else "yellow"
        status = f" [{bug.status}]" if bug.status else ""
        out.print(
            Text.assemble(
                ("  bug #", style), (str(bug.number), style), f" {bug.title}{status}  ",
                (f"score {bug.score:.2f} ({bug.source})", "dim"), "  ", (bug.url, "blue"),
            )
        )
        for why in bug.why:
            out.print(Text("      " + why, style="dim"))


def _review(args: argparse.Namespace, env: Environment) -> int:
    """Run the review workflow (``recheck.check_review``) and render its report."""
    from rich.markup import escape

    from ostk.cli.parser import check_url_variables
    from recheck.logcache import LogCache
    from recheck.review import RecheckRefused, RefusalReason, check_review, load_pipeline_rules
    from recheck.reviewref import parse_review

    target = parse_review(args.target)
    environ = env.environ
    post, yes, as_json = bool(args.post), bool(args.yes), bool(args.json)
    signatures = _signature_set(args, env)
    rules = load_pipeline_rules(env.config_dir)
    progress = _BarProgress(env)

    def confirm(comment: str, report: Report) -> bool:
        if yes:
            return True
        if not env.stdin_isatty:
            raise RecheckRefused(RefusalReason.NOT_CONFIRMABLE, "--post needs --yes when there is no terminal to confirm on")
        # The bars are done by now; stop their live display so the question shows.
        progress.display.stop()
        if not as_json:
            render_report(env, report)
        change = report.review.change if report.review else "?"
        env.err.print(f"Post [bold]{escape(comment)}[/] on change {change}? {escape('[y/N]')} ", end="")
        answer = env.stdin.readline().decode("utf-8", "replace").strip().lower()
        return answer in ("y", "yes")

    check_url_variables(environ, "OSTK_GERRIT_URL", "OSTK_ZUUL_URL", "OSTK_LAUNCHPAD_URL")
    with progress.display:
        report = check_review(
            target,
            gerrit=args.gerrit,
            zuul=args.zuul or environ.get("OSTK_ZUUL_URL") or None,
            tenant=args.tenant,
            launchpad=args.launchpad or environ.get("OSTK_LAUNCHPAD_URL") or None,
            patchset=args.patchset,
            pipeline=args.pipeline,
            include_all=bool(args.all_jobs),
            post=post,
            confirm=confirm if post else None,
            cache=LogCache.for_cache_dir(env.cache_dir),
            signatures=signatures,
            every_line=bool(args.every_line),
            pipelines=rules,
            progress=progress,
            environ=environ,
            cwd=env.cwd,
            history=bool(args.history),
            force=bool(args.force),
        )
    if as_json:
        output.print_json(env, report.to_json())
        for warning in report.warnings:
            output.warn(env, warning)
    else:
        if not (post and not yes and env.stdin_isatty):
            render_report(env, report)
        if post and not report.posted:
            env.out.print("not posted")
    return 0


class _BarProgress:
    """One rich progress bar per log download, on stderr (silent when not a TTY)."""

    def __init__(self, env: Environment) -> None:
        self.display = output.download_progress(env)
        self._tasks: dict[str, object] = {}
        self._lock = threading.Lock()

    def started(self, key: str, description: str, total: int | None) -> None:
        with self._lock:
            if key in self._tasks:
                self.display.update(self._tasks[key], total=total, completed=0)  # type: ignore[arg-type]
            else:
                self._tasks[key] = self.display.add_task(description, total=total)

    def advance(self, key: str, nbytes: int) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self.display.advance(task, nbytes)  # type: ignore[arg-type]

    def finished(self, key: str) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self.display.stop_task(task)  # type: ignore[arg-type]



def _signatures(args: argparse.Namespace, env: Environment) -> int:
    from rich.markup import escape
    from rich.text import Text

    from ostk.http import build_session
    from recheck.sources import analyze

    if not args.words:
        raise UsageError("usage: ostk recheck signatures list | check LOG")
    action, *rest = args.words
    if action == "list":
        if rest:
            raise UsageError("usage: ostk recheck signatures list")
        sigs = _signature_set(args, env)
        if args.json:
            output.print_json(
                env,
                {"signatures": [dict(s.to_json(), origin=s.origin, url=s.url) for s in sigs.signatures]},
            )
            return 0
        for sig in sorted(sigs.signatures, key=lambda s: s.bug):
            resolved = " [dim](resolved)[/]" if sig.resolved_at else ""
            env.out.print(f"[bold]#{sig.bug}[/]{resolved} {escape(sig.title)} [dim]{escape(sig.origin)}[/]")
        env.out.print(f"[dim]{len(sigs)} signatures[/]")
        return 0
    if action == "check":
        if len(rest) != 1:
            raise UsageError("usage: ostk recheck signatures check LOG")
        target = rest[0]
        sigs = _signature_set(args, env)
        source = target if is_url(target) else str(Path(env.cwd, target))
        analysis = analyze(source, signatures=sigs, session=build_session() if is_url(target) else None,
                           job_name=args.build_name, every_line=args.every_line)
        if args.json:
            output.print_json(
                env,
                {"log": target, "matches": [b.to_json() for b in analysis.signature_matches],
                 "warnings": list(analysis.warnings), "truncated": analysis.truncated},
            )
        else:
            for warning in analysis.warnings:
                output.warn(env, warning)
            if not analysis.signature_matches:
                env.out.print("No known signature matches this log.")
            for bug in analysis.signature_matches:
                env.out.print(
                    Text.assemble(("bug #" + str(bug.number), "bold"), f" {bug.title}  ",
                                  (f"score {bug.score:.2f}", "dim"), "  ", (bug.url, "blue"))
                )
                for why in bug.why:
                    env.out.print(Text("    " + why, style="dim"))
        return 0 if analysis.signature_matches else 1
    raise UsageError(f"unknown signatures action {action!r} (use 'list' or 'check LOG')")
