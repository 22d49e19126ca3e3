"""The ``ostk`` command: parse arguments, run a command, map errors to exit codes.

Each command group lives in its own module with ``register(subparsers,
common)``; a leaf command sets ``handler(args, env) -> int``. This module is
the only place that turns exceptions into exit codes and messages.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType

from ostk import __version__, output
from ostk.cli.parser import (
    DEFAULT_TIMEOUT,
    VALUE_OPTIONS,
    OstkArgumentParser,
    ParserExit,
    add_timeout_option,
    bind,
    common_options,
    unbind,
)
from ostk.environment import Environment
from ostk.errors import ExitStatus, OstkError
from ostk.redact import RedactingFilter, escape_control, redact

__all__ = ["build_parser", "main"]

#: Exit status for a bug in ostk itself (an exception nobody expected).
INTERNAL_ERROR = 70

#: Command name -> the module that registers it. Modules are imported only when
#: needed: ``ostk pki`` should not pay for importing the recheck engine.
_GROUPS: dict[str, str | ModuleType] = {
    "recheck": "ostk.cli.recheck",
    "pki": "ostk.cli.pki",
    "swift-functest-setup": "ostk.cli.swiftfunc",
    "stack": "ostk.cli.stack",
    "gate": "ostk.cli.gate",
}


def build_parser(command: str | None = None, *, all_groups: bool = True) -> OstkArgumentParser:
    """The argument parser; with a known ``command``, only that group is loaded.

    Without one (``ostk --help``, a typo) every group is loaded so that help
    and "invalid choice" messages list them all, unless ``all_groups`` is false
    (``ostk --version`` needs none).
    """
    parser = OstkArgumentParser(
        prog="ostk",
        description="An OpenStack contributor's toolkit: recheck failed CI jobs, see which bugs "
        "hit the gate, verify Keystone PKI tokens, run a real keystone and swift on loopback, "
        "and set up keystone accounts for Swift's functional tests.",
        epilog="Exit codes: 0 ok/valid, 1 negative verdict, 2 usage, 3 bad local input, "
        "4 remote service failed, 5 refused to post (recheck --post), 130 interrupted. "
        "Every command takes --json and --debug.",
    )
    parser.add_argument("--version", action="version", version=f"ostk {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and HTTP traces (secrets redacted)")
    add_timeout_option(parser, default=DEFAULT_TIMEOUT)
    parser.set_defaults(json=False, handler=None)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    common = common_options()
    names = [command] if command in _GROUPS else list(_GROUPS) if all_groups else []
    for name in names:
        group = _GROUPS[name]
        module = importlib.import_module(group) if isinstance(group, str) else group
        module.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run ``ostk`` with ``argv``; return the exit status (never raises)."""
    env = env or Environment.from_process()
    token = bind(env)
    args: argparse.Namespace | None = None
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        command = _command_of(argv)
        # `ostk --version` prints and exits before a command is parsed: loading every
        # group for it cost a third of a second.
        version_only = command is None and "--version" in argv and not {"-h", "--help"} & set(argv)
        parser = build_parser(command, all_groups=not version_only)
        args = parser.parse_args(argv)
        _configure_logging(env, debug=args.debug)
        if args.handler is None:
            env.stderr.write(parser.format_help())
            return ExitStatus.USAGE
        with _deadline(args, env, command), _library_warnings(debug=args.debug):
            return int(args.handler(args, env))
    except ParserExit as exc:
        return exc.status
    except OstkError as exc:
        if args is not None and args.debug:
            env.stderr.write(redact(traceback.format_exc()))
        output.error(env, str(exc))
        return int(exc.exit_status)
    except KeyboardInterrupt:
        output.error(env, "interrupted")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not our failure.
        return ExitStatus.OK
    except Exception as exc:  # the last line of defence
        if args is not None and args.debug:
            env.stderr.write(redact(traceback.format_exc()))
        output.error(env, f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        return INTERNAL_ERROR
    finally:
        unbind(token)


def _deadline(args: argparse.Namespace, env: Environment, command: str | None) -> contextlib.AbstractContextManager[object]:
    """One deadline for every remote call the command makes (sessions pick it up
    from the context); --timeout 0 means none. A command that says it makes no
    remote call (``remote(args, env)`` false: ``ostk recheck LOCAL.LOG``) does not
    import the HTTP stack for it: start-up counts in a whole-log scan (issue 14)."""
    remote = getattr(args, "remote", None)
    if not args.timeout or (remote is not None and not remote(args, env)):
        return contextlib.nullcontext()
    from ostk.http import Deadline, use_deadline

    return use_deadline(Deadline(args.timeout, f"ostk {command}"))


def _command_of(argv: Sequence[str]) -> str | None:
    """The command word: the first word that is neither an option nor an option's value."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


#: Loggers whose warnings a user sees without --debug: ours. keystoneauth,
#: urllib3, stevedore, oslo... log retries and discovery failures as
#: multi-line WARNINGs that repeat our one-line error (issue 17, class 7).
_OWN_LOGGERS = ("ostk", "recheck", "pki", "swiftfunc", "stack")


class _OwnWarningsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".", 1)[0] in _OWN_LOGGERS


class _OneLineFormatter(logging.Formatter):
    """Log lines with control characters escaped: a record is one line on the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_control(super().format(record))


def _configure_logging(env: Environment, *, debug: bool) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ostk", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(env.stderr)
    handler._ostk = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    if not debug:
        handler.addFilter(_OwnWarningsOnly())
        handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    # urllib3's own retry chatter is noise unless debugging.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if debug else logging.ERROR)


@contextlib.contextmanager
def _library_warnings(*, debug: bool) -> Iterator[None]:
    """Python warnings from libraries (InsecureRequestWarning, deprecations) only with --debug."""
    if debug:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
