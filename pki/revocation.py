"""Keystone's signed revocation list, and a cache of it on disk shared by processes.

Keystone served the list as ``{"signed": "<CMS PEM>"}``; the CMS content is
``{"revoked": [{"id": "<token hash>", "expires": "...Z", "audit_id": "..."}]}``.
A :class:`RevocationList` is only ever built from *verified* CMS, and answers
"is this token revoked?" with set lookups, so the cost of a check does not
grow with the length of the list.

:class:`RevocationCache` keeps the signed list in a signing directory, as
keystonemiddleware's auth_token did, so that every process of a service (and
every ``ostk pki verify`` run) shares one copy and keystone is asked at most
once per ``cache_time`` window::

    cache = RevocationCache(signing_dir, source.fetch_revocation_list, trust)
    verify_token(token, trust, revocation=cache)
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as _dt
import os
import threading
import time
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import filelock

from ostk.documents import parse_json
from ostk.errors import InputError, ServiceError
from ostk.files import atomic_write, ensure_private_dir, private_dir_warnings
from pki.certs import TrustStore
from pki.cms import der_to_pem, pem_to_der, verify_cms
from pki.errors import Reason, TokenInvalid
from pki.token import PKI_PREFIXES

__all__ = [
    "DEFAULT_CACHE_TIME",
    "DEFAULT_MAX_STALE_AGE",
    "RevocationCache",
    "RevocationList",
    "RevocationListError",
    "RevocationUnavailable",
    "RevokedToken",
]

#: keystonemiddleware's default ``revocation_cache_time``, in seconds.
DEFAULT_CACHE_TIME = 10.0
#: How old a cached list may get while keystone cannot be reached (seconds).
DEFAULT_MAX_STALE_AGE = 300.0
#: A signed list larger than this is refused before parsing (keystone's lists
#: were a few hundred KiB at the very worst; this bounds memory).
MAX_SIGNED_BYTES = 64 * 1024 * 1024

#: File names inside the signing directory (the list's name is auth_token's).
LIST_FILE = "revoked.pem"
LOCK_FILE = ".revoked.pem.lock"
FAILED_FILE = ".revoked.pem.fetch-failed"


class RevocationListError(InputError):
    """A revocation list is malformed or its signature does not verify (exit 3).

    ``reason`` is the verification reason when the CMS was rejected, else None.
    """

    def __init__(self, message: str, reason: object = None) -> None:
        super().__init__(message)
        self.reason = reason


class RevocationUnavailable(ServiceError):
    """No revocation list fresh enough to trust: keystone unreachable or its
    list unusable, and the cached copy missing or older than the maximum age.

    Verification must fail closed on this (exit 4), never report "valid".
    """


@dataclass(frozen=True)
class RevokedToken:
    """One entry of the revocation list."""

    #: The token id: a hex digest (md5 by default) of the token as sent.
    id: str
    #: When the revoked token expires anyway (None if keystone omitted it).
    expires: _dt.datetime | None = None
    #: The audit id of the revoked token, when keystone gave it.
    audit_id: str | None = None


@dataclass(frozen=True)
class RevocationList:
    """A verified revocation list; a :class:`pki.verify.RevocationCheck`.

    Build it with :meth:`from_signed` (which verifies the CMS signature);
    ``signed_pem`` is the exact signed text, so it can be cached and
    re-verified later.
    """

    #: Every entry, in keystone's order.
    entries: tuple[RevokedToken, ...]
    #: The CMS PEM this list was verified from.
    signed_pem: str = field(repr=False)
    _ids: frozenset[str] = field(repr=False, compare=False, default=frozenset())
    _audit_ids: frozenset[str] = field(repr=False, compare=False, default=frozenset())

    @classmethod
    def from_entries(cls, entries: Iterable[RevokedToken], signed_pem: str = "") -> RevocationList:
        """A list from entries already trusted (e.g. built in a test)."""
        items = tuple(entries)
        return cls(
            entries=items,
            signed_pem=signed_pem,
            _ids=frozenset(e.id.lower() for e in items),
            _audit_ids=frozenset(e.audit_id for e in items if e.audit_id),
        )

    @classmethod
    def from_signed(
        cls,
        data: bytes | str,
        trust: TrustStore,
        *,
        now: _dt.datetime | None = None,
        source: str = "revocation list",
    ) -> RevocationList:
        """Verify and parse a signed list.

        ``data`` is keystone's JSON answer (``{"signed": "..."}``), a bare CMS
        PEM, the DER, or the PKI/PKIZ token form of the same CMS. Raises
        :class:`RevocationListError` if it is malformed or does not verify
        against ``trust`` at ``now``.
        """
        der = signed_der(data, source)
        try:
            content = verify_cms(der, trust, now=now or _dt.datetime.now(_dt.timezone.utc))
        except TokenInvalid as exc:
            raise RevocationListError(
                f"{source}: signature not accepted ({exc})", reason=exc.reason
            ) from exc
        entries = parse_content(content, source)
        return cls.from_entries(entries, signed_pem=_as_pem(der))

    def __len__(self) -> int:
        return len(self.entries)

    def is_revoked(self, token_ids: Collection[str], audit_ids: Collection[str]) -> bool:
        """True if any of ``token_ids`` (hex digests) or ``audit_ids`` is listed."""
        ids = self._ids
        for token_id in token_ids:
            if token_id.lower() in ids:
                return True
        listed = self._audit_ids
        return any(audit_id in listed for audit_id in audit_ids)


def signed_der(data: bytes | str, source: str = "revocation list") -> bytes:
    """The CMS DER inside any of the forms a signed list comes in."""
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogateescape")
    else:
        raw = bytes(data)
    if len(raw) > MAX_SIGNED_BYTES:
        raise RevocationListError(f"{source}: larger than {MAX_SIGNED_BYTES} bytes")
    stripped = raw.strip()
    if not stripped:
        raise RevocationListError(f"{source}: empty")
    if stripped[:1] == b"\x30":
        return stripped
    try:
        text = stripped.decode("ascii")
    except UnicodeDecodeError as exc:
        raise RevocationListError(f"{source}: neither JSON, PEM nor DER") from exc
    if text.startswith("{"):
        document = parse_json(text, source=source, error=RevocationListError)
        signed = document.get("signed") if isinstance(document, dict) else None
        if not isinstance(signed, str):
            raise RevocationListError(
                f'{source}: JSON without a "signed" string (an unsigned list cannot be trusted)'
            )
        text = signed.strip()
    try:
        if text.startswith("-----BEGIN"):
            return pem_to_der(text)
        if text.startswith("PKIZ_"):
            return pem_to_der(_inflate_pkiz(text[5:], source))
        if text.startswith(PKI_PREFIXES):
            # The PKI token form: PEM body with '/' written as '-'.
            return base64.b64decode(text.replace("-", "/"), validate=True)
    except TokenInvalid as exc:
        raise RevocationListError(f"{source}: malformed CMS ({exc.detail})") from exc
    except (binascii.Error, ValueError) as exc:
        raise RevocationListError(f"{source}: malformed base64 ({exc})") from exc
    raise RevocationListError(f"{source}: not a signed revocation list")


def _inflate_pkiz(body: str, source: str) -> str:
    compressed = base64.urlsafe_b64decode(body.encode("ascii"))
    inflater = zlib.decompressobj()
    try:
        # Bounded: a "zip bomb" stops at the limit instead of filling memory.
        text = inflater.decompress(compressed, MAX_SIGNED_BYTES)
    except zlib.error as exc:
        raise RevocationListError(f"{source}: invalid zlib data ({exc})") from exc
    if inflater.unconsumed_tail:
        raise RevocationListError(f"{source}: inflates past {MAX_SIGNED_BYTES} bytes")
    return text.decode("ascii", "replace")


def _as_pem(der: bytes) -> str:
    pem = der_to_pem(der)
    return pem if isinstance(pem, str) else pem.decode("ascii")


def parse_content(content: bytes, source: str = "revocation list") -> list[RevokedToken]:
    """The entries of a verified list's JSON content."""
    document = parse_json(content, source=f"{source}: signed content", error=RevocationListError)
    revoked = document.get("revoked") if isinstance(document, dict) else None
    if not isinstance(revoked, list):
        raise RevocationListError(f'{source}: signed content has no "revoked" list')
    entries = []
    for number, item in enumerate(revoked):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise RevocationListError(f'{source}: entry {number} has no "id"')
        audit_id = item.get("audit_id")
        entries.append(
            RevokedToken(
                id=item["id"],
                expires=_parse_time(item.get("expires")),
                audit_id=audit_id if isinstance(audit_id, str) and audit_id else None,
            )
        )
    return entries


def _parse_time(value: object) -> _dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)


TrustLike = TrustStore | Callable[[], TrustStore]

#: Temporary files of ours (``ostk.files.atomic_writer`` names them
#: ``.<target>.<random>.tmp``) older than this were left by a killed process.
STALE_TEMP_SECONDS = 60.0
_OUR_FILES = (LIST_FILE, FAILED_FILE, "signing_cert.pem", "cacert.pem")


def remove_stale_temp_files(directory: Path, *, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete temp files a SIGKILL left behind mid-write; only our own names,
    only old ones (a live writer's file is seconds old at most)."""
    removed = []
    cutoff = time.time() - older_than
    for name in _OUR_FILES:
        for candidate in directory.glob(f".{name}.*.tmp"):
            try:
                if candidate.is_file() and not candidate.is_symlink() and candidate.stat().st_mtime < cutoff:
                    candidate.unlink()
                    removed.append(candidate)
            except OSError:
                continue  # gone already, or not ours to remove
    return removed


@dataclass(frozen=True)
class CacheState:
    """What the cache last served (for tools that report on it)."""

    #: Seconds since the served list was fetched from keystone.
    age: float
    #: True when keystone could not be asked and an older list was used.
    stale: bool
    #: Why the list is stale (the fetch error), or None.
    error: str | None = None


class RevocationCache:
    """Keystone's revocation list, cached as signed PEM in a signing directory.

    - Fresh for ``cache_time`` seconds after it was fetched, judged by the
      file's mtime, so separate processes share one copy.
    - Refreshes hold a file lock and re-check freshness once they have it, so
      concurrent processes ask keystone at most once per window; the file is
      replaced atomically, so no reader sees half of it.
    - Loading re-verifies the signature: a tampered file is ignored and the
      list fetched again.
    - When keystone cannot be reached (or serves a list that does not
      verify) the cached list is used while it is at most ``max_stale_age``
      seconds old; beyond that :class:`RevocationUnavailable` is raised.
      Failed fetches are remembered for ``cache_time`` so an outage is not
      retried on every request.

    ``fetch`` returns keystone's answer (bytes or text, any form that
    :meth:`RevocationList.from_signed` accepts) or raises
    :class:`ostk.errors.ServiceError`. ``trust`` is a :class:`TrustStore` or
    a callable returning the current one (certificates may rotate);
    ``refresh_trust``, if given, is called once when a fetched list names a
    signer we do not know (keystone rotated its key), e.g.
    :meth:`pki.verifier.Verifier.refresh_trust`.
    """

    def __init__(
        self,
        signing_dir: str | os.PathLike[str],
        fetch: Callable[[], bytes | str],
        trust: TrustLike,
        *,
        cache_time: float = DEFAULT_CACHE_TIME,
        max_stale_age: float = DEFAULT_MAX_STALE_AGE,
        lock_timeout: float = 60.0,
        refresh_trust: Callable[[], TrustStore] | None = None,
        clock: Callable[[], float] = time.time,
        now: Callable[[], _dt.datetime] | None = None,
    ) -> None:
        self.directory = ensure_private_dir(signing_dir)
        #: Reasons the signing directory is not private (empty when it is).
        self.warnings: list[str] = private_dir_warnings(self.directory)
        self.path = self.directory / LIST_FILE
        remove_stale_temp_files(self.directory)
        self._failed_path = self.directory / FAILED_FILE
        self._lock = filelock.FileLock(str(self.directory / LOCK_FILE), timeout=lock_timeout)
        self._thread_lock = threading.RLock()
        self._fetch = fetch
        self._trust = trust
        self._refresh_trust = refresh_trust
        self.cache_time = float(cache_time)
        self.max_stale_age = float(max_stale_age)
        self._clock = clock
        self._now = now
        # The last list loaded, with the file identity it came from, so that an
        # unchanged file is not parsed and verified again on every check.
        self._loaded: tuple[tuple[int, int, int], RevocationList] | None = None
        #: What the last :meth:`get` served.
        self.state: CacheState | None = None

    # RevocationCheck -------------------------------------------------------
    def is_revoked(self, token_ids: Collection[str], audit_ids: Collection[str]) -> bool:
        """Check against a list fresh enough to trust (may fetch; may raise
        :class:`RevocationUnavailable`)."""
        return self.get().is_revoked(token_ids, audit_ids)

    # ------------------------------------------------------------------------
    def get(self) -> RevocationList:
        """A verified list, fetched if the cached one is missing, stale or bad."""
        cached = self._load_fresh()
        if cached is not None:
            return cached
        with self._locked():
            # Another process may have refreshed while we waited for the lock.
            cached = self._load_fresh()
            if cached is not None:
                return cached
            if self._recently_failed():
                return self._stale(self._failure_message())
            try:
                fresh = self._fetch_and_verify()
            except ServiceError as exc:
                self._remember_failure(str(exc))
                return self._stale(str(exc))
            with contextlib.suppress(OSError):
                self._failed_path.unlink()
            atomic_write(self.path, fresh.signed_pem, mode=0o600)
            self._remember(fresh)
            self.state = CacheState(age=0.0, stale=False)
            return fresh

    def refresh(self) -> RevocationList:
        """Fetch now, whatever the cache's age (still under the lock)."""
        with self._locked():
            fresh = self._fetch_and_verify()
            atomic_write(self.path, fresh.signed_pem, mode=0o600)
            self._remember(fresh)
            self.state = CacheState(age=0.0, stale=False)
            return fresh

    # ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):  # type: ignore[no-untyped-def]
        # Threads of this process queue on the thread lock; processes on the file lock.
        with self._thread_lock:
            try:
                self._lock.acquire()
            except filelock.Timeout as exc:
                raise RevocationUnavailable(
                    f"revocation list: another process held {self._lock.lock_file} "
                    f"for more than {self._lock.timeout:.0f} s"
                ) from exc
            except OSError as exc:
                raise InputError(
                    f"cannot lock {self._lock.lock_file}: {exc.strerror or exc}"
                ) from exc
            try:
                yield
            finally:
                self._lock.release()

    def _age(self, mtime: float) -> float:
        return max(0.0, self._clock() - mtime)

    def _load(self) -> tuple[RevocationList, float] | None:
        """The verified list on disk and its mtime, or None (missing or bad)."""
        try:
            with open(self.path, "rb") as handle:
                info = os.fstat(handle.fileno())
                identity = (info.st_ino, info.st_mtime_ns, info.st_size)
                if self._loaded is not None and self._loaded[0] == identity:
                    return self._loaded[1], info.st_mtime
                data = handle.read(MAX_SIGNED_BYTES + 1)
        except OSError:
            return None
        try:
            parsed = RevocationList.from_signed(
                data, self._current_trust(), now=self._now_dt(), source=str(self.path)
            )
        except RevocationListError:
            # Tampered or corrupted: never trusted; the caller re-fetches.
            return None
        self._loaded = (identity, parsed)
        return parsed, info.st_mtime

    def _load_fresh(self) -> RevocationList | None:
        loaded = self._load()
        if loaded is None:
            return None
        parsed, mtime = loaded
        age = self._age(mtime)
        if age >= self.cache_time:
            return None
        self.state = CacheState(age=age, stale=False)
        return parsed

    def _stale(self, error: str) -> RevocationList:
        loaded = self._load()
        if loaded is None:
            raise RevocationUnavailable(
                f"no revocation list: keystone's could not be used ({error}) and none is cached"
            )
        parsed, mtime = loaded
        age = self._age(mtime)
        if age > self.max_stale_age:
            raise RevocationUnavailable(
                f"revocation list is {age:.0f} s old (at most {self.max_stale_age:.0f} s allowed) "
                f"and a new one could not be fetched: {error}"
            )
        self.state = CacheState(age=age, stale=True, error=error)
        return parsed

    def _fetch_and_verify(self) -> RevocationList:
        data = self._fetch()
        source = "keystone's revocation list"
        try:
            return RevocationList.from_signed(data, self._current_trust(), now=self._now_dt(), source=source)
        except RevocationListError as exc:
            if exc.reason is Reason.UNKNOWN_SIGNER and self._refresh_trust is not None:
                try:
                    return RevocationList.from_signed(
                        data, self._refresh_trust(), now=self._now_dt(), source=source
                    )
                except RevocationListError as again:
                    exc = again
            # Bad data from the service is a service failure, not bad local input.
            raise ServiceError(str(exc)) from exc

    def _remember(self, parsed: RevocationList) -> None:
        try:
            info = self.path.stat()
        except OSError:
            return
        self._loaded = ((info.st_ino, info.st_mtime_ns, info.st_size), parsed)

    def _remember_failure(self, message: str) -> None:
        with contextlib.suppress(InputError):
            atomic_write(self._failed_path, message[:500], mode=0o600)

    def _recently_failed(self) -> bool:
        try:
            mtime = self._failed_path.stat().st_mtime
        except OSError:
            return False
        return self._age(mtime) < self.cache_time

    def _failure_message(self) -> str:
        try:
            return self._failed_path.read_text(encoding="utf-8", errors="replace")[:500]
        except OSError:
            return "an earlier fetch failed"

    def _current_trust(self) -> TrustStore:
        return self._trust() if callable(self._trust) else self._trust

    def _now_dt(self) -> _dt.datetime:
        return self._now() if self._now else _dt.datetime.now(_dt.timezone.utc)
