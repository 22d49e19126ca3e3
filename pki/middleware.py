"""An auth_token-compatible WSGI filter that validates PKI/PKIZ tokens offline.

Drop it into a paste pipeline where ``authtoken`` was::

    [filter:authtoken]
    paste.filter_factory = pki.middleware:filter_factory
    www_authenticate_uri = http://keystone:5000/v3
    auth_url = http://keystone:5000
    auth_type = password
    username = swift
    password = ...
    project_name = service
    user_domain_id = default
    project_domain_id = default
    signing_dir = /var/cache/swift/pki
    delay_auth_decision = True

The flow is the one auth_token ran (keystonemiddleware 4.x,
``auth_token/__init__.py``: ``fetch_token``, ``_validate_offline``,
``process_request``/``process_response``): the identity headers a client
sent are removed; the token's hash is looked up in the token cache; a miss
verifies the CMS signature against ``signing_cert.pem``/``cacert.pem`` in
``signing_dir`` (fetched from keystone's ``OS-SIMPLE-CERT`` API when
missing, again when keystone rotated its key); the revocation list
(``revoked.pem`` in ``signing_dir``, refreshed every
``revocation_cache_time``) is checked on every request, cached or not.
A valid token gets ``X-Identity-Status: Confirmed``, the identity headers,
``keystone.token_info`` and ``keystone.token_auth``; an invalid, expired or
revoked one a 401 with ``WWW-Authenticate: Keystone uri="..."`` (or
``X-Identity-Status: Invalid`` under ``delay_auth_decision``). When no
revocation list younger than ``revocation_max_age`` can be had, the answer
is 503: a token is never let through unchecked.

Options beyond auth_token's: ``pki_keystone_url`` (where certificates and
the revocation list come from; default ``auth_url``), ``revocation_max_age``
(seconds, default 300), ``non_pki_tokens`` (``validate`` online with
``GET /v3/auth/tokens``, the default, or ``reject``), ``http_timeout``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, NamedTuple

from ostk.errors import ConfigError, OstkError, ServiceError
from pki.errors import Reason, TokenInvalid
from pki.filter_config import FilterConfig, resolve_filter_config
from pki.identity import Identity, TokenAuth, auth_header_keys, identity_from_payload
from pki.keystone import CertificateCache, KeystoneSource
from pki.online import OnlineValidator, keystone_session
from pki.revocation import RevocationCache, RevocationList
from pki.token import MAX_TOKEN_BYTES, is_pki_text, token_ids
from pki.token_cache import MemcachedTokenCache, MemoryTokenCache, TokenCache
from pki.verifier import Verifier

__all__ = ["PkiAuthProtocol", "filter_factory"]

LOG = logging.getLogger("pki.middleware")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_STRIP = frozenset(auth_header_keys())
#: Tokens remembered in this process by their text (cheaper to look up than
#: to hash with md5 on every request); bounded, oldest dropped first.
_HOT_MAX = 10_000
_CATALOG_KEY = "HTTP_X_SERVICE_CATALOG"
_USER_STATUS = "HTTP_X_IDENTITY_STATUS"
_SERVICE_STATUS = "HTTP_X_SERVICE_IDENTITY_STATUS"
_UNAUTHORIZED_BODY = (
    b'{"error": {"code": 401, "title": "Unauthorized", '
    b'"message": "The request you have made requires authentication."}}'
)
_UNAVAILABLE_BODY = (
    b'{"error": {"code": 503, "title": "Service Unavailable", '
    b'"message": "Tokens cannot be validated now."}}'
)
#: Revocation is checked on every request; the verified list is taken from
#: the cache at most this often (seconds) so a request does not stat a file.
_LIST_MEMO_SECONDS = 1.0


def filter_factory(global_conf: Mapping[str, Any], **local_conf: Any) -> Callable[[WsgiApp], PkiAuthProtocol]:
    """paste.deploy's entry point, as ``keystonemiddleware.auth_token:filter_factory``."""
    options = {str(k): str(v) for k, v in {**dict(global_conf), **local_conf}.items() if v is not None}
    # Only the section's own options can be unknown: global_conf holds the
    # whole [DEFAULT] section of the service's config.
    config = resolve_filter_config(options)
    unknown = [name for name in config.unknown_options if name in local_conf]
    if unknown:
        LOG.warning("pki.middleware: ignoring unknown option(s): %s", ", ".join(unknown))
    if config.memcached_refused:
        LOG.warning("pki.middleware: %s", config.memcached_refused)

    def make(app: WsgiApp) -> PkiAuthProtocol:
        return PkiAuthProtocol(app, config)

    return make


class _Hot(NamedTuple):
    """A validated token as the filter serves it again."""

    until: float
    identity: Identity
    #: Its ids (one per hash algorithm), for the revocation check.
    ids: tuple[str, ...]
    is_pki: bool
    #: ``keystone.token_auth`` for a request with no service token (shared: read-only).
    auth: TokenAuth


class _Rejected(Exception):
    """The token is not acceptable (a 401 or X-Identity-Status: Invalid)."""


class _Unavailable(Exception):
    """Validation is impossible now (a 503)."""


class PkiAuthProtocol:
    """The WSGI filter; build it with :func:`filter_factory` or directly.

    ``token_cache`` replaces the cache the config asks for (tests);
    ``clock`` gives epoch seconds.
    """

    def __init__(
        self,
        app: WsgiApp,
        config: FilterConfig,
        *,
        token_cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.config = config
        self._clock = clock
        if token_cache is None:
            if config.memcached_servers:
                token_cache = MemcachedTokenCache(config.memcached_servers, config.token_cache_time)
            else:
                token_cache = MemoryTokenCache(config.token_cache_time)
        self.token_cache = token_cache
        # Forged or broken tokens are remembered briefly too (as auth_token's
        # _CACHE_INVALID_INDICATOR), so a flood of them costs no RSA each.
        self._invalid = MemoryTokenCache(min(config.token_cache_time, 60.0))
        self._lock = threading.Lock()
        self._verifier: Verifier | None = None
        self._revocation: RevocationCache | None = None
        self._list_memo: tuple[float, RevocationList] | None = None
        self._session: Any = None
        self._online: OnlineValidator | None = None
        self._hot: dict[str, _Hot] = {}
        self._www_authenticate = [
            ("WWW-Authenticate", f'Keystone uri="{config.www_authenticate_uri or ""}"')
        ]

    # WSGI ---------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for key in _STRIP.intersection(environ):
            del environ[key]
        token = environ.get("HTTP_X_AUTH_TOKEN") or environ.get("HTTP_X_STORAGE_TOKEN")
        service_token = environ.get("HTTP_X_SERVICE_TOKEN")
        try:
            user_hot = self._identity(token) if token else None
            service_hot = self._identity(service_token) if service_token else None
        except _Unavailable:
            return self._answer(environ, start_response, "503 Service Unavailable", _UNAVAILABLE_BODY, [])
        except Exception:
            LOG.exception("pki.middleware: token validation failed unexpectedly")
            return self._answer(environ, start_response, "503 Service Unavailable", _UNAVAILABLE_BODY, [])
        user = user_hot.identity if user_hot is not None else None
        service = service_hot.identity if service_hot is not None else None
        if service_token:
            environ[_SERVICE_STATUS] = "Confirmed" if service is not None else "Invalid"
        if user is None or (service_token and service is None):
            if not self.config.delay_auth_decision:
                return self._answer(environ, start_response, "401 Unauthorized", _UNAUTHORIZED_BODY,
                                    self._www_authenticate)
            environ[_USER_STATUS] = "Invalid" if user is None else "Confirmed"
        if user is not None:
            environ[_USER_STATUS] = "Confirmed"
            environ.update(user.headers)
            if self.config.include_service_catalog and user.catalog_header is not None:
                environ[_CATALOG_KEY] = user.catalog_header
            environ["keystone.token_info"] = user.token_info
        if service is not None:
            environ.update(service.service_headers)
        if user_hot is not None and service is None:
            environ["keystone.token_auth"] = user_hot.auth
        elif user is not None or service is not None:
            environ["keystone.token_auth"] = TokenAuth(
                user.access_info(token or "") if user is not None else None,
                service.access_info(service_token or "") if service is not None else None,
            )
        return self.app(environ, self._add_authenticate(start_response))

    def _add_authenticate(self, start_response: Callable[..., Any]) -> Callable[..., Any]:
        """Tell clients where to log in on any 401, the application's too
        (auth_token's ``process_response``)."""
        extra = self._www_authenticate

        def wrapped(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status[:3] == "401":
                headers = list(headers) + extra
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return wrapped

    @staticmethod
    def _answer(
        environ: dict[str, Any], start_response: Callable[..., Any], status: str, body: bytes,
        extra: list[tuple[str, str]],
    ) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body))), *extra])
        # A HEAD answer has the headers of the GET answer and no body (Swift's
        # catch_errors refuses the request otherwise).
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    # Validation ---------------------------------------------------------------
    def _identity(self, token: str) -> _Hot | None:
        """The identity of a valid token; None if it is not acceptable."""
        try:
            return self._validate(token)
        except _Rejected:
            return None
        except TokenInvalid as exc:
            LOG.info("pki.middleware: token rejected (%s)", exc)
            return None

    def _validate(self, raw: str) -> _Hot:
        now = self._clock()
        hot = self._hot.get(raw)
        if hot is not None and hot.until > now:
            if hot.is_pki:
                self._check_revocation(hot.ids, hot.identity.audit_ids)
            return hot
        identity, ids, is_pki = self._validate_cold(raw, now)
        hot = _Hot(min(now + self.config.token_cache_time, identity.expires_at), identity, ids, is_pki,
                   TokenAuth(identity.access_info(raw.strip())))
        if self.config.token_cache_time > 0:
            with self._lock:
                self._hot.pop(raw, None)
                self._hot[raw] = hot
                if len(self._hot) > _HOT_MAX:
                    del self._hot[next(iter(self._hot))]
        return hot

    def _validate_cold(self, raw: str, now: float) -> tuple[Identity, tuple[str, ...], bool]:
        token = raw.strip()
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise _Rejected()
        is_pki = is_pki_text(token)
        try:
            ids = token_ids(token, self.config.hash_algorithms)
        except UnicodeEncodeError:
            raise _Rejected() from None
        key = next(iter(ids.values()))
        identity = self.token_cache.get(key, now)
        if identity is not None:
            if is_pki:
                self._check_revocation(ids.values(), identity.audit_ids)
            return identity, tuple(ids.values()), is_pki
        if self._invalid.get(key, now) is not None:
            raise _Rejected()
        try:
            identity, expires = self._validate_fresh(token, is_pki)
        except (TokenInvalid, _Rejected):
            self._invalid.set(key, _INVALID, now + 60.0, now)
            raise
        self.token_cache.set(key, identity, expires, now)
        return identity, tuple(ids.values()), is_pki

    def _validate_fresh(self, token: str, is_pki: bool) -> tuple[Identity, float]:
        if not is_pki:
            if self.config.non_pki_tokens == "reject":
                raise _Rejected()
            payload, expires = self._online_validator().validate(token)
            return identity_from_payload(payload, token, expires), expires
        verifier = self._pki_verifier()
        try:
            verified = verifier.verify(token)
        except _Unavailable:
            raise
        except ServiceError as exc:
            LOG.error("pki.middleware: cannot validate PKI tokens: %s", exc)
            raise _Unavailable() from exc
        expires = verified.expires.timestamp()
        return identity_from_payload(verified.payload, token, expires), expires

    def _check_revocation(self, ids: Collection[str], audit_ids: Collection[str]) -> None:
        if self._revocation_list().is_revoked(tuple(ids), audit_ids):
            raise TokenInvalid(Reason.REVOKED, "the token is on keystone's revocation list")

    def _revocation_list(self) -> RevocationList:
        memo = self._list_memo
        now = time.monotonic()
        if memo is not None and now - memo[0] < min(_LIST_MEMO_SECONDS, self.config.revocation_cache_time):
            return memo[1]
        self._pki_verifier()
        assert self._revocation is not None
        try:
            current = self._revocation.get()
        except OstkError as exc:
            LOG.error("pki.middleware: no usable revocation list: %s", exc)
            raise _Unavailable() from exc
        self._list_memo = (now, current)
        return current

    # Lazily built parts (keystone may be down when the service starts) -----------
    def _keystone_session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = keystone_session(self.config)
            return self._session

    def _online_validator(self) -> OnlineValidator:
        if self._online is None:
            if not self.config.identity_url:
                raise ConfigError("pki.middleware: online validation needs auth_url or identity_uri")
            self._online = OnlineValidator(self.config.identity_url, self._keystone_session(),
                                           admin_token=self.config.admin_token)
        return self._online

    def _pki_verifier(self) -> Verifier:
        verifier = self._verifier
        if verifier is not None:
            return verifier
        session = self._keystone_session() if self.config.credentials else None
        with self._lock:
            if self._verifier is not None:
                return self._verifier
            source = KeystoneSource(self.config.pki_url or "http://127.0.0.1:5000",
                                    auth_session=session, token=self.config.admin_token)
            try:
                certificates = CertificateCache(self.config.signing_dir, source)
                verifier = Verifier(certificates=certificates, cache_ttl=0, max_cached=0,
                                    hash_algorithms=self.config.hash_algorithms)
            except OstkError as exc:
                LOG.error("pki.middleware: no signing certificates: %s", exc)
                raise _Unavailable() from exc
            self._revocation = RevocationCache(
                self.config.signing_dir, _service_errors(source.fetch_revocation_list), lambda: verifier.trust,
                cache_time=self.config.revocation_cache_time,
                max_stale_age=self.config.revocation_max_age,
                refresh_trust=verifier.refresh_trust,
            )
            verifier.revocation = _MemoCheck(self)
            self._verifier = verifier
            return verifier


_INVALID = Identity(token_info={}, headers=())


def _service_errors(fetch: Callable[[], bytes]) -> Callable[[], bytes]:
    """Any failure to fetch the list is keystone's (so a cached list within
    its max age still serves): under eventlet (Swift) a dropped connection can
    surface as a bare socket error rather than keystoneauth's."""

    def guarded() -> bytes:
        try:
            return fetch()
        except OstkError:
            raise
        except Exception as exc:
            raise ServiceError(f"fetching keystone's revocation list: {type(exc).__name__}: {exc}") from exc

    return guarded


class _MemoCheck:
    """The verifier's revocation check, through the filter's memo."""

    def __init__(self, owner: PkiAuthProtocol) -> None:
        self._owner = owner

    def is_revoked(self, token_ids: Collection[str], audit_ids: Collection[str]) -> bool:
        return self._owner._revocation_list().is_revoked(token_ids, audit_ids)
