"""Scrub secrets out of text before it reaches a log or the terminal.

Used by ``--debug`` logging and by HTTP tracing: tokens and passwords must
never be printed, even when the user asks for everything.
"""
from __future__ import annotations

import logging
import re

_MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Header-style secrets: "X-Auth-Token: abc", "'X-Subject-Token': 'abc'".
    (
        re.compile(
            r"(?i)(['\"]?(?:x-auth-token|x-subject-token|x-service-token|x-storage-token"
            r"|authorization|proxy-authorization|cookie|set-cookie)['\"]?\s*[:=]\s*['\"]?)"
            r"(?:Basic\s+|Bearer\s+)?[^'\"\s,}]+"
        ),
        r"\1" + _MASK,
    ),
    # JSON/ini/kwargs secrets: "password": "x", password=x, 'secret': 'x'.
    (
        re.compile(
            r"(?i)(['\"]?(?:password|passwd|secret|token_id|os_password|os_token|admin_token"
            r"|auth_token|access_key|secret_key|api_key)['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}&]+"
        ),
        r"\1" + _MASK,
    ),
    # Bare tokens: PKIZ, PKI (CMS base64 starting MII), fernet (gAAAA…).
    (re.compile(r"PKIZ_[A-Za-z0-9_\-=]{16,}"), "PKIZ_" + _MASK),
    (re.compile(r"\bMII[A-Za-z0-9+/\-=]{60,}"), "MII" + _MASK),
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{40,}"), "gAAAAA" + _MASK),
    # Credentials in URLs: scheme://user:pass@host
    (re.compile(r"(\w+://[^/\s:@]+:)[^@\s/]+@"), r"\1" + _MASK + "@"),
)


def redact(text: str) -> str:
    """Return ``text`` with passwords, tokens and URL credentials masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg = message
        record.args = None
        return True
