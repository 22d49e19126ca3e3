"""Keystone sessions from command-line flags, OS_* variables and clouds.yaml.

Configuration is resolved once, at the edge, into an :class:`AuthConfig`;
feature code receives a ready keystoneauth session from :func:`keystone_session`
and wraps its calls in :func:`keystone_errors` so failures map onto ostk's
exception tree.

Precedence, highest first: explicit flags; the cloud named by ``--os-cloud``
(or ``OS_CLOUD``) in clouds.yaml; plain ``OS_*`` variables (used only when no
cloud is named).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import yaml

from ostk import __version__
from ostk.documents import load_yaml, validate
from ostk.errors import (
    AuthFailed,
    ConfigError,
    ConnectionFailed,
    HTTPError,
    InputError,
    NotFound,
    RequestTimeout,
    ServiceError,
)
from ostk.files import atomic_write, ensure_private_dir
from ostk.http import HttpSettings, build_session, check_url


@dataclass(frozen=True)
class AuthConfig:
    """Everything needed to open a keystone session."""

    auth_url: str | None = None
    username: str | None = None
    user_id: str | None = None
    #: Never printed: ``repr`` hides it.
    password: str | None = dataclasses.field(default=None, repr=False)
    project_name: str | None = None
    project_id: str | None = None
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    domain_name: str | None = None
    domain_id: str | None = None
    #: ``"all"`` for a system-scoped token (clouds.yaml ``system_scope``, OS_SYSTEM_SCOPE,
    #: devstack's ``devstack-system-admin``), instead of a project or domain scope.
    system_scope: str | None = None
    #: An existing token instead of a password. Never printed.
    token: str | None = dataclasses.field(default=None, repr=False)
    region_name: str | None = None
    interface: str = "public"
    cacert: str | None = None
    insecure: bool = False
    #: The clouds.yaml entry this came from, if any.
    cloud: str | None = None

    def require_auth(self) -> None:
        """Raise :class:`ConfigError` unless there is enough to authenticate."""
        if not self.auth_url:
            raise ConfigError(
                "no keystone URL: pass --os-auth-url, set OS_AUTH_URL or choose a cloud "
                "with --os-cloud"
            )
        if not self.token and not self.password:
            raise ConfigError("no credentials: pass --os-password / --os-token or set OS_PASSWORD")
        if not self.token and not (self.username or self.user_id):
            raise ConfigError("no user: pass --os-username or set OS_USERNAME")


# flag/env key -> AuthConfig field
_FIELDS: dict[str, str] = {
    "auth_url": "auth_url",
    "username": "username",
    "user_id": "user_id",
    "password": "password",
    "project_name": "project_name",
    "tenant_name": "project_name",
    "project_id": "project_id",
    "tenant_id": "project_id",
    "user_domain_name": "user_domain_name",
    "user_domain_id": "user_domain_id",
    "project_domain_name": "project_domain_name",
    "project_domain_id": "project_domain_id",
    "domain_name": "domain_name",
    "domain_id": "domain_id",
    "system_scope": "system_scope",
    "token": "token",
    "region_name": "region_name",
    "interface": "interface",
    "cacert": "cacert",
}


_Scalar = str | int | float | bool | None

#: One cloud of clouds.yaml as ostk reads it: the keys it uses must be scalars
#: (``auth`` a mapping of scalars); keys it does not use may be anything, as
#: openstacksdk allows (``regions: [...]``, ``auth_type``...).
_CloudEntry = msgspec.defstruct(
    "CloudEntry",
    [
        ("auth", dict[str, _Scalar], msgspec.field(default_factory=dict)),
        ("verify", _Scalar, None),
        *[(key, _Scalar, None) for key in _FIELDS],
    ],
)


class _CloudsFile(msgspec.Struct):
    clouds: dict[str, dict[str, Any] | None] | None = None


#: clouds.yaml files are a few KB; anything this big is not one.
_MAX_CLOUDS_YAML = 4 * 1024 * 1024


def add_auth_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the usual ``--os-*`` flags (all optional) to ``parser``."""
    from ostk.cli.parser import (
        url_arg,  # argparse glue; imported here to keep ostk.auth free of the CLI
    )

    group = parser.add_argument_group("keystone authentication (default: OS_* / clouds.yaml)")
    group.add_argument("--os-cloud", metavar="NAME", help="a cloud from clouds.yaml (env: OS_CLOUD)")
    group.add_argument("--os-auth-url", metavar="URL", type=url_arg, help="keystone URL (env: OS_AUTH_URL)")
    group.add_argument("--os-username", metavar="NAME")
    group.add_argument("--os-password", metavar="PASSWORD", help="prefer OS_PASSWORD: flags show in ps")
    group.add_argument("--os-project-name", metavar="NAME")
    group.add_argument("--os-project-id", metavar="ID")
    group.add_argument("--os-user-domain-name", metavar="NAME")
    group.add_argument("--os-project-domain-name", metavar="NAME")
    group.add_argument("--os-system-scope", metavar="SCOPE", help="'all' for a system-scoped token (env: OS_SYSTEM_SCOPE)")
    group.add_argument("--os-token", metavar="TOKEN", help="an existing token (env: OS_TOKEN)")
    group.add_argument("--os-region-name", metavar="REGION")
    group.add_argument("--os-interface", metavar="INTERFACE", help="public, internal or admin")
    group.add_argument("--os-cacert", metavar="FILE", help="CA bundle for keystone's TLS")
    group.add_argument("--insecure", action="store_true", default=None, help="skip TLS verification")


def flags_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The auth-related values a user gave on the command line (None = not given)."""
    values: dict[str, Any] = {}
    for key in _FIELDS:
        value = getattr(args, f"os_{key}", None)
        if value is not None:
            values[key] = value
    if getattr(args, "insecure", None):
        values["insecure"] = True
    cloud = getattr(args, "os_cloud", None)
    if cloud:
        values["cloud"] = cloud
    return values


def clouds_yaml_paths(environ: Mapping[str, str], cwd: Path) -> list[Path]:
    """Where clouds.yaml is looked for, in openstacksdk's order."""
    paths = []
    if environ.get("OS_CLIENT_CONFIG_FILE"):
        paths.append(Path(environ["OS_CLIENT_CONFIG_FILE"]))
    home = Path(environ.get("HOME") or Path.home())
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    paths += [cwd / "clouds.yaml", config_home / "openstack" / "clouds.yaml", Path("/etc/openstack/clouds.yaml")]
    return paths


def load_cloud(name: str, paths: Sequence[Path]) -> dict[str, Any]:
    """The merged ``clouds.yaml`` + ``secure.yaml`` entry for cloud ``name``."""
    for path in paths:
        if not path.is_file():
            continue
        clouds = _read_clouds(path)
        if name in clouds:
            entry = dict(clouds[name] or {})
            source = str(path)
            secure = path.with_name("secure.yaml")
            if secure.is_file():
                entry = _merge(entry, _read_clouds(secure).get(name) or {})
                source = f"{path} (with {secure.name})"
            # Validated here, so resolve() can trust every value it reads.
            validate(entry, _CloudEntry, source=f"{source}: cloud {name!r}", error=ConfigError)
            return entry
    searched = ", ".join(str(p) for p in paths)
    raise ConfigError(f"cloud {name!r} not found in clouds.yaml (searched {searched})")


def write_clouds(path: Path, clouds: Mapping[str, Mapping[str, Any]]) -> None:
    """Add or replace the entries ``clouds`` in the clouds.yaml at ``path``; keep all others.

    Written atomically with mode 0600 (entries hold passwords); a file that
    is not a clouds.yaml mapping is refused (:class:`ConfigError`), not touched.
    """
    document = _read_yaml(path) if path.exists() else {}
    existing = validate(document, _CloudsFile, source=f"{path} (not touching it)", error=ConfigError).clouds or {}
    document["clouds"] = {**existing, **{name: dict(entry) for name, entry in clouds.items()}}
    ensure_private_dir(path.parent)
    atomic_write(path, yaml.safe_dump(document, sort_keys=False), mode=0o600)


def resolve(
    flags: Mapping[str, Any], environ: Mapping[str, str], cwd: Path | None = None
) -> AuthConfig:
    """Merge flags, clouds.yaml and OS_* variables into one :class:`AuthConfig`."""
    values: dict[str, Any] = {}
    origin = "OS_AUTH_URL"
    cloud = flags.get("cloud") or environ.get("OS_CLOUD")
    if cloud:
        origin = f"cloud {cloud!r} in clouds.yaml"
        entry = load_cloud(cloud, clouds_yaml_paths(environ, cwd or Path.cwd()))
        auth = entry.get("auth") or {}
        for key, field in _FIELDS.items():
            if auth.get(key) is not None:
                values[field] = str(auth[key])
            elif entry.get(key) is not None:
                values[field] = str(entry[key])
        if entry.get("verify") is False:
            values["insecure"] = True
        if entry.get("cacert"):
            values["cacert"] = str(entry["cacert"])
        values["cloud"] = cloud
    else:
        for key, field in _FIELDS.items():
            value = environ.get(f"OS_{key.upper()}")
            if value:
                values.setdefault(field, value)
        if environ.get("OS_INSECURE", "").lower() in ("1", "true", "yes"):
            values["insecure"] = True
    for key, value in flags.items():
        if key in _FIELDS:
            values[_FIELDS[key]] = value
            if key == "auth_url":
                origin = "--os-auth-url"
        elif key == "insecure":
            values["insecure"] = bool(value)
    if values.get("auth_url"):
        try:
            check_url(values["auth_url"])
        except ValueError as exc:
            raise ConfigError(f"keystone URL {values['auth_url']!r} from {origin}: {exc}") from None
    return AuthConfig(**values)


def keystone_session(config: AuthConfig, *, timeout: float = 30.0) -> Any:
    """A keystoneauth1 session authenticated as ``config`` describes.

    Password auth uses the version-discovering generic plugin; a token with a
    project or domain scope is re-scoped the same way.
    """
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import generic

    config.require_auth()
    plugin: Any
    scope: dict[str, Any] = {
        "project_name": config.project_name,
        "project_id": config.project_id,
        "project_domain_name": config.project_domain_name,
        "project_domain_id": config.project_domain_id,
        "domain_name": config.domain_name,
        "domain_id": config.domain_id,
        "system_scope": config.system_scope,
    }
    if config.token:
        plugin = generic.Token(auth_url=str(config.auth_url), token=config.token, **scope)
    else:
        user_domain: dict[str, Any] = {"user_domain_name": config.user_domain_name, "user_domain_id": config.user_domain_id}
        if not (config.user_domain_name or config.user_domain_id):
            user_domain["user_domain_id"] = "default"
        if (config.project_name and not (config.project_domain_name or config.project_domain_id)):
            scope["project_domain_id"] = "default"
        plugin = generic.Password(
            auth_url=str(config.auth_url),
            username=config.username,
            user_id=config.user_id,
            password=config.password,
            **user_domain,
            **scope,
        )
    verify: bool | str = False if config.insecure else (config.cacert or True)
    return ks_session.Session(
        auth=plugin,
        # keystoneauth sends through our transport: the command's deadline
        # (--timeout) caps each call and stops it once spent, bodies are size-
        # and stall-bounded. keystoneauth does the retrying (connect_retries).
        session=build_session(HttpSettings(retries=0)),
        verify=verify,
        timeout=timeout,
        app_name="ostk",
        app_version=__version__,
        connect_retries=2,
    )


@contextlib.contextmanager
def keystone_errors(what: str) -> Iterator[None]:
    """Map keystoneauth/keystoneclient exceptions raised inside the block to ostk errors."""
    from keystoneauth1 import exceptions as ka

    try:
        yield
    except ka.ConnectTimeout as exc:
        raise RequestTimeout(f"{what}: keystone did not answer in time") from exc
    except ka.ConnectFailure as exc:
        raise ConnectionFailed(f"{what}: cannot reach keystone ({_short(exc)})") from exc
    except ka.DiscoveryFailure as exc:
        raise ServiceError(f"{what}: keystone version discovery failed ({_short(exc)})") from exc
    except ka.MissingRequiredOptions as exc:
        raise ConfigError(f"{what}: incomplete credentials ({_short(exc)})") from exc
    except ka.EndpointNotFound as exc:
        raise ServiceError(f"{what}: {_short(exc)}") from exc
    except (ka.Unauthorized, ka.Forbidden) as exc:
        raise AuthFailed(
            f"{what}: keystone refused: HTTP {exc.http_status} {_short(exc)}",
            status=exc.http_status or 401,
            url=getattr(exc, "url", None) or "",
        ) from exc
    except ka.NotFound as exc:
        raise NotFound(f"{what}: not found ({_short(exc)})", status=404, url=getattr(exc, "url", None) or "") from exc
    except ka.HttpError as exc:
        raise HTTPError(
            f"{what}: keystone answered HTTP {exc.http_status} ({_short(exc)})",
            status=exc.http_status or 0,
            url=getattr(exc, "url", None) or "",
        ) from exc
    except ka.ClientException as exc:
        raise ServiceError(f"{what}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _read_clouds(path: Path) -> dict[str, dict[str, Any] | None]:
    """The ``clouds`` mapping of a clouds.yaml/secure.yaml, shape-checked (ConfigError, exit 3)."""
    return validate(_read_yaml(path), _CloudsFile, source=str(path), error=ConfigError).clouds or {}


def _read_yaml(path: Path) -> dict[str, Any]:
    """A clouds.yaml-like file as a mapping (empty file: {}), bounded (ConfigError, exit 3)."""
    try:
        if path.stat().st_size > _MAX_CLOUDS_YAML:
            raise ConfigError(f"{path}: larger than {_MAX_CLOUDS_YAML // (1024 * 1024)} MiB, not a clouds.yaml")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    data = load_yaml(text, source=str(path), error=ConfigError, max_depth=32)
    return {} if data is None else validate(data, dict[str, Any], source=str(path), error=ConfigError)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
