"""Benchmark: PKI token verification, ours vs keystoneclient and vs a bare RSA verify.

In one run, on the same tokens (keystone's real example tokens, PKI and PKIZ,
SHA-1 and SHA-256, from ../shared/fixtures/pki), we time:

1. ours: ``pki.verify_token`` (decode, parse CMS, find signer, check chain,
   usage and validity, RSA signature, JSON payload, token ids, expiry);
2. the peer: ``keystoneclient.common.cms.cms_verify`` (it runs
   ``openssl cms -verify`` in a subprocess) on the same tokens — goal: ours
   at least 50x faster;
3. the floor: a bare ``cryptography`` RSA PKCS#1 v1.5 verify of the same
   content and signature with a pre-loaded key — goal: ours at least 40% of
   its rate;
4. revocation checks per second against a verified revocation list of 1,000
   and of 100,000 ids (``pki.revocation.RevocationList``) — must not grow with
   the list size.

    .venv/bin/python benchmarks/pki_verify.py               # the full run
    .venv/bin/python benchmarks/pki_verify.py --quick       # smoke run
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout: the imports below need the path first
# ruff: noqa: E402

from pki.certs import TrustStore
from pki.issuing import (
    create_ca,
    create_signing_cert,
    pem_to_pki_token,
    sign_revocation_list,
)
from pki.token import decode
from pki.verify import verify_token

FIXTURES = REPO.parent / "shared" / "fixtures" / "pki"
NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
_HASHES = {"sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
           "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def _tokens() -> list[tuple[str, Path, Path]]:
    """(token text, signing cert, CA) for every valid, unexpired fixture token."""
    result = []
    cases = {
        "keystonemiddleware-5.3.0": (".pem", ".pkiz"),
        "keystoneclient-master": (".pem",),  # its .pkiz files are the trap
    }
    for directory, suffixes in cases.items():
        base = FIXTURES / directory
        for path in sorted((base / "cms").iterdir()):
            if path.suffix not in suffixes or "expired" in path.name or "revocation" in path.name:
                continue
            text = path.read_text()
            if path.suffix == ".pem":
                text = pem_to_pki_token(text)  # what a client sends
            result.append((text, base / "certs" / "signing_cert.pem", base / "certs" / "cacert.pem"))
    return result


def _rate(func: Callable[[], object], *, seconds: float, min_calls: int) -> float:
    """Calls per second of ``func``: best of 3 timed rounds (the machine is shared)."""
    func()
    best = 0.0
    for _ in range(3):
        calls = 0
        start = time.perf_counter()
        deadline = start + seconds / 3
        while calls < min_calls or time.perf_counter() < deadline:
            func()
            calls += 1
        best = max(best, calls / (time.perf_counter() - start))
    return best


def _rates(funcs: dict[str, Callable[[], object]], *, seconds: float, min_calls: int,
           rounds: int = 5) -> dict[str, float]:
    """Calls per second of each function, best of ``rounds``, the functions
    taking turns inside each round so a burst of load on the shared machine
    hits them all alike (ratios are what we report). CPU time of this process,
    not wall time: with eight sessions on two cores, wall time mostly measures
    the scheduler (the peer runs openssl in a child, so it keeps wall time)."""
    best = dict.fromkeys(funcs, 0.0)
    for func in funcs.values():
        func()
    for _ in range(rounds):
        for name, func in funcs.items():
            calls = 0
            start = time.process_time()
            deadline = start + seconds / rounds
            while calls < min_calls or time.process_time() < deadline:
                func()
                calls += 1
            best[name] = max(best[name], calls / (time.process_time() - start))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="time per measurement")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--runs", type=int, default=1,
                        help="repeat the in-process measurement (ours vs the floors) this many times "
                             "and report each run's ratios and their median")
    parser.add_argument("--ratios-only", action="store_true",
                        help="only ours vs the floors (no keystoneclient peer, no revocation lists)")
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    big = 5_000 if args.quick else 100_000

    tokens = _tokens()
    trusts = {}
    for _text, signing, ca in tokens:
        trusts.setdefault((signing, ca), TrustStore.from_files(signing, ca))
    prepared = []
    for text, signing, ca in tokens:
        trust = trusts[(signing, ca)]
        verify_token(text, trust, now=NOW)  # all must be valid
        message = decode(text).message
        prepared.append((text, trust, message, trust.signing_certs[0].public_key(), signing, ca))

    def ours() -> None:
        for text, trust, *_ in prepared:
            verify_token(text, trust, now=NOW)

    def bare() -> None:
        for _text, _trust, message, key, *_ in prepared:
            key.verify(message.signature, message.content, padding.PKCS1v15(),
                       _HASHES[message.digest]())

    import base64
    import zlib

    import orjson

    def make_steps(loads: Callable[[bytes], object]) -> Callable[[], None]:
        def steps() -> None:
            # The steps any verifier must take besides the RSA check: undo the
            # token encoding, parse the JSON payload, hash the token for its id.
            for text, _trust, message, key, *_ in prepared:
                if text.startswith("PKIZ_"):
                    pem = zlib.decompress(base64.urlsafe_b64decode(text[5:])).decode()
                    base64.b64decode("".join(pem.splitlines()[1:-1]))
                else:
                    base64.b64decode(text.replace("-", "/"))
                loads(message.content)
                hashlib.md5(text.encode()).hexdigest()
                key.verify(message.signature, message.content, padding.PKCS1v15(),
                           _HASHES[message.digest]())
        return steps

    from keystoneclient.common import cms as ksc_cms

    def peer() -> None:
        for text, _trust, _message, _key, signing, ca in prepared:
            if text.startswith("PKIZ_"):
                ksc_cms.pkiz_verify(text, str(signing), str(ca))
            else:
                ksc_cms.cms_verify(ksc_cms.token_to_cms(text), str(signing), str(ca))

    n = len(prepared)
    funcs = {"ours": ours, "bare": bare, "steps": make_steps(json.loads),
             "steps_orjson": make_steps(orjson.loads)}
    runs = [_rates(funcs, seconds=4 * seconds, min_calls=3) for _ in range(max(1, args.runs))]
    if len(runs) > 1 or args.ratios_only:
        # Each run is the method below (best of 5 interleaved rounds, CPU time);
        # single runs on the shared machine still swing by a few percent.
        for i, run in enumerate(runs, 1):
            print(f"  run {i}: ours/floor+ (json) = {run['ours'] / run['steps']:.1%}   "
                  f"ours/floor+ (orjson) = {run['ours'] / run['steps_orjson']:.1%}   "
                  f"ours/bare RSA = {run['ours'] / run['bare']:.1%}")
        print(f"  median of {len(runs)} runs: "
              f"ours/floor+ (json) = {statistics.median(r['ours'] / r['steps'] for r in runs):.1%}   "
              f"ours/floor+ (orjson) = {statistics.median(r['ours'] / r['steps_orjson'] for r in runs):.1%}   "
              f"(goal >= 90%)")
    if args.ratios_only:
        return 0
    rates = sorted(runs, key=lambda r: r["ours"] / r["steps"])[len(runs) // 2]  # the median run
    ours_rate, bare_rate = rates["ours"] * n, rates["bare"] * n
    steps_rate, steps_orjson_rate = rates["steps"] * n, rates["steps_orjson"] * n
    peer_rate = _rate(peer, seconds=seconds, min_calls=1) * n
    # The peer's openssl runs in child processes: compare it in wall time.
    ours_wall_rate = _rate(ours, seconds=seconds, min_calls=3) * n

    # Revocation: a signed list verified once, then checks of one token's ids.
    start = NOW - datetime.timedelta(days=1)
    ca = create_ca(not_before=start)
    signer = create_signing_cert(ca, not_before=start)
    list_trust = TrustStore([signer.cert], [ca.cert])
    from pki.revocation import RevocationList

    text = prepared[0][0]
    verified = verify_token(text, prepared[0][1], now=NOW, hash_algorithms=("md5", "sha256"))
    ids = tuple(verified.token_ids.values())
    audit_ids = verified.decoded.summary.audit_ids
    revocation_rates = {}
    for size in (1_000, big):
        entries = [{"id": hashlib.md5(b"%d" % i).hexdigest(), "expires": "2038-01-18T21:14:07Z",
                    "audit_id": f"audit-{i}"} for i in range(size)]
        started = time.perf_counter()
        revocation = RevocationList.from_signed(sign_revocation_list(entries, signer), list_trust, now=NOW)
        load_seconds = time.perf_counter() - started
        assert len(revocation) == size and not revocation.is_revoked(ids, audit_ids)
        rate = _rate(lambda revocation=revocation: revocation.is_revoked(ids, audit_ids), seconds=seconds, min_calls=100)
        full = _rate(lambda revocation=revocation: verify_token(text, prepared[0][1], now=NOW, revocation=revocation,
                                          hash_algorithms=("md5", "sha256")),
                     seconds=seconds, min_calls=10)
        revocation_rates[size] = (rate, full, load_seconds)

    print(f"tokens: {n} real keystone example tokens (PKI + PKIZ, SHA-1 + SHA-256, RSA-2048)")
    print("(a shared, loaded 2-core machine: in-process rates are CPU time, best of 5 interleaved rounds;")
    print(" the peer, which runs openssl in child processes, and the revocation lines are wall time)")
    print(f"  ours  pki.verify_token                      {ours_rate:12,.0f} verifications/s")
    print(f"  peer  keystoneclient cms_verify (openssl)   {peer_rate:12,.1f} verifications/s")
    print(f"  floor bare cryptography RSA verify          {bare_rate:12,.0f} verifications/s")
    print(f"  floor+ bare RSA + base64/zlib + json + md5 {steps_rate:12,.0f} verifications/s")
    print(f"  floor+ the same with orjson                {steps_orjson_rate:12,.0f} verifications/s")
    print(f"  ours (wall time)                            {ours_wall_rate:12,.0f} verifications/s")
    print(f"  ours / keystoneclient = {ours_wall_rate / peer_rate:,.0f}x   (goal >= 50x, both wall time)")
    print(f"  ours / bare RSA       = {ours_rate / bare_rate:.0%}   (goal >= 40%)")
    print(f"  (bare RSA plus the unavoidable decoding alone reaches "
          f"{steps_rate / bare_rate:.0%} of bare RSA with json, {steps_orjson_rate / bare_rate:.0%} with orjson)")
    print(f"  ours / floor+ (json)   = {ours_rate / steps_rate:.0%}   (goal >= 90%)")
    print(f"  ours / floor+ (orjson) = {ours_rate / steps_orjson_rate:.0%}   (ours parses with orjson)")
    for size, (rate, full, load_seconds) in revocation_rates.items():
        print(f"  revocation list of {size:>7,} ids: {rate:12,.0f} checks/s; "
              f"verify_token with it {full:9,.0f}/s; list verified+parsed in {load_seconds:.2f} s")
    small, large = revocation_rates[1_000][0], revocation_rates[big][0]
    print(f"  checks/s with {big:,} ids / with 1,000 ids = {large / small:.2f} (goal ~1.0: no growth)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
