"""``ostk pki ...``: decode and verify Keystone PKI/PKIZ tokens."""
from __future__ import annotations

import argparse

from ostk.cli.stub import not_implemented


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser("pki", help="decode and verify Keystone PKI/PKIZ tokens")
    commands = group.add_subparsers(title="pki commands", metavar="COMMAND")
    for name, text in [
        ("decode", "show a token's payload (unverified)"),
        ("verify", "verify a token's signature, expiry and revocation"),
        ("hash", "token ids as keystone hashes them"),
        ("revoked", "show keystone's signed revocation list"),
        ("setup", "create a CA and signing certificate"),
        ("sign", "sign a payload into a PKI/PKIZ token"),
    ]:
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.set_defaults(handler=not_implemented(f"pki {name}"))
