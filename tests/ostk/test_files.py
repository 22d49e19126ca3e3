"""Atomic writes never leave a half-written file behind."""
from __future__ import annotations

import os
import stat

import pytest

from ostk.errors import InputError
from ostk.files import atomic_write, atomic_writer, ensure_private_dir, private_dir_warnings


def test_atomic_write_creates_file_with_mode(tmp_path):
    target = tmp_path / "test.conf"
    atomic_write(target, "[func_test]\n", mode=0o600)
    assert target.read_text() == "[func_test]\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_failed_write_keeps_the_old_content_and_no_temp_file(tmp_path):
    target = tmp_path / "cache.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["cache.json"]


def test_interrupt_keeps_the_old_content(tmp_path):
    target = tmp_path / "cache.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_writer(target, binary=True) as handle:
            handle.write(b"new")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["cache.bin"]


def test_replacing_changes_mode_to_the_requested_one(tmp_path):
    target = tmp_path / "secret"
    target.write_text("x")
    os.chmod(target, 0o644)
    atomic_write(target, b"y", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_into_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as info:
        atomic_write(tmp_path / "nope" / "file", "x")
    assert "cannot write" in str(info.value)


def test_private_dir_is_0700_and_existing_open_dir_is_reported(tmp_path):
    created = ensure_private_dir(tmp_path / "a" / "signing")
    assert stat.S_IMODE(created.stat().st_mode) == 0o700
    assert private_dir_warnings(created) == []
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o755)
    ensure_private_dir(open_dir)  # existing dirs are not silently changed
    warnings = private_dir_warnings(open_dir)
    assert len(warnings) == 1 and "0755" in warnings[0]
