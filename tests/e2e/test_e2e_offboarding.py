"""Offboarding end to end: a member changed in the emulator -> an encrypted callback
(the emulator's own crypto) -> the bridge under `serve` -> back-channel logout at a
loopback receiver, tokens and session gone. And the attacks on the receiver (forged
signature, another corp, replay, stale timestamp, billion laughs) over real sockets.

The elapsed times are printed (run with -s), not asserted: speed is measured, not
tested (docs/offboarding.md has the figures)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from wecom_oidc.emulator.callbacks import encrypt, envelope, event_xml, sign

from .stack import Receiver, browser, qr_login, start_stack
from .test_e2e_op_logout import (
    BACKCHANNEL_EVENT,
    PORTAL,
    SCOPE,
    WIKI,
    WIKI_FRONTCHANNEL,
    goes_to_wecom,
    rp_for,
    userinfo_status,
)

TOKEN = "OffboardToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP = "ww_emulated_corp"


def clients(receiver: Receiver, offboarding: str) -> str:
    return f"""
[[clients]]
client_id = "{PORTAL[0]}"
client_secret = "{PORTAL[1]}"
redirect_uris = ["{PORTAL[2]}"]
backchannel_logout_uri = "{receiver.url}"

[[clients]]
client_id = "{WIKI[0]}"
client_secret = "{WIKI[1]}"
redirect_uris = ["{WIKI[2]}"]
frontchannel_logout_uri = "{WIKI_FRONTCHANNEL}"

[offboarding]
{offboarding}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, receiver):
    s = start_stack(tmp_path_factory.mktemp("offboarding"), extra_config=clients(
        receiver, f'callback_token = "{TOKEN}"\ncallback_aes_key = "{AES_KEY}"\n'
                  "sweep_interval = 0"))
    s.emu("POST", "callback", url=s.bridge_url + "/wecom/events", token=TOKEN,
          aes_key=AES_KEY)
    yield s
    s.stop()


def signed_in(stack, userid: str):
    """`userid` signed in to PORTAL (back-channel) and WIKI (front-channel only) in
    one bridge session; returns the browser and both apps' tokens."""
    b = browser()
    portal = rp_for(stack, PORTAL)
    started = portal.start()
    portal_token, claims, _ = portal.finish(qr_login(stack, started["url"], userid, b=b),
                                            started)
    wiki = rp_for(stack, WIKI)
    started = wiki.start()
    back = b.get(started["url"], allow_redirects=False).headers["Location"]
    wiki_token, _, _ = wiki.finish(back, started)
    return b, portal_token, wiki_token, claims


def wait_logout(stack, receiver: Receiver, sub: str, since: int, timeout: float = 60) -> dict:
    """The claims of the first logout token for `sub` the receiver gets after post
    number `since`, verified with the bridge's JWKS."""
    keys = KeySet.import_key_set(requests.get(stack.bridge_url + "/jwks.json", timeout=5).json())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for post in receiver.posts[since:]:
            try:
                claims = jwt.decode(post["form"]["logout_token"], keys).claims
            except JoseError:  # another stack's logout (the receiver is shared)
                continue
            if claims["sub"] == sub:
                return claims
        time.sleep(0.01)
    raise AssertionError(f"no back-channel logout for {sub} within {timeout} s")


def refresh_refused(stack, client, token) -> bool:
    try:
        rp_for(stack, client).refresh(token["refresh_token"], scope=SCOPE)
    except OAuthError as e:
        return e.error == "invalid_grant"
    return False


def post_event(stack, fields: dict, *, corp: str = CORP, token: str = TOKEN,
               timestamp: int | None = None, body: bytes | None = None) -> requests.Response:
    """What WeCom would POST (or an attacker), built with the emulator's crypto."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    encrypted = encrypt(AES_KEY, corp, event_xml(corp, fields, int(ts)))
    query = urlencode({"msg_signature": sign(token, ts, "123", encrypted), "timestamp": ts,
                       "nonce": "123"})
    return requests.post(f"{stack.bridge_url}/wecom/events?{query}", timeout=10,
                         data=body if body is not None else envelope(corp, 1000002, encrypted))


def test_offboarding_disabled_in_emulator_backchannel_logout_and_everything_revoked(
        stack, receiver, capsys):
    b, portal_token, wiki_token, claims = signed_in(stack, "lisi")
    _, bystander, _, _ = signed_in(stack, "zhouba")
    since = len(receiver.posts)
    started = time.monotonic()
    stack.emu("POST", "members/lisi", status=2)
    logout = wait_logout(stack, receiver, "lisi", since)
    elapsed = time.monotonic() - started
    assert logout["sid"] == claims["sid"] and logout["aud"] == PORTAL[0]
    assert BACKCHANNEL_EVENT in logout["events"]
    assert refresh_refused(stack, PORTAL, portal_token)
    assert refresh_refused(stack, WIKI, wiki_token)  # front-channel only: tokens revoked
    assert userinfo_status(stack, portal_token["access_token"]) == 401
    assert userinfo_status(stack, wiki_token["access_token"]) == 401
    assert goes_to_wecom(stack, b)  # the bridge session is gone
    assert userinfo_status(stack, bystander["access_token"]) == 200
    sent = stack.emu("GET", "callback")["sent"]
    assert any(e["fields"].get("UserID") == "lisi" and e["status"] == 200 for e in sent)
    metrics = requests.get(stack.bridge_url + "/metrics", timeout=5).text
    assert ('wecom_oidc_wecom_callback_events_total{event="change_contact:update_user",'
            'outcome="accepted"}') in metrics
    assert 'wecom_oidc_members_revoked_total{trigger="callback"}' in metrics
    with capsys.disabled():
        print(f"\n[measure] member disabled -> back-channel logout: {elapsed * 1000:.0f} ms")


def test_offboarding_deleted_in_emulator_backchannel_logout(stack, receiver, capsys):
    _, portal_token, _, _ = signed_in(stack, "zhaoliu")
    since = len(receiver.posts)
    started = time.monotonic()
    stack.emu("DELETE", "members/zhaoliu")
    wait_logout(stack, receiver, "zhaoliu", since)
    elapsed = time.monotonic() - started
    assert refresh_refused(stack, PORTAL, portal_token)
    with capsys.disabled():
        print(f"\n[measure] member deleted -> back-channel logout: {elapsed * 1000:.0f} ms")


def test_offboarding_tag_change_rereads_directory(stack):
    signed_in(stack, "wangwu")  # the directory is read at login
    before = stack.calls("tag/list")
    stack.emu("POST", "tags/1", add_users=["wangwu"])
    deadline = time.monotonic() + 30
    while stack.calls("tag/list") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.calls("tag/list") > before


def test_offboarding_url_verification_echoes_plaintext(stack):
    echostr = encrypt(AES_KEY, CORP, b"6372837462348+/=")
    ts = str(int(time.time()))
    # WeCom url-encodes the parameters; '+' in the Base64 echostr must survive.
    query = urlencode({"msg_signature": sign(TOKEN, ts, "9", echostr), "timestamp": ts,
                       "nonce": "9", "echostr": echostr})
    r = requests.get(f"{stack.bridge_url}/wecom/events?{query}", timeout=5)
    assert r.status_code == 200 and r.text == "6372837462348+/="


@pytest.mark.parametrize("forged, reason", [
    ({"token": "WrongToken"}, "bad_signature"),
    ({"corp": "ww_other_corp"}, "bad_corp"),
    ({"timestamp": int(time.time()) - 3600}, "stale"),
], ids=["forged_signature", "other_corp", "stale_timestamp"])
def test_offboarding_refused_event_revokes_nothing(stack, forged, reason):
    _, token, _, _ = signed_in(stack, "sunqi")
    r = post_event(stack, {"Event": "change_contact", "ChangeType": "delete_user",
                           "UserID": "sunqi"}, **forged)
    assert r.status_code == 403 and r.text == reason
    time.sleep(0.5)
    assert userinfo_status(stack, token["access_token"]) == 200


def test_offboarding_replayed_event_acted_on_once(stack, receiver):
    event = {"Event": "unsubscribe", "FromUserName": "zhouba", "AgentID": 1000002}
    ts = int(time.time())
    signed_in(stack, "zhouba")
    since = len(receiver.posts)
    assert post_event(stack, event, timestamp=ts).status_code == 200
    wait_logout(stack, receiver, "zhouba", since)
    # Still in WeCom (the event was the test's), signs in again; the same event
    # replayed (a WeCom retry, or an attacker's capture) must not end the new login.
    _, token, _, _ = signed_in(stack, "zhouba")
    r = post_event(stack, event, timestamp=ts)
    assert r.status_code == 200
    time.sleep(0.5)
    assert userinfo_status(stack, token["access_token"]) == 200


@pytest.mark.parametrize("body", [
    b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">"""
    + b"".join(b'<!ENTITY %s "%s">' % (b"a" * (i + 2), (b"&" + b"a" * (i + 1) + b";") * 10)
               for i in range(8))
    + b"]><xml><Encrypt>&" + b"a" * 9 + b";</Encrypt></xml>",
    b"not xml at all",
    b"<xml><Encrypt>!!!</Encrypt></xml>",
    b"",
])
def test_offboarding_junk_refused_400_never_500(stack, body):
    r = post_event(stack, {"Event": "x"}, body=body)
    assert r.status_code in (400, 403), r.text
    assert requests.get(stack.bridge_url + "/healthz", timeout=5).status_code == 200


def test_offboarding_missing_parameters_refused(stack):
    assert requests.post(stack.bridge_url + "/wecom/events", data=b"<xml/>",
                         timeout=5).status_code == 400
    assert requests.get(stack.bridge_url + "/wecom/events", timeout=5).status_code == 400


# -- callbacks lost: the sweep ---------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_stack(tmp_path_factory, receiver):
    s = start_stack(tmp_path_factory.mktemp("offboarding-sweep"), extra_config=clients(
        receiver, "sweep_interval = 5"))
    s.emu("POST", "callback", url=s.bridge_url + "/wecom/events", token=TOKEN,
          aes_key=AES_KEY, drop=True)
    yield s
    s.stop()


def test_offboarding_callback_dropped_sweep_revokes(sweep_stack, receiver, capsys):
    b = browser()
    portal = rp_for(sweep_stack, PORTAL)
    started = portal.start()
    token, _, _ = portal.finish(qr_login(sweep_stack, started["url"], "lisi", b=b), started)
    since = len(receiver.posts)
    t0 = time.monotonic()
    sweep_stack.emu("POST", "members/lisi", status=5)
    assert sweep_stack.emu("GET", "callback")["sent"][-1]["status"] == "dropped"
    wait_logout(sweep_stack, receiver, "lisi", since, timeout=60)
    elapsed = time.monotonic() - t0
    assert refresh_refused(sweep_stack, PORTAL, token)
    with capsys.disabled():
        print(f"\n[measure] callback dropped, sweep_interval=5 s -> back-channel logout: "
              f"{elapsed * 1000:.0f} ms")
