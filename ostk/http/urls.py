"""URLs as ostk accepts them and prints them: checked, host only, credentials and secrets masked."""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ostk.redact import redact


def check_url(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Return ``url`` if it is a usable ``scheme://host[:port]/...`` URL, else raise ValueError.

    Catches what would otherwise fail deep inside urllib3 (or be sent as is):
    an unclosed IPv6 bracket, a port out of range, no host, whitespace or
    control characters (a CR/LF smuggled into a request line).
    """
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise ValueError("a URL cannot contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError(f"expected a {' or '.join(schemes)} URL (scheme://host/...)")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if port == 0:
        raise ValueError("port 0 is not a valid port")
    return url


def host_of(url: str) -> str:
    """``host[:port]`` of ``url``, without credentials, for messages."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return "the server"
    return netloc.rsplit("@", 1)[-1] or "the server"


def redact_url(url: str) -> str:
    """``url`` without userinfo (``user:password@``) and with secrets masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return redact(urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)))
