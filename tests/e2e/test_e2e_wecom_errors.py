"""WeCom failing mid-login, through sockets: the person sees what happened and the
admin what to fix; nothing is half-written, and the next login works."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from .stack import CONFIDENTIAL, RelyingParty, browser, qr_login, scan


def _to_callback(stack, userid: str = "zhangsan") -> tuple[object, str]:
    """Start a login and scan: returns the browser and the bridge callback URL."""
    b = browser()
    return b, scan(stack, b, RelyingParty(stack).start()["url"], userid)


@pytest.mark.parametrize("errcode, status, hint_word", [
    (40029, 400, "login"),       # code already used / expired at WeCom
    (60020, 502, "127.0.0.1"),   # egress IP not trusted: the hint names the IP to add
    (45009, 503, "checkCorpSpamBlock"),  # rate limited: where to lift the block
])
def test_callback_wecom_errcode_shows_page_with_errcode_and_hint(stack, errcode, status,
                                                                 hint_word):
    b, callback = _to_callback(stack)
    stack.emu("POST", "faults", api="auth/getuserinfo", errcode=errcode, count=1)
    page = b.get(callback, allow_redirects=False)
    assert page.status_code == status
    assert "Location" not in page.headers
    assert f'<code id="errcode">{errcode}</code>' in page.text
    assert hint_word.lower() in page.text.lower()
    # The code exchange is never re-sent on these errcodes.
    assert stack.calls("auth/getuserinfo") == 1
    # Nothing half-written: the login state is spent, and a new login works.
    assert b.get(callback, allow_redirects=False).status_code == 400
    if errcode == 45009:
        time.sleep(2.1)  # the bridge-wide back-off after a 45009 (test_e2e_backpressure)
    rp = RelyingParty(stack)
    started = rp.start()
    _, claims, _ = rp.finish(qr_login(stack, started["url"], "zhangsan"), started)
    assert claims["sub"] == "zhangsan"


def test_callback_wecom_error_is_json_for_programs(stack):
    b, callback = _to_callback(stack)
    stack.emu("POST", "faults", api="auth/getuserinfo", errcode=60020, count=1)
    r = b.get(callback, headers={"Accept": "application/json"}, allow_redirects=False)
    assert r.status_code == 502
    body = r.json()
    assert body["errcode"] == 60020
    assert "127.0.0.1" in body["hint"]


def test_callback_wecom_busy_is_retried_and_login_succeeds(stack):
    b, callback = _to_callback(stack)
    stack.emu("POST", "faults", api="user/get", errcode=-1, count=2)
    r = b.get(callback, allow_redirects=False)
    assert r.status_code == 302
    assert "code=" in r.headers["Location"]
    assert stack.calls("user/get") == 3


def test_callback_tokens_revoked_at_wecom_are_refetched_once(stack):
    b, callback = _to_callback(stack)
    stack.emu("POST", "expire-tokens")
    r = b.get(callback, allow_redirects=False)
    assert r.status_code == 302
    assert "code=" in r.headers["Location"]


def test_token_reused_code_refused_and_first_tokens_revoked(stack):
    import requests

    rp = RelyingParty(stack)
    started = rp.start()
    back = qr_login(stack, started["url"], "zhangsan")
    token, _, _ = rp.finish(back, started)
    code = parse_qs(urlsplit(back).query)["code"][0]
    again = requests.post(stack.bridge_url + "/token", auth=CONFIDENTIAL,
                          data={"grant_type": "authorization_code", "code": code,
                                "redirect_uri": "https://rp.example/callback",
                                "code_verifier": started["code_verifier"]}, timeout=5)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    info = requests.get(stack.bridge_url + "/userinfo", timeout=5,
                        headers={"Authorization": "Bearer " + token["access_token"]})
    assert info.status_code == 401
    assert 'error="invalid_token"' in info.headers["WWW-Authenticate"]
