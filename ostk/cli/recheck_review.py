"""The review half of ``ostk recheck``: Gerrit review → failed jobs → comment.

``ostk/cli/recheck.py`` owns the ``recheck`` parser and calls in here for
review targets (change numbers, Gerrit/Zuul URLs, Change-Ids).
"""
from __future__ import annotations

import argparse
import threading

from rich.markup import escape

from ostk import output
from ostk.environment import Environment
from ostk.errors import UsageError
from recheck.logcache import LogCache
from recheck.models import Report
from recheck.review import check_review
from recheck.reviewref import DEFAULT_TENANT, is_review, parse_review


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the review-only options (--gerrit, --zuul, --post ...) to ``parser``."""
    group = parser.add_argument_group("review options")
    group.add_argument(
        "--gerrit", metavar="URL",
        help="Gerrit base URL (default: $OSTK_GERRIT_URL, the repo's .gitreview, else https://review.opendev.org)",
    )
    group.add_argument(
        "--zuul", metavar="URL",
        help="Zuul base URL (or .../t/<tenant>); also asks its builds API (default: $OSTK_ZUUL_URL)",
    )
    group.add_argument("--tenant", metavar="NAME", help=f"Zuul tenant (default: from the URL, else {DEFAULT_TENANT})")
    group.add_argument(
        "--launchpad", metavar="URL",
        help="Launchpad API root (default: $OSTK_LAUNCHPAD_URL, else https://api.launchpad.net/1.0)",
    )
    group.add_argument("--patchset", metavar="N", type=_positive, help="the patch set to look at (default: the latest)")
    group.add_argument(
        "--all", dest="all_jobs", action="store_true",
        help="include successful jobs, and analyse non-voting failures too",
    )
    group.add_argument(
        "--post", action="store_true",
        help="post the suggested comment (credentials: ~/.netrc or OSTK_GERRIT_USER/OSTK_GERRIT_PASSWORD)",
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


def is_review_target(target: str) -> bool:
    """True when ``target`` names a review rather than a log."""
    return is_review(target)


def run(args: argparse.Namespace, env: Environment) -> int:
    """Run the review workflow and render its report."""
    target = parse_review(args.target)
    environ = env.environ
    zuul = getattr(args, "zuul", None) or environ.get("OSTK_ZUUL_URL") or None
    launchpad = getattr(args, "launchpad", None) or environ.get("OSTK_LAUNCHPAD_URL") or None
    signatures = _signatures(env)
    post = bool(getattr(args, "post", False))
    yes = bool(getattr(args, "yes", False))
    as_json = bool(getattr(args, "json", False))

    def confirm(comment: str, report: Report) -> bool:
        if yes:
            return True
        if not env.stdin_isatty:
            raise UsageError("not posting: --post needs --yes when there is no terminal to confirm on")
        # The bars are done by now; stop their live display so the question shows.
        progress.display.stop()
        if not as_json:
            render(env, report)
        env.err.print(f"Post [bold]{escape(comment)}[/] on change {report.review.change if report.review else '?'}? {escape('[y/N]')} ", end="")
        answer = env.stdin.readline().decode("utf-8", "replace").strip().lower()
        return answer in ("y", "yes")

    progress = _BarProgress(env)
    with progress.display:
        report = check_review(
            target,
            gerrit=getattr(args, "gerrit", None),
            zuul=zuul,
            tenant=getattr(args, "tenant", None),
            launchpad=launchpad,
            patchset=getattr(args, "patchset", None),
            include_all=bool(getattr(args, "all_jobs", False)),
            post=post,
            confirm=confirm if post else None,
            cache=LogCache.for_cache_dir(env.cache_dir),
            signatures=signatures,
            progress=progress,
            environ=environ,
            cwd=env.cwd,
            history=bool(getattr(args, "history", True)),
            force=bool(getattr(args, "force", False)),
        )
    if as_json:
        output.print_json(env, report.to_json())
        for warning in report.warnings:
            output.warn(env, warning)
    else:
        if not (post and not yes and env.stdin_isatty):
            render(env, report)
        if post and not report.posted:
            env.out.print("not posted")
    return 0


def render(env: Environment, report: Report) -> None:
    """The human form of a review report, on stdout (the same look as ``ostk recheck LOG``)."""
    try:
        from ostk.cli.recheck import render_report
    except ImportError:
        _render(env, report)
    else:
        render_report(env, report)


def _render(env: Environment, report: Report) -> None:
    # Used only if the shared renderer is missing.
    for warning in report.warnings:
        output.warn(env, warning)
    out = env.out
    if report.review:
        r = report.review
        out.print(f"[bold]Change {r.change}[/] patch set {r.patchset} ({escape(r.project)})  {escape(r.url)}")
    if not report.jobs:
        out.print("No failed jobs.")
    for job in report.jobs:
        passed = job.result in ("SUCCESS", "SKIPPED")
        mark = "[green]✓[/]" if passed else ("[yellow]✗[/]" if not job.voting else "[red]✗[/]")
        where = ", ".join(x for x in (job.pipeline, None if job.voting else "non-voting") if x)
        out.print(f"{mark} [bold]{escape(job.name)}[/] ({escape(where)}) {escape(job.result or '')}")
        if job.log_url:
            out.print(f"    logs: {escape(job.log_url)}")
        for failure in job.failures[:5]:
            line = f" (line {failure.line})" if failure.line else ""
            out.print(f"    {failure.kind.value}: {escape(failure.id)}{line}")
            if failure.message:
                out.print(f"      {escape(failure.message[:200])}")
        if len(job.failures) > 5:
            out.print(f"    … and {len(job.failures) - 5} more failures")
        for bug in job.bugs:
            status = f" [{bug.status}]" if bug.status else ""
            out.print(f"    bug #{bug.number}{escape(status)} {escape(bug.title)}  (score {bug.score:.2f}; {escape('; '.join(bug.why))})")
            out.print(f"      {escape(bug.url)}")
        for warning in job.warnings:
            out.print(f"    [yellow]warning:[/] {escape(warning)}")
    if report.suggestion:
        out.print(f"Suggested comment: [bold]{escape(report.suggestion)}[/]")
        if report.posted:
            out.print("posted")
    else:
        out.print("Nothing to recheck: no voting job failed.")


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


def _signatures(env: Environment):  # type: ignore[no-untyped-def]
    import recheck

    loader = getattr(recheck, "load_signatures", None)
    if loader is None:
        return None
    try:
        return loader(env.environ)
    except Exception as exc:  # noqa: BLE001 - offline signatures are optional here
        output.warn(env, f"offline bug signatures unavailable: {exc}")
        return None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
