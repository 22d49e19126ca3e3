"""The review half of ``ostk recheck``: Gerrit review → failed jobs → comment.

``ostk/cli/recheck.py`` owns the ``recheck`` parser and calls in here for
review targets (change numbers, Gerrit/Zuul URLs, Change-Ids).
"""
from __future__ import annotations

import argparse

from ostk.environment import Environment
from ostk.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the review-only options (--gerrit, --zuul, --post ...) to ``parser``."""


def is_review_target(target: str) -> bool:
    """True when ``target`` names a review rather than a log."""
    return False


def run(args: argparse.Namespace, env: Environment) -> int:
    raise UsageError("'ostk recheck REVIEW' is not implemented yet")
