"""memcached: the cache keystone's workers and swift's proxy share, as on devstack.

devstack (openstack/devstack stackrc: ``CACHE_BACKEND=dogpile.cache.memcached``,
``MEMCACHE_SERVERS=localhost:11211``; lib/keystone writes both into
keystone.conf ``[cache]``) runs keystone as several single-request processes
(lib/apache ``write_uwsgi_config``: ``processes = $API_WORKERS``, no threads)
over one memcached. The stack does the same with its own memcached on a
loopback port. Without the program (Debian's ``memcached``,
scripts/apt-packages.txt) keystone falls back to one process with an
in-process cache, and swift runs without a cache.
"""
from __future__ import annotations

import functools
import os
import shutil

from stack import ports
from stack.launch import Launch, Pending, internal_port, make_way, spawn
from stack.state import StackState

HOST = "127.0.0.1"
NAME = "memcached"


def find() -> str | None:
    """The memcached program, if installed."""
    return shutil.which(NAME) or next(
        (p for p in (f"/usr/bin/{NAME}", f"/usr/sbin/{NAME}") if os.access(p, os.X_OK)), None
    )


def argv(program: str, port: int) -> list[str]:
    # -U 0: no UDP (nothing here speaks it); 64 MB is plenty for a test stack.
    command = [program, "-l", HOST, "-p", str(port), "-U", "0", "-m", "64", "-c", "1024"]
    if os.geteuid() == 0:
        # memcached refuses to run as root unless told which user to be.
        command += ["-u", "root"]
    return command


def memcached_up(launch: Launch, state: StackState, pending: Pending) -> StackState:
    """memcached running or spawned on its recorded port; the state unchanged if it is not installed.

    The port is chosen free once and kept in ``internal_ports``, where
    keystone's and swift's configurations read it.
    """
    program = find()
    if program is None:
        launch.note("memcached is not installed: keystone runs one process with its own cache, swift none")
        return state
    state = internal_port(launch, state, NAME)
    port = state.internal_ports[NAME]
    if not make_way(NAME, state, port):
        return state
    launch.note(f"starting memcached on {HOST}:{port}")
    return spawn(
        launch, state, pending, NAME, argv(program, port), marker=f"-p {port}",
        environ=launch.environ, healthy=functools.partial(ports.is_listening, port),
    )
