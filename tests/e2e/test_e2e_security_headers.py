"""Security headers through the real server (`serve` + emulator): a strict CSP on
every HTML page, no framing, nosniff, no referrer, and no-store on every response
that carries a code or a token."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from .stack import CONFIDENTIAL, WEB_REDIRECT, browser, scan

COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
          "X-Frame-Options": "DENY"}


def csp(r) -> dict[str, list[str]]:
    policy = r.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def assert_common(r) -> None:
    for name, value in COMMON.items():
        assert r.headers.get(name) == value, (name, r.headers)
    assert csp(r)["frame-ancestors"] == ["'none'"]


def assert_no_store(r) -> None:
    assert r.headers["Cache-Control"] == "no-store", r.headers
    assert r.headers["Pragma"] == "no-cache"


def authorize_url(stack, **extra) -> str:
    return stack.bridge_url + "/authorize?" + urlencode({
        "response_type": "code", "client_id": CONFIDENTIAL[0], "redirect_uri": WEB_REDIRECT,
        "scope": "openid profile offline_access", "state": "st", **extra})


def code_redirect(stack, b):
    """A QR login; returns the bridge's 302 to the app (the one carrying the code)."""
    r = b.get(scan(stack, b, authorize_url(stack), "zhangsan"), allow_redirects=False)
    assert r.status_code == 302 and "code=" in r.headers["Location"]
    return r


def tokens(stack, b) -> tuple[requests.Response, dict]:
    code = parse_qs(urlsplit(code_redirect(stack, b).headers["Location"]).query)["code"][0]
    r = requests.post(stack.bridge_url + "/token", auth=CONFIDENTIAL, timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": WEB_REDIRECT})
    assert r.status_code == 200, r.text
    return r, r.json()


def test_headers_html_error_page_strict_csp_with_per_response_nonce(stack):
    first = requests.get(stack.bridge_url + "/authorize?client_id=nobody", timeout=5)
    second = requests.get(stack.bridge_url + "/authorize?client_id=nobody", timeout=5)
    assert first.status_code == 400 and first.headers["Content-Type"].startswith("text/html")
    assert_common(first)
    policy = csp(first)
    assert policy["default-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    # Forms end at the bridge, or at WeCom's login page it redirects them to.
    assert policy["form-action"] == ["'self'", stack.emulator_url]
    assert policy["frame-src"] == ["'none'"]
    assert "'unsafe-inline'" not in first.headers["Content-Security-Policy"]
    nonce = policy["style-src"][0]
    assert re.fullmatch(r"'nonce-[A-Za-z0-9_-]{16,}'", nonce)
    assert policy["script-src"] == [nonce]
    assert nonce != csp(second)["style-src"][0]
    # Every inline block of the page carries this response's nonce, no inline handlers.
    blocks = re.findall(r"<(style|script)([^>]*)>", first.text)
    assert blocks
    for _, attrs in blocks:
        assert f'nonce="{nonce[7:-1]}"' in attrs
    assert not re.search(r"\son[a-z]+=|\sstyle=", first.text)


def test_headers_not_found_page_and_json_endpoints(stack):
    page = requests.get(stack.bridge_url + "/no-such-page", timeout=5,
                        headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert_common(page)
    assert_no_store(page)
    meta = requests.get(stack.bridge_url + "/.well-known/openid-configuration", timeout=5)
    assert_common(meta)
    assert csp(meta)["default-src"] == ["'none'"]
    # Public metadata stays cacheable: it carries no credential.
    assert meta.headers["Cache-Control"] == "public, max-age=300"
    assert "Pragma" not in meta.headers


def test_headers_code_redirect_no_store(stack):
    r = code_redirect(stack, browser())
    assert_common(r)
    assert_no_store(r)


def test_headers_session_reuse_code_redirect_no_store(stack):
    b = browser()
    code_redirect(stack, b)
    again = b.get(authorize_url(stack), allow_redirects=False)
    assert again.status_code == 302 and "code=" in again.headers["Location"]
    assert_no_store(again)


def test_headers_token_userinfo_introspect_revoke_no_store(stack):
    r, token = tokens(stack, browser())
    assert_common(r)
    assert_no_store(r)
    bearer = {"Authorization": "Bearer " + token["access_token"]}
    info = requests.get(stack.bridge_url + "/userinfo", headers=bearer, timeout=5)
    assert info.status_code == 200
    assert_no_store(info)
    seen = requests.post(stack.bridge_url + "/introspect", auth=CONFIDENTIAL, timeout=5,
                         data={"token": token["access_token"]})
    assert seen.json()["active"] is True
    assert_no_store(seen)
    gone = requests.post(stack.bridge_url + "/revoke", auth=CONFIDENTIAL, timeout=5,
                         data={"token": token["refresh_token"]})
    assert gone.status_code == 200
    assert_common(gone)
    assert_no_store(gone)


def test_headers_token_error_no_store(stack):
    r = requests.post(stack.bridge_url + "/token", auth=CONFIDENTIAL, timeout=5,
                      data={"grant_type": "authorization_code", "code": "x" * 43,
                            "redirect_uri": WEB_REDIRECT})
    assert r.status_code == 400
    assert_common(r)
    assert_no_store(r)
