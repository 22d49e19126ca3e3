"""``ostk stack`` under hostile local state (issue 17, classes 0 and 9).

Class 0: ``down --purge`` deletes only what the stack provably created,
never a directory named by a tampered state.json. Class 9: a damaged
state.json or secrets.json is bad local input (exit 3, one line naming the
file) in every ``ostk stack`` command, never a crash. No services are
started: every case fails before a server would be.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ostk.cli import main
from ostk.environment import Environment
from stack import swift
from stack.state import Layout, Secrets, StackState, save_state

COMMANDS = (["status"], ["down"], ["down", "--purge"], ["env"], ["env", "--clouds-yaml"], ["logs"], ["up"])


def _run(directory: Path, tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    env = Environment.for_test({"HOME": str(tmp_path / "home"), "OSTK_VENVS_DIR": str(tmp_path / "venvs")},
                               cwd=tmp_path)
    rc = main(["stack", *argv, "--dir", str(directory)], env=env)
    return rc, env.stdout.getvalue(), env.stderr.getvalue()


def _stack_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "stack"
    directory.mkdir(mode=0o700, parents=True)
    layout = Layout(directory)
    save_state(layout, StackState(keystone_port=15000, swift_port=18080))
    layout.secrets_file.write_text(json.dumps({f: "x" for f in (
        "admin_password", "swift_service_password", "swift_hash_suffix", "swift_hash_prefix")}))
    return directory


HOSTILE_DOCUMENTS = {
    "garbage bytes": b"\xff\xfe\x00garbage\x80\x81",
    "not json": b"{not json",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep nesting in a map": b'{"keystone_port": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "a list where a map belongs": b"[]",
    "a string": b'"state"',
    "unknown keys": b'{"keystone_port": 1, "swift_port": 2, "storage_dirs": "/"}',
    "wrong types": b'{"keystone_port": "5000", "swift_port": 2}',
    "a bool for a port": b'{"keystone_port": true, "swift_port": 2}',
    "processes a list": b'{"keystone_port": 1, "swift_port": 2, "processes": [1, 2]}',
    "a process record a string": b'{"keystone_port": 1, "swift_port": 2, "processes": {"keystone": "kill"}}',
    "huge": b'{"keystone_port": 1, "swift_port": 2, "storage_dir": "' + b"a" * (2 << 20) + b'"}',
}


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("content", HOSTILE_DOCUMENTS.values(), ids=HOSTILE_DOCUMENTS.keys())
def test_a_hostile_state_file_is_exit_3_naming_it(tmp_path: Path, content: bytes, argv: list[str]) -> None:
    directory = _stack_dir(tmp_path)
    (directory / "state.json").write_bytes(content)

    rc, _, err = _run(directory, tmp_path, *argv)

    assert rc == 3, err
    assert "state.json" in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    # Nothing acted on: the files are still there.
    assert (directory / "state.json").read_bytes() == content


SECRETS_DOCUMENTS = {
    "garbage bytes": b"\x00\xff\xfe",
    "a list": b'["admin_password"]',
    "unknown keys": b'{"admin_password": "a", "swift_service_password": "b", "swift_hash_suffix": "c",'
                    b' "swift_hash_prefix": "d", "root_password": "e"}',
    "a password that is a map": b'{"admin_password": {"x": 1}, "swift_service_password": "b",'
                                b' "swift_hash_suffix": "c", "swift_hash_prefix": "d"}',
    "missing keys": b'{"admin_password": "a"}',
    "deep nesting": b'{"admin_password": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("content", SECRETS_DOCUMENTS.values(), ids=SECRETS_DOCUMENTS.keys())
def test_a_hostile_secrets_file_is_exit_3_naming_it(tmp_path: Path, content: bytes, argv: list[str]) -> None:
    directory = _stack_dir(tmp_path)
    (directory / "secrets.json").write_bytes(content)

    rc, _, err = _run(directory, tmp_path, *argv)

    assert rc == 3, err
    assert "secrets.json" in err
    assert len(err.strip().splitlines()) == 1, err
    assert (directory / "secrets.json").read_bytes() == content


def _victim(parent: Path) -> Path:
    victim = parent / "precious"
    (victim / "sub").mkdir(parents=True)
    (victim / "sub" / "thesis.txt").write_text("years of work")
    return victim


def _tamper(directory: Path, storage: Path) -> None:
    layout = Layout(directory)
    save_state(layout, StackState(keystone_port=15000, swift_port=18080, storage_dir=str(storage),
                                  swift_enabled=True))


def test_purge_never_deletes_a_directory_named_by_a_tampered_state_file(tmp_path: Path) -> None:
    directory = _stack_dir(tmp_path)
    victim = _victim(tmp_path)
    _tamper(directory, victim)

    rc, _, err = _run(directory, tmp_path, "down", "--purge")

    assert rc == 0, err
    assert (victim / "sub" / "thesis.txt").read_text() == "years of work"
    assert not (directory / "state.json").exists()


def _tmpfs() -> Path:
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        pytest.fail("this test needs a writable tmpfs at /dev/shm")
    return shm


def test_purge_keeps_a_tmpfs_directory_without_our_marker(tmp_path: Path) -> None:
    directory = _stack_dir(tmp_path)
    victim = _victim(_tmpfs() / f"ostk-hostile-{os.getpid()}-{tmp_path.name}")
    try:
        _tamper(directory, victim)
        assert _run(directory, tmp_path, "down", "--purge")[0] == 0
        assert (victim / "sub" / "thesis.txt").is_file()
    finally:
        import shutil
        shutil.rmtree(victim.parent, ignore_errors=True)


def test_purge_keeps_a_tmpfs_directory_marked_by_another_stack(tmp_path: Path) -> None:
    directory = _stack_dir(tmp_path)
    other = _stack_dir(tmp_path / "other")
    victim = _tmpfs() / f"ostk-hostile-{os.getpid()}-{tmp_path.name}"
    try:
        swift.claim_storage(victim, other)
        (victim / "data").write_text("the other stack's")
        _tamper(directory, victim)
        assert _run(directory, tmp_path, "down", "--purge")[0] == 0
        assert (victim / "data").is_file()
        # Its owner may delete it.
        assert swift.remove_storage(victim, other)
        assert not victim.exists()
    finally:
        import shutil
        shutil.rmtree(victim, ignore_errors=True)
        swift.storage_marker(victim).unlink(missing_ok=True)


def test_purge_deletes_the_stacks_own_tmpfs_storage(tmp_path: Path) -> None:
    directory = _stack_dir(tmp_path)
    storage = swift.default_storage_dir(directory)
    swift.claim_storage(storage, directory)
    (storage / "sdb1").mkdir()
    _tamper(directory, storage)

    assert _run(directory, tmp_path, "down", "--purge")[0] == 0

    assert not storage.exists()
    assert not swift.storage_marker(storage).exists()


def test_purge_does_not_follow_a_symlink_out_of_the_stack_dir(tmp_path: Path) -> None:
    directory = _stack_dir(tmp_path)
    victim = _victim(tmp_path)
    (directory / "storage").symlink_to(victim)
    _tamper(directory, directory / "storage")

    assert _run(directory, tmp_path, "down", "--purge")[0] == 0

    assert (victim / "sub" / "thesis.txt").is_file()


def test_an_unowned_storage_directory_is_never_used(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    with pytest.raises(Exception, match="not this stack's storage"):
        swift.claim_storage(victim, _stack_dir(tmp_path))
    assert sorted(p.name for p in victim.iterdir()) == ["sub"]


def test_secrets_of_an_older_stack_gain_the_new_fields(tmp_path: Path) -> None:
    from stack.state import load_or_create_secrets

    directory = _stack_dir(tmp_path)
    secrets = load_or_create_secrets(Layout(directory))
    assert isinstance(secrets, Secrets) and secrets.database_password and secrets.admin_password == "x"
    assert json.loads((directory / "secrets.json").read_text())["database_password"] == secrets.database_password
