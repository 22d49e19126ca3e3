"""``down --purge``: delete only what the stack provably created."""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from stack import swift
from stack.state import Layout, StackState


def purge(layout: Layout, directory: Path, state: StackState | None) -> None:
    """Delete the stack's files, secrets and swift storage (not the lock file or the directory)."""
    storage = Path(state.storage_dir) if state and state.storage_dir else None
    # Only what this stack provably created: a storage path read from
    # state.json is deleted only if it lies inside the stack directory or
    # is a tmpfs directory carrying our marker (swift.owns_storage).
    if storage is not None:
        swift.remove_storage(storage, directory)
    for entry in (layout.keystone_dir, layout.swift_dir, layout.mariadb_dir, layout.logs_dir):
        shutil.rmtree(entry, ignore_errors=True)
    for entry in (layout.state_file, layout.secrets_file):
        with contextlib.suppress(OSError):
            entry.unlink()
