"""ostk: an OpenStack contributor's toolkit (recheck, pki, swift-functest-setup, stack).

This package is the CLI plus the small core the feature packages share:
errors, HTTP sessions, keystone auth, output, directories and atomic files.
"""
from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
