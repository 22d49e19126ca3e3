"""``ostk recheck REVIEW|LOG``: what failed, which bug it is, what to comment.

This module owns the ``recheck`` parser and the log path/URL half; review
targets (change numbers, Gerrit/Zuul URLs, Change-Ids) go to
``ostk.cli.recheck_review``. ``render_report`` is shared by both halves.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from ostk import output
from ostk.cli import recheck_review
from ostk.environment import Environment
from ostk.errors import NotFound, UsageError
from ostk.http import build_session, redact_url
from recheck import (
    JobReport,
    LogAnalysis,
    Report,
    SignatureSet,
    analyze,
    load_signatures,
    suggest,
)
from recheck.sources import is_url
from recheck.suggestion import CONFIDENT
from recheck.verdict import Verdict, VerdictKind

if TYPE_CHECKING:
    import requests

_KIND_STYLE = {"infra": "magenta", "setup": "red", "timeout": "yellow", "test": "red", "task": "cyan"}


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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
        help="a review (number, URL, Change-Id), a log path/URL ('-' for stdin), or 'signatures'",
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
        help="check every log line against the signatures, not only lines around failures (slower)",
    )
    sub.add_argument(
        "--no-shipped-signatures",
        action="store_true",
        help="use only your own signatures (~/.config/ostk/signatures/)",
    )
    recheck_review.add_arguments(sub)
    sub.set_defaults(handler=run)


def run(args: argparse.Namespace, env: Environment) -> int:
    target: str = args.target
    local = not is_url(target) and Path(env.cwd, target).exists()
    if not local and target == "signatures":
        return _signatures(args, env)
    if not local and recheck_review.is_review_target(target):
        return recheck_review.run(args, env)
    if args.words:
        raise UsageError(f"unexpected argument(s): {' '.join(args.words)}")
    return _log(args, env, target)


def _signature_set(args: argparse.Namespace, env: Environment) -> SignatureSet:
    sigs = load_signatures(env.environ, shipped=not getattr(args, "no_shipped_signatures", False))
    for warning in sigs.warnings:
        output.warn(env, warning)
    return sigs


def _log(args: argparse.Namespace, env: Environment, target: str) -> int:
    sigs = _signature_set(args, env)
    url = is_url(target)
    job_name = args.build_name or (job_name_from_url(target) if url else None)
    if url:
        session = build_session()
        target, analysis = _analyze_url(target, session, sigs, job_name, args.every_line)
    elif target == "-":
        # e.g. `zcat job-output.txt.gz | ostk recheck -`
        analysis = analyze(env.stdin, signatures=sigs, job_name=job_name, every_line=args.every_line)
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


#: What to read in a build's log directory, best first.
_LOG_DIR_FILES = ("job-output.txt.gz", "job-output.txt", "console.html")


def _analyze_url(
    url: str, session: requests.Session, sigs: SignatureSet, job_name: str | None, every_line: bool
) -> tuple[str, LogAnalysis]:
    """Analyse a log URL; a log directory URL (ending in /) means its job output."""
    options = {"signatures": sigs, "session": session, "job_name": job_name, "every_line": every_line}
    if not url.split("?", 1)[0].endswith("/"):
        return url, analyze(url, **options)  # type: ignore[arg-type]
    missing: NotFound | None = None
    for name in _LOG_DIR_FILES:
        try:
            return url + name, analyze(url + name, **options)  # type: ignore[arg-type]
        except NotFound as exc:
            missing = exc
    assert missing is not None
    raise NotFound(
        f"no {', '.join(_LOG_DIR_FILES)} in {redact_url(url)} (old logs expire)", status=404, url=redact_url(url)
    )


def job_from_analysis(name: str, log_url: str | None, analysis: LogAnalysis, **fields: object) -> JobReport:
    """A :class:`JobReport` for one analysed log (``fields``: result, voting, pipeline…)."""
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


_BUILD_ID = re.compile(r"^[0-9a-f]{7,32}$")


def job_name_from_url(url: str) -> str | None:
    """The job name in a Zuul/Jenkins log URL (``…/check/<job>/<build id>/job-output.txt``)."""
    parts = [p for p in url.split("?", 1)[0].split("/") if p]
    if len(parts) >= 4 and "." in parts[-1]:
        parts = parts[:-1]
    if len(parts) >= 3 and _BUILD_ID.match(parts[-1]) and not _BUILD_ID.match(parts[-2]):
        return parts[-2]
    return None


def _log_name(target: str) -> str:
    name = target.split("?", 1)[0].rstrip("/")
    return os.path.basename(name) or name


def render_report(env: Environment, report: Report, *, max_failures: int = 10) -> None:
    """Print ``report`` for humans on stdout (rich): per job its failures, bugs and warnings,
    then the suggested comment. Shared by the log and review commands."""
    out = env.out
    if report.review is not None:
        r = report.review
        out.print(f"[bold]Review {r.change},{r.patchset}[/] {escape(r.project)}  {escape(r.url)}")
    for warning in report.warnings:
        output.warn(env, warning)
    if report.verdict is not None:
        _render_verdict(env, "Verdict", report.verdict, indent="")
    for job in report.jobs:
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
    style = _VERDICT_STYLE.get(verdict.kind.value, "bold")
    env.out.print(
        Text.assemble(indent, (f"{label}: ", "bold"), (verdict.kind.value, f"bold {style}"), (f" ({verdict.confidence:.2f})", "dim"))
    )
    for line in verdict.evidence:
        env.out.print(Text(f"{indent}  - {line}"))


def _render_job(env: Environment, job: JobReport, max_failures: int) -> None:
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


def _signatures(args: argparse.Namespace, env: Environment) -> int:
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
