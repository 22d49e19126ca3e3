"""Test doubles for code that verifies PKI tokens: a PKI-era keystone on 127.0.0.1.

See :class:`KeystoneStandIn`; :mod:`pki.issuing` makes CAs, certificates and
tokens directly.
"""
from __future__ import annotations

from pki.testing.standin import (
    ADMIN_TOKEN,
    CERT_PATHS,
    REVOKED_PATHS,
    KeystoneStandIn,
    StandInUser,
)

__all__ = ["ADMIN_TOKEN", "CERT_PATHS", "REVOKED_PATHS", "KeystoneStandIn", "StandInUser"]
