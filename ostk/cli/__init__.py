"""The ``ostk`` command: parse arguments, run a command, map errors to exit codes.

Each command group lives in its own module with ``register(subparsers,
common)``; a leaf command sets ``handler(args, env) -> int``. This module is
the only place that turns exceptions into exit codes and messages.
"""
from __future__ import annotations

import argparse
import logging
import traceback
from collections.abc import Sequence

from ostk import __version__, output
from ostk.cli import pki as pki_cli
from ostk.cli import recheck as recheck_cli
from ostk.cli import stack as stack_cli
from ostk.cli import swiftfunc as swiftfunc_cli
from ostk.cli.parser import OstkArgumentParser, ParserExit, bind, common_options, unbind
from ostk.environment import Environment
from ostk.errors import ExitStatus, OstkError
from ostk.redact import RedactingFilter, redact

__all__ = ["main", "build_parser"]

#: Exit status for a bug in ostk itself (an exception nobody expected).
INTERNAL_ERROR = 70

_GROUPS = (recheck_cli, pki_cli, swiftfunc_cli, stack_cli)


def build_parser() -> OstkArgumentParser:
    """The full argument parser (used by ``main`` and by the docs)."""
    parser = OstkArgumentParser(
        prog="ostk",
        description="An OpenStack contributor's toolkit: recheck failed CI jobs, verify "
        "Keystone PKI tokens, and set up keystone accounts for Swift's functional tests.",
        epilog="Exit codes: 0 ok/valid, 1 negative verdict, 2 usage, 3 bad local input, "
        "4 remote service failed, 130 interrupted. Every command takes --json and --debug.",
    )
    parser.add_argument("--version", action="version", version=f"ostk {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and HTTP traces (secrets redacted)")
    parser.set_defaults(json=False, handler=None)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    common = common_options()
    for group in _GROUPS:
        group.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run ``ostk`` with ``argv``; return the exit status (never raises)."""
    env = env or Environment.from_process()
    token = bind(env)
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        _configure_logging(env, debug=args.debug)
        if args.handler is None:
            env.stderr.write(parser.format_help())
            return ExitStatus.USAGE
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
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if args is not None and args.debug:
            env.stderr.write(redact(traceback.format_exc()))
        output.error(env, f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        return INTERNAL_ERROR
    finally:
        unbind(token)


def _configure_logging(env: Environment, *, debug: bool) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ostk", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(env.stderr)
    handler._ostk = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    # urllib3's own retry chatter is noise unless debugging.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if debug else logging.ERROR)
