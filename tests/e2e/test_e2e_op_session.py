"""The bridge's own login session, end to end: a requests.Session is the browser
(its cookie jar carries the bridge session), Authlib's client the apps, the WeCom
emulator the upstream, the bridge under `serve`."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from .stack import (
    WEB_REDIRECT,
    RelyingParty,
    StackClock,
    browser,
    qr_login,
    start_live_stack,
    start_stack,
)

APP2 = ("app2", "app2-secret-0123456789-012345678", "https://app2.example/callback")
COOKIE = "op_session"
LIFETIME = 3600

EXTRA = f"""
[session]
cookie_name = "{COOKIE}"
lifetime = {LIFETIME}

[[clients]]
client_id = "{APP2[0]}"
client_secret = "{APP2[1]}"
redirect_uris = ["{APP2[2]}"]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("op-session"), extra_config=EXTRA)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def clock():
    return StackClock()


@pytest.fixture(scope="module")
def live(tmp_path_factory, clock):
    """The same bridge in this process with a clock the test moves (no sleeping)."""
    s = start_live_stack(tmp_path_factory.mktemp("op-session-live"), clock, EXTRA)
    yield s
    s.stop()


def app2(stack, **kwargs) -> RelyingParty:
    return RelyingParty(stack, client_id=APP2[0], client_secret=APP2[1],
                        redirect_uri=APP2[2], **kwargs)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def signed_in(stack, userid: str = "zhangsan"):
    """A browser with a bridge session for `userid`, and the first app's ID token."""
    b = browser()
    rp = RelyingParty(stack)
    started = rp.start()
    token, claims, _ = rp.finish(qr_login(stack, started["url"], userid, b=b), started)
    return b, token, claims


def authorize(b, url: str):
    """One authorization request from the browser, not following the redirect."""
    r = b.get(url, allow_redirects=False)
    assert r.status_code == 302, r.text[:500]
    return r.headers["Location"]


def goes_to_wecom(location: str) -> bool:
    return urlsplit(location).path in ("/wwlogin/sso/login", "/connect/oauth2/authorize")


def test_session_second_app_same_browser_skips_wecom(stack):
    b, _, first = signed_in(stack)
    exchanges, pages = stack.calls("auth/getuserinfo"), stack.calls("wwlogin/sso/login")
    rp = app2(stack)
    started = rp.start()
    back = authorize(b, started["url"])
    assert back.startswith(APP2[2] + "?")
    _, claims, _ = rp.finish(back, started)
    assert claims["sub"] == first["sub"] == "zhangsan"
    assert claims["aud"] == APP2[0]
    assert claims["sid"] == first["sid"]
    assert claims["auth_time"] == first["auth_time"]
    assert stack.calls("auth/getuserinfo") == exchanges
    assert stack.calls("wwlogin/sso/login") == pages


def test_session_prompt_none_with_session_returns_code_same_sub(stack):
    b, _, first = signed_in(stack)
    rp = RelyingParty(stack)
    started = rp.start(prompt="none")
    _, claims, _ = rp.finish(authorize(b, started["url"]), started)
    assert claims["sub"] == first["sub"]


def test_session_prompt_none_without_session_redirects_login_required(stack):
    rp = RelyingParty(stack)
    started = rp.start(prompt="none")
    back = authorize(browser(), started["url"])
    assert back.startswith(WEB_REDIRECT + "?")
    q = query(back)
    assert q["error"] == "login_required"
    assert q["state"] == started["state"]
    assert q["iss"] == stack.bridge_url
    assert "code" not in q
    assert stack.calls("wwlogin/sso/login") == 0


def test_session_prompt_login_goes_to_wecom_and_auth_time_increases(live, clock):
    b, _, first = signed_in(live)
    clock.advance(5)
    rp = RelyingParty(live)
    started = rp.start(prompt="login")
    assert goes_to_wecom(authorize(b, started["url"]))
    _, claims, _ = rp.finish(qr_login(live, started["url"], "zhangsan", b=b), started)
    assert claims["sub"] == first["sub"]
    assert claims["auth_time"] > first["auth_time"]


def test_session_max_age_exceeded_forces_wecom_and_auth_time_moves(live, clock):
    b, _, first = signed_in(live)
    clock.advance(5)
    rp = RelyingParty(live)
    started = rp.start(max_age="4")
    assert goes_to_wecom(authorize(b, started["url"]))
    _, claims, _ = rp.finish(qr_login(live, started["url"], "zhangsan", b=b), started)
    assert claims["auth_time"] > first["auth_time"]


def test_session_max_age_within_reuses_session_same_auth_time(stack):
    b, _, first = signed_in(stack)
    pages = stack.calls("wwlogin/sso/login")
    rp = RelyingParty(stack)
    started = rp.start(max_age="10000")
    _, claims, _ = rp.finish(authorize(b, started["url"]), started)
    assert claims["auth_time"] == first["auth_time"]
    assert stack.calls("wwlogin/sso/login") == pages


def test_session_prompt_none_with_id_token_hint_same_user_succeeds(stack):
    b, token, first = signed_in(stack)
    rp = RelyingParty(stack)
    started = rp.start(prompt="none", id_token_hint=token["id_token"])
    _, claims, _ = rp.finish(authorize(b, started["url"]), started)
    assert claims["sub"] == first["sub"]


def test_session_prompt_none_with_id_token_hint_other_user_login_required(stack):
    _, lisi_token, lisi = signed_in(stack, "lisi")
    b, _, _ = signed_in(stack, "zhangsan")
    assert lisi["sub"] == "lisi"
    rp = RelyingParty(stack)
    started = rp.start(prompt="none", id_token_hint=lisi_token["id_token"])
    q = query(authorize(b, started["url"]))
    assert q["error"] == "login_required"
    assert q["state"] == started["state"]


def test_session_id_token_hint_other_user_without_prompt_goes_to_wecom(stack):
    _, lisi_token, _ = signed_in(stack, "lisi")
    b, _, _ = signed_in(stack, "zhangsan")
    rp = RelyingParty(stack)
    started = rp.start(id_token_hint=lisi_token["id_token"])
    assert goes_to_wecom(authorize(b, started["url"]))


@pytest.mark.parametrize("params", [
    {"login_hint": "zhangsan"},
    {"ui_locales": "en-US zh-CN"},
    {"claims_locales": "en"},
    {"display": "popup"},
    {"display": "page"},
    {"acr_values": "urn:mace:incommon:iap:silver"},
    {"claims": json.dumps({"id_token": {"name": {"essential": True}},
                           "userinfo": {"email": None}})},
    {"frobnicate": "yes", "x-vendor-thing": "1"},
], ids=["login_hint", "ui_locales", "claims_locales", "display_popup", "display_page",
        "acr_values", "claims", "unknown"])
def test_session_optional_parameters_accepted_login_succeeds(stack, params):
    rp = RelyingParty(stack)
    started = rp.start(**params)
    _, claims, _ = rp.finish(qr_login(stack, started["url"], "zhangsan"), started)
    assert claims["sub"] == "zhangsan"


@pytest.mark.parametrize("params", [
    {"login_hint": "zhangsan"}, {"display": "popup"}, {"acr_values": "1"},
    {"claims": json.dumps({"id_token": {"name": {"essential": True}}})},
    {"frobnicate": "yes"},
], ids=["login_hint", "display", "acr_values", "claims", "unknown"])
def test_session_optional_parameters_with_session_code_straight_back(stack, params):
    b, _, _ = signed_in(stack)
    rp = RelyingParty(stack)
    started = rp.start(prompt="none", **params)
    _, claims, _ = rp.finish(authorize(b, started["url"]), started)
    assert claims["sub"] == "zhangsan"


@pytest.mark.parametrize("param, error", [
    ("request", "request_not_supported"),
    ("request_uri", "request_uri_not_supported"),
])
def test_session_request_objects_answered_not_supported(stack, param, error):
    rp = RelyingParty(stack)
    started = rp.start()
    value = ("eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9." if param == "request"
             else "https://rp.example/request.jwt")
    back = authorize(browser(), started["url"] + "&" + urlencode({param: value}))
    assert back.startswith(WEB_REDIRECT + "?")
    q = query(back)
    assert q["error"] == error
    assert q["state"] == started["state"]
    assert q["iss"] == stack.bridge_url


def test_session_authorize_post_with_session_returns_code(stack):
    b, _, _ = signed_in(stack)
    rp = RelyingParty(stack)
    started = rp.start()
    endpoint, _, qs = started["url"].partition("?")
    r = b.post(endpoint, data=query("?" + qs), allow_redirects=False)
    assert r.status_code == 302
    _, claims, _ = rp.finish(r.headers["Location"], started)
    assert claims["sub"] == "zhangsan"


def _set_cookie_after_login(stack, issuer: str) -> str:
    """Log in by QR from a fresh browser; the bridge callback's Set-Cookie header.
    The issuer may be https in front of the plain-http server: URLs are mapped back."""
    def local(url: str) -> str:
        return url.replace(issuer, stack.bridge_url, 1) if url.startswith(issuer) else url

    b = browser()
    started = RelyingParty(stack).start()
    to_wecom = b.get(local(started["url"]), allow_redirects=False)
    assert to_wecom.status_code == 302, to_wecom.text[:300]
    params = query(to_wecom.headers["Location"])
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": "zhangsan"}), allow_redirects=False)
    assert scanned.status_code == 302
    callback = local(scanned.headers["Location"])
    # A Secure binding cookie is not sent over the plain-http hop to the server; hand it
    # over as the https browser would.
    binding = {c.name: c.value for c in to_wecom.cookies if c.name.endswith("_login")}
    assert binding, to_wecom.headers.get("Set-Cookie")
    if issuer.startswith("https://"):  # host-only, Secure, path /: no subdomain can plant it
        (name,) = binding
        cookie = next(c for c in to_wecom.cookies if c.name == name)
        assert name.startswith("__Host-") and cookie.secure and cookie.path == "/"
        assert not cookie.domain_specified
    r = b.get(callback, allow_redirects=False, cookies=binding)
    assert r.status_code == 302, r.text[:300]
    assert "code=" in r.headers["Location"]
    return r.headers["Set-Cookie"]


def _attrs(set_cookie: str) -> tuple[str, dict[str, str]]:
    parts = [p.strip() for p in set_cookie.split(";")]
    name = parts[0].split("=", 1)[0]
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return name, attrs


def test_session_cookie_http_issuer_httponly_lax_root_path_not_secure(stack):
    name, attrs = _attrs(_set_cookie_after_login(stack, stack.bridge_url))
    assert name == COOKIE
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "lax"
    assert attrs["path"] == "/"
    assert attrs["max-age"] == str(LIFETIME)
    assert "secure" not in attrs


def test_session_cookie_https_issuer_secure_and_scoped_to_issuer_path(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("op-https"), workers=1, issuer_scheme="https",
                    issuer_path="/oidc")
    try:
        name, attrs = _attrs(_set_cookie_after_login(s, s.issuer))
    finally:
        s.stop()
    assert name == "wecom_oidc_session"
    assert "secure" in attrs
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "lax"
    assert attrs["path"] == "/oidc"


def test_session_prompt_none_max_age_exceeded_login_required(live, clock):
    b, _, _ = signed_in(live)
    clock.advance(5)
    rp = RelyingParty(live)
    started = rp.start(prompt="none", max_age="4")
    q = query(authorize(b, started["url"]))
    assert q["error"] == "login_required"
    assert q["state"] == started["state"]
