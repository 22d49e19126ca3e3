"""pki.token: format detection, payload and summary, token ids, and malformed input."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import tracemalloc
import zlib
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core

from ostk.errors import UsageError
from pki.cms import der_to_pem, pem_to_der
from pki.errors import Reason, TokenInvalid
from pki.issuing import pem_to_pki_token, pem_to_pkiz_token, sign_cms, sign_cms_der, sign_token
from pki.token import MAX_INFLATED_BYTES, MAX_TOKEN_BYTES, decode, token_ids
from pki.verify import verify_token

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "pki"
KSM = FIXTURES / "keystonemiddleware-5.3.0"
UTC = datetime.timezone.utc


# -- formats -------------------------------------------------------------------


def test_pki_pkiz_pem_and_der_forms_decode_to_the_same_payload():
    pem = (KSM / "cms" / "auth_v3_token_scoped.pem").read_text()
    pkiz = (KSM / "cms" / "auth_v3_token_scoped.pkiz").read_text()
    expected = json.loads((KSM / "cms" / "auth_v3_token_scoped.json").read_text())
    der = pem_to_der(pem)
    pki = pem_to_pki_token(pem)
    forms = {"cms-pem": pem, "pkiz": pkiz, "pki": pki, "cms-der": der}
    for fmt, token in forms.items():
        decoded = decode(token)
        assert decoded.format == fmt
        assert decoded.payload == expected
    assert pki.startswith("MII") and "/" not in pki and "\n" not in pki
    assert decode(pki).cms_der == der
    assert decode(pki).text == pki


def test_bytes_tokens_are_accepted_like_text():
    pkiz = (KSM / "cms" / "auth_token_scoped.pkiz").read_bytes()
    assert decode(pkiz).format == "pkiz"
    assert decode(pkiz).text == pkiz.decode().strip()


def test_v3_summary():
    summary = decode((KSM / "cms" / "auth_v3_token_scoped.pkiz").read_text()).summary
    assert summary.version == "v3"
    assert (summary.user_id, summary.user_name, summary.user_domain) == (
        "user_id1", "user_name1", "domain_name1")
    assert (summary.project_id, summary.project_name, summary.project_domain) == (
        "tenant_id1", "tenant_name1", "domain_name1")
    assert summary.domain is None
    assert summary.roles == ("role1", "role2")
    assert summary.expires == datetime.datetime(2038, 1, 18, 21, 14, 7, tzinfo=UTC)
    assert summary.audit_ids == ("SLIXlXQUQZWUi9VJrqdXqA",)
    assert summary.catalog_services[:3] == ("volume", "image", "compute")


def test_v2_summary():
    summary = decode((KSM / "cms" / "auth_token_scoped.pem").read_text()).summary
    assert summary.version == "v2"
    assert (summary.user_id, summary.user_name) == ("user_id1", "user_name1")
    assert (summary.project_id, summary.project_name) == ("tenant_id1", "tenant_name1")
    assert summary.roles == ("role1", "role2")
    assert summary.expires == datetime.datetime(2038, 1, 18, 21, 14, 7, tzinfo=UTC)
    assert "identity" in summary.catalog_services


def test_domain_scoped_v3_summary_and_microsecond_times(rsa_pki):
    payload = {"token": {"domain": {"id": "d1", "name": "Dom"}, "user": {"id": "u"},
                         "expires_at": "2031-02-03T04:05:06.123456Z",
                         "issued_at": "2031-02-03T03:05:06.000000+00:00"}}
    summary = decode(sign_token(payload, rsa_pki.signer)).summary
    assert summary.domain == "Dom"
    assert summary.project_id is None
    assert summary.expires == datetime.datetime(2031, 2, 3, 4, 5, 6, 123456, tzinfo=UTC)
    assert summary.issued_at == datetime.datetime(2031, 2, 3, 3, 5, 6, tzinfo=UTC)


# -- token ids -----------------------------------------------------------------


def test_token_id_is_the_digest_of_the_text_as_sent():
    # the fixture revocation list names this token by the md5 of its file text
    text = (KSM / "cms" / "auth_v3_token_revoked.pkiz").read_text()
    revoked = json.loads((KSM / "cms" / "revocation_list.json").read_text())["revoked"]
    ids = token_ids(text)
    assert ids == {"md5": hashlib.md5(text.encode()).hexdigest()}
    assert ids["md5"] in {r["id"] for r in revoked}


def test_token_ids_for_several_algorithms():
    ids = token_ids("MIIabc", ("md5", "sha256", "sha512"))
    assert ids["sha256"] == hashlib.sha256(b"MIIabc").hexdigest()
    assert list(ids) == ["md5", "sha256", "sha512"]


@pytest.mark.parametrize("name", ["nope", "shake_128", ""])
def test_unknown_hash_algorithm_is_a_usage_error(name):
    with pytest.raises(UsageError):
        token_ids("MIIabc", (name,))


# -- malformed input -------------------------------------------------------------


def _signed_data_variant(rsa_pki, *, content_type="data", signers=1, content=b'{"token": {}}'):
    der = sign_cms_der(content, rsa_pki.signer)
    info = asn1_cms.ContentInfo.load(der)
    signed = info["content"]
    signer_info = signed["signer_infos"][0]
    rebuilt = asn1_cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": signed["digest_algorithms"],
            "encap_content_info": {
                "content_type": content_type,
                "content": (asn1_core.OctetString if content_type == "data"
                            else lambda c: asn1_core.Any.load(asn1_core.OctetString(c).dump()))(content),
            },
            "signer_infos": [signer_info] * signers,
        }
    )
    return asn1_cms.ContentInfo({"content_type": "signed_data", "content": rebuilt}).dump()


def _non_canonical(rsa_pki) -> str:
    """A PKI token whose last character differs only in bits the decoder ignores."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-"
    for n in range(3):
        pki = pem_to_pki_token(sign_cms(b'{"token": {"pad": "%s"}}' % (b"x" * n), rsa_pki.signer))
        if pki.endswith("="):
            body = pki.rstrip("=")
            changed = alphabet[alphabet.index(body[-1]) ^ 1]
            token = body[:-1] + changed + pki[len(body):]
            assert base64.b64decode(token.replace("-", "/")) == base64.b64decode(pki.replace("-", "/"))
            return token
    raise AssertionError("no padded token")


def _non_canonical_pkiz(pkiz: str) -> str:
    """The same PKIZ bytes with a last character that differs only in ignored bits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for extra in range(3):
        token = pkiz if extra == 0 else "PKIZ_" + base64.urlsafe_b64encode(
            base64.urlsafe_b64decode(pkiz[5:]) + b"\x00" * extra).decode()
        if token.endswith("="):
            body = token.rstrip("=")
            changed = body[:-1] + alphabet[alphabet.index(body[-1]) ^ 1] + token[len(body):]
            assert base64.urlsafe_b64decode(changed[5:]) == base64.urlsafe_b64decode(token[5:])
            return changed
    raise AssertionError("no padded PKIZ")


def _pkiz_of(data: bytes) -> str:
    return "PKIZ_" + base64.urlsafe_b64encode(zlib.compress(data, 9)).decode()


def _bad_inputs(rsa_pki) -> dict[str, str | bytes]:
    good_pem = sign_cms(b'{"token": {"expires_at": "2038-01-01T00:00:00Z"}}', rsa_pki.signer)
    pki = pem_to_pki_token(good_pem)
    pkiz = pem_to_pkiz_token(good_pem)
    der = pem_to_der(good_pem)
    return {
        "empty": "",
        "empty-bytes": b"",
        "whitespace": " \n\t ",
        "random-text": "hello, I am not a token",
        "random-bytes": bytes(range(200, 256)),
        "truncated-base64": pki[: len(pki) // 2 + 1],
        "bad-padding": pki.rstrip("=") if pki.endswith("=") else pki + "=",
        "padding-in-the-middle": pki[:8] + "==" + pki[8:],
        "non-canonical-base64": _non_canonical(rsa_pki),
        "pki-with-slash": pem_to_pki_token(good_pem).replace("-", "/") if "-" in pki else "MII/" + pki[4:],
        "pki-non-base64": "MII" + "!" * 40,
        "pkiz-bad-base64": "PKIZ_!!!!",
        "pkiz-standard-alphabet": "PKIZ_" + base64.b64encode(
            b"\xfb\xff" + zlib.compress(good_pem.encode())).decode(),
        "pkiz-non-canonical": _non_canonical_pkiz(pkiz),
        "pkiz-invalid-zlib": "PKIZ_" + base64.urlsafe_b64encode(b"not zlib at all").decode(),
        "pkiz-truncated-zlib": "PKIZ_" + base64.urlsafe_b64encode(zlib.compress(good_pem.encode())[:-10]).decode(),
        "pkiz-trailing-garbage": "PKIZ_" + base64.urlsafe_b64encode(zlib.compress(good_pem.encode()) + b"junk").decode(),
        "pkiz-not-pem": _pkiz_of(b"just some text"),
        "pki-trailing-garbage": pem_to_pki_token(der_to_pem(der + b"\x00\x00")),
        "der-trailing-garbage": der + b"\x05\x00",
        "pem-trailing-garbage": good_pem + "and more\n",
        "pem-truncated": good_pem[: len(good_pem) // 2],
        "wrong-outer-content-type": asn1_cms.ContentInfo({"content_type": "data", "content": b"x"}).dump(),
        "wrong-encap-content-type": _signed_data_variant(rsa_pki, content_type="1.2.3.4.5"),
        "several-signers": _signed_data_variant(rsa_pki, signers=2),
        "no-signers": _signed_data_variant(rsa_pki, signers=0),
        "non-json": pem_to_pki_token(sign_cms(b"this is not json", rsa_pki.signer)),
        "non-utf8": pem_to_pki_token(sign_cms(b'{"token": {"x": "\xff\xfe"}}', rsa_pki.signer)),
        "json-not-object": pem_to_pki_token(sign_cms(b"[1, 2, 3]", rsa_pki.signer)),
        "json-neither-v2-nor-v3": pem_to_pki_token(sign_cms(b'{"revoked": []}', rsa_pki.signer)),
        "json-deeply-nested": pem_to_pki_token(
            sign_cms(b'{"token": {"x": ' + b"[" * 20000 + b"]" * 20000 + b"}}", rsa_pki.signer)
        ),
        "bad-expiry": pem_to_pki_token(sign_cms(b'{"token": {"expires_at": "tomorrow"}}', rsa_pki.signer)),
        "too-long-text": "MII" + "A" * MAX_TOKEN_BYTES,
        "too-long-bytes": b"\x30" + b"\x00" * MAX_TOKEN_BYTES,
        "not-a-string": 12345,  # type: ignore[dict-item]
    }


BAD_NAMES = [
    "empty", "empty-bytes", "whitespace", "random-text", "random-bytes", "truncated-base64",
    "bad-padding", "padding-in-the-middle", "non-canonical-base64", "pkiz-standard-alphabet",
    "pkiz-non-canonical", "pki-with-slash", "pki-non-base64", "pkiz-bad-base64", "pkiz-invalid-zlib", "pkiz-truncated-zlib",
    "pkiz-trailing-garbage", "pkiz-not-pem", "pki-trailing-garbage", "der-trailing-garbage",
    "pem-trailing-garbage", "pem-truncated", "wrong-outer-content-type", "wrong-encap-content-type",
    "several-signers", "no-signers", "non-json", "non-utf8", "json-not-object",
    "json-neither-v2-nor-v3", "json-deeply-nested", "bad-expiry", "too-long-text", "too-long-bytes",
    "not-a-string",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_input_is_malformed_for_decode_and_verify(name, rsa_pki):
    from pki.certs import TrustStore

    token = _bad_inputs(rsa_pki)[name]
    with pytest.raises(TokenInvalid) as info:
        decode(token)
    assert info.value.reason is Reason.MALFORMED, info.value
    trust = TrustStore([rsa_pki.signer.cert], [rsa_pki.ca.cert])
    with pytest.raises(TokenInvalid) as info:
        verify_token(token, trust)
    assert info.value.reason is Reason.MALFORMED


def test_bad_input_list_is_what_the_test_runs(rsa_pki):
    assert sorted(BAD_NAMES) == sorted(_bad_inputs(rsa_pki))


def test_pkiz_bomb_is_rejected_without_inflating_it(rsa_pki):
    # ~40 MiB of PEM-looking text compresses to well under the 64 KiB token limit.
    bomb = zlib.compressobj(9)
    compressed = bomb.compress(b"-----BEGIN CMS-----\n")
    chunk = b"A" * (1024 * 1024)
    for _ in range(40):
        compressed += bomb.compress(chunk)
    compressed += bomb.flush()
    token = "PKIZ_" + base64.urlsafe_b64encode(compressed).decode()
    assert len(token) < MAX_TOKEN_BYTES
    tracemalloc.start()
    try:
        with pytest.raises(TokenInvalid) as info:
            decode(token)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.reason is Reason.MALFORMED
    assert "inflates to more than" in str(info.value)
    # We stopped at the 1 MiB cap: far below the 40 MiB the bomb holds.
    assert peak < 4 * MAX_INFLATED_BYTES


def test_pkiz_just_under_the_cap_is_not_rejected_for_size(rsa_pki):
    # a valid token padded with JSON whitespace to ~0.95 MiB of PEM once inflated
    payload = b'{"token": {"expires_at": "2038-01-01T00:00:00Z"}' + b" " * (700 * 1024) + b"}"
    pem = sign_cms(payload, rsa_pki.signer)
    token = pem_to_pkiz_token(pem, level=9)
    assert len(token) < MAX_TOKEN_BYTES
    assert decode(token).format == "pkiz"


def test_surrounding_whitespace_is_ignored_and_not_hashed(rsa_pki, make_payload):
    token = sign_token(make_payload(), rsa_pki.signer, pkiz=True)
    decoded = decode("  " + token + "\n")
    assert decoded.text == token


def test_der_ending_in_a_whitespace_byte_is_not_stripped(rsa_pki):
    # DER is binary; a trailing 0x0a/0x20/... is part of the signature.
    for attempt in range(5000):
        der = sign_cms_der(b'{"token": {"n": %d}}' % attempt, rsa_pki.signer)
        if der[-1:] in (b" ", b"\t", b"\r", b"\n", b"\x0b", b"\x0c"):
            break
    else:  # pragma: no cover - ~1 in 40 signatures end so
        pytest.fail("no DER ending in a whitespace byte was produced")
    assert decode(der).cms_der == der


@pytest.mark.parametrize("name", ["non-canonical-base64", "pkiz-non-canonical"])
def test_non_canonical_base64_is_refused_for_that_reason(name, rsa_pki):
    # one DER, one token text: otherwise a revoked token could be re-spelled with a fresh id
    with pytest.raises(TokenInvalid) as info:
        decode(_bad_inputs(rsa_pki)[name])
    assert "canonical" in str(info.value)
