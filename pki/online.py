"""Online validation of UUID/Fernet tokens, and the filter's keystone session.

The filter logs in as its service user with keystoneauth's password plugin
(auth_token's ``auth_type = password`` options, or the old ``admin_*``
ones) and validates a token it cannot check offline with
``GET /v3/auth/tokens`` and ``X-Subject-Token``, as auth_token's
``_identity.IdentityServer.verify_token`` does. 404 (or 401 for the subject)
means invalid; keystone unreachable or failing is a
:class:`ostk.errors.ServiceError`, which the filter turns into a 503.
"""
from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from keystoneauth1 import exceptions as ksa_exceptions
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import generic

from ostk.errors import ServiceError
from pki.errors import Reason, TokenInvalid
from pki.filter_config import FilterConfig
from pki.token import parse_time

__all__ = ["OnlineValidator", "keystone_session"]

#: A token document larger than this is refused (a catalog is tens of KiB).
_MAX_BODY = 4 * 1024 * 1024


def keystone_session(config: FilterConfig) -> ksa_session.Session:
    """A keystoneauth session for the filter's service user (unauthenticated
    when no credentials are configured: certificates need none)."""
    auth = None
    creds = config.credentials
    if creds is not None:
        auth = generic.Password(
            auth_url=creds.auth_url,
            username=creds.username,
            password=creds.password,
            project_name=creds.project_name,
            project_id=creds.project_id,
            user_domain_id=creds.user_domain_id,
            user_domain_name=creds.user_domain_name,
            project_domain_id=creds.project_domain_id,
            project_domain_name=creds.project_domain_name,
        )
    # Every call bounded: keystone hanging must not hang the service's workers.
    return ksa_session.Session(auth=auth, timeout=config.http_timeout, verify=config.verify_tls)


class OnlineValidator:
    """Validate tokens at keystone: ``validate(token) -> (token data, expiry epoch)``."""

    def __init__(self, identity_url: str, session: ksa_session.Session, *, admin_token: str | None = None) -> None:
        self.url = identity_url.rstrip("/") + "/v3/auth/tokens"
        self._session = session
        self._admin_token = admin_token

    def validate(self, token: str) -> tuple[dict[str, Any], float]:
        headers = {"X-Subject-Token": token, "Accept": "application/json"}
        authenticated = self._session.auth is not None
        if not authenticated:
            if not self._admin_token:
                raise ServiceError("validating a token online needs the service user's credentials")
            headers["X-Auth-Token"] = self._admin_token
        try:
            response = self._session.get(
                self.url, headers=headers, authenticated=authenticated, raise_exc=False,
            )
        except ksa_exceptions.ClientException as exc:
            raise ServiceError(f"validating a token at {self.url}: {type(exc).__name__}") from exc
        if response.status_code in (401, 403, 404):
            raise TokenInvalid(Reason.MALFORMED, "keystone does not know the token")
        if response.status_code != 200:
            raise ServiceError(f"validating a token at {self.url}: HTTP {response.status_code}")
        body = response.content
        if len(body) > _MAX_BODY:
            raise ServiceError(f"validating a token at {self.url}: answer too large")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ServiceError(f"validating a token at {self.url}: the answer is not JSON") from exc
        token_data = document.get("token") if isinstance(document, dict) else None
        if not isinstance(token_data, dict):
            raise ServiceError(f'validating a token at {self.url}: no "token" in the answer')
        expires = parse_time(token_data.get("expires_at"), "expires_at")
        if expires is None or expires <= _dt.datetime.now(_dt.timezone.utc):
            raise TokenInvalid(Reason.EXPIRED, "the token has expired")
        return {"token": token_data}, expires.timestamp()
