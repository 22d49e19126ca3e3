"""A real Keystone (and Swift) all-in-one on 127.0.0.1, as plain processes.

>>> from stack import local_stack
>>> with local_stack(swift=True) as stack:          # free ports, temp dir
...     print(stack.keystone_url, stack.swift_url)  # doctest: +SKIP

``Stack`` is the long-lived form behind ``ostk stack up/down/status``; the
pytest plugin ``stack.pytest_plugin`` gives session fixtures.
"""
from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from stack.ports import PortInUse, free_ports
from stack.processes import MissingProgram, ServiceFailed
from stack.stack import ServiceStatus, Stack, StackStatus, default_dir
from stack.venvs import VenvFailed, default_venvs_dir


@contextlib.contextmanager
def local_stack(
    directory: Path | None = None,
    *,
    swift: bool = False,
    s3api: bool | None = None,
    database: str | None = None,
    tempauth: bool | None = None,
    keystone_port: int | None = None,
    swift_port: int | None = None,
    venvs_dir: Path | None = None,
) -> Iterator[Stack]:
    """A running stack for the ``with`` block; stops what it started on exit.

    Without ``directory`` the stack lives in a temporary directory that is
    deleted afterwards; ``None`` ports are picked free.
    """
    with contextlib.ExitStack() as cleanup:
        if directory is None:
            directory = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="ostk-stack-")))
            temporary = True
        else:
            temporary = False
        existing = Stack(directory, venvs_dir=venvs_dir)
        # What this block starts stops with it, even if this process is killed.
        if existing.layout.state_file.exists():
            stack = Stack(directory, keystone_port=keystone_port, swift_port=swift_port, venvs_dir=venvs_dir,
                          die_with_parent=True)
        else:
            free = free_ports(2)
            stack = Stack(
                directory,
                keystone_port=keystone_port or free[0],
                swift_port=swift_port or free[1],
                venvs_dir=venvs_dir,
                die_with_parent=True,
            )
        try:
            status = stack.up(swift=swift, s3api=s3api, database=database, tempauth=tempauth)
        except BaseException:
            if temporary:
                stack.down(purge=True)
            raise
        try:
            yield stack
        finally:
            if temporary:
                stack.down(purge=True)
            else:
                stack.stop_services(status.started)


__all__ = [
    "MissingProgram",
    "PortInUse",
    "ServiceFailed",
    "ServiceStatus",
    "Stack",
    "StackStatus",
    "VenvFailed",
    "default_dir",
    "default_venvs_dir",
    "local_stack",
]
