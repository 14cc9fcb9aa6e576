"""The device grant's verification page in headless Chromium, on the demo stack:
a desktop browser types the code and signs in with WeCom's QR login; a phone in
the WeCom app opens the QR link and approves silently. The device side is
Authlib's OAuth2Session polling the bridge."""

from __future__ import annotations

import re

from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from browser_support import WECOM_MOBILE_UA, no_browser

from wecom_oidc.demo.run import DEVICE_CLIENT_ID

try:
    from playwright.sync_api import expect
except ImportError:
    no_browser("the playwright package is not installed")

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def start_device(stack) -> tuple[OAuth2Session, dict]:
    client = OAuth2Session(DEVICE_CLIENT_ID, scope="openid profile",
                           token_endpoint_auth_method="none")
    meta = client.get(stack.bridge_url + "/.well-known/openid-configuration",
                      withhold_token=True).json()
    r = client.post(meta["device_authorization_endpoint"], withhold_token=True,
                    data={"client_id": DEVICE_CLIENT_ID, "scope": "openid profile"})
    assert r.status_code == 200, r.text
    return client, r.json()


def poll_once(stack, client: OAuth2Session, started: dict) -> dict | str:
    """One poll: the tokens, or the error the bridge answered."""
    try:
        return dict(client.fetch_token(stack.bridge_url + "/token", grant_type=DEVICE_CODE,
                                       device_code=started["device_code"]))
    except OAuthError as e:
        return e.error


def test_device_desktop_types_code_scans_and_approves(stack, new_page, shot):
    client, started = start_device(stack)
    page = new_page()
    page.goto(started["verification_uri"])
    shot(page, "1-enter-code")
    # As people type it: lower case, a space instead of the dash.
    page.fill("#user_code", started["user_code"].lower().replace("-", " "))
    page.press("#user_code", "Enter")
    page.wait_for_url(re.compile(re.escape(stack.emulator_url + "/wwlogin/sso/login")))
    page.click('[data-userid="zhangsan"]')
    expect(page.locator("#confirm")).to_be_visible()
    shot(page, "2-confirm")
    expect(page.locator("#app")).to_have_text("Demo CLI")
    expect(page.locator("#user-code")).to_have_text(started["user_code"])
    expect(page.locator("#person")).to_have_text("张三")
    page.click("#approve")
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "approved")
    shot(page, "3-approved")
    token = poll_once(stack, client, started)
    assert isinstance(token, dict) and token["id_token"], token


def test_device_phone_in_wecom_opens_qr_link_and_denies(stack, new_page, shot):
    client, started = start_device(stack)
    page = new_page(user_agent=WECOM_MOBILE_UA, locale="zh-CN", mobile=True)
    page.context.add_cookies([{"name": "emu_userid", "value": "lisi",
                               "url": stack.emulator_url + "/"}])
    page.goto(started["verification_uri_complete"])  # what the terminal's QR code holds
    expect(page.locator("#confirm")).to_have_text("是否允许此设备登录？")
    shot(page, "1-confirm-zh")
    expect(page.locator("#person")).to_have_text("李四")
    page.click("#deny")
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "denied")
    assert poll_once(stack, client, started) == "access_denied"
