"""The audit log through the real server: [server] audit_log sends one JSON line per
login, denial, token issue, refresh, revocation and logout to a file of its own
(apart from the app log, kept at log_level "warning" here), with who, client,
outcome, reason, client IP (through proxy_hops) and request id, and never a secret."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .stack import CONFIDENTIAL, RelyingParty, browser, qr_login, scan, start_stack

SCOPE = "openid profile offline_access"
OPAQUE = ("opaque-app", "opaque-app-secret-0123456789abcdef", "https://opaque.example/cb")
# Every credential the tests see; none may ever reach either log.
SEEN: list[str] = [CONFIDENTIAL[1], OPAQUE[1], "emulated-app-secret"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("audit")
    s = start_stack(work, extra_config=f"""
[server]
log_format = "json"
log_level = "warning"
audit_log = "{work}/audit.log"
proxy_hops = 1

[[clients]]
client_id = "{OPAQUE[0]}"
client_secret = "{OPAQUE[1]}"
redirect_uris = ["{OPAQUE[2]}"]
access_token_format = "opaque"
""")
    yield s
    s.stop()


def events(stack, **match) -> list[dict]:
    lines = (stack.workdir / "audit.log").read_text(encoding="utf-8").splitlines()
    found = [json.loads(line) for line in lines]
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def signed_in(stack, b=None, **client: str):
    b = b if b is not None else browser()
    rp = RelyingParty(stack, scope=SCOPE, **client)
    started = rp.start()
    back = qr_login(stack, started["url"], "zhangsan", b=b)
    SEEN.append(parse_qs(urlsplit(back).query)["code"][0])
    token, _, _ = rp.finish(back, started)
    SEEN.extend(token[k] for k in ("access_token", "refresh_token", "id_token"))
    SEEN.extend(c.value for c in b.cookies)
    return b, rp, token


def test_audit_login_and_token_issue_name_who_client_ip_and_request_id(stack):
    signed_in(stack)
    login = events(stack, event="login", outcome="success")[-1]
    assert login["sub"] == "zhangsan"
    assert login["client"] == CONFIDENTIAL[0]
    assert login["ip"] == "127.0.0.1"
    assert login["request_id"] and login["sid"]
    assert login["logger"] == "wecom_oidc.audit"
    token = events(stack, event="token", outcome="success")[-1]
    assert (token["sub"], token["client"]) == ("zhangsan", CONFIDENTIAL[0])
    assert token["grant_type"] == "authorization_code"


def test_audit_token_issue_names_who_also_for_an_opaque_access_token(stack):
    _, rp, token = signed_in(stack, client_id=OPAQUE[0], client_secret=OPAQUE[1],
                             redirect_uri=OPAQUE[2])
    assert "." not in token["access_token"]  # nothing to read the subject from
    issued = events(stack, event="token", outcome="success")[-1]
    assert (issued["sub"], issued["client"]) == ("zhangsan", OPAQUE[0])
    assert issued["scope"] == SCOPE.replace(" ", "+")
    new = rp.refresh(token["refresh_token"])
    SEEN.extend(new[k] for k in ("access_token", "refresh_token", "id_token"))
    refresh = events(stack, event="refresh", outcome="success")[-1]
    assert (refresh["sub"], refresh["client"]) == ("zhangsan", OPAQUE[0])


def test_audit_request_id_is_the_one_the_response_names(stack):
    b = browser()
    callback = scan(stack, b, RelyingParty(stack, scope=SCOPE).start()["url"], "zhangsan")
    r = b.get(callback, allow_redirects=False)
    SEEN.append(parse_qs(urlsplit(r.headers["Location"]).query)["code"][0])
    SEEN.extend(c.value for c in b.cookies)
    assert events(stack, event="login", request_id=r.headers["X-Request-Id"])


def test_audit_client_ip_from_the_trusted_proxy(stack):
    requests.post(stack.bridge_url + "/token", auth=(CONFIDENTIAL[0], "wrong-secret"),
                  headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5,
                  data={"grant_type": "refresh_token", "refresh_token": "nope"})
    failed = events(stack, event="refresh", outcome="failure")[-1]
    assert failed["ip"] == "203.0.113.9"
    assert failed["client"] == CONFIDENTIAL[0]
    assert failed["reason"] == "invalid_client"


def test_audit_caller_input_cannot_forge_fields_or_lines(stack):
    forged = "evil sub=admin outcome=success\n{\"event\": \"login\"}"
    requests.post(stack.bridge_url + "/token", timeout=5, data={
        "grant_type": "authorization_code", "code": "x", "client_id": forged})
    line = events(stack, event="token", outcome="failure")[-1]
    assert line["client"].startswith("evil?sub?admin?outcome?success")
    assert "sub" not in line
    assert not events(stack, sub="admin")


def test_audit_refresh_and_revocation(stack):
    _, rp, token = signed_in(stack)
    new = rp.refresh(token["refresh_token"])
    SEEN.extend(new[k] for k in ("access_token", "refresh_token", "id_token"))
    refresh = events(stack, event="refresh", outcome="success")[-1]
    assert (refresh["sub"], refresh["client"]) == ("zhangsan", CONFIDENTIAL[0])
    requests.post(stack.bridge_url + "/revoke", auth=CONFIDENTIAL, timeout=5,
                  data={"token": new["refresh_token"]})
    revoke = events(stack, event="revoke")[-1]
    assert (revoke["sub"], revoke["client"], revoke["outcome"]) == (
        "zhangsan", CONFIDENTIAL[0], "success")
    assert revoke["token_type"] == "refresh_token"
    assert revoke["revoked_access"] == 2


def test_audit_denied_member_names_client_and_reason(stack):
    b = browser()
    callback = scan(stack, b, RelyingParty(stack, scope=SCOPE).start()["url"], "disabled")
    assert b.get(callback, allow_redirects=False).status_code == 403
    denied = events(stack, event="denied")[-1]
    assert denied["client"] == CONFIDENTIAL[0]
    assert denied["reason"] == "disabled"
    assert denied["outcome"] == "denied"


def test_audit_replayed_login_state_is_an_error_event(stack):
    b = browser()
    callback = scan(stack, b, RelyingParty(stack, scope=SCOPE).start()["url"], "zhangsan")
    SEEN.append(parse_qs(urlsplit(b.get(callback, allow_redirects=False)
                                  .headers["Location"]).query)["code"][0])
    assert b.get(callback, allow_redirects=False).status_code == 400
    error = events(stack, event="login", outcome="error")[-1]
    assert error["reason"] in ("invalid_state", "other_browser")


def test_audit_logout_confirmation_and_logout(stack):
    b, _, token = signed_in(stack)
    b.get(stack.bridge_url + "/end_session", allow_redirects=False)
    asked = events(stack, event="logout")[-1]
    assert (asked["sub"], asked["outcome"]) == ("zhangsan", "confirmation_asked")
    b.get(stack.bridge_url + "/end_session", params={"id_token_hint": token["id_token"]})
    done = events(stack, event="logout")[-1]
    assert (done["sub"], done["client"], done["outcome"]) == (
        "zhangsan", CONFIDENTIAL[0], "success")
    assert done["by"] == "hint"
    assert done["revoked"] >= 2


def test_audit_lines_only_in_the_audit_log_and_app_log_at_warning(stack):
    app_log = (stack.workdir / "bridge.log").read_text(encoding="utf-8")
    assert '"logger": "wecom_oidc.audit"' not in app_log
    ours = [json.loads(line) for line in app_log.splitlines()
            if line.startswith("{") and '"logger": "wecom_oidc' in line]
    assert all(e["level"] != "info" for e in ours), ours


def test_audit_and_app_logs_hold_no_secret(stack):
    """Last: every code, token, cookie and secret the tests above saw."""
    assert len(SEEN) > 20
    for name in ("audit.log", "bridge.log"):
        text = (stack.workdir / name).read_text(encoding="utf-8")
        for secret in SEEN:
            assert secret not in text, (name, secret[:6])
