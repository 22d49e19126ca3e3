"""The ``ostk`` command: parse arguments, run a command, map errors to exit codes.

Each command group lives in its own module with ``register(subparsers,
common)``; a leaf command sets ``handler(args, env) -> int``. This module is
the only place that turns exceptions into exit codes and messages.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from ostk import __version__, output
from ostk.cli.parser import OstkArgumentParser, ParserExit, bind, common_options, unbind
from ostk.environment import Environment
from ostk.errors import ExitStatus, OstkError
from ostk.redact import RedactingFilter, redact

__all__ = ["main", "build_parser"]

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


def build_parser(command: str | None = None) -> OstkArgumentParser:
    """The argument parser; with a known ``command``, only that group is loaded.

    Without one (``ostk --help``, a typo) every group is loaded so that help
    and "invalid choice" messages list them all.
    """
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
    names = [command] if command in _GROUPS else list(_GROUPS)
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
        # Top-level options take no values, so the first word is the command.
        command = next((word for word in argv if not word.startswith("-")), None)
        parser = build_parser(command)
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
