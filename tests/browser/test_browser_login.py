"""The demo's login, clicked through in headless Chromium: the sample app, the
bridge under `wecom-oidc serve` and the WeCom emulator, each on its own loopback port."""

from __future__ import annotations

import re

import pytest
from browser_support import WECOM_MOBILE_UA, no_browser

try:
    from playwright.sync_api import expect
except ImportError:
    no_browser("the playwright package is not installed")

# Members of the emulator's shipped sample directory.
MEMBER = ("zhangsan", "张三")
CONSENTING_MEMBER = ("lisi", "李四")
NON_MEMBER = "outsider"  # WeCom answers with an openid: not in the corp
DISABLED_MEMBER = "disabled"  # also in the directory: departed, zhengshi (not activated),
# wujiu (outside the app's visible range)


def _back_home(page, stack) -> None:
    # The in-app URL ends in #wechat_redirect, and a browser keeps a fragment
    # across redirects whose Location has none (RFC 9110 §10.2.2).
    page.wait_for_url(re.compile(re.escape(stack.app_url + "/") + r"(\?[^#]*)?(#.*)?$"))


def _qr_page(page, stack) -> None:
    """Sample app -> "Sign in with WeCom" -> the bridge -> WeCom's QR login page."""
    page.goto(stack.app_url + "/")
    page.click("#login")
    page.wait_for_url(re.compile(re.escape(stack.emulator_url + "/wwlogin/sso/login") + r"\?"))


def _scan_as(page, userid: str) -> None:
    page.click(f'[data-userid="{userid}"]')


def test_desktop_qr_login_shows_member_claims(stack, new_page, shot):
    page = new_page()
    _qr_page(page, stack)
    shot(page, "1-qr-page")
    _scan_as(page, MEMBER[0])
    _back_home(page, stack)
    shot(page, "2-signed-in")
    expect(page.locator("#userid")).to_have_text(MEMBER[0])
    expect(page.locator("#name")).to_have_text(MEMBER[1])
    claims = page.locator("#id-token-claims")
    expect(claims.locator('tr[data-claim="sub"] td')).to_have_text(MEMBER[0])
    expect(claims.locator('tr[data-claim="iss"] td')).to_have_text(stack.bridge_url)
    expect(claims.locator('tr[data-claim="aud"] td')).to_have_text("demo-app")
    expect(page.locator('#userinfo tr[data-claim="name"] td')).to_have_text(MEMBER[1])


def test_logout_forgets_the_local_session(stack, new_page, shot):
    page = new_page()
    _qr_page(page, stack)
    _scan_as(page, MEMBER[0])
    _back_home(page, stack)
    page.click("#logout")
    _back_home(page, stack)
    shot(page, "signed-out")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#userid")).to_have_count(0)
    # The bridge's session ended too (RP-initiated logout): signing in again goes
    # back to WeCom instead of straight back in.
    _qr_page(page, stack)


def _in_app_page(stack, new_page, userid: str):
    """A phone inside the WeCom app, signed in as `userid`."""
    page = new_page(user_agent=WECOM_MOBILE_UA, locale="zh-CN", mobile=True)
    page.context.add_cookies([{"name": "emu_userid", "value": userid,
                               "url": stack.emulator_url + "/"}])
    page.goto(stack.app_url + "/")
    return page


def _consent_page(page, stack) -> None:
    page.wait_for_url(re.compile(re.escape(stack.emulator_url + "/connect/oauth2/authorize")))


def test_in_app_login_with_email_consent_shows_member_claims(stack, new_page, shot):
    page = _in_app_page(stack, new_page, CONSENTING_MEMBER[0])
    shot(page, "1-home")
    page.click("#login")  # asks for email: snsapi_privateinfo, so WeCom asks for consent
    _consent_page(page, stack)
    shot(page, "2-consent")
    page.click("#allow")
    _back_home(page, stack)
    shot(page, "3-signed-in")
    expect(page.locator("#userid")).to_have_text(CONSENTING_MEMBER[0])
    expect(page.locator("#name")).to_have_text(CONSENTING_MEMBER[1])
    expect(page.locator('#userinfo tr[data-claim="email"] td')).to_contain_text("@")


def test_in_app_consent_denied_returns_access_denied(stack, new_page, shot):
    page = _in_app_page(stack, new_page, CONSENTING_MEMBER[0])
    page.click("#login")
    _consent_page(page, stack)
    page.click("#deny")
    page.wait_for_url(re.compile(re.escape(stack.app_url + "/callback")))
    shot(page, "denied")
    expect(page.locator("#error")).to_have_text("access_denied")


def test_in_app_profile_only_login_is_silent(stack, new_page, shot):
    page = _in_app_page(stack, new_page, MEMBER[0])
    page.click("#login-basic")  # snsapi_base: no consent page at all
    _back_home(page, stack)
    shot(page, "signed-in")
    expect(page.locator("#userid")).to_have_text(MEMBER[0])
    expect(page.locator('#userinfo tr[data-claim="email"]')).to_have_count(0)


def test_non_member_gets_refusal_page(stack, new_page, shot):
    page = new_page()
    _qr_page(page, stack)
    _scan_as(page, NON_MEMBER)
    page.wait_for_url(re.compile(re.escape(stack.bridge_url + "/wecom/callback")))
    shot(page, "refused")
    expect(page.locator("h1")).to_have_text("You cannot sign in")
    expect(page.locator("#message")).to_contain_text("not a member of this company")


@pytest.mark.parametrize(("userid", "reason"), [
    (DISABLED_MEMBER, "disabled"),
    ("departed", "left this company"),
    ("zhengshi", "not been activated"),
    ("wujiu", "may not use this app"),  # outside the app's visible range (可见范围)
])
def test_member_who_may_not_sign_in_gets_refusal_page(stack, new_page, shot, userid, reason):
    page = new_page()
    _qr_page(page, stack)
    _scan_as(page, userid)
    page.wait_for_url(re.compile(re.escape(stack.bridge_url + "/wecom/callback")))
    shot(page, "refused")
    expect(page.locator("h1")).to_have_text("You cannot sign in")
    expect(page.locator("#message")).to_contain_text(reason)


def test_refusal_page_is_chinese_for_a_chinese_browser(stack, new_page, shot):
    page = new_page(locale="zh-CN")
    _qr_page(page, stack)
    _scan_as(page, DISABLED_MEMBER)
    page.wait_for_url(re.compile(re.escape(stack.bridge_url + "/wecom/callback")))
    shot(page, "refused-zh")
    expect(page.locator("h1")).to_have_text("无法登录")
