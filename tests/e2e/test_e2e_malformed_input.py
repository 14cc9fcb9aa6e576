"""Malformed input that once ended in an HTTP 500 with a traceback in the log, sent
to the real server: each is now a clear invalid_request (or invalid_client), is
never redirected, and leaves no traceback behind."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
import requests

from wecom_oidc.emulator.callbacks import encrypt, envelope, event_xml, sign

from .stack import CONFIDENTIAL, WEB_REDIRECT, RelyingParty, browser, qr_login, start_stack

AUTHORIZE = {"client_id": CONFIDENTIAL[0], "redirect_uri": WEB_REDIRECT,
             "response_type": "code", "scope": "openid", "state": "s"}


def no_traceback(stack) -> None:
    log = (stack.workdir / "bridge.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log


def refused(r: requests.Response, status: int, error: str, name: str = "") -> None:
    """A JSON error for programs; for people a page naming the parameter."""
    assert r.status_code == status, r.text[:300]
    assert "Location" not in r.headers
    if r.headers["Content-Type"].startswith("application/json"):
        assert r.json()["error"] == error
    else:
        assert r.headers["Content-Type"].startswith("text/html")
        assert f"{name} 的格式不正确" in r.text


@pytest.mark.parametrize("name, value", [
    ("response_type", "co\x01de"),               # Authlib: "forbidden characters"
    ("response_type", "cöde"),
    ("redirect_uri", "https://rp.example/cb\x01"),
    ("redirect_uri", 'https://rp.example/"cb'),
    ("redirect_uri", "https://rp.example/回调"),
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_authorize_unprintable_parameter_is_invalid_request(stack, method, name, value):
    params = {**AUTHORIZE, name: value}
    r = requests.request(method, stack.bridge_url + "/authorize", allow_redirects=False,
                         timeout=10, **{"params" if method == "GET" else "data": params})
    refused(r, 400, "invalid_request", name)
    no_traceback(stack)


@pytest.mark.parametrize("credentials", [b"\xff\xfe:\xff", b"webapp:\xe9t\xe9", b"\x80"])
@pytest.mark.parametrize("path, body", [
    ("/token", {"grant_type": "authorization_code", "code": "c", "redirect_uri": WEB_REDIRECT}),
    ("/revoke", {"token": "t"}),
    ("/introspect", {"token": "t"}),
])
def test_basic_credentials_not_utf8_are_invalid_client(stack, path, body, credentials):
    r = requests.post(stack.bridge_url + path, data=body, timeout=10, headers={
        "Authorization": "Basic " + base64.b64encode(credentials).decode()})
    refused(r, 401, "invalid_client")
    no_traceback(stack)


@pytest.mark.parametrize("path, body", [
    ("/token", {"grant_type": "authorization_code", "code": "", "redirect_uri": WEB_REDIRECT}),
    ("/token", {"grant_type": "refresh_token", "refresh_token": ""}),
    ("/revoke", {"token": ""}),
    ("/introspect", {"token": ""}),
])
def test_empty_credential_parameter_counts_as_missing(stack, path, body):
    """RFC 6749 §3.1: a parameter without a value is treated as omitted."""
    r = requests.post(stack.bridge_url + path, data=body, auth=CONFIDENTIAL, timeout=10)
    refused(r, 400, "invalid_request")
    no_traceback(stack)


@pytest.mark.parametrize("max_age", ["²", "١", "-1", "1e3"])
def test_max_age_not_ascii_digits_is_invalid_request(stack, max_age):
    """Only with a bridge session is max_age read at all; "²".isdigit() is True
    but int("²") raises."""
    rp, b = RelyingParty(stack), browser()
    qr_login(stack, rp.start()["url"], "zhangsan", b=b)
    r = b.get(rp.start(max_age=max_age)["url"], allow_redirects=False)
    refused(r, 400, "invalid_request", "max_age")
    # A well-formed max_age still answers from the session.
    ok = b.get(rp.start(max_age="3600")["url"], allow_redirects=False)
    assert ok.status_code == 302 and "code=" in ok.headers["Location"]
    no_traceback(stack)


@pytest.mark.parametrize("method, path", [("GET", "/revoke"), ("GET", "/introspect"),
                                          ("POST", "/readyz"), ("POST", "/revoke")])
def test_program_endpoint_errors_are_json_even_for_a_browser(stack, method, path):
    """Found by the fuzzer: these answered a caller preferring HTML with a page."""
    r = requests.request(method, stack.bridge_url + path, timeout=10,
                         data={"token": "t\x01"} if method == "POST" else None,
                         headers={"Accept": "text/html"})
    assert r.status_code in (400, 405)
    assert r.headers["Content-Type"].startswith("application/json")
    assert isinstance(r.json()["error"], str)


EVENTS_TOKEN, EVENTS_AES_KEY = "MalformedToken7", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(scope="module")
def events_stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("events"), workers=1, extra_config=f"""
[offboarding]
callback_token = "{EVENTS_TOKEN}"
callback_aes_key = "{EVENTS_AES_KEY}"
sweep_interval = 0
""")
    yield s
    s.stop()


@pytest.mark.parametrize("timestamp", ["²", "١٧", "-1"])
def test_wecom_event_timestamp_not_ascii_digits_is_refused(events_stack, timestamp):
    """Found by the fuzzer: a correctly signed event whose timestamp is "²" crashed
    the receiver; it is refused as stale like any timestamp out of the window."""
    corp = "ww_emulated_corp"
    sealed = encrypt(EVENTS_AES_KEY, corp, event_xml(corp, {"Event": "change_contact"}, 0))
    query = urlencode({"msg_signature": sign(EVENTS_TOKEN, timestamp, "1", sealed),
                       "timestamp": timestamp, "nonce": "1"})
    r = requests.post(f"{events_stack.bridge_url}/wecom/events?{query}", timeout=10,
                      data=envelope(corp, 1000002, sealed))
    assert r.status_code == 403 and r.text == "stale"
    no_traceback(events_stack)
