"""The filter's configuration: auth_token's option names, resolved once.

A paste section written for keystonemiddleware's ``auth_token`` works
unchanged (``keystonemiddleware/auth_token/_opts.py`` and, for the PKI
options, the 4.x tag's ``_opts.py`` / ``_auth.py``). Options we know but do
not need (TLS for memcached, ``enforce_token_bind``...) are accepted
silently; any other name is ignored with a warning, as auth_token did.
Values that cannot be right (a negative cache time, an unknown hash) are a
:class:`ostk.errors.ConfigError`, so the service refuses to start rather
than run half-configured.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ostk.errors import ConfigError
from pki.keystone import keystone_root
from pki.token_cache import parse_servers

__all__ = ["Credentials", "FilterConfig", "resolve_filter_config"]

#: auth_token options this filter reads.
_USED = {
    "www_authenticate_uri", "auth_uri", "signing_dir", "revocation_cache_time", "hash_algorithms",
    "memcached_servers", "token_cache_time", "delay_auth_decision", "include_service_catalog",
    "auth_type", "auth_plugin", "auth_url", "username", "user_name", "password", "project_name",
    "project_id", "user_domain_name", "user_domain_id", "project_domain_name", "project_domain_id",
    "tenant_name", "admin_user", "admin_password", "admin_tenant_name", "identity_uri", "admin_token",
    "auth_host", "auth_port", "auth_protocol", "auth_admin_prefix", "http_connect_timeout",
    "insecure", "cafile", "region_name",
    # ours (documented in pki.middleware)
    "pki_keystone_url", "revocation_max_age", "non_pki_tokens", "http_timeout",
    # read to refuse memcached when asked to protect it (see resolve_filter_config)
    "memcache_security_strategy",
}
#: auth_token options accepted without effect here (no warning).
_KNOWN = {
    "auth_version", "interface", "http_request_max_retries", "cache", "certfile", "keyfile",
    "memcache_secret_key", "memcache_tls_enabled",
    "memcache_tls_cafile", "memcache_tls_certfile", "memcache_tls_keyfile",
    "memcache_tls_allowed_ciphers", "memcache_pool_dead_retry", "memcache_pool_maxsize",
    "memcache_pool_socket_timeout", "memcache_pool_unused_timeout", "memcache_pool_conn_get_timeout",
    "memcache_use_advanced_pool", "memcache_sasl_enabled", "memcache_username", "memcache_password",
    "enforce_token_bind", "check_revocations_for_cached", "service_token_roles",
    "service_token_roles_required", "service_type", "auth_section", "log_name", "oslo_config_project",
    "oslo_config_file", "oslo_config_config", "here", "__file__", "set", "use", "system_scope",
    "trust_id", "domain_id", "domain_name", "default_domain_id", "default_domain_name", "user_id",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
#: A day: longer cache windows would hide revocations and rotations for too long.
_MAX_SECONDS = 86_400.0


@dataclass(frozen=True)
class Credentials:
    """The service user the filter logs in as (revocation list, online validation)."""

    auth_url: str
    username: str
    password: str = field(repr=False)
    project_name: str | None = None
    project_id: str | None = None
    user_domain_id: str | None = None
    user_domain_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None


@dataclass(frozen=True)
class FilterConfig:
    """Everything the filter needs, typed; built by :func:`resolve_filter_config`."""

    #: Where clients should get a token (the ``WWW-Authenticate`` URI).
    www_authenticate_uri: str | None
    #: keystone's root for online validation (``auth_url`` / ``identity_uri``).
    identity_url: str | None
    #: Where the certificates and the revocation list come from (default: ``identity_url``).
    pki_url: str | None
    #: Holds signing_cert.pem, cacert.pem and revoked.pem.
    signing_dir: Path
    revocation_cache_time: float
    #: How old a revocation list may get while keystone cannot be asked; beyond it: 503.
    revocation_max_age: float
    hash_algorithms: tuple[str, ...]
    memcached_servers: tuple[tuple[str, int], ...]
    token_cache_time: float
    delay_auth_decision: bool
    include_service_catalog: bool
    #: UUID/Fernet tokens: ``"validate"`` online at ``identity_url``, or ``"reject"``.
    non_pki_tokens: Literal["validate", "reject"]
    #: The service user, if configured.
    credentials: Credentials | None
    #: The old shared admin token, if configured (sent for the revocation list).
    admin_token: str | None = field(repr=False, default=None)
    #: Seconds one call to keystone may take (connect and each read).
    http_timeout: float = 10.0
    verify_tls: bool | str = True
    #: Options ignored because we do not know them.
    unknown_options: tuple[str, ...] = ()
    #: Why ``memcached_servers`` was dropped (a protection this filter cannot give), or None.
    memcached_refused: str | None = None


def _bool(options: Mapping[str, str], name: str, default: bool) -> bool:
    value = options.get(name)
    if value is None:
        return default
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"pki.middleware: {name} = {value!r} is not a boolean")


def _seconds(options: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    value = options.get(name)
    if value is None or str(value).strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"pki.middleware: {name} = {value!r} is not a number of seconds") from None
    if not minimum <= number <= _MAX_SECONDS:
        raise ConfigError(f"pki.middleware: {name} must be between {minimum:g} and {_MAX_SECONDS:g} seconds")
    return number


def _url(options: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = str(options.get(name) or "").strip()
        if value:
            if not value.startswith(("http://", "https://")):
                raise ConfigError(f"pki.middleware: {name} = {value!r} is not an http(s) URL")
            return value
    return None


def _hashes(value: str | None) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in (value or "md5").split(",") if n.strip())
    if not names:
        raise ConfigError("pki.middleware: hash_algorithms is empty")
    for name in names:
        try:
            hashlib.new(name).hexdigest()
        except (ValueError, TypeError):
            raise ConfigError(f"pki.middleware: unknown hash algorithm {name!r}") from None
    return names


def _legacy_identity_uri(options: Mapping[str, str]) -> str | None:
    # auth_host/auth_port/auth_protocol/auth_admin_prefix predate identity_uri.
    host = str(options.get("auth_host") or "").strip()
    if not host:
        return None
    protocol = str(options.get("auth_protocol") or "https").strip()
    port = str(options.get("auth_port") or "35357").strip()
    prefix = str(options.get("auth_admin_prefix") or "").strip().strip("/")
    return f"{protocol}://{host}:{port}" + (f"/{prefix}" if prefix else "")


def _credentials(options: Mapping[str, str], identity_url: str | None) -> Credentials | None:
    def get(name: str) -> str | None:
        return str(options.get(name) or "").strip() or None

    auth_type = (get("auth_type") or get("auth_plugin") or "").lower()
    username = get("username") or get("user_name")
    if auth_type and auth_type not in ("password", "v3password", "v2password"):
        raise ConfigError(f"pki.middleware: auth_type {auth_type!r} is not supported (use password)")
    if username and get("password") and (get("auth_url") or identity_url):
        return Credentials(
            auth_url=get("auth_url") or identity_url or "",
            username=username,
            password=get("password") or "",
            project_name=get("project_name") or get("tenant_name"),
            project_id=get("project_id"),
            user_domain_id=get("user_domain_id"),
            user_domain_name=get("user_domain_name"),
            project_domain_id=get("project_domain_id"),
            project_domain_name=get("project_domain_name"),
        )
    if get("admin_user") and get("admin_password") and identity_url:
        # auth_token's pre-plugin options: the default domain, a v2-style tenant.
        return Credentials(
            auth_url=identity_url,
            username=get("admin_user") or "",
            password=get("admin_password") or "",
            project_name=get("admin_tenant_name"),
            user_domain_id="default",
            project_domain_id="default",
        )
    return None


def resolve_filter_config(options: Mapping[str, str]) -> FilterConfig:
    """Turn paste options (global_conf overlaid with local_conf) into a :class:`FilterConfig`."""
    unknown = tuple(sorted(
        k for k in options
        if k not in _USED and k not in _KNOWN and not k.startswith(("paste.", "set "))
    ))
    identity_url = _url(options, "identity_uri", "auth_url") or _legacy_identity_uri(options)
    pki_url = _url(options, "pki_keystone_url") or identity_url
    non_pki = str(options.get("non_pki_tokens") or "validate").strip().lower()
    if non_pki not in ("validate", "reject"):
        raise ConfigError("pki.middleware: non_pki_tokens must be 'validate' or 'reject'")
    signing_dir = str(options.get("signing_dir") or "").strip()
    try:
        servers = parse_servers(str(options.get("memcached_servers") or ""))
    except ValueError as exc:
        raise ConfigError(f"pki.middleware: memcached_servers: {exc}") from None
    # auth_token signs (MAC) or encrypts (ENCRYPT) what it puts in memcached;
    # this filter cannot. Asked for either, it keeps validated tokens in
    # process rather than store them in memcached unprotected.
    strategy = str(options.get("memcache_security_strategy") or "").strip().upper()
    unprotected = None
    if strategy not in ("", "NONE") and servers:
        unprotected = f"memcache_security_strategy = {strategy} is not implemented; validated tokens are cached in process"
        servers = ()
    cafile = str(options.get("cafile") or "").strip()
    verify: bool | str = cafile or not _bool(options, "insecure", False)
    connect = _seconds(options, "http_connect_timeout", 0.0)
    return FilterConfig(
        www_authenticate_uri=_url(options, "www_authenticate_uri", "auth_uri")
        or (keystone_root(identity_url) + "/v3" if identity_url else None),
        identity_url=keystone_root(identity_url) if identity_url else None,
        pki_url=keystone_root(pki_url) if pki_url else None,
        signing_dir=Path(signing_dir) if signing_dir else _default_signing_dir(),
        revocation_cache_time=_seconds(options, "revocation_cache_time", 10.0),
        revocation_max_age=_seconds(options, "revocation_max_age", 300.0),
        hash_algorithms=_hashes(options.get("hash_algorithms")),
        memcached_servers=servers,
        token_cache_time=_seconds(options, "token_cache_time", 300.0),
        delay_auth_decision=_bool(options, "delay_auth_decision", False),
        include_service_catalog=_bool(options, "include_service_catalog", True),
        non_pki_tokens="reject" if non_pki == "reject" else "validate",
        credentials=_credentials(options, identity_url),
        admin_token=str(options.get("admin_token") or "").strip() or None,
        http_timeout=connect or _seconds(options, "http_timeout", 10.0, minimum=0.1),
        verify_tls=verify,
        unknown_options=unknown,
        memcached_refused=unprotected,
    )


def _default_signing_dir() -> Path:
    # auth_token made a temporary directory when signing_dir was unset; one
    # per user keeps the certificates and the list across restarts.
    return Path(tempfile.gettempdir()) / f"ostk-pki-signing-{os.getuid()}"
