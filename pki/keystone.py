"""Where the signing certificates and the revocation list come from: keystone.

PKI-era keystone served, without authentication, the signing certificate
and its CA on ``/v3/OS-SIMPLE-CERT/{certificates,ca}`` (v2:
``/v2.0/certificates/{signing,ca}``), and, to an admin token, the signed
revocation list on ``/v3/auth/tokens/OS-PKI/revoked`` (v2:
``/v2.0/tokens/revoked``). :class:`KeystoneSource` tries v3 first and falls
back to v2 when keystone answers 404 (a v2-only deployment).

Transport is either a keystoneauth session (``ostk.auth.keystone_session``;
it adds the admin token itself) or an ``ostk.http`` session plus an explicit
token; every failure surfaces as an :mod:`ostk.errors` exception.

:class:`CertificateCache` keeps fetched certificates in the signing
directory, as auth_token did, so a restart does not need keystone.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from ostk import http
from ostk.auth import keystone_errors
from ostk.errors import InputError, NotFound, ServiceError
from ostk.files import atomic_write, ensure_private_dir, private_dir_warnings
from pki.certs import TrustStore, load_certificates

__all__ = [
    "CERT_PATHS",
    "REVOKED_PATHS",
    "CertificateCache",
    "KeystoneCertificates",
    "KeystoneSource",
    "keystone_root",
]

#: API version -> (signing cert path, CA path).
CERT_PATHS: dict[str, tuple[str, str]] = {
    "v3": ("/v3/OS-SIMPLE-CERT/certificates", "/v3/OS-SIMPLE-CERT/ca"),
    "v2.0": ("/v2.0/certificates/signing", "/v2.0/certificates/ca"),
}
#: API version -> revocation list path.
REVOKED_PATHS: dict[str, str] = {
    "v3": "/v3/auth/tokens/OS-PKI/revoked",
    "v2.0": "/v2.0/tokens/revoked",
}
#: Bodies larger than this are refused (a PEM is a few KiB; a list, far less than this).
MAX_BODY_BYTES = 64 * 1024 * 1024

_VERSION_SUFFIX = re.compile(r"/(v3|v2\.0)$")


def keystone_root(url: str) -> str:
    """``http://host:5000/v3/`` → ``http://host:5000``: the root the API paths hang from."""
    return _VERSION_SUFFIX.sub("", url.strip().rstrip("/"))


@dataclass(frozen=True)
class KeystoneCertificates:
    """The signing certificate(s) and CA keystone serves, as PEM bytes."""

    signing_pem: bytes = field(repr=False)
    ca_pem: bytes = field(repr=False)
    #: Which API answered: ``"v3"`` or ``"v2.0"``.
    api: str = "v3"
    #: Where they came from, for messages.
    url: str = ""

    def trust_store(self) -> TrustStore:
        """Parse into a :class:`TrustStore` (raises ``CertificateError`` if malformed)."""
        return TrustStore(
            load_certificates(self.signing_pem, f"signing certificate from {self.url}"),
            load_certificates(self.ca_pem, f"CA certificate from {self.url}"),
        )


class KeystoneSource:
    """Fetch certificates and the revocation list from one keystone.

    ``url`` is keystone's root or versioned endpoint (``http://h:5000/v3``).
    Give ``auth_session`` (a keystoneauth session with admin credentials)
    to fetch the revocation list, or ``token`` with an ``http_session``.
    Certificates need no authentication.

    >>> source = KeystoneSource("http://127.0.0.1:5000", token=admin_token)
    >>> trust = source.fetch_certificates().trust_store()
    >>> signed = source.fetch_revocation_list()
    """

    def __init__(
        self,
        url: str,
        *,
        http_session: requests.Session | None = None,
        auth_session: Any = None,
        token: str | None = None,
        api_versions: Sequence[str] = ("v3", "v2.0"),
    ) -> None:
        self.root = keystone_root(url)
        self._http = http_session
        self._auth = auth_session
        self._token = token
        self.api_versions = tuple(api_versions)
        for version in self.api_versions:
            if version not in CERT_PATHS:
                raise ValueError(f"unknown keystone API version {version!r}")

    def __repr__(self) -> str:  # never show the token
        return f"KeystoneSource({self.root!r})"

    # ------------------------------------------------------------------------
    def fetch_certificates(self) -> KeystoneCertificates:
        """The signing certificate and CA, from the first API version that has them."""
        last: NotFound | None = None
        for version in self.api_versions:
            signing_path, ca_path = CERT_PATHS[version]
            try:
                signing = self._get(signing_path, what="fetching keystone's signing certificate", auth=False)
            except NotFound as exc:
                last = exc
                continue
            ca = self._get(ca_path, what="fetching keystone's CA certificate", auth=False)
            return KeystoneCertificates(signing, ca, api=version, url=self.root + signing_path)
        assert last is not None
        raise last

    def fetch_revocation_list(self) -> bytes:
        """Keystone's answer (``{"signed": "<CMS PEM>"}``), unverified: verify it
        with :meth:`pki.revocation.RevocationList.from_signed`."""
        if self._auth is None and not self._token:
            raise ServiceError(
                "fetching keystone's revocation list needs admin credentials or a token"
            )
        last: NotFound | None = None
        for version in self.api_versions:
            try:
                return self._get(REVOKED_PATHS[version], what="fetching keystone's revocation list", auth=True)
            except NotFound as exc:
                last = exc
        assert last is not None
        raise last

    # ------------------------------------------------------------------------
    def _get(self, path: str, *, what: str, auth: bool) -> bytes:
        url = self.root + path
        if self._auth is not None and (auth or self._http is None):
            return self._get_keystoneauth(url, what=what, auth=auth)
        session = self._http or _default_session()
        headers = {"Accept": "application/json, application/x-pem-file, */*"}
        if auth and self._token:
            headers["X-Auth-Token"] = self._token
        chunks = []
        size = 0
        for chunk in http.iter_bytes(session, url, what=what, headers=headers):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ServiceError(f"{what}: answer larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _get_keystoneauth(self, url: str, *, what: str, auth: bool) -> bytes:
        with keystone_errors(what):
            response = self._auth.get(
                url,
                authenticated=auth,
                raise_exc=True,
                headers={"Accept": "application/json, application/x-pem-file, */*"},
            )
        content: bytes = response.content
        return content


_SESSION: requests.Session | None = None


def _default_session() -> requests.Session:
    global _SESSION
    if _SESSION is None:
        _SESSION = http.build_session()
    return _SESSION


class CertificateCache:
    """Signing and CA certificates kept in a signing directory.

    ``trust()`` returns the cached certificates, fetching them from
    ``source`` the first time; ``refresh()`` fetches again (after a
    rotation). Files are written atomically; the directory is created 0700
    and :attr:`warnings` says if an existing one is too open.
    """

    SIGNING_FILE = "signing_cert.pem"
    CA_FILE = "cacert.pem"

    def __init__(self, signing_dir: str | os.PathLike[str], source: KeystoneSource) -> None:
        self.directory = ensure_private_dir(signing_dir)
        self.warnings: list[str] = private_dir_warnings(self.directory)
        self.source = source
        self.signing_path = self.directory / self.SIGNING_FILE
        self.ca_path = self.directory / self.CA_FILE

    def trust(self) -> TrustStore:
        """The cached certificates, or freshly fetched ones when none are cached."""
        if self.signing_path.is_file() and self.ca_path.is_file():
            try:
                return TrustStore.from_files(self.signing_path, self.ca_path)
            except InputError:
                pass  # a corrupted cache is fetched again, not fatal
        return self.refresh()

    def refresh(self) -> TrustStore:
        """Fetch the certificates from keystone and replace the cached ones."""
        fetched = self.source.fetch_certificates()
        trust = fetched.trust_store()  # parse before writing: never cache garbage
        atomic_write(self.ca_path, fetched.ca_pem, mode=0o600)
        atomic_write(self.signing_path, fetched.signing_pem, mode=0o600)
        return trust


def signing_dir_for(cache_dir: Path, url: str) -> Path:
    """The default signing directory for keystone ``url`` under ``cache_dir``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", keystone_root(url).split("://", 1)[-1]).strip("_")
    return cache_dir / "pki" / (slug or "keystone")
