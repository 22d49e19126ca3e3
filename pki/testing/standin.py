"""A PKI-era keystone stand-in, for testing code that verifies PKI tokens.

Keystone stopped issuing PKI tokens long ago; code that still verifies them
(or fetches certificates and revocation lists) needs something to talk to.
:class:`KeystoneStandIn` is a small WSGI app, served on 127.0.0.1 on a free
port in a background thread, that speaks the old API shapes over real HTTP:

- ``POST /v3/auth/tokens`` (password or token method; token in
  ``X-Subject-Token``) and ``POST /v2.0/tokens`` issue PKI or PKIZ tokens
  signed by the stand-in's own CA (made with :mod:`pki.issuing`);
- ``GET /v3/OS-SIMPLE-CERT/{certificates,ca}`` and
  ``/v2.0/certificates/{signing,ca}`` serve the certificates (no auth);
- ``GET /v3/auth/tokens/OS-PKI/revoked`` and ``/v2.0/tokens/revoked`` serve
  the signed revocation list to an admin token (``X-Auth-Token``);
- ``GET /``, ``/v3``, ``/v2.0`` answer version discovery, so keystoneauth
  sessions work against it.

Tests steer it: :meth:`~KeystoneStandIn.revoke` tokens,
:meth:`~KeystoneStandIn.rotate_certificates`, force an
:meth:`~KeystoneStandIn.outage` (HTTP 503, a dropped connection, or a slow
answer), hide an API version (``disabled_apis``), and read per-path request
counts (:meth:`~KeystoneStandIn.count`)::

    from pki.testing import KeystoneStandIn
    from pki import KeystoneSource, verify_token

    with KeystoneStandIn() as ks:
        token = ks.issue_token(user="demo", project="demo")
        trust = KeystoneSource(ks.url).fetch_certificates().trust_store()
        assert verify_token(token, trust).token_ids["md5"]
        ks.revoke(token)
        assert ks.count("/v3/OS-SIMPLE-CERT/certificates") == 1
"""
from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typing_extensions import Self

from ostk.files import atomic_write
from pki import issuing
from pki.testing import payloads
from pki.testing.payloads import StandInUser
from pki.testing.wsgi import (
    Handler,
    Reply,
    Server,
    allow,
    error,
    json_reply,
    lying_length,
    read_json,
)

__all__ = ["ADMIN_TOKEN", "KeystoneStandIn", "StandInUser"]

#: The stand-in's bootstrap ``admin_token`` (keystone's old shared secret),
#: accepted by the revocation list paths as an admin token.
ADMIN_TOKEN = "ostk-stand-in-admin-token"

_V3_PATHS = {
    "certificates": "/v3/OS-SIMPLE-CERT/certificates",
    "ca": "/v3/OS-SIMPLE-CERT/ca",
    "revoked": "/v3/auth/tokens/OS-PKI/revoked",
    "tokens": "/v3/auth/tokens",
}
_V2_PATHS = {
    "certificates": "/v2.0/certificates/signing",
    "ca": "/v2.0/certificates/ca",
    "revoked": "/v2.0/tokens/revoked",
    "tokens": "/v2.0/tokens",
}
#: The revocation list paths of both APIs (for :meth:`KeystoneStandIn.count`).
REVOKED_PATHS = (_V3_PATHS["revoked"], _V2_PATHS["revoked"])
#: The certificate paths of both APIs.
CERT_PATHS = (_V3_PATHS["certificates"], _V3_PATHS["ca"], _V2_PATHS["certificates"], _V2_PATHS["ca"])


@dataclass
class _Issued:
    user: StandInUser
    audit_id: str
    expires: _dt.datetime
    payload: dict[str, Any] = field(default_factory=dict)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class KeystoneStandIn:
    """A PKI-era keystone on 127.0.0.1, for tests. Use it as a context manager.

    Args:
        token_format: ``"pki"`` or ``"pkiz"`` for issued tokens.
        users: who may log in (default: ``admin``/``secret`` with the admin
            role, and ``demo``/``secret`` with ``member``).
        token_lifetime: seconds until an issued token expires.
        disabled_apis: API versions answering 404 everywhere (``{"v3"}`` makes
            a v2-only keystone), changeable while running.
        ca, signer: the CA and signing cert to start with (default: new ones;
            pass shared ones to save key generation across many tests).
        key_type: ``"rsa"`` (keystone's) or ``"ec"``, for generated keys.
    """

    def __init__(
        self,
        *,
        token_format: str = "pki",
        users: Iterable[StandInUser] | None = None,
        token_lifetime: float = 3600.0,
        disabled_apis: Iterable[str] = (),
        ca: issuing.KeyPair | None = None,
        signer: issuing.KeyPair | None = None,
        key_type: str = "rsa",
        port: int = 0,
        accept_token: Callable[[str], bool] | None = None,
    ) -> None:
        if token_format not in ("pki", "pkiz", "uuid"):
            raise ValueError("token_format must be 'pki', 'pkiz' or 'uuid'")
        self.token_format = token_format
        self.token_lifetime = float(token_lifetime)
        self.users = {
            user.name: user
            for user in (
                users
                if users is not None
                else [
                    StandInUser("admin", "secret", project="admin", roles=("admin",)),
                    StandInUser("demo", "secret", project="demo", roles=("member",)),
                ]
            )
        }
        self.disabled_apis: set[str] = set(disabled_apis)
        self._lock = threading.RLock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._issued: dict[str, _Issued] = {}
        self._revoked: list[dict[str, str]] = []
        self._outage: tuple[str, tuple[str, ...] | None, float] | None = None
        if signer is not None and ca is None:
            raise ValueError("give the CA that issued signer")
        self.key_type = key_type
        self.ca = ca or issuing.create_ca(key_type=key_type)
        self.signer = signer or issuing.create_signing_cert(self.ca, key_type=key_type)
        self._port = port
        #: Tokens of another keystone to take as admin tokens (a real keystone's
        #: service token, when the stand-in only serves certificates and lists).
        self.accept_token = accept_token
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ------------------------------------------------------------
    def start(self) -> KeystoneStandIn:
        """Serve on 127.0.0.1 on a free port, in a daemon thread."""
        if self._server is not None:
            return self
        server = Server(("127.0.0.1", self._port), Handler)
        server.standin = self
        server.set_app(self.app)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"keystone-stand-in:{server.server_port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stand-in is not running: use start() or 'with'")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:41234`` (append ``/v3`` for auth_url)."""
        return f"http://127.0.0.1:{self.port}"

    # Certificates -------------------------------------------------------------
    @property
    def signing_cert_pem(self) -> bytes:
        with self._lock:
            return _pem(self.signer.cert)

    @property
    def ca_pem(self) -> bytes:
        with self._lock:
            return _pem(self.ca.cert)

    def write_certificates(self, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``signing_cert.pem`` and ``cacert.pem`` into ``directory``."""
        target = Path(directory)
        signing, ca = target / "signing_cert.pem", target / "cacert.pem"
        atomic_write(signing, self.signing_cert_pem, mode=0o644)
        atomic_write(ca, self.ca_pem, mode=0o644)
        return signing, ca

    def rotate_certificates(self, *, new_ca: bool = False) -> None:
        """Sign from now on with a new key and certificate (and a new CA if asked).

        Tokens issued before keep verifying against the old certificates only,
        as with a real keystone's key rotation.
        """
        ca = issuing.create_ca(key_type=self.key_type) if new_ca else self.ca
        signer = issuing.create_signing_cert(ca, key_type=self.key_type)
        with self._lock:
            self.ca, self.signer = ca, signer

    # Tokens -------------------------------------------------------------------
    def issue_token(
        self,
        user: str = "admin",
        *,
        api: str = "v3",
        token_format: str | None = None,
        expires_in: float | None = None,
        project: str | None = None,
        project_id: str | None = None,
    ) -> str:
        """Issue a token directly (no HTTP), as ``POST .../tokens`` would.

        ``token_format`` ``"uuid"`` issues a non-PKI token that only
        ``GET /v3/auth/tokens`` (online validation) can check.
        """
        account = self.users[user]
        if project is not None:
            account = StandInUser(account.name, account.password, project, account.roles, account.id)
        elif project_id is not None:
            account = StandInUser(account.name, account.password, account.project, account.roles,
                                  account.id, project_id)
        token, _ = self._issue(account, api=api, token_format=token_format, expires_in=expires_in)
        return token

    def payload_of(self, token: str) -> dict[str, Any]:
        """The data of a token the stand-in issued (KeyError for others)."""
        token_id = hashlib.md5(token.strip().encode("utf-8")).hexdigest()
        with self._lock:
            copy: dict[str, Any] = json.loads(json.dumps(self._issued[token_id].payload))
        return copy

    def revoke(self, token: str) -> str:
        """Put ``token`` on the revocation list (by md5 id and audit id); return the id."""
        token_id = hashlib.md5(token.strip().encode("utf-8")).hexdigest()
        with self._lock:
            issued = self._issued.get(token_id)
            expires = issued.expires if issued else _dt.datetime.now(_dt.timezone.utc)
            entry = {"id": token_id, "expires": payloads.iso(expires)}
            if issued:
                entry["audit_id"] = issued.audit_id
            self._revoked.append(entry)
        return token_id

    def revoke_id(self, token_id: str, *, audit_id: str | None = None, expires: str | None = None) -> None:
        """Add a raw entry to the revocation list (e.g. to make it long)."""
        entry = {"id": token_id, "expires": expires or payloads.iso(_dt.datetime.now(_dt.timezone.utc))}
        if audit_id:
            entry["audit_id"] = audit_id
        with self._lock:
            self._revoked.append(entry)

    @property
    def revoked(self) -> list[dict[str, str]]:
        """The revocation list's entries, as keystone would sign them."""
        with self._lock:
            return [dict(entry) for entry in self._revoked]

    def signed_revocation_list(self) -> str:
        """The current list, signed (CMS PEM), as the revoked paths serve it."""
        with self._lock:
            revoked, signer = self.revoked, self.signer
        return issuing.sign_revocation_list(revoked, signer)

    # Faults and counters ------------------------------------------------------
    @contextlib.contextmanager
    def outage(
        self, kind: str = "503", *, paths: Sequence[str] | None = None, delay: float = 0.0
    ) -> Iterator[None]:
        """Within the block, requests (to ``paths`` prefixes, default all) fail.

        ``kind``: ``"503"`` (Service Unavailable), ``"close"`` (the connection
        is dropped without an answer), ``"slow"`` (answer after ``delay``
        seconds, at most 30), or ``"truncate"`` (the body ends before the
        announced ``Content-Length``).
        """
        if kind not in ("503", "close", "slow", "truncate"):
            raise ValueError("kind must be '503', 'close', 'slow' or 'truncate'")
        with self._lock:
            previous = self._outage
            self._outage = (kind, tuple(paths) if paths else None, min(max(delay, 0.0), 30.0))
        try:
            yield
        finally:
            with self._lock:
                self._outage = previous

    def count(self, *paths: str) -> int:
        """Requests received for these exact paths (all requests if none given)."""
        with self._lock:
            if not paths:
                return sum(self._counts.values())
            return sum(self._counts[path] for path in paths)

    @property
    def revocation_fetches(self) -> int:
        """Requests to either revocation list path."""
        return self.count(*REVOKED_PATHS)

    @property
    def counts(self) -> dict[str, int]:
        """Requests per path so far."""
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    # Internals --------------------------------------------------------------
    def _record(self, path: str) -> tuple[str, float] | None:
        """Count the request; return the fault to apply to it, if any."""
        with self._lock:
            self._counts[path] += 1
            outage = self._outage
        if outage is None:
            return None
        kind, prefixes, delay = outage
        if prefixes is not None and not any(path.startswith(p) for p in prefixes):
            return None
        return kind, delay

    def _issue(
        self,
        user: StandInUser,
        *,
        api: str,
        token_format: str | None = None,
        expires_in: float | None = None,
        methods: Sequence[str] = ("password",),
    ) -> tuple[str, dict[str, Any]]:
        now = _dt.datetime.now(_dt.timezone.utc)
        expires = now + _dt.timedelta(seconds=self.token_lifetime if expires_in is None else expires_in)
        audit_id = uuid.uuid4().hex[:22]
        payload = payloads.payload(user, self._catalog_base(), api=api, now=now, expires=expires, audit_id=audit_id, methods=methods)
        with self._lock:
            signer = self.signer
        fmt = token_format or self.token_format
        if fmt == "uuid":
            token = uuid.uuid4().hex  # validated online only (GET /v3/auth/tokens)
        else:
            token = issuing.sign_token(payload, signer, pkiz=fmt == "pkiz")
        token_id = hashlib.md5(token.encode("utf-8")).hexdigest()
        with self._lock:
            self._issued[token_id] = _Issued(user, audit_id, expires, payload)
        return token, payload

    def _catalog_base(self) -> str:
        return self.url if self._server is not None else "http://127.0.0.1"

    def _token_user(self, token: str | None) -> StandInUser | None:
        """The user of a valid, unrevoked token we issued (None otherwise)."""
        if not token:
            return None
        if token == ADMIN_TOKEN or (self.accept_token is not None and self.accept_token(token)):
            return StandInUser("admin-token", "", roles=("admin",))
        token_id = hashlib.md5(token.strip().encode("utf-8", "replace")).hexdigest()
        with self._lock:
            issued = self._issued.get(token_id)
            revoked = any(entry["id"] == token_id for entry in self._revoked)
        if issued is None or revoked or issued.expires <= _dt.datetime.now(_dt.timezone.utc):
            return None
        return issued.user

    # WSGI -------------------------------------------------------------------
    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The WSGI application (serve it elsewhere if you like)."""
        path = environ.get("PATH_INFO", "/") or "/"
        if path != "/":
            path = path.rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if not environ.get("ostk.counted"):
            fault = self._record(path)
            if fault is not None:
                kind, delay = fault
                if kind == "slow":
                    time.sleep(delay)
                elif kind == "truncate":
                    start_response = lying_length(start_response)
                else:  # "503" ("close" is handled by the request handler)
                    return json_reply(start_response, "503 Service Unavailable",
                                 {"error": {"code": 503, "message": "stand-in outage",
                                            "title": "Service Unavailable"}})
        api = "v3" if path.startswith("/v3") else "v2.0" if path.startswith("/v2.0") else None
        if api in self.disabled_apis:
            return json_reply(start_response, "404 Not Found", error(404, "Not Found", "API disabled"))
        try:
            return self._route(method, path, api, environ, start_response)
        except Reply as reply:
            return json_reply(start_response, reply.status, reply.body)

    def _route(self, method: str, path: str, api: str | None, environ: dict[str, Any],
               start_response: Callable[..., Any]) -> list[bytes]:
        if method == "GET" and path in ("/", "/v3", "/v2.0"):
            return self._versions(path, start_response)
        paths = _V3_PATHS if api == "v3" else _V2_PATHS
        if path in (paths["certificates"], paths["ca"]):
            allow(method, "GET")
            body = self.signing_cert_pem if path == paths["certificates"] else self.ca_pem
            start_response("200 OK", [("Content-Type", "application/x-pem-file"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        if path == paths["revoked"]:
            allow(method, "GET")
            user = self._token_user(environ.get("HTTP_X_AUTH_TOKEN"))
            if user is None:
                raise Reply("401 Unauthorized", error(401, "Unauthorized", "a valid admin token is required"))
            if "admin" not in user.roles:
                raise Reply("403 Forbidden", error(403, "Forbidden", "admin role required"))
            return json_reply(start_response, "200 OK", {"signed": self.signed_revocation_list()})
        if path == paths["tokens"] and method == "GET" and api == "v3":
            return self._v3_validate(environ, start_response)
        if path == paths["tokens"] and method == "POST":
            document = read_json(environ)
            if api == "v3":
                return self._v3_login(document, start_response)
            return self._v2_login(document, start_response)
        raise Reply("404 Not Found", error(404, "Not Found", f"no route for {method} {path}"))

    def _versions(self, path: str, start_response: Callable[..., Any]) -> list[bytes]:
        v3 = {
            "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self.url}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}],
        }
        v2 = {
            "id": "v2.0", "status": "deprecated", "updated": "2016-08-04T00:00:00Z",
            "links": [{"rel": "self", "href": f"{self.url}/v2.0/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v2.0+json"}],
        }
        if path == "/v3":
            return json_reply(start_response, "200 OK", {"version": v3})
        if path == "/v2.0":
            return json_reply(start_response, "200 OK", {"version": v2})
        values = [v for v, name in ((v3, "v3"), (v2, "v2.0")) if name not in self.disabled_apis]
        return json_reply(start_response, "300 Multiple Choices", {"versions": {"values": values}})

    def _check_password(self, name: Any, password: Any) -> StandInUser:
        user = self.users.get(name) if isinstance(name, str) else None
        if user is None or password != user.password:
            raise Reply("401 Unauthorized", error(401, "Unauthorized", "The request you have made requires authentication."))
        return user

    def _v3_login(self, document: Any, start_response: Callable[..., Any]) -> list[bytes]:
        try:
            identity = document["auth"]["identity"]
            methods = list(identity["methods"])
        except (KeyError, TypeError) as exc:
            raise Reply("400 Bad Request", error(400, "Bad Request", "malformed auth request")) from exc
        if "password" in methods:
            user_doc = (identity.get("password") or {}).get("user") or {}
            user = self._check_password(user_doc.get("name"), user_doc.get("password"))
        elif "token" in methods:
            token_user = self._token_user((identity.get("token") or {}).get("id"))
            if token_user is None:
                raise Reply("401 Unauthorized", error(401, "Unauthorized", "invalid token"))
            user = token_user
        else:
            raise Reply("401 Unauthorized", error(401, "Unauthorized", "unsupported method"))
        project = (((document.get("auth") or {}).get("scope") or {}).get("project") or {}).get("name")
        if project:
            user = StandInUser(user.name, user.password, project, user.roles, user.id)
        token, payload = self._issue(user, api="v3", methods=methods)
        body = json.dumps(payload).encode()
        start_response("201 Created", [("Content-Type", "application/json"), ("X-Subject-Token", token),
                                       ("Content-Length", str(len(body)))])
        return [body]

    def _v3_validate(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """``GET /v3/auth/tokens``: the subject token's data, to a valid token."""
        if self._token_user(environ.get("HTTP_X_AUTH_TOKEN")) is None:
            raise Reply("401 Unauthorized", error(401, "Unauthorized", "a valid token is required"))
        subject = (environ.get("HTTP_X_SUBJECT_TOKEN") or "").strip()
        if self._token_user(subject) is None:
            raise Reply("404 Not Found", error(404, "Not Found", "token not found"))
        token_id = hashlib.md5(subject.encode("utf-8", "replace")).hexdigest()
        with self._lock:
            payload = self._issued[token_id].payload
        body = json.dumps(payload).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("X-Subject-Token", subject),
                                  ("Content-Length", str(len(body)))])
        return [body]

    def _v2_login(self, document: Any, start_response: Callable[..., Any]) -> list[bytes]:
        try:
            auth = document["auth"]
        except (KeyError, TypeError) as exc:
            raise Reply("400 Bad Request", error(400, "Bad Request", "malformed auth request")) from exc
        if "passwordCredentials" in auth:
            creds = auth["passwordCredentials"] or {}
            user = self._check_password(creds.get("username"), creds.get("password"))
        elif "token" in auth:
            token_user = self._token_user((auth.get("token") or {}).get("id"))
            if token_user is None:
                raise Reply("401 Unauthorized", error(401, "Unauthorized", "invalid token"))
            user = token_user
        else:
            raise Reply("401 Unauthorized", error(401, "Unauthorized", "unsupported credentials"))
        if auth.get("tenantName"):
            user = StandInUser(user.name, user.password, auth["tenantName"], user.roles, user.id)
        token, payload = self._issue(user, api="v2.0")
        payload["access"]["token"]["id"] = token
        return json_reply(start_response, "200 OK", payload)
