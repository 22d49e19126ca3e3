"""``ostk pki ...``: decode, verify and revocation-check Keystone PKI/PKIZ tokens.

Parsing and rendering only: the work is done by the :mod:`pki` library.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.markup import escape

from ostk import auth, http, output
from ostk.cli.parser import url_arg
from ostk.documents import parse_json
from ostk.environment import Environment
from ostk.errors import ConfigError, ExitStatus, InputError, UsageError
from pki import issuing
from pki.certs import TrustStore, load_certificates, load_private_key
from pki.config import RevocationConfig, TrustConfig
from pki.errors import Reason, TokenInvalid
from pki.keystone import CertificateCache, KeystoneSource, signing_dir_for
from pki.revocation import (
    DEFAULT_CACHE_TIME,
    DEFAULT_MAX_STALE_AGE,
    RevocationCache,
    RevocationList,
)
from pki.token import DecodedToken, decode, token_ids
from pki.verifier import Verifier
from pki.verify import RevocationCheck, VerifiedToken

#: Read at most this much of a token from stdin or a file: far past any real
#: token (decoding refuses anything over 64 KiB), small enough to be harmless.
MAX_TOKEN_INPUT = 1024 * 1024
#: A local revocation list or payload file larger than this is refused.
MAX_FILE_BYTES = 64 * 1024 * 1024
_WHITESPACE = b" \t\r\n\x0b\x0c"
#: Transport policy for keystone requests (tests swap in a faster one).
HTTP_SETTINGS = http.HttpSettings(connect_timeout=10.0, read_timeout=30.0)

TOKEN_HELP = "the token text, '-' to read it from stdin, or @FILE to read it from a file"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    group = subparsers.add_parser(
        "pki",
        help="decode and verify Keystone PKI/PKIZ tokens",
        description="Decode, verify and revocation-check Keystone PKI/PKIZ tokens without "
        "openssl, and issue test tokens. Exit codes: 0 valid/done, 1 token invalid "
        "(including malformed), 2 usage, 3 bad local file, 4 keystone unreachable or "
        "revocation list too stale.",
    )
    commands = group.add_subparsers(title="pki commands", metavar="COMMAND")
    _register_decode(commands, common)
    _register_verify(commands, common)
    _register_hash(commands, common)
    _register_revoked(commands, common)
    _register_setup(commands, common)
    _register_sign(commands, common)


# Argument groups --------------------------------------------------------------
def _add_hash_algorithms(parser: argparse.ArgumentParser, flag: str = "--hash-algorithm") -> None:
    parser.add_argument(
        flag,
        dest="hash_algorithms",
        action="append",
        metavar="ALG",
        help="hashlib algorithm for token ids; repeat for several (default: md5, keystone's)",
    )


def _add_trust(parser: argparse.ArgumentParser) -> None:
    trust = parser.add_argument_group(
        "certificates (give --signing-cert and --ca, or --keystone)"
    )
    trust.add_argument("--signing-cert", metavar="FILE", type=Path,
                       help="keystone's signing certificate(s), PEM (signing_cert.pem)")
    trust.add_argument("--ca", metavar="FILE", type=Path,
                       help="the CA certificate(s) to trust, PEM (cacert.pem)")
    trust.add_argument("--keystone", metavar="URL", type=url_arg,
                       help="fetch certificates (and the revocation list) from this keystone: "
                       "v3 /v3/OS-SIMPLE-CERT, falling back to v2 /v2.0/certificates")
    trust.add_argument("--signing-dir", metavar="DIR", type=Path,
                       help="where fetched certificates and the revocation list are cached "
                       "(created 0700; default: ~/.cache/ostk/pki/<keystone host>)")


def _add_revocation_source(parser: argparse.ArgumentParser, *, optional: bool) -> None:
    group = parser.add_argument_group("revocation list")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--revocation-list", metavar="FILE", type=Path,
                        help="a signed revocation list: keystone's JSON ({\"signed\": ...}), "
                        "CMS PEM or DER; its signature is verified")
    choice.add_argument("--check-revocation", action="store_true",
                        help="fetch keystone's revocation list (v3 /v3/auth/tokens/OS-PKI/revoked, "
                        "v2 /v2.0/tokens/revoked) with admin credentials (OS_*/clouds.yaml/--os-*) "
                        "or --os-token" if optional else argparse.SUPPRESS)
    group.add_argument("--revocation-cache-time", metavar="SECONDS", type=_seconds,
                       default=DEFAULT_CACHE_TIME,
                       help=f"how long a fetched list is fresh (default {DEFAULT_CACHE_TIME:g} s)")
    group.add_argument("--revocation-max-age", metavar="SECONDS", type=_seconds,
                       default=DEFAULT_MAX_STALE_AGE,
                       help="when keystone cannot be reached, use a cached list up to this old, "
                       f"then fail with exit 4 (default {DEFAULT_MAX_STALE_AGE:g} s)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"must be zero or more: {text!r}")
    return value


def _moment(text: str) -> _dt.datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_dt.timezone.utc)


def _trust_config(args: argparse.Namespace, env: Environment, *, keystone: str | None = None) -> TrustConfig:
    if (args.signing_cert is None) != (args.ca is None):
        raise UsageError("give both --signing-cert and --ca (or --keystone instead)")
    url = args.keystone or keystone
    signing_dir = args.signing_dir or (signing_dir_for(env.cache_dir, url) if url else None)
    return TrustConfig(args.signing_cert, args.ca, url, signing_dir)


def _revocation_config(args: argparse.Namespace, *, fetch: bool) -> RevocationConfig:
    return RevocationConfig(
        list_file=args.revocation_list,
        fetch=fetch and args.revocation_list is None,
        cache_time=args.revocation_cache_time,
        max_age=args.revocation_max_age,
        now=getattr(args, "now", None),
    )


class _Warnings:
    """Warnings of one run, each said once (the two caches share a signing dir)."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.seen: set[str] = set()

    def add(self, warnings: list[str]) -> None:
        for warning in warnings:
            if warning not in self.seen:
                self.seen.add(warning)
                output.warn(self.env, warning)


# decode -------------------------------------------------------------------------
def _register_decode(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sub = commands.add_parser(
        "decode", parents=[common], help="show a token's payload (UNVERIFIED)",
        description="Decode a PKI, PKIZ, CMS PEM or DER token and show its payload WITHOUT "
        "verifying its signature, expiry or revocation: the output is marked UNVERIFIED, "
        "never trust what it shows. Exit 1 if the token is malformed.",
    )
    sub.add_argument("token", metavar="TOKEN", help=TOKEN_HELP)
    _add_hash_algorithms(sub)
    sub.set_defaults(handler=_decode)


def _decode(args: argparse.Namespace, env: Environment) -> int:
    raw = read_token(args.token, env)
    algorithms = tuple(args.hash_algorithms or ("md5",))
    ids = _ids(raw, algorithms)
    try:
        decoded = decode(raw)
    except TokenInvalid as exc:
        return _render_invalid(args, env, exc, ids, fmt=None, extra={"verified": False})
    if args.json:
        output.print_json(env, {
            "verified": False,
            "format": decoded.format,
            "token_ids": ids,
            "summary": decoded.summary,
            "payload": decoded.payload,
        })
        return ExitStatus.OK
    env.out.print("[bold yellow]UNVERIFIED[/] - signature, expiry and revocation were NOT checked")
    _print_summary(env, decoded, ids)
    env.stdout.write(json.dumps(decoded.payload, indent=2, sort_keys=True) + "\n")
    return ExitStatus.OK


# verify -------------------------------------------------------------------------
def _register_verify(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sub = commands.add_parser(
        "verify", parents=[common], help="verify a token's signature, expiry and revocation",
        description="Verify a PKI/PKIZ token: CMS signature by a signing certificate issued by "
        "the trusted CA, certificate validity, the token's expiry, and (optionally) the "
        "revocation list by every --hash-algorithm id and by audit id. "
        "Exit 0 valid, 1 invalid (JSON: {\"valid\": false, \"reason\": ...}), 3 bad local "
        "files, 4 keystone unreachable or revocation list too stale.",
        epilog="Reasons: " + ", ".join(r.value for r in Reason) + ".",
    )
    sub.add_argument("token", metavar="TOKEN", help=TOKEN_HELP)
    _add_trust(sub)
    _add_revocation_source(sub, optional=True)
    _add_hash_algorithms(sub)
    sub.add_argument("--now", metavar="TIME", type=_moment,
                     help="judge expiry and certificate validity at this ISO 8601 time "
                     "(default: now; naive times are UTC)")
    auth.add_auth_arguments(sub)
    sub.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace, env: Environment) -> int:
    raw = read_token(args.token, env)
    algorithms = tuple(args.hash_algorithms or ("md5",))
    ids = _ids(raw, algorithms)  # also rejects an unknown algorithm (usage) up front
    warnings = _Warnings(env)
    trust_config = _trust_config(args, env)
    revocation = _revocation_config(args, fetch=args.check_revocation)
    certificates, trust = _trust_source(trust_config, args, env, warnings)
    verifier = Verifier(
        trust,
        certificates=certificates,
        revocation=None,
        hash_algorithms=algorithms,
        cert_refresh_interval=0.0,
    )
    verifier.revocation = _revocation_check(
        revocation, trust_config, args, env, warnings, lambda: verifier.trust, verifier.refresh_trust
    )
    fmt = None
    try:
        decoded = decode(raw)
        fmt = decoded.format
        verified = verifier.verify(decoded.text, now=args.now)
    except TokenInvalid as exc:
        return _render_invalid(args, env, exc, ids, fmt=fmt)
    return _render_valid(args, env, verified)


def _render_valid(args: argparse.Namespace, env: Environment, verified: VerifiedToken) -> int:
    decoded = verified.decoded
    if args.json:
        output.print_json(env, {
            "valid": True,
            "reason": None,
            "format": decoded.format,
            "token_ids": verified.token_ids,
            "expires": verified.expires,
            "summary": decoded.summary,
            "payload": decoded.payload,
        })
        return ExitStatus.OK
    env.out.print(f"[bold green]valid[/] {decoded.format.upper()} token, expires "
                  f"{verified.expires.isoformat()}")
    _print_summary(env, decoded, verified.token_ids)
    return ExitStatus.OK


def _render_invalid(
    args: argparse.Namespace,
    env: Environment,
    exc: TokenInvalid,
    ids: dict[str, str],
    *,
    fmt: str | None,
    extra: dict[str, Any] | None = None,
) -> int:
    if args.json:
        document: dict[str, Any] = {"valid": False, "reason": exc.reason.value, "detail": exc.detail,
                                    "format": fmt, "token_ids": ids}
        document.update(extra or {})
        output.print_json(env, document)
    else:
        env.out.print(f"[bold red]invalid[/] ({escape(exc.reason.value)}): {escape(exc.detail)}")
    return ExitStatus.NEGATIVE


def _trust_source(
    config: TrustConfig, args: argparse.Namespace, env: Environment, warnings: _Warnings
) -> tuple[CertificateCache | None, TrustStore | None]:
    """Local certificate files, or a keystone-backed certificate cache."""
    if config.signing_cert is not None and config.ca is not None:
        return None, TrustStore.from_files(config.signing_cert, config.ca)
    if config.keystone and config.signing_dir is not None:
        cache = CertificateCache(config.signing_dir, _source(args, env, config.keystone))
        warnings.add(cache.warnings)
        return cache, None
    raise UsageError("give --signing-cert and --ca, or --keystone URL, to verify against")


def _source(args: argparse.Namespace, env: Environment, url: str, *, authenticated: bool = False) -> KeystoneSource:
    session = http.build_session(HTTP_SETTINGS)
    if not authenticated:
        return KeystoneSource(url, http_session=session)
    config = auth.resolve(auth.flags_from_args(args), env.environ, env.cwd)
    if config.token and not config.password:
        return KeystoneSource(url, http_session=session, token=config.token)
    if not config.auth_url:
        # The keystone we fetch from is the natural place to log in.
        config = auth.AuthConfig(**{**config.__dict__, "auth_url": url})
    return KeystoneSource(url, http_session=session, auth_session=auth.keystone_session(config))


def _revocation_url(args: argparse.Namespace, env: Environment) -> str:
    config = auth.resolve(auth.flags_from_args(args), env.environ, env.cwd)
    if config.auth_url:
        return config.auth_url
    raise ConfigError("fetching the revocation list needs a keystone: pass --keystone URL, "
                      "--os-auth-url or set OS_AUTH_URL")


def _revocation_check(
    config: RevocationConfig,
    trust_config: TrustConfig,
    args: argparse.Namespace,
    env: Environment,
    warnings: _Warnings,
    trust: Callable[[], TrustStore],
    refresh_trust: Callable[[], TrustStore] | None = None,
) -> RevocationCheck | None:
    if config.list_file is not None:
        return RevocationList.from_signed(
            _read_file(config.list_file), trust(), now=config.now, source=str(config.list_file),
        )
    if not config.fetch:
        return None
    url = trust_config.keystone or _revocation_url(args, env)
    source = _source(args, env, url, authenticated=True)
    cache = RevocationCache(
        trust_config.signing_dir or signing_dir_for(env.cache_dir, url),
        source.fetch_revocation_list,
        trust,
        cache_time=config.cache_time,
        max_stale_age=config.max_age,
        refresh_trust=refresh_trust,
    )
    warnings.add(cache.warnings)
    return _WarnIfStale(cache, env)


class _WarnIfStale:
    """Tell the user when the revocation list served is an old copy."""

    def __init__(self, cache: RevocationCache, env: Environment) -> None:
        self.cache = cache
        self.env = env

    def is_revoked(self, token_ids: Any, audit_ids: Any) -> bool:
        revoked = self.cache.is_revoked(token_ids, audit_ids)
        state = self.cache.state
        if state is not None and state.stale:
            output.warn(self.env, f"using a revocation list {state.age:.0f} s old: {state.error}")
        return revoked


# hash ---------------------------------------------------------------------------
def _register_hash(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sub = commands.add_parser(
        "hash", parents=[common], help="token ids as keystone hashes them",
        description="Print the token's ids: the hex digest of the token text exactly as sent "
        "(surrounding whitespace removed), as keystone put them on revocation lists.",
    )
    sub.add_argument("token", metavar="TOKEN", help=TOKEN_HELP)
    _add_hash_algorithms(sub, "--algorithm")
    sub.set_defaults(handler=_hash)


def _hash(args: argparse.Namespace, env: Environment) -> int:
    ids = _ids(read_token(args.token, env), tuple(args.hash_algorithms or ("md5",)))
    if args.json:
        output.print_json(env, {"token_ids": ids})
    else:
        width = max(len(name) for name in ids)
        for name, digest in ids.items():
            env.stdout.write(f"{name:<{width}}  {digest}\n")
    return ExitStatus.OK


# revoked ------------------------------------------------------------------------
def _register_revoked(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sub = commands.add_parser(
        "revoked", parents=[common], help="show keystone's signed revocation list (verified)",
        description="Show a signed revocation list after verifying its signature: from "
        "--revocation-list FILE, or fetched from keystone (--keystone URL or OS_AUTH_URL) "
        "with admin credentials or --os-token.",
    )
    _add_trust(sub)
    _add_revocation_source(sub, optional=False)
    auth.add_auth_arguments(sub)
    sub.set_defaults(handler=_revoked)


def _revoked(args: argparse.Namespace, env: Environment) -> int:
    warnings = _Warnings(env)
    revocation = _revocation_config(args, fetch=True)
    if not (args.signing_cert or args.ca or args.keystone) and args.revocation_list:
        raise UsageError("give --signing-cert and --ca (or --keystone) to verify the list with")
    fallback = None if (args.signing_cert or args.ca or args.keystone) else _revocation_url(args, env)
    trust_config = _trust_config(args, env, keystone=fallback)
    certificates, trust = _trust_source(trust_config, args, env, warnings)
    current = trust if trust is not None else certificates.trust()  # type: ignore[union-attr]
    check = _revocation_check(revocation, trust_config, args, env, warnings, lambda: current)
    if isinstance(check, _WarnIfStale):
        listing = check.cache.get()
        state = check.cache.state
        if state is not None and state.stale:
            output.warn(env, f"using a revocation list {state.age:.0f} s old: {state.error}")
    else:
        assert isinstance(check, RevocationList)
        listing = check
    if args.json:
        output.print_json(env, {"count": len(listing), "revoked": list(listing.entries)})
        return ExitStatus.OK
    env.out.print(f"{len(listing)} revoked token(s) (signature verified)")
    for entry in listing.entries:
        expires = entry.expires.isoformat() if entry.expires else "-"
        env.stdout.write(f"{entry.id}  expires {expires}  audit_id {entry.audit_id or '-'}\n")
    return ExitStatus.OK


# setup / sign ---------------------------------------------------------------------
def _register_setup(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sub = commands.add_parser(
        "setup", parents=[common], help="create a CA and signing certificate (for tests)",
        description="Create a CA and a signing certificate like keystone's pki_setup: "
        "DIR/certs/{cacert,signing_cert}.pem and DIR/private/{cakey,signing_key}.pem "
        "(keys 0600 in a 0700 directory). Test material, not for production.",
    )
    sub.add_argument("--dir", required=True, type=Path, metavar="DIR", help="where to write")
    sub.add_argument("--key-type", choices=("rsa", "ec"), default="rsa", help="default: rsa")
    sub.add_argument("--key-size", type=_key_size, default=None, metavar="BITS",
                     help="RSA bits (default 2048) or EC curve size 256/384/521 (default 256)")
    sub.add_argument("--digest", default="sha256", metavar="ALG",
                     help="certificate signature digest: sha1, sha224, sha256, sha384, sha512")
    sub.add_argument("--days", type=_days, default=3650, metavar="N",
                     help=f"validity, 1 to {MAX_DAYS} (default 3650)")
    sub.set_defaults(handler=_setup)


#: RSA sizes accepted: below 2048 is refused by modern openssl, above 8192
#: key generation takes minutes (100000 bits would not finish).
RSA_KEY_SIZES = (2048, 8192)
EC_KEY_SIZES = (256, 384, 521)
#: x509 dates stop at 9999; a century is far past any test certificate.
MAX_DAYS = 36500


def _key_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of bits: {text!r}") from None
    if value not in EC_KEY_SIZES and not RSA_KEY_SIZES[0] <= value <= RSA_KEY_SIZES[1]:
        raise argparse.ArgumentTypeError(
            f"{value}: RSA takes {RSA_KEY_SIZES[0]} to {RSA_KEY_SIZES[1]} bits, EC 256, 384 or 521"
        )
    return value


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 1 <= value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{value}: give 1 to {MAX_DAYS} days")
    return value


def _setup(args: argparse.Namespace, env: Environment) -> int:
    if args.key_size is not None and (args.key_type == "ec") != (args.key_size in EC_KEY_SIZES):
        raise UsageError(f"--key-size {args.key_size} does not fit --key-type {args.key_type}")
    key_size = args.key_size or (2048 if args.key_type == "rsa" else 256)
    paths = issuing.write_setup(args.dir, key_type=args.key_type, key_size=key_size,
                                digest=args.digest, days=args.days)
    if args.json:
        output.print_json(env, paths)
    else:
        for label, path in (("signing cert", paths.signing_cert), ("signing key", paths.signing_key),
                            ("CA cert", paths.ca_cert), ("CA key", paths.ca_key)):
            env.stdout.write(f"{label:13} {path}\n")
    return ExitStatus.OK


def _register_sign(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    sub = commands.add_parser(
        "sign", parents=[common], help="sign a payload into a PKI/PKIZ token (for tests)",
        description="Sign a JSON payload ({\"access\": ...} or {\"token\": ...}) into a token "
        "exactly as keystone did (CMS, no attributes, no certificates) and print it.",
    )
    sub.add_argument("payload", metavar="PAYLOAD.json", help="the payload file, or '-' for stdin")
    sub.add_argument("--signing-cert", required=True, type=Path, metavar="FILE")
    sub.add_argument("--signing-key", required=True, type=Path, metavar="FILE")
    sub.add_argument("--pkiz", action="store_true", help="make a compressed PKIZ token")
    sub.add_argument("--digest", default="sha256", metavar="ALG", help="default: sha256")
    sub.set_defaults(handler=_sign)


def _sign(args: argparse.Namespace, env: Environment) -> int:
    raw = env.stdin.read(MAX_FILE_BYTES + 1) if args.payload == "-" else _read_file(Path(args.payload))
    payload = parse_json(raw, source=str(args.payload), error=InputError)
    if not isinstance(payload, dict):
        raise InputError(f"{args.payload}: the payload must be a JSON object")
    certs = load_certificates(_read_file(args.signing_cert), str(args.signing_cert))
    key = load_private_key(_read_file(args.signing_key), str(args.signing_key))
    token = issuing.sign_token(payload, issuing.KeyPair(certs[0], key), pkiz=args.pkiz, digest=args.digest)
    if args.json:
        output.print_json(env, {"token": token, "format": "pkiz" if args.pkiz else "pki",
                                "token_ids": token_ids(token)})
    else:
        env.stdout.write(token + "\n")
    return ExitStatus.OK


# Shared -------------------------------------------------------------------------
def read_token(argument: str, env: Environment) -> bytes:
    """TOKEN as given: the text itself, ``-`` for stdin, ``@FILE`` for a file."""
    if argument == "-":
        data = env.stdin.read(MAX_TOKEN_INPUT + 1)
    elif argument.startswith("@"):
        path = Path(argument[1:])
        if not argument[1:]:
            raise UsageError("@FILE needs a file name")
        try:
            with open(path if path.is_absolute() else env.cwd / path, "rb") as handle:
                data = handle.read(MAX_TOKEN_INPUT + 1)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    else:
        data = argument.encode("utf-8", "surrogateescape")
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    # A token bigger than this is refused by decoding anyway; keep what the
    # decoder needs to say so without holding an arbitrarily large input.
    return data[: MAX_TOKEN_INPUT + 1]


def _ids(raw: bytes, algorithms: tuple[str, ...]) -> dict[str, str]:
    return token_ids(raw.strip(_WHITESPACE), algorithms)  # type: ignore[arg-type]


def _read_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return data


def _print_summary(env: Environment, decoded: DecodedToken, ids: dict[str, str]) -> None:
    summary = decoded.summary
    rows: list[tuple[str, Any]] = [("format", decoded.format), ("payload", summary.version)]
    rows += [(f"id ({name})", digest) for name, digest in ids.items()]
    user = summary.user_name or summary.user_id
    if summary.user_domain:
        user = f"{user} (domain {summary.user_domain})"
    rows.append(("user", user))
    if summary.project_name or summary.project_id:
        rows.append(("project", summary.project_name or summary.project_id))
    if summary.domain:
        rows.append(("domain", summary.domain))
    rows.append(("roles", ", ".join(summary.roles) or "-"))
    rows.append(("issued at", summary.issued_at.isoformat() if summary.issued_at else "-"))
    rows.append(("expires", summary.expires.isoformat() if summary.expires else "-"))
    rows.append(("audit ids", ", ".join(summary.audit_ids) or "-"))
    rows.append(("services", ", ".join(summary.catalog_services) or "-"))
    for label, value in rows:
        env.stdout.write(f"{label:12} {value}\n")
