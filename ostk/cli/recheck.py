"""``ostk recheck REVIEW|LOG``: what failed, which bug it is, what to comment."""
from __future__ import annotations

import argparse

from ostk.cli.stub import not_implemented


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sub = subparsers.add_parser(
        "recheck",
        parents=[common],
        help="analyse failed CI jobs of a review (or one log) and suggest a recheck comment",
    )
    sub.add_argument("target", metavar="REVIEW_OR_LOG", help="a review (number, URL, Change-Id) or a log path/URL")
    sub.set_defaults(handler=not_implemented("recheck"))
