"""The device authorization grant (RFC 8628): the endpoint, polling (pending,
slow_down, expired, denied), single-use device codes bound to their client, the
verification page (entry, login, confirm with CSRF, access policy, guess limit),
and refresh tokens born of it."""

from __future__ import annotations

import re

import pytest
from fakes import APP_ID, APP_SECRET, CLI_ID, basic_auth, query

from wecom_oidc.config import DEVICE_CODE
from wecom_oidc.oidc.device import ALPHABET

DEVICE_ID = "tv"
DEVICE_CLIENTS = f"""
[[clients]]
client_id = "{DEVICE_ID}"
name = "Kubernetes CLI"
grant_types = ["{DEVICE_CODE}"]
refresh_tokens = "always"

[[clients]]
client_id = "restricted-tv"
grant_types = ["{DEVICE_CODE}"]
allow_users = ["lisi"]

[[clients]]
client_id = "secret-tv"
client_secret = "secret-tv-0123456789-0123456789a"
grant_types = ["authorization_code", "{DEVICE_CODE}"]
redirect_uris = ["https://tv.example.com/cb"]
"""


# A loopback http issuer, so the test client (plain http) keeps the session cookie.
ISSUER = "http://localhost"


@pytest.fixture
def app(build_app):
    return build_app(issuer=ISSUER, extra=DEVICE_CLIENTS)[0]


def authorize(http, client_id: str = DEVICE_ID, scope: str = "openid profile", **kw) -> dict:
    resp = http.post("/device/code", data={"client_id": client_id, "scope": scope}, **kw)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def poll(http, device_code: str, client_id: str = DEVICE_ID, **kw):
    return http.post("/token", data={"grant_type": DEVICE_CODE, "device_code": device_code,
                                     "client_id": client_id}, **kw)


def sign_in(http, user_code: str, userid: str = "zhangsan"):
    """The verification page without a session: to WeCom and back. Returns the page
    the browser lands on afterwards (the confirmation)."""
    resp = http.get("/device", query_string={"user_code": user_code})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    state = query(resp.headers["Location"])["state"]
    back = http.get("/device/callback", query_string={"state": state, "code": userid})
    assert back.status_code == 303, back.get_data(as_text=True)
    return http.get(back.headers["Location"])


def csrf_of(page) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page.get_data(as_text=True)).group(1)


def approve(http, user_code: str, userid: str = "zhangsan", action: str = "approve"):
    page = sign_in(http, user_code, userid)
    assert page.status_code == 200, page.get_data(as_text=True)
    code = re.search(r'name="user_code" value="([A-Z]+)"', page.get_data(as_text=True)).group(1)
    return http.post("/device", data={"user_code": code, "csrf": csrf_of(page),
                                      "action": action})


# --- the endpoint and discovery ---------------------------------------------------------

def test_device_discovery_advertises_endpoint_and_grant(http):
    d = http.get("/.well-known/openid-configuration").get_json()
    assert d["device_authorization_endpoint"] == f"{ISSUER}/device/code"
    assert DEVICE_CODE in d["grant_types_supported"]


def test_device_discovery_silent_without_device_clients(build_app):
    http = build_app()[0].test_client()
    d = http.get("/.well-known/openid-configuration").get_json()
    assert "device_authorization_endpoint" not in d
    assert DEVICE_CODE not in d["grant_types_supported"]
    assert http.post("/device/code", data={"client_id": CLI_ID}).status_code == 404


def test_device_authorization_response_fields(http):
    resp = http.post("/device/code", data={"client_id": DEVICE_ID, "scope": "openid"})
    body = resp.get_json()
    assert resp.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(f"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", body["user_code"])
    assert body["verification_uri"] == f"{ISSUER}/device"
    assert body["verification_uri_complete"] == (
        f"{ISSUER}/device?user_code={body['user_code']}")
    assert body["expires_in"] == 600 and body["interval"] == 5
    assert len(body["device_code"]) >= 43


def test_device_user_codes_differ(http):
    codes = {authorize(http)["user_code"] for _ in range(20)}
    assert len(codes) == 20


def test_device_client_without_the_grant_unauthorized(http):
    resp = http.post("/device/code", data={"client_id": CLI_ID})
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "unauthorized_client"


def test_device_unknown_client_invalid_client(http):
    resp = http.post("/device/code", data={"client_id": "nobody"})
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_client"


def test_device_confidential_client_must_authenticate(http):
    refused = http.post("/device/code", data={"client_id": "secret-tv"})
    assert refused.get_json()["error"] == "invalid_client"
    ok = http.post("/device/code",
                   headers=basic_auth("secret-tv", "secret-tv-0123456789-0123456789a"))
    assert ok.status_code == 200


def test_device_code_grant_refused_for_code_only_client(http):
    # The app client has only the code grant: a device_code poll is unauthorized.
    resp = http.post("/token", data={"grant_type": DEVICE_CODE, "device_code": "x"},
                     headers=basic_auth(APP_ID, APP_SECRET))
    assert resp.get_json()["error"] == "unauthorized_client"


# --- polling --------------------------------------------------------------------------

def test_device_poll_pending_then_slow_down_when_too_fast(http, clock):
    dc = authorize(http)["device_code"]
    first = poll(http, dc)
    assert first.status_code == 400 and first.get_json()["error"] == "authorization_pending"
    assert first.headers["Cache-Control"] == "no-store"
    assert poll(http, dc).get_json()["error"] == "slow_down"


def test_device_poll_interval_honoured_and_grows_after_slow_down(http, clock):
    dc = authorize(http)["device_code"]
    poll(http, dc)
    clock.advance(5)
    assert poll(http, dc).get_json()["error"] == "authorization_pending"
    clock.advance(2)
    assert poll(http, dc).get_json()["error"] == "slow_down"
    clock.advance(10)  # the interval is now 10 s
    assert poll(http, dc).get_json()["error"] == "authorization_pending"
    clock.advance(6)
    assert poll(http, dc).get_json()["error"] == "slow_down"


def test_device_poll_after_expiry_expired_token(http, clock):
    dc = authorize(http)["device_code"]
    clock.advance(601)
    assert poll(http, dc).get_json()["error"] == "expired_token"


def test_device_poll_unknown_code_invalid_grant(http):
    assert poll(http, "not-a-device-code").get_json()["error"] == "invalid_grant"


def test_device_code_bound_to_its_client(http):
    dc = authorize(http)["device_code"]
    resp = poll(http, dc, client_id="restricted-tv")
    assert resp.get_json()["error"] == "unauthorized_client"


def test_device_approved_issues_tokens_once(http, clock):
    started = authorize(http, scope="openid profile offline_access")
    assert approve(http, started["user_code"]).status_code == 200
    resp = poll(http, started["device_code"])
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["access_token"] and body["id_token"] and body["refresh_token"]
    assert body["scope"] == "openid profile offline_access"
    again = poll(http, started["device_code"])
    assert again.get_json()["error"] == "invalid_grant"


def test_device_code_replay_revokes_its_tokens(http):
    started = authorize(http, scope="openid offline_access")
    approve(http, started["user_code"])
    tokens = poll(http, started["device_code"]).get_json()
    poll(http, started["device_code"])  # the device code again: it leaked
    info = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401
    refreshed = http.post("/token", data={"grant_type": "refresh_token", "client_id": DEVICE_ID,
                                          "refresh_token": tokens["refresh_token"]})
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_device_denied_access_denied(http):
    started = authorize(http)
    done = approve(http, started["user_code"], action="deny")
    assert 'data-outcome="denied"' in done.get_data(as_text=True)
    assert poll(http, started["device_code"]).get_json()["error"] == "access_denied"


def test_device_id_token_names_person_and_client(http, app):
    started = authorize(http)
    approve(http, started["user_code"], userid="lisi")
    body = poll(http, started["device_code"]).get_json()
    provider = app.extensions["wecom_oidc"]
    claims = provider.jwts.decode(body["id_token"])
    assert claims["sub"] == "lisi" and claims["aud"] == DEVICE_ID
    assert claims["name"] == "李四" and claims["sid"]


def test_device_refresh_rotates_and_replay_revokes(http):
    started = authorize(http)
    approve(http, started["user_code"])
    tokens = poll(http, started["device_code"]).get_json()

    def refresh(rt: str):
        return http.post("/token", data={"grant_type": "refresh_token", "client_id": DEVICE_ID,
                                         "refresh_token": rt})

    second = refresh(tokens["refresh_token"]).get_json()
    assert second["refresh_token"] != tokens["refresh_token"] and second["id_token"]
    assert refresh(tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert refresh(second["refresh_token"]).get_json()["error"] == "invalid_grant"


# --- the verification page ------------------------------------------------------------

def test_device_page_entry_form_bilingual(http):
    zh = http.get("/device", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    en = http.get("/device", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "请输入设备上显示的验证码" in zh and 'name="user_code"' in zh
    assert "Enter the code shown on your device" in en


def test_device_page_typed_code_normalised(http):
    code = authorize(http)["user_code"]
    typed = " " + code.replace("-", "").lower()[:4] + " " + code.lower()[5:] + " "
    resp = http.get("/device", query_string={"user_code": typed})
    assert resp.status_code == 302  # found: off to the WeCom login


def test_device_page_unknown_code_says_so(http):
    resp = http.get("/device", query_string={"user_code": "BCDF-GHJK"},
                    headers={"Accept-Language": "en"})
    assert resp.status_code == 400
    assert 'data-error="unknown_code"' in resp.get_data(as_text=True)


def test_device_page_wrong_guesses_rate_limited(http):
    code = authorize(http)["user_code"]
    for _ in range(10):
        http.get("/device", query_string={"user_code": "BCDF-GHJK"})
    blocked = http.get("/device", query_string={"user_code": code})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert 'data-error="too_many"' in blocked.get_data(as_text=True)


def test_device_page_guess_limit_can_be_configured_off(build_app):
    http = build_app(issuer=ISSUER, extra='[limits]\ndevice_user_code_per_ip = "off"\n'
                     + DEVICE_CLIENTS)[0].test_client()
    for _ in range(12):
        http.get("/device", query_string={"user_code": "BCDF-GHJK"})
    code = authorize(http)["user_code"]
    assert http.get("/device", query_string={"user_code": code}).status_code == 302


def test_device_page_guess_limit_ends_after_window(http, clock):
    code = authorize(http)["user_code"]
    for _ in range(10):
        http.get("/device", query_string={"user_code": "BCDF-GHJK"})
    clock.advance(601)
    code = authorize(http)["user_code"]
    assert http.get("/device", query_string={"user_code": code}).status_code == 302


def test_device_page_confirm_shows_app_code_and_person(http):
    code = authorize(http)["user_code"]
    page = sign_in(http, code).get_data(as_text=True)
    assert "Kubernetes CLI" in page and code in page and "张三" in page
    assert 'value="approve"' in page and 'value="deny"' in page


def test_device_page_not_framable(http):
    code = authorize(http)["user_code"]
    page = sign_in(http, code)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_device_page_with_session_skips_wecom(http):
    first = authorize(http)
    approve(http, first["user_code"])
    second = authorize(http)["user_code"]
    page = http.get("/device", query_string={"user_code": second})
    assert page.status_code == 200 and 'id="confirm"' in page.get_data(as_text=True)


def test_device_page_forged_decision_refused(http):
    started = authorize(http)
    page = sign_in(http, started["user_code"])
    assert page.status_code == 200
    code = started["user_code"].replace("-", "")
    # A cross-site form posts with the victim's cookie but cannot know the token.
    for forged in ({}, {"csrf": "0" * 64}):
        resp = http.post("/device", data={"user_code": code, "action": "approve", **forged})
        assert resp.status_code == 400
    assert poll(http, started["device_code"]).get_json()["error"] == "authorization_pending"


def test_device_page_token_of_one_code_cannot_approve_another(http):
    first, second = authorize(http), authorize(http)
    page = sign_in(http, first["user_code"])
    resp = http.post("/device", data={"user_code": second["user_code"], "csrf": csrf_of(page),
                                      "action": "approve"})
    assert resp.status_code == 400


def test_device_callback_from_another_browser_refused(app):
    victim, attacker = app.test_client(), app.test_client()
    code = authorize(attacker)["user_code"]
    started = attacker.get("/device", query_string={"user_code": code})
    state = query(started.headers["Location"])["state"]
    # The attacker's unfinished login, opened in the victim's browser.
    resp = victim.get("/device/callback", query_string={"state": state, "code": "lisi"})
    assert resp.status_code == 400
    assert not any(c.key == "wecom_oidc_session" for c in victim._cookies.values())


def test_device_policy_denies_person_and_device_learns(http):
    started = authorize(http, client_id="restricted-tv")
    page = sign_in(http, started["user_code"], userid="zhangsan")
    assert page.status_code == 403
    assert 'data-outcome="policy"' in page.get_data(as_text=True)
    resp = poll(http, started["device_code"], client_id="restricted-tv")
    assert resp.get_json()["error"] == "access_denied"


def test_device_policy_allows_listed_person(http):
    started = authorize(http, client_id="restricted-tv")
    assert approve(http, started["user_code"], userid="lisi").status_code == 200
    resp = poll(http, started["device_code"], client_id="restricted-tv")
    assert resp.status_code == 200


def test_device_second_decision_ignored(http):
    started = authorize(http)
    page = sign_in(http, started["user_code"])
    form = {"user_code": started["user_code"], "csrf": csrf_of(page)}
    assert http.post("/device", data={**form, "action": "deny"}).status_code == 200
    # The same confirmation form replayed with Approve: the request is already answered.
    resp = http.post("/device", data={**form, "action": "approve"})
    assert resp.status_code in (400, 409)
    assert poll(http, started["device_code"]).get_json()["error"] == "access_denied"


def test_device_cancelled_login_offers_retry(http):
    code = authorize(http)["user_code"]
    resp = http.get("/device", query_string={"user_code": code})
    state = query(resp.headers["Location"])["state"]
    back = http.get("/device/callback", query_string={"state": state})
    assert back.status_code == 200
    assert 'data-outcome="cancelled"' in back.get_data(as_text=True)


def test_device_tokens_end_with_the_approving_session(http):
    started = authorize(http, scope="openid offline_access")
    approve(http, started["user_code"])
    tokens = poll(http, started["device_code"]).get_json()
    # The browser that approved logs out (no id_token_hint: it confirms on the page).
    page = http.get("/end_session").get_data(as_text=True)
    confirm = re.search(r'name="logout_confirm" value="([^"]+)"', page).group(1)
    http.post("/end_session", data={"logout_confirm": confirm})
    info = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401
    refreshed = http.post("/token", data={"grant_type": "refresh_token", "client_id": DEVICE_ID,
                                          "refresh_token": tokens["refresh_token"]})
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_device_answers_on_the_audit_log_without_codes(http, caplog):
    import logging

    approved, denied = authorize(http), authorize(http)
    with caplog.at_level(logging.INFO, logger="wecom_oidc.audit"):
        approve(http, approved["user_code"])
        page = http.get("/device", query_string={"user_code": denied["user_code"]})
        http.post("/device", data={"user_code": denied["user_code"], "csrf": csrf_of(page),
                                   "action": "deny"})
    lines = [r.getMessage() for r in caplog.records if r.name == "wecom_oidc.audit"]
    assert any("event=device" in x and "outcome=approved" in x and "sub=zhangsan" in x
               and f"client={DEVICE_ID}" in x for x in lines)
    assert any("event=device" in x and "outcome=denied" in x for x in lines)
    assert any("event=login" in x and "flow=device" in x for x in lines)
    for started in (approved, denied):
        for secret in (started["user_code"], started["user_code"].replace("-", ""),
                       started["device_code"]):
            assert not any(secret in x for x in lines)


def test_device_full_login_at_debug_never_logs_codes_or_tokens(http, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    started = authorize(http, scope="openid offline_access")
    poll(http, started["device_code"])
    approve(http, started["user_code"])
    body = poll(http, started["device_code"]).get_json()
    poll(http, started["device_code"])  # the replay logs a warning: still no code in it
    secrets = [started["device_code"], started["user_code"],
               started["user_code"].replace("-", ""), body["access_token"],
               body["refresh_token"], body["id_token"]]
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert not any(s in text for s in secrets), f"{record.name}: {record.msg}"


def test_device_codes_blanked_by_the_log_formatter():
    from wecom_oidc import redact

    assert redact.text("poll device_code=abc123 user_code=BCDF-GHJK") == \
        "poll device_code=*** user_code=***"
