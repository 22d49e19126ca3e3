"""Scrub secrets out of text before it reaches a log or the terminal.

Used by ``--debug`` logging and by HTTP tracing: tokens and passwords must
never be printed, even when the user asks for everything.
"""
from __future__ import annotations

import logging
import re

_MASK = "***"

# Keyword secrets are found on an ASCII-lowercased copy of the text (same
# length, so spans carry over) with case-sensitive patterns: ``(?i)`` with an
# alternation made the regex engine try every keyword at every position,
# ~0.2 s per MB per pattern. Each pattern's group 1 is the secret value.
_KEYWORD_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Header-style secrets: "X-Auth-Token: abc", "'X-Subject-Token': 'abc'".
    re.compile(
        r"(?:x-auth-token|x-subject-token|x-service-token|x-storage-token"
        r"|authorization|proxy-authorization|cookie|set-cookie)['\"]?\s*[:=]\s*['\"]?"
        r"(?:basic\s+|bearer\s+)?([^'\"\s,}]+)"
    ),
    # JSON/ini/kwargs secrets: "password": "x", password=x, 'secret': 'x'.
    re.compile(
        r"(?:password|passwd|secret|token_id|os_password|os_token|admin_token"
        r"|auth_token|access_key|secret_key|api_key)['\"]?\s*[:=]\s*['\"]?([^'\"\s,}&]+)"
    ),
)
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}

# Every pattern is anchored on a literal and its runs cannot overlap the next
# match's start, so each is linear in the text (issue 17, 4b).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Bare tokens: PKIZ, PKI (CMS base64 starting MII), fernet (gAAAA…).
    (re.compile(r"PKIZ_[A-Za-z0-9_\-=]{16,}"), "PKIZ_" + _MASK),
    (re.compile(r"\bMII[A-Za-z0-9+/\-=]{60,}"), "MII" + _MASK),
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{40,}"), "gAAAAA" + _MASK),
    # Credentials in URLs: scheme://user:pass@host. Anchored on the literal
    # "://": a leading \w+ for the scheme made every position of a long word
    # run a match start, quadratic in its length. Each run below stops at "/",
    # so no two starts scan the same characters.
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + _MASK + "@"),
)


def redact(text: str) -> str:
    """Return ``text`` with passwords, tokens and URL credentials masked.

    Linear in the length of ``text`` (1 MB in well under half a second,
    whatever its shape): it runs on every error line and downloaded URL.
    """
    lowered = text.translate(_ASCII_LOWER)
    spans = sorted(m.span(1) for pattern in _KEYWORD_PATTERNS for m in pattern.finditer(lowered))
    if spans:
        pieces: list[str] = []
        done = 0
        for start, end in spans:
            if start < done:
                continue
            pieces += (text[done:start], _MASK)
            done = end
        pieces.append(text[done:])
        text = "".join(pieces)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# Control characters (C0, DEL, C1) and the bidi overrides that reorder what a
# terminal shows: a CR/LF in a URL must not start a fake line of output.
_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
_CONTROL.update({code: f"\\u{code:04x}" for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]})


def escape_control(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\r``, ``\\x1b``); one line."""
    return text.translate(_CONTROL)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg = message
        record.args = None
        return True
