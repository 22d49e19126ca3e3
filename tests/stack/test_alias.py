"""``swiftfunc.stack`` stays importable for one release, with a DeprecationWarning."""
from __future__ import annotations

import importlib
import sys

import pytest

import stack


def test_swiftfunc_stack_alias_warns_and_reexports_the_stack_api() -> None:
    sys.modules.pop("swiftfunc.stack", None)
    with pytest.warns(DeprecationWarning, match="import stack instead"):
        alias = importlib.import_module("swiftfunc.stack")
    assert alias.local_stack is stack.local_stack
    assert alias.Stack is stack.Stack


def test_the_old_pytest_plugin_path_still_names_the_fixtures() -> None:
    plugin = importlib.import_module("swiftfunc.stack.pytest_plugin")
    assert plugin.keystone_stack is importlib.import_module("stack.pytest_plugin").keystone_stack
