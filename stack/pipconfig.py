"""pip's configuration, as uv must be told it.

ostk builds its venvs with uv (stack/venvs.py) but promises what pip would
install: the indexes, find-links, constraints and certificates this machine
gives pip (its configuration files and ``PIP_*`` variables, read through
``pip config list``) become uv's options. An option uv cannot be told is
named in :attr:`PipSettings.untranslated`, and the venv is then built with pip.
"""
from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

#: pip options that change nothing about which files get installed: output,
#: pip's own cache and checks, bytecode, and options that only act on an
#: existing environment (the venv is new).
_WITHOUT_EFFECT = frozenset({
    "break-system-packages", "cache-dir", "no-cache-dir", "compile", "no-compile", "config-file",
    "disable-pip-version-check", "exists-action", "isolated", "log", "log-file", "no-color", "no-input",
    "no-python-version-warning", "no-warn-conflicts", "no-warn-script-location", "progress-bar", "quiet",
    "require-virtualenv", "root-user-action", "upgrade-strategy", "verbose",
})

#: Aliases of an option in pip's configuration (both spellings set one pip option).
_ALIASES = {"default-timeout": "timeout", "i": "index-url", "f": "find-links", "c": "constraint"}

#: uv's own variables kept in its environment: where it caches and how fast it
#: works, never what it installs (that comes from pip's configuration alone).
_UV_VARIABLES_KEPT = frozenset({
    "UV_CACHE_DIR", "UV_NO_CACHE", "UV_LINK_MODE", "UV_CONCURRENT_DOWNLOADS", "UV_CONCURRENT_BUILDS",
    "UV_CONCURRENT_INSTALLS",
})


@dataclass(frozen=True)
class PipSettings:
    """Where and how pip finds packages, from its configuration files and ``PIP_*`` variables."""

    #: ``index-url``: the main index (pip's default, PyPI, when None).
    index_url: str | None = None
    #: ``extra-index-url``: further indexes, searched together with the main one.
    extra_index_urls: tuple[str, ...] = ()
    #: ``no-index``: no index at all, only ``find-links``.
    no_index: bool = False
    #: ``find-links``: directories or pages of distributions.
    find_links: tuple[str, ...] = ()
    #: ``constraint``: constraints files applied to every install.
    constraints: tuple[str, ...] = ()
    #: ``cert``: the CA bundle for HTTPS.
    cert: str | None = None
    #: ``client-cert``: a client certificate (PEM, with its key) for HTTPS.
    client_cert: str | None = None
    #: ``trusted-host``: hosts reached without verifying their certificate.
    trusted_hosts: tuple[str, ...] = ()
    #: ``timeout`` (or ``default-timeout``): seconds per socket operation.
    timeout: str | None = None
    #: ``retries``: attempts per request.
    retries: str | None = None
    #: ``proxy``: one proxy for every request.
    proxy: str | None = None
    #: ``pre``: pre-releases are candidates.
    pre: bool = False
    #: ``only-binary`` / ``no-binary``: package names, ``:all:`` or ``:none:``.
    only_binary: tuple[str, ...] = ()
    no_binary: tuple[str, ...] = ()
    #: ``require-hashes``: every requirement must carry a hash.
    require_hashes: bool = False
    #: Options set in pip's configuration that uv cannot be told (pip must build).
    untranslated: tuple[str, ...] = ()


def pip_settings(listing: str) -> PipSettings:
    r""":class:`PipSettings` from the output of ``python -m pip config list``.

    That output has one ``section.option='value'`` line per setting, files
    already merged (``:env:`` for ``PIP_*`` variables). An install takes
    ``:env:`` over ``[install]`` over ``[global]``, as pip does; other
    sections are other commands'.

    >>> settings = pip_settings("global.find-links='/opt/wheels'\n:env:.default-timeout='180'\n")
    >>> settings.find_links, settings.timeout
    (('/opt/wheels',), '180')
    """
    precedence = {"global": 0, "install": 1, ":env:": 2}
    chosen: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines():
        key, sep, raw = line.partition("=")
        section, dot, option = key.strip().partition(".")
        if not sep or not dot or section not in precedence:
            continue
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        option = _ALIASES.get(option, option)
        rank = precedence[section]
        if option not in chosen or chosen[option][0] <= rank:
            chosen[option] = (rank, str(value))
    values = {option: value for option, (_rank, value) in chosen.items()}

    def words(option: str) -> tuple[str, ...]:
        return tuple(values.pop(option, "").split())

    def flag(option: str) -> bool:
        return values.pop(option, "0").strip().lower() in ("1", "y", "yes", "t", "true", "on")

    def names(option: str) -> tuple[str, ...]:
        return tuple(n for n in values.pop(option, "").replace(",", " ").split())

    settings = PipSettings(
        index_url=values.pop("index-url", None),
        extra_index_urls=words("extra-index-url"),
        no_index=flag("no-index"),
        find_links=words("find-links"),
        constraints=words("constraint"),
        cert=values.pop("cert", None),
        client_cert=values.pop("client-cert", None),
        trusted_hosts=words("trusted-host"),
        timeout=values.pop("timeout", None),
        retries=values.pop("retries", None),
        proxy=values.pop("proxy", None),
        pre=flag("pre"),
        only_binary=names("only-binary"),
        no_binary=names("no-binary"),
        require_hashes=flag("require-hashes"),
    )
    untranslated = tuple(sorted(option for option in values if option not in _WITHOUT_EFFECT))
    return replace(settings, untranslated=untranslated)


def uv_install_options(settings: PipSettings, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """Arguments of ``uv pip install`` and its environment, saying what ``settings`` say to pip.

    ``environ`` is the environment pip would run in: uv's own ``UV_*`` variables
    that could change what it installs are left out of the result, and the CA
    bundle pip takes from ``REQUESTS_CA_BUNDLE`` is passed on.
    """
    # pip looks at every index and takes the best match; uv by default stops at
    # the first index that has the project at all.
    args = ["--no-config", "--index-strategy", "unsafe-best-match"]
    if settings.no_index:
        args.append("--no-index")
    if settings.index_url:
        args += ["--default-index", settings.index_url]
    for url in settings.extra_index_urls:
        args += ["--index", url]
    for place in settings.find_links:
        args += ["--find-links", place]
    for constraints in settings.constraints:
        args += ["--constraints", constraints]
    cert = settings.cert or environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    if cert:
        args += ["--cert", cert]
    for host in settings.trusted_hosts:
        args += ["--allow-insecure-host", host]
    if settings.pre:
        args += ["--prerelease", "allow"]
    for name in settings.only_binary:
        args += ["--only-binary", name]
    for name in settings.no_binary:
        args += ["--no-binary", name]
    if settings.require_hashes:
        args.append("--require-hashes")
    env = {k: v for k, v in environ.items() if not k.startswith("UV_") or k in _UV_VARIABLES_KEPT}
    # uv takes whole numbers here; pip takes any float (and fails on what is not one).
    timeout = _whole(settings.timeout, math.ceil)
    if timeout is not None:
        env["UV_HTTP_TIMEOUT"] = timeout
    retries = _whole(settings.retries, int)
    if retries is not None:
        env["UV_HTTP_RETRIES"] = retries
    if settings.proxy:
        env["HTTP_PROXY"] = env["HTTPS_PROXY"] = settings.proxy
    if settings.client_cert:
        env["SSL_CLIENT_CERT"] = settings.client_cert
    return args, env


def _whole(value: str | None, rounding: Callable[[float], int]) -> str | None:
    try:
        return None if value is None else str(rounding(float(value)))
    except (ValueError, OverflowError):
        return None


__all__ = ["PipSettings", "pip_settings", "uv_install_options"]
