"""keystone.conf's cache and gunicorn's workers follow whether the stack has a memcached."""
from __future__ import annotations

import configparser
from pathlib import Path

from stack import keystone
from stack.state import Layout


def _conf(tmp_path: Path, memcached_port: int | None) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(keystone.config_text(Layout(tmp_path), 5000, memcached_port=memcached_port))
    return parser


def test_with_memcached_several_workers_share_it(tmp_path: Path) -> None:
    conf = _conf(tmp_path, 11311)
    assert conf["cache"]["backend"] == "dogpile.cache.memcached"
    assert conf["cache"]["memcache_servers"] == "127.0.0.1:11311"
    assert keystone.workers(11311) == keystone.WORKERS >= 2


def test_without_memcached_one_worker_keeps_a_private_pickling_cache(tmp_path: Path) -> None:
    conf = _conf(tmp_path, None)
    assert conf["cache"]["backend"] == "dogpile.cache.memory_pickle"
    assert "memcache_servers" not in conf["cache"]
    assert keystone.workers(None) == 1


def test_gunicorn_serves_one_request_per_process(tmp_path: Path) -> None:
    argv = keystone.server_argv(Path("/venv/bin/python"), Layout(tmp_path), 5000, processes=3)
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[argv.index("--worker-class") + 1] == "sync"
    assert "--threads" not in argv
