"""A single-page app on oidc-client-ts (npm, pinned by spa/package-lock.json; `make spa`
installs it) signs in through the bridge in headless Chromium: a public client with
PKCE on its own loopback origin, so every call it makes to the token, userinfo and
revocation endpoints is a cross-origin fetch that only CORS lets through. It scans the
emulator's QR page, refreshes its token and signs out. A page on a foreign origin gets
no CORS grant.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from browser_support import IN_CI
from e2e.stack import Stack, start_stack

try:
    from playwright.sync_api import expect
except ImportError:
    from browser_support import no_browser

    no_browser("the playwright package is not installed")

SPA = Path(__file__).resolve().parent / "spa"
LIBRARY = SPA / "node_modules" / "oidc-client-ts" / "dist" / "browser" / "oidc-client-ts.min.js"
CLIENT_ID = "spa"
MEMBER = ("zhangsan", "张三")


def _library_or_skip() -> None:
    if not LIBRARY.exists():
        message = "oidc-client-ts is not installed: run `make spa` (npm ci in tests/browser/spa)"
        if IN_CI:
            pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)",
                        pytrace=False)
        pytest.skip(message)


class StaticSite:
    """A loopback web server: the SPA's files, or (foreign) one empty page."""

    def __init__(self, config_js: str = "", foreign: bool = False):
        files = {} if foreign else {
            "/": (SPA / "index.html", "text/html"),
            "/callback": (SPA / "index.html", "text/html"),
            "/app.js": (SPA / "app.js", "text/javascript"),
            "/oidc-client-ts.min.js": (LIBRARY, "text/javascript"),
        }
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?")[0]
                if path == "/config.js" and not foreign:
                    body, kind = site.config_js.encode(), "text/javascript"
                elif path in files:
                    body, kind = files[path][0].read_bytes(), files[path][1]
                elif foreign and path == "/":
                    body, kind = b"<!doctype html><title>elsewhere</title>", "text/html"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind + "; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.config_js = config_js
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def spa_stack(tmp_path_factory) -> Iterator[tuple[Stack, StaticSite, StaticSite]]:
    _library_or_skip()
    spa, foreign = StaticSite(), StaticSite(foreign=True)
    extra = f"""
[[clients]]
client_id = "{CLIENT_ID}"
name = "Single-page app"
redirect_uris = ["{spa.url}/callback"]
post_logout_redirect_uris = ["{spa.url}/"]
"""
    stack = start_stack(tmp_path_factory.mktemp("spa"), extra_config=extra)
    spa.config_js = "window.SPA_CONFIG = " + json.dumps(
        {"authority": stack.bridge_url, "client_id": CLIENT_ID}) + ";"
    yield stack, spa, foreign
    stack.stop()
    spa.stop()
    foreign.stop()


def stored_user(page, stack: Stack) -> dict:
    raw = page.evaluate("(key) => sessionStorage.getItem(key)",
                        f"oidc.user:{stack.bridge_url}:{CLIENT_ID}")
    return json.loads(raw) if raw else {}


def test_spa_signs_in_refreshes_and_signs_out_through_cors(spa_stack, new_page, shot):
    stack, spa, _ = spa_stack
    page = new_page()
    page.goto(spa.url + "/")
    expect(page.locator("#status")).to_have_text("signed out")
    page.click("#login")
    page.wait_for_url(stack.emulator_url + "/wwlogin/sso/login?**")
    shot(page, "1-qr-page")
    page.click(f'[data-userid="{MEMBER[0]}"]')
    page.wait_for_url(spa.url + "/")
    # The code exchange and userinfo were cross-origin fetches: a CORS refusal fails
    # signinRedirectCallback and the page says "error".
    expect(page.locator("#status")).to_have_text("signed in")
    expect(page.locator("#sub")).to_have_text(MEMBER[0])
    expect(page.locator("#name")).to_have_text(MEMBER[1])
    shot(page, "2-signed-in")
    first = stored_user(page, stack)
    assert first["refresh_token"] and first["access_token"]

    page.click("#refresh")
    expect(page.locator("#status")).to_have_text("refreshed")
    expect(page.locator("#refreshes")).to_have_text("1")
    second = stored_user(page, stack)
    assert second["refresh_token"] != first["refresh_token"]  # rotated
    assert second["access_token"] != first["access_token"]

    page.click("#logout")
    page.wait_for_url(spa.url + "/")
    expect(page.locator("#status")).to_have_text("signed out")
    shot(page, "3-signed-out")
    # Signed out for real: the refresh token no longer works, nor the access token.
    refused = requests.post(stack.bridge_url + "/token", data={
        "grant_type": "refresh_token", "refresh_token": second["refresh_token"],
        "client_id": CLIENT_ID}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert requests.get(stack.bridge_url + "/userinfo", timeout=10, headers={
        "Authorization": "Bearer " + second["access_token"]}).status_code == 401


FETCH = """async ([url, init]) => {
  try { const r = await fetch(url, init); return "read " + r.status; }
  catch (e) { return "blocked"; }
}"""
TOKEN_FETCH = {"method": "POST", "body": f"grant_type=refresh_token&refresh_token=x&client_id="
               f"{CLIENT_ID}", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
USERINFO_FETCH = {"headers": {"Authorization": "Bearer junk"}}


def test_spa_foreign_origin_gets_no_cors_grant(spa_stack, new_page):
    stack, spa, foreign = spa_stack
    page = new_page()
    page.goto(spa.url + "/")
    assert page.evaluate(FETCH, [stack.bridge_url + "/token", TOKEN_FETCH]) == "read 400"
    assert page.evaluate(FETCH, [stack.bridge_url + "/userinfo", USERINFO_FETCH]) == "read 401"
    page.goto(foreign.url + "/")
    for path, init in (("/token", TOKEN_FETCH), ("/userinfo", USERINFO_FETCH),
                       ("/revoke", {**TOKEN_FETCH, "body": "token=x&client_id=spa"})):
        assert page.evaluate(FETCH, [stack.bridge_url + path, init]) == "blocked", path
    # Public metadata stays readable from anywhere.
    assert page.evaluate(FETCH, [stack.bridge_url + "/.well-known/openid-configuration",
                                 {}]) == "read 200"
