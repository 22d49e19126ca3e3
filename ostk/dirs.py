"""Where ostk keeps its files: XDG base directories, resolved from an environment.

Functions take the environment mapping explicitly so that tests (and the
in-process CLI) never depend on the real home directory.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "ostk"


def _base(environ: Mapping[str, str], variable: str, default: str) -> Path:
    value = environ.get(variable, "")
    # The XDG spec says relative paths are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    home = environ.get("HOME") or os.path.expanduser("~")
    return Path(home) / default


def cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/ostk`` (default ``~/.cache/ostk``)."""
    return _base(environ, "XDG_CACHE_HOME", ".cache") / APP


def config_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/ostk`` (default ``~/.config/ostk``)."""
    return _base(environ, "XDG_CONFIG_HOME", ".config") / APP


def state_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/ostk`` (default ``~/.local/state/ostk``)."""
    return _base(environ, "XDG_STATE_HOME", ".local/state") / APP


def data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/ostk`` (default ``~/.local/share/ostk``)."""
    return _base(environ, "XDG_DATA_HOME", ".local/share") / APP
