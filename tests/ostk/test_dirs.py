from pathlib import Path

from ostk import dirs


def test_xdg_variables_win():
    env = {"HOME": "/home/u", "XDG_CACHE_HOME": "/c", "XDG_CONFIG_HOME": "/k", "XDG_STATE_HOME": "/s"}
    assert dirs.cache_dir(env) == Path("/c/ostk")
    assert dirs.config_dir(env) == Path("/k/ostk")
    assert dirs.state_dir(env) == Path("/s/ostk")


def test_defaults_under_home_and_relative_xdg_ignored():
    env = {"HOME": "/home/u", "XDG_CACHE_HOME": "relative/path"}
    assert dirs.cache_dir(env) == Path("/home/u/.cache/ostk")
    assert dirs.config_dir(env) == Path("/home/u/.config/ostk")
    assert dirs.state_dir(env) == Path("/home/u/.local/state/ostk")
    assert dirs.data_dir(env) == Path("/home/u/.local/share/ostk")
