from ostk.redact import redact


def test_headers_and_passwords_are_masked():
    text = (
        "{'X-Auth-Token': 'gAAAAABsecretsecret', 'Authorization': 'Basic Ym9iOmh1bnRlcjI='} "
        '{"password": "hunter2"} OS_PASSWORD=hunter3'
    )
    out = redact(text)
    for secret in ("gAAAAABsecretsecret", "Ym9iOmh1bnRlcjI=", "hunter2", "hunter3"):
        assert secret not in out


def test_bare_tokens_and_url_credentials_are_masked():
    pkiz = "PKIZ_" + "eJy" + "A" * 200
    pki = "MIIB" + "x" * 300
    out = redact(f"token {pkiz} and {pki} at https://bob:pw@host/path")
    assert "A" * 50 not in out and "x" * 50 not in out
    assert "bob:***@host" in out and "pw@" not in out


def test_ordinary_text_is_left_alone():
    text = "GET http://127.0.0.1:5000/v3/auth/tokens -> 201 (0.12s)"
    assert redact(text) == text
