"""Log in as every test user with python-swiftclient and touch its Swift account.

Touching (a POST to the account) matters beyond the check itself: a Swift
account nobody has written yet answers HEAD with 200 but GET with 204, and one
of Swift's functional tests expects the written-account behaviour.

Owners must be able to POST their account; the users whose tests rely on
being refused (the non-operator and the service-role user) must get 403 there,
which proves their roles are not too wide.
"""
from __future__ import annotations

from dataclasses import dataclass

from ostk.auth import AuthConfig, keystone_errors, keystone_session
from ostk.errors import OstkError
from swiftfunc.accounts import Plan, TestAccount
from swiftfunc.testconf import auth_keys

#: Accounts whose owner check expects a refusal (not an operator there).
REFUSED = (3, 5)


@dataclass(frozen=True)
class CheckResult:
    """Whether one user could log in and its Swift account behaved as its role says."""

    username: str
    project: str
    domain: str
    #: "owner" (POST must succeed) or "refused" (POST must answer 403).
    expected: str
    passed: bool
    detail: str
    #: The storage URL from the catalog (empty if login failed).
    storage_url: str = ""


def check_accounts(
    plan: Plan,
    auth_url: str,
    *,
    insecure: bool = False,
    cacert: str | None = None,
    region_name: str | None = None,
    interface: str = "public",
    timeout: float = 30.0,
) -> tuple[CheckResult, ...]:
    """Check every account of ``plan``, in plan order.

    One after the other: each login writes to keystone's database, and a
    sqlite-backed keystone answers concurrent logins with HTTP 500.
    """
    uri = auth_keys(auth_url)["auth_uri"]
    return tuple(_check_one(a, uri, insecure, cacert, region_name, interface, timeout) for a in plan.accounts)


def _check_one(
    account: TestAccount,
    auth_uri: str,
    insecure: bool,
    cacert: str | None,
    region_name: str | None,
    interface: str,
    timeout: float,
) -> CheckResult:
    from keystoneauth1.exceptions import EndpointNotFound
    from swiftclient import client as swift

    expected = "refused" if account.index in REFUSED else "owner"
    config = AuthConfig(
        auth_url=auth_uri,
        username=account.username,
        password=account.password,
        project_name=account.project,
        user_domain_name=account.domain,
        project_domain_name=account.domain,
        region_name=region_name,
        interface=interface,
        insecure=insecure,
        cacert=cacert,
    )
    os_options = {"endpoint_type": interface}
    if region_name:
        os_options["region_name"] = region_name
    # swiftclient logs in through a keystoneauth session (its own keystone
    # v3 code path goes through keystoneclient's deprecated auth plugins).
    conn = swift.Connection(
        session=keystone_session(config, timeout=timeout),
        os_options=os_options,
        retries=1,
        starting_backoff=0.5,
        timeout=timeout,
    )

    def result(passed: bool, detail: str, url: str = "") -> CheckResult:
        return CheckResult(account.username, account.project, account.domain, expected, passed, detail, url)

    try:
        with keystone_errors("login"):
            try:
                storage_url, _token = conn.get_auth()
            except EndpointNotFound:
                storage_url = ""
    except OstkError as exc:
        return result(False, str(exc))
    if not storage_url:
        return result(False, "logged in, but the catalog has no object-store endpoint (pass --swift-url)")
    try:
        conn.post_account(headers={})
    except swift.ClientException as exc:
        if expected == "refused" and exc.http_status == 403:
            return result(True, "logged in; account refused (403) as its role requires", storage_url)
        return result(False, f"logged in; POST account: {_reason(exc)}", storage_url)
    except Exception as exc:
        return result(False, f"logged in; POST account: {type(exc).__name__}: {str(exc)[:200]}", storage_url)
    if expected == "refused":
        return result(False, "logged in; account accepted a POST but this user must not be an operator", storage_url)
    return result(True, "logged in; account touched (POST 2xx)", storage_url)


def _reason(exc: Exception) -> str:
    status = getattr(exc, "http_status", None)
    reason = getattr(exc, "http_reason", None) or getattr(exc, "msg", None) or str(exc)
    return f"HTTP {status} {reason}".strip() if status else str(reason)[:200]
