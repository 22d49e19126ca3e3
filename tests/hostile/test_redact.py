"""ostk.redact is linear: 1 MB of the shapes that made the old patterns quadratic, < 0.5 s each."""
from __future__ import annotations

import time

import pytest

from ostk.redact import escape_control, redact

MB = 1_000_000
SHAPES = {
    "word-run": "a" * MB,
    "schemes": "a://" * (MB // 4),
    "userinfo-no-at": "://a:" * (MB // 5),
    "long-userinfo": "http://u:" + "p" * MB,
    "long-host": "http://" + "a" * MB,
    "colons": ":" * MB,
    "ats": "@" * MB,
    "url-like-words": ("a" * 50 + "://b:c") * (MB // 56),
    "pki-prefixes": "MII" * (MB // 3),
    "pkiz-prefixes": "PKIZ_" * (MB // 5),
    "fernet-prefixes": "gAAAAA" * (MB // 6),
    "header-keywords": "x-auth-token:" * (MB // 13),
    "basic-then-spaces": "Authorization: Basic" + " " * MB,
    "password-then-spaces": "password:" + " " * MB,
    "quoted-keywords": '"password"' * (MB // 10),
    "upper-keywords": "PASSWORD " * (MB // 9),
    "non-ascii": "é" * MB,
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_redact_is_linear_on_hostile_shapes(name):
    text = SHAPES[name]
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 0.5


def test_secrets_are_still_masked_in_every_spelling():
    text = (
        "{'X-Auth-Token': 'gAAAAABsecretsecret', 'authorization': 'Bearer abc.def'} "
        '{"Password": "hunter2"} OS_PASSWORD=hunter3 https://bob:pw@host/x secret_key=k1 '
        + "PKIZ_" + "A" * 40 + " MII" + "B" * 80
    )
    out = redact(text)
    for secret in ("gAAAAABsecretsecret", "abc.def", "hunter2", "hunter3", ":pw@", "k1", "A" * 40, "B" * 80):
        assert secret not in out, secret
    assert "https://bob:***@host/x" in out


def test_masking_keeps_the_original_case_of_the_rest():
    assert redact("Token_ID=x and MixedCase Text") == "Token_ID=*** and MixedCase Text"


def test_control_characters_are_escaped():
    assert escape_control("a\r\nb\x1b[31m\u202ez\x7f") == "a\\r\\nb\\x1b[31m\\u202ez\\x7f"
    assert escape_control("plain, ünïcödé") == "plain, ünïcödé"
