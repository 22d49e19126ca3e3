"""``ostk swift-functest-setup``: keystone accounts + test.conf for Swift's functional tests."""
from __future__ import annotations

import argparse

from ostk.cli.stub import not_implemented


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = subparsers.add_parser(
        "swift-functest-setup",
        parents=[common],
        help="create the keystone accounts Swift's functional tests need; write test.conf",
    )
    sub.set_defaults(handler=not_implemented("swift-functest-setup"))
