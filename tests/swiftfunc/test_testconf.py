"""test.conf: merged line by line, other sections and keys kept, written 0600."""
from __future__ import annotations

import configparser
import os
import stat

import pytest

from ostk.errors import InputError
from swiftfunc import testconf
from swiftfunc.accounts import default_plan

SAMPLE = """\
[s3api_test]
endpoint = http://127.0.0.1:8080
access_key1 = test:tester

[func_test]
# Sample config for Swift with tempauth
auth_uri = http://127.0.0.1:8080/auth/v1.0
#auth_version = 3
account = test
username = tester
password = testing
collate = C
insecure = no

[unit_test]
fake_syslog = False
"""


def _parsed(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True)
    parser.read_string(text)
    return parser


def test_auth_keys_are_keystone_v3_with_the_legacy_host_port_prefix_keys():
    keys = testconf.auth_keys("http://127.0.0.1:5123/v3")
    assert keys == {
        "auth_version": "3",
        "auth_uri": "http://127.0.0.1:5123/v3/",
        "auth_host": "127.0.0.1",
        "auth_port": "5123",
        "auth_ssl": "no",
        "auth_prefix": "/v3/",
    }
    assert testconf.auth_keys("https://ks.example.org/identity")["auth_uri"] == "https://ks.example.org/identity/v3/"
    assert testconf.auth_keys("https://ks.example.org/identity")["auth_port"] == "443"
    with pytest.raises(InputError):
        testconf.auth_keys("ftp://x")


def test_merge_replaces_our_keys_in_place_and_keeps_everything_else():
    updates = testconf.updates_for(default_plan(), "http://127.0.0.1:5000/v3")
    merged = testconf.merge(SAMPLE, updates)
    parsed = _parsed(merged)
    assert parsed.get("func_test", "auth_uri") == "http://127.0.0.1:5000/v3/"
    assert parsed.get("func_test", "auth_version") == "3"
    assert parsed.get("func_test", "collate") == "C" and parsed.get("func_test", "insecure") == "no"
    assert parsed.get("func_test", "username6") == "tester6"
    assert parsed.get("unit_test", "fake_syslog") == "False"
    assert parsed.get("s3api_test", "access_key1") == "test:tester"
    # Comments survive, and the replaced key stays where it was.
    assert "# Sample config for Swift with tempauth" in merged and "#auth_version = 3" in merged
    lines = merged.splitlines()
    assert lines.index("auth_uri = http://127.0.0.1:5000/v3/") < lines.index("collate = C")
    # New keys land inside [func_test], before [unit_test].
    assert lines.index("password6 = testing6") < lines.index("[unit_test]")


def test_merge_is_stable_when_nothing_changes():
    updates = testconf.updates_for(default_plan(), "http://127.0.0.1:5000/v3")
    once = testconf.merge(SAMPLE, updates)
    assert testconf.merge(once, updates) == once


def test_merge_into_an_empty_file_creates_the_section():
    merged = testconf.merge("", {"func_test": {"a": "1"}})
    assert merged == "[func_test]\na = 1\n"


def test_merge_drops_duplicates_and_continuation_lines_of_replaced_keys():
    text = "[func_test]\npassword = old\n  continued\nother = x\n"
    merged = testconf.merge(text, {"func_test": {"password": "new"}})
    assert merged == "[func_test]\npassword = new\nother = x\n"


def test_ec2_keys_go_to_func_test_and_s3api_test():
    updates = testconf.updates_for(
        default_plan(3), "http://127.0.0.1:5000/v3", swift_url="http://127.0.0.1:8080", ec2={1: ("a1", "s1"), 2: ("a2", "s2"), 3: ("a3", "s3")}
    )
    assert updates["func_test"]["s3_access_key"] == "a1" and updates["func_test"]["s3_secret_key3"] == "s3"
    assert updates["func_test"]["s3_storage_url"] == "http://127.0.0.1:8080/"
    assert updates["s3api_test"]["access_key2"] == "a2" and updates["s3api_test"]["endpoint"] == "http://127.0.0.1:8080"


def test_load_missing_file_is_empty(tmp_path):
    conf = testconf.load(tmp_path / "test.conf")
    assert not conf.exists and conf.text == "" and conf.section("func_test") == {}


def test_load_rejects_malformed_and_binary_files(tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("no section header\nkey = value\n")
    with pytest.raises(InputError, match=r"not a valid test\.conf"):
        testconf.load(bad)
    binary = tmp_path / "bin.conf"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not UTF-8"):
        testconf.load(binary)
    with pytest.raises(InputError, match="not a regular file"):
        testconf.load(tmp_path)


def test_check_writable_refuses_paths_that_cannot_be_replaced(tmp_path):
    testconf.check_writable(tmp_path / "new.conf")  # fine: directory writable
    with pytest.raises(InputError, match="does not exist"):
        testconf.check_writable(tmp_path / "missing" / "test.conf")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(InputError):
        testconf.check_writable(a_file / "test.conf")
    with pytest.raises(InputError, match="not a regular file"):
        testconf.check_writable(tmp_path)


def test_write_is_0600_even_over_a_world_readable_file(tmp_path):
    path = tmp_path / "test.conf"
    path.write_text("[func_test]\n")
    os.chmod(path, 0o644)
    testconf.write(path, "[func_test]\npassword = x\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "[func_test]\npassword = x\n"


def test_load_refuses_a_huge_file_without_reading_it(tmp_path):
    huge = tmp_path / "test.conf"
    with huge.open("wb") as handle:
        handle.truncate(testconf.MAX_SIZE + 1)  # sparse: cheap to make
    with pytest.raises(InputError, match="too big"):
        testconf.load(huge)
