"""``ostk stack ...``: a real Keystone (and Swift) all-in-one on loopback."""
from __future__ import annotations

import argparse

from ostk.cli.stub import not_implemented


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("stack", help="run a real keystone (and swift) on 127.0.0.1")
    commands = group.add_subparsers(title="stack commands", metavar="COMMAND")
    for name, text in [
        ("up", "start (or restart) the stack"),
        ("env", "print the admin credentials as OS_* exports"),
        ("status", "show which services run"),
        ("logs", "show a service's log"),
        ("down", "stop the stack"),
    ]:
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.set_defaults(handler=not_implemented(f"stack {name}"))
