"""The logout confirmation page in headless Chromium, under the bridge's strict CSP:
its nonce'd style applies, nothing is blocked, and pressing "Sign out" ends the
session and lands on the app's post_logout_redirect_uri (CSP form-action allows
the redirect after the POST)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from browser_support import no_browser

try:
    from playwright.sync_api import expect
except ImportError:
    no_browser("the playwright package is not installed")

from wecom_oidc.demo.run import CLIENT_ID


def _signed_in(page, stack) -> None:
    page.goto(stack.app_url + "/")
    page.click("#login")
    page.wait_for_url(re.compile(re.escape(stack.emulator_url + "/wwlogin/sso/login") + r"\?"))
    page.click('[data-userid="zhangsan"]')
    page.wait_for_url(re.compile(re.escape(stack.app_url + "/") + r"(\?[^#]*)?$"))
    expect(page.locator("#userid")).to_have_text("zhangsan")


def test_logout_confirmation_page_styled_under_csp_and_signs_out(stack, new_page, shot):
    page = new_page()
    violations: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(
        m.text))
    _signed_in(page, stack)
    page.goto(stack.bridge_url + "/end_session?" + urlencode({
        "client_id": CLIENT_ID, "post_logout_redirect_uri": stack.app_url + "/",
        "state": "bye"}))
    expect(page.locator("#confirm-logout")).to_have_text("Sign out?")
    # The <style> block carries the response's nonce, so the button is styled.
    expect(page.locator("#confirm")).to_have_css("background-color", "rgb(0, 130, 239)")
    shot(page, "confirm")
    page.click("#confirm")
    page.wait_for_url(stack.app_url + "/?state=bye")
    assert violations == []
    # The bridge session is gone: its cookie was cleared, and the bridge no longer
    # knows this browser (a second end_session has nothing to confirm).
    assert "wecom_oidc_session" not in {c["name"] for c in page.context.cookies()}
    page.goto(stack.bridge_url + "/end_session")
    expect(page.locator("#logged-out")).to_be_visible()


def test_logout_confirmation_cross_site_link_keeps_session(stack, new_page):
    """The attack in a real browser: a page on another origin links to end_session
    (no hint); following it shows the question, and the session survives."""
    page = new_page()
    _signed_in(page, stack)
    page.goto(stack.emulator_url + "/")  # any other origin
    page.evaluate("url => { const a = document.createElement('a'); a.href = url; "
                  "a.id = 'evil'; a.textContent = 'x'; document.body.appendChild(a); }",
                  stack.bridge_url + "/end_session")
    page.click("#evil")
    expect(page.locator("#confirm-logout")).to_be_visible()
    assert "wecom_oidc_session" in {c["name"] for c in page.context.cookies()}
