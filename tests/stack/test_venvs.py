"""Venvs: keyed by their pins, built once under a lock, atomically (never half ready)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from stack import venvs
from stack.venvs import VenvFailed, ensure_venv, is_ready, venv_path

#: Building even an empty venv costs a few seconds (ensurepip).
SLOW = pytest.mark.slow


@pytest.fixture
def pins(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Replace the shipped pins by an empty requirements file (no downloads)."""
    content = {"demo": b"# nothing to install\n"}
    monkeypatch.setattr(venvs, "requirement_texts", lambda name: [("demo.txt", content[name])])
    return content


def test_the_shipped_pins_pin_every_package() -> None:
    for name in venvs.REQUIREMENTS:
        for file, content in venvs.requirement_texts(name):
            if file == "swift-functest.txt":
                continue  # the functional-test tool's own list
            lines = [x for x in content.decode().splitlines() if x.strip() and not x.startswith("#")]
            assert lines and all("==" in line for line in lines), file
    assert "keystone==30.0.0" in venvs.requirement_texts("keystone")[0][1].decode()
    assert "swift==2.38.1" in venvs.requirement_texts("swift")[0][1].decode()


@SLOW
def test_concurrent_callers_share_one_build(tmp_path: Path, pins: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []
    real_build = venvs._build
    monkeypatch.setattr(venvs, "_build", lambda name, target: (builds.append(target), real_build(name, target)))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_venv("demo", tmp_path).path)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(builds) == 1
    assert len(set(results)) == 1 and is_ready(results[0])
    assert results[0].name.startswith("demo-")
    assert (results[0] / "bin" / "python").exists()
    # A change of pins means another venv, never a mutated one.
    pins["demo"] = b"# other pins\n"
    assert venv_path("demo", tmp_path) != results[0]


@SLOW
def test_leftovers_of_a_killed_build_are_replaced(tmp_path: Path, pins: dict[str, bytes]) -> None:
    target = venv_path("demo", tmp_path)
    (target / "bin").mkdir(parents=True)  # half a venv, no ready marker
    stale = tmp_path / f".{target.name}.build-killed"
    stale.mkdir()
    assert not is_ready(target)
    venv = ensure_venv("demo", tmp_path)
    assert venv.path == target and is_ready(target)
    assert not stale.exists()


@SLOW
def test_a_failed_install_leaves_nothing_that_looks_ready(tmp_path: Path, pins: dict[str, bytes]) -> None:
    pins["demo"] = b"this is not a requirement !!\n"
    with pytest.raises(VenvFailed) as caught:
        ensure_venv("demo", tmp_path)
    assert "demo venv: pip install failed" in str(caught.value)
    assert caught.value.exit_status == 3
    assert not venv_path("demo", tmp_path).exists()
    assert not list(tmp_path.glob(".*.build-*"))
