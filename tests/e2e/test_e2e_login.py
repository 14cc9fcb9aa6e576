"""Whole logins through sockets: the bridge under `serve`, WeCom emulator, Authlib client."""

from __future__ import annotations

import requests

from .stack import WEB_REDIRECT, RelyingParty, browser, inapp_login, qr_login, scan


def test_login_qr_confidential_client_gets_validated_tokens_and_userinfo(stack):
    rp = RelyingParty(stack)
    started = rp.start()
    back = qr_login(stack, started["url"], "zhangsan")
    assert back.startswith(WEB_REDIRECT + "?")
    token, claims, userinfo = rp.finish(back, started)
    assert token["token_type"].lower() == "bearer"
    assert claims["sub"] == "zhangsan"
    assert claims["aud"] == "webapp"
    assert claims["nonce"] == started["nonce"]
    assert isinstance(claims["auth_time"], int)
    assert userinfo["sub"] == "zhangsan"
    assert userinfo["preferred_username"] == "zhangsan"
    assert userinfo["name"]


def test_login_qr_public_client_with_pkce_succeeds(stack):
    rp = RelyingParty(stack, public=True, scope="openid profile")
    started = rp.start()
    assert started.get("code_verifier")
    back = qr_login(stack, started["url"], "zhangsan")
    _, claims, userinfo = rp.finish(back, started)
    assert claims["aud"] == "cli"
    assert "email" not in userinfo  # the email scope was not granted


def test_login_inapp_base_scope_is_silent_and_uses_no_ticket(stack):
    rp = RelyingParty(stack, scope="openid profile")
    started = rp.start()
    back = inapp_login(stack, started["url"], "zhangsan")
    _, claims, _ = rp.finish(back, started)
    assert claims["sub"] == "zhangsan"
    assert stack.calls("auth/getuserdetail") == 0


def test_login_inapp_callback_leaves_wechat_redirect_fragment_behind(stack):
    """WeCom's in-app URL ends in #wechat_redirect and browsers keep a fragment across
    redirects: the bridge moves on from its callback with a page and a Refresh header
    (a new navigation, no fragment) carrying the session cookie, never a redirect."""
    from urllib.parse import urlsplit

    from .stack import WECOM_UA

    rp = RelyingParty(stack, scope="openid profile")
    started = rp.start()
    b = browser(WECOM_UA)
    b.cookies.set("emu_userid", "zhangsan")
    wecom = b.get(started["url"], allow_redirects=False).headers["Location"]
    assert wecom.endswith("#wechat_redirect")
    callback = b.get(wecom.split("#")[0], allow_redirects=False).headers["Location"]
    page = b.get(callback, allow_redirects=False)
    assert page.status_code == 200 and "Location" not in page.headers
    assert "wecom_oidc_session" in page.headers["Set-Cookie"]
    target = page.headers["Refresh"].partition("; url=")[2]
    assert urlsplit(target).fragment == ""
    assert target.startswith(WEB_REDIRECT + "?code=")
    _, claims, _ = rp.finish(target, started)
    assert claims["sub"] == "zhangsan"


def test_login_inapp_email_scope_asks_consent_and_reads_user_detail(stack):
    rp = RelyingParty(stack, public=True, scope="openid profile email phone")
    started = rp.start()
    back = inapp_login(stack, started["url"], "zhangsan")
    _, claims, userinfo = rp.finish(back, started)
    assert stack.calls("auth/getuserdetail") == 1
    # The emulated app is post-2022: only the consented detail carries email/mobile.
    assert userinfo["email"] != "zhangsan@corp.example"
    assert "phone_number" in userinfo


def test_login_gettoken_is_cached_across_logins_and_workers(stack):
    for _ in range(4):
        rp = RelyingParty(stack)
        started = rp.start()
        rp.finish(qr_login(stack, started["url"], "zhangsan"), started)
    assert stack.calls("gettoken") <= 1


def _refusal(stack, userid: str, lang: str = ""):
    """Log `userid` in on the QR page; the bridge's answer at the callback."""
    b = browser()
    if lang:
        b.headers["Accept-Language"] = lang
    callback = scan(stack, b, RelyingParty(stack).start()["url"], userid)
    return b.get(callback, allow_redirects=False)


def test_login_nonmember_gets_refusal_page_not_a_code(stack):
    page = _refusal(stack, "outsider")  # a non-member in the sample directory
    assert page.status_code == 403
    assert "Location" not in page.headers
    assert "access_denied" in page.text  # the back link tells the app


def test_login_disabled_member_refused(stack):
    page = _refusal(stack, "disabled")  # status 2 in the sample directory
    assert page.status_code == 403
    assert "禁用" in page.text  # no Accept-Language: Chinese, the default


def test_callback_replayed_state_refused(stack):
    b = browser()
    callback = scan(stack, b, RelyingParty(stack).start()["url"], "zhangsan")
    assert b.get(callback, allow_redirects=False).status_code == 302
    again = b.get(callback, allow_redirects=False)
    assert again.status_code == 400
    assert "Location" not in again.headers


def test_discovery_served_by_serve_matches_issuer(stack):
    meta = requests.get(stack.bridge_url + "/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == stack.bridge_url
    assert meta["token_endpoint"] == stack.bridge_url + "/token"


def test_login_refusal_page_speaks_the_browsers_language(stack):
    for lang, expected in (("zh-CN,zh;q=0.9", "已在本企业通讯录中被禁用"),
                           ("en-US,en;q=0.9", "is disabled in this company")):
        page = _refusal(stack, "disabled", lang)
        assert page.status_code == 403
        assert expected in page.text
