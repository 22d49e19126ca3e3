"""Decode Keystone PKI/PKIZ tokens without verifying them, and compute token ids.

Formats recognised by :func:`decode`:

- ``pki``: the CMS PEM body with ``/`` replaced by ``-`` and header, footer
  and newlines removed (starts with ``MII``);
- ``pkiz``: ``PKIZ_`` + urlsafe base64 of the zlib-compressed CMS PEM text;
- ``cms-pem``: a ``-----BEGIN CMS-----`` block;
- ``cms-der``: raw DER bytes.

Everything that is not one of these, or whose CMS or JSON payload does not
parse, raises ``TokenInvalid(Reason.MALFORMED)`` — never another exception.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import functools
import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import orjson

from ostk.errors import UsageError
from pki.cms import SignedMessage, parse_signed_data, pem_to_der
from pki.errors import Reason, TokenInvalid

#: Tokens longer than this are refused before any decoding (no real token is close).
MAX_TOKEN_BYTES = 64 * 1024
#: A PKIZ token may not inflate past this; checked while inflating.
MAX_INFLATED_BYTES = 1024 * 1024

Format = Literal["pki", "pkiz", "cms-pem", "cms-der"]

_WHITESPACE = b" \t\r\n\x0b\x0c"
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


@dataclass(frozen=True)
class TokenSummary:
    """The facts a human or a service wants from a token payload (v2 or v3)."""

    #: "v2" (``access``) or "v3" (``token``)
    version: str
    user_id: str | None
    user_name: str | None
    #: the user's domain name (or id when no name) — v3 only
    user_domain: str | None
    #: project (v3) or tenant (v2)
    project_id: str | None
    project_name: str | None
    project_domain: str | None
    #: the domain of a domain-scoped v3 token
    domain: str | None
    #: role names
    roles: tuple[str, ...]
    #: when the token expires (aware, UTC), None if the payload has no expiry
    expires: datetime.datetime | None
    issued_at: datetime.datetime | None
    audit_ids: tuple[str, ...]
    #: service types in the catalog
    catalog_services: tuple[str, ...]


@dataclass(frozen=True)
class DecodedToken:
    """A parsed, **unverified** token."""

    #: "pki", "pkiz", "cms-pem" or "cms-der"
    format: str
    #: the token text exactly as sent, minus surrounding whitespace (what token ids hash)
    text: str
    #: the CMS SignedData, DER
    cms_der: bytes
    #: the JSON payload (``{"access": ...}`` or ``{"token": ...}``)
    payload: dict[str, Any]
    #: the parsed CMS (used by verification so it is not parsed twice)
    message: SignedMessage
    #: the token's expiry (aware UTC), None if the payload has none
    expires: datetime.datetime | None
    #: the token's audit ids (checked against revocation lists)
    audit_ids: tuple[str, ...]

    @functools.cached_property
    def summary(self) -> TokenSummary:
        """The typed summary (built on first use: verification needs only expiry and audit ids)."""
        return summarize(self.payload)


_T = TypeVar("_T")


def frozen_instance(cls: type[_T], fields: dict[str, Any]) -> _T:
    """An instance of the frozen dataclass ``cls`` given every one of its fields.

    The same object the generated ``__init__`` builds, without its
    ``object.__setattr__`` per field: that is two thirds of the cost, and
    verification builds two such objects per token.
    """
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance


def _malformed(detail: str) -> TokenInvalid:
    return TokenInvalid(Reason.MALFORMED, detail)


#: hashlib.new looks the name up on every call; these are direct.
_HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def token_ids(token_text: str, algorithms: Sequence[str] = ("md5",)) -> dict[str, str]:
    """Map each hashlib algorithm to the hex digest of ``token_text`` as sent.

    This is the id keystone put on revocation lists (md5 by default).
    Unknown algorithms raise :class:`ostk.errors.UsageError`.

    >>> token_ids("PKIZ_abc")
    {'md5': '6c53649a0759f68bffdf56504c5257d9'}
    """
    data = token_text.encode("utf-8") if isinstance(token_text, str) else bytes(token_text)
    result: dict[str, str] = {}
    for name in algorithms:
        try:
            constructor = _HASHES.get(name)
            digest = constructor(data) if constructor is not None else hashlib.new(name, data)
        except (ValueError, TypeError):
            raise UsageError(f"unknown hash algorithm {name!r}") from None
        try:
            result[name] = digest.hexdigest()
        except TypeError:  # shake_* need a length; not usable as token ids
            raise UsageError(f"hash algorithm {name!r} has no fixed length") from None
    return result


#: The first characters of a PKI token: base64 of a DER SEQUENCE with a
#: two-byte length (0x30 0x82). keystoneclient's ``is_asn1_token`` tested
#: "MII" only, which holds while the DER is under 16 KiB; longer tokens start
#: "MIJ", "MIK" or "MIL" (up to 64 KiB, past our size limit anyway).
PKI_PREFIXES = ("MII", "MIJ", "MIK", "MIL")


def is_pki_text(text: str) -> bool:
    """True when ``text`` has the shape of a PKI or PKIZ token (not whether it is valid)."""
    return text.startswith(PKI_PREFIXES) or text.startswith("PKIZ_")


def _canonical_tail(data: bytes, body: bytes) -> bool:
    """True when ``body`` (standard alphabet) is the one base64 text of ``data``.

    A decoder accepts any value in the unused low bits of the last character
    before the padding, so several texts decode to the same bytes; only the
    last 4-character group can differ from the canonical encoding.
    """
    tail = len(data) % 3 or 3
    return binascii.b2a_base64(data[-tail:], newline=False) == body[-4:]


def _inflate_pkiz(body: str) -> bytes:
    # urlsafe_b64decode silently drops characters outside the alphabet and
    # takes "+" and "/" too: decode strictly instead, and canonically.
    try:
        raw = body.encode("ascii")
        if b"+" in raw or b"/" in raw:
            raise ValueError("not urlsafe")
        standard = raw.translate(_URLSAFE_TO_STANDARD)
        compressed = base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _malformed("PKIZ body is not valid urlsafe base64") from None
    if not _canonical_tail(compressed, standard):
        raise _malformed("PKIZ body is not canonical base64")
    inflater = zlib.decompressobj()
    try:
        # max_length bounds the memory a zip bomb can take: we stop at the cap.
        data = inflater.decompress(compressed, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise _malformed(f"PKIZ body is not valid zlib data ({exc})") from None
    if inflater.unconsumed_tail:
        raise _malformed(f"PKIZ token inflates to more than {MAX_INFLATED_BYTES} bytes")
    if not inflater.eof:
        raise _malformed("PKIZ zlib stream is truncated")
    if inflater.unused_data:
        raise _malformed("trailing bytes after the PKIZ zlib stream")
    return data


def _cms_from_text(text: str) -> tuple[str, bytes]:
    if text.startswith("PKIZ_"):
        inflated = _inflate_pkiz(text[5:])
        if inflated[:1] == b"\x30":  # DER inside is accepted too
            return "pkiz", inflated
        return "pkiz", pem_to_der(inflated)
    if text.startswith("-----BEGIN"):
        return "cms-pem", pem_to_der(text)
    if text.startswith(PKI_PREFIXES):
        if "/" in text:
            # keystone spells "/" as "-"; accepting both would give one DER two ids
            raise _malformed("PKI token contains '/' (keystone writes it as '-')")
        try:
            body = text.replace("-", "/").encode("ascii")
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise _malformed("PKI token is not valid base64") from None
        # Python < 3.13 tolerates padding in the middle; one DER must have one
        # token text, or a re-encoded revoked token would get a fresh id.
        if not _canonical_tail(der, body):
            raise _malformed("PKI token is not canonical base64")
        return "pki", der
    raise _malformed("not a PKI, PKIZ or CMS token")


def decode(token: str | bytes) -> DecodedToken:
    """Parse a token without verifying it.

    Raises ``TokenInvalid(Reason.MALFORMED, ...)`` for anything malformed.
    """
    if isinstance(token, str):
        if len(token) > MAX_TOKEN_BYTES:
            raise _malformed(f"token is longer than {MAX_TOKEN_BYTES} bytes")
        # (non-ASCII text is refused below, so characters count as bytes here)
        text = token.strip(" \t\r\n\x0b\x0c")
        if not text:
            raise _malformed("empty token")
        fmt, der = _cms_from_text(text)
    else:
        if not isinstance(token, (bytes, bytearray, memoryview)):
            raise _malformed(f"a token is text or bytes, not {type(token).__name__}")
        if len(token) > MAX_TOKEN_BYTES:
            raise _malformed(f"token is longer than {MAX_TOKEN_BYTES} bytes")
        raw = bytes(token)
        if raw[:1] == b"\x30":
            # DER is binary: never strip it (its last byte may look like whitespace)
            fmt, der = "cms-der", raw
            text = ""
        else:
            raw = raw.strip(_WHITESPACE)
            if not raw:
                raise _malformed("empty token")
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError:
                raise _malformed("token is neither ASCII text nor DER") from None
            fmt, der = _cms_from_text(text)
    message = parse_signed_data(der)
    payload = _parse_payload(message.content)
    if fmt == "cms-der":
        # DER has no text form as sent; its id is the digest of the PEM-free
        # PKI form keystone would have sent.
        text = base64.b64encode(der).decode("ascii").replace("/", "-")
    expires, audit_ids = _expiry_and_audit_ids(payload)
    return frozen_instance(DecodedToken, {
        "format": fmt,
        "text": text,
        "cms_der": der,
        "payload": payload,
        "message": message,
        "expires": expires,
        "audit_ids": audit_ids,
    })


def _expiry_and_audit_ids(
    payload: dict[str, Any],
) -> tuple[datetime.datetime | None, tuple[str, ...]]:
    """What verification needs, checked now so a bad timestamp is malformed at decode."""
    if isinstance(payload.get("token"), dict):
        token = payload["token"]
        expires = parse_time(token.get("expires_at"), "expires_at")
    else:
        token = _dict(_dict(payload.get("access")).get("token"))
        expires = parse_time(token.get("expires"), "expires")
    parse_time(token.get("issued_at"), "issued_at")
    audit_ids = tuple(a for a in _list(token.get("audit_ids")) if isinstance(a, str))
    return expires, audit_ids


def _parse_payload(content: bytes) -> dict[str, Any]:
    # orjson checks UTF-8 itself and refuses nesting past 1024 levels (no
    # RecursionError); it is ~3x faster than json on a token's catalog.
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        if isinstance(exc.__cause__, UnicodeDecodeError) or "utf-8" in str(exc).lower():
            raise _malformed("token payload is not UTF-8") from None
        raise _malformed("token payload is not JSON") from None
    if not isinstance(payload, dict):
        raise _malformed("token payload is not a JSON object")
    if isinstance(payload.get("token"), dict) or isinstance(payload.get("access"), dict):
        return payload
    raise _malformed('token payload has neither "token" (v3) nor "access" (v2)')


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


_UTC = datetime.timezone.utc


def parse_time(value: Any, field: str) -> datetime.datetime | None:
    """Keystone timestamps (``2038-01-18T21:14:07Z``, with or without µs) → aware UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _malformed(f"token {field} is not a timestamp")
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        raise _malformed(f"token {field} is not a timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is _UTC:  # keystone's "Z": already what we return
        return parsed
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    try:
        return parsed.astimezone(datetime.timezone.utc)
    except OverflowError:
        raise _malformed(f"token {field} is out of range") from None


def _names(items: list[Any], key: str) -> tuple[str, ...]:
    return tuple(s for s in (_str(_dict(i).get(key)) for i in items) if s is not None)


def _domain_label(domain: Any) -> str | None:
    d = _dict(domain)
    return _str(d.get("name")) or _str(d.get("id"))


def summarize(payload: dict[str, Any]) -> TokenSummary:
    """The :class:`TokenSummary` of a v2 (``access``) or v3 (``token``) payload."""
    if isinstance(payload.get("token"), dict):
        token = payload["token"]
        user = _dict(token.get("user"))
        project = _dict(token.get("project"))
        return TokenSummary(
            version="v3",
            user_id=_str(user.get("id")),
            user_name=_str(user.get("name")),
            user_domain=_domain_label(user.get("domain")),
            project_id=_str(project.get("id")),
            project_name=_str(project.get("name")),
            project_domain=_domain_label(project.get("domain")),
            domain=_domain_label(token.get("domain")),
            roles=_names(_list(token.get("roles")), "name"),
            expires=parse_time(token.get("expires_at"), "expires_at"),
            issued_at=parse_time(token.get("issued_at"), "issued_at"),
            audit_ids=tuple(a for a in _list(token.get("audit_ids")) if isinstance(a, str)),
            catalog_services=_names(_list(token.get("catalog")), "type"),
        )
    access = _dict(payload.get("access"))
    token = _dict(access.get("token"))
    tenant = _dict(token.get("tenant"))
    user = _dict(access.get("user"))
    return TokenSummary(
        version="v2",
        user_id=_str(user.get("id")),
        user_name=_str(user.get("name")),
        user_domain=None,
        project_id=_str(tenant.get("id")),
        project_name=_str(tenant.get("name")),
        project_domain=None,
        domain=None,
        roles=_names(_list(user.get("roles")), "name"),
        expires=parse_time(token.get("expires"), "expires"),
        issued_at=parse_time(token.get("issued_at"), "issued_at"),
        audit_ids=tuple(a for a in _list(token.get("audit_ids")) if isinstance(a, str)),
        catalog_services=_names(_list(access.get("serviceCatalog")), "type"),
    )


def cms_content(der: bytes) -> bytes:
    """The signed content of CMS DER, **unverified** (for inspection only)."""
    return parse_signed_data(der).content
