"""State and secrets: private directory, 0600 files, round trip, no secrets in repr."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ostk.errors import InputError
from stack.processes import ProcessRecord
from stack.state import Layout, StackState, load_or_create_secrets, load_state, save_state


def test_secrets_are_generated_once_private_and_hidden(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "stack")
    first = load_or_create_secrets(layout)
    again = load_or_create_secrets(layout)
    assert first == again
    assert len({first.admin_password, first.swift_service_password}) == 2
    assert stat.S_IMODE(layout.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(layout.secrets_file.stat().st_mode) == 0o600
    assert first.admin_password not in repr(first)


def test_state_round_trips_with_processes(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    record = ProcessRecord("keystone", 123, 456, "marker", tmp_path / "logs" / "keystone.log")
    state = StackState(keystone_port=1, swift_port=2, internal_ports={"object": 3}).with_process(record)
    save_state(layout, state)
    assert stat.S_IMODE(layout.state_file.stat().st_mode) == 0o600
    assert load_state(layout) == state
    assert "password" not in layout.state_file.read_text()


def test_a_corrupt_state_file_is_bad_local_input(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.state_file.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_state(layout)
    layout.state_file.write_text(json.dumps({"keystone_port": 1, "bogus": 2}))
    with pytest.raises(InputError, match=r"unknown key .bogus."):
        load_state(layout)


def test_no_state_means_no_stack(tmp_path: Path) -> None:
    assert load_state(Layout(tmp_path)) is None
