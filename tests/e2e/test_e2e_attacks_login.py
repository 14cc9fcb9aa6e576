"""Attacks on the login path, performed end to end against the real stack: login
CSRF with a stolen callback link, a departed member riding their bridge session,
store growth through /authorize, and a leaked code presented by another client."""

from __future__ import annotations

import socket
import sqlite3
import time

import pytest
import requests

from wecom_oidc.serving import MAX_HEAD_BYTES

from .stack import RelyingParty, browser, follow_to_client, scan, start_stack
from .test_e2e_op_session import goes_to_wecom, query

RECHECK_TTL = 1
SSO = ("sso-portal", "sso-portal-secret-0123456789abcdef", "https://portal.example/cb")
WIKI = ("sso-wiki", "sso-wiki-secret-0123456789abcdefgh", "https://wiki.example/cb")
OTHER_BROWSER_TEXT = "not started in this browser"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, receiver):
    extra = f"""
[tokens]
member_recheck_ttl = {RECHECK_TTL}

[[clients]]
client_id = "{SSO[0]}"
client_secret = "{SSO[1]}"
redirect_uris = ["{SSO[2]}"]
backchannel_logout_uri = "{receiver.url}"
refresh_tokens = "always"

[[clients]]
client_id = "{WIKI[0]}"
client_secret = "{WIKI[1]}"
redirect_uris = ["{WIKI[2]}"]
"""
    s = start_stack(tmp_path_factory.mktemp("attacks"), extra_config=extra)
    yield s
    s.stop()


def rp(stack, client=SSO) -> RelyingParty:
    return RelyingParty(stack, client_id=client[0], client_secret=client[1],
                        redirect_uri=client[2])


def en_browser() -> requests.Session:
    b = browser()
    b.headers["Accept-Language"] = "en"
    return b


# --- login CSRF: the callback is bound to the browser that started the login ---------

def test_stolen_callback_link_changes_nothing_in_the_victims_browser(stack):
    # The victim is signed in as zhangsan.
    victim = en_browser()
    app = rp(stack)
    started = app.start()
    _, claims, _ = app.finish(follow_to_client(victim, scan(stack, victim, started["url"],
                                                             "zhangsan")), started)
    assert claims["sub"] == "zhangsan"
    # The attacker starts a login, approves it as lisi, and keeps the callback link.
    attacker = en_browser()
    link = scan(stack, attacker, rp(stack).start()["url"], "lisi")
    exchanges = stack.calls("auth/getuserinfo")

    opened = victim.get(link, allow_redirects=False)
    assert opened.status_code == 400
    assert OTHER_BROWSER_TEXT in opened.text
    assert "Set-Cookie" not in opened.headers  # no session handed to the victim
    assert stack.calls("auth/getuserinfo") == exchanges  # WeCom was not even asked
    # The victim's next silent sign-in is still zhangsan, not the attacker.
    wiki = rp(stack, WIKI)
    again = wiki.start(prompt="none")
    back = victim.get(again["url"], allow_redirects=False).headers["Location"]
    _, claims, _ = wiki.finish(back, again)
    assert claims["sub"] == "zhangsan"


def test_stolen_callback_link_gives_a_fresh_browser_no_session(stack):
    attacker = en_browser()
    link = scan(stack, attacker, rp(stack).start()["url"], "lisi")
    victim = en_browser()
    assert victim.get(link, allow_redirects=False).status_code == 400
    silent = rp(stack).start(prompt="none")
    back = victim.get(silent["url"], allow_redirects=False).headers["Location"]
    assert query(back)["error"] == "login_required"


def test_the_attackers_link_is_spent_once_opened_elsewhere(stack):
    attacker = en_browser()
    link = scan(stack, attacker, rp(stack).start()["url"], "lisi")
    assert en_browser().get(link, allow_redirects=False).status_code == 400
    # The state is single-use: the attacker cannot re-arm it either.
    assert attacker.get(link, allow_redirects=False).status_code == 400


def test_several_logins_in_several_tabs_of_one_browser_all_complete(stack):
    b = en_browser()
    apps = [rp(stack), rp(stack, WIKI), rp(stack)]
    starts = [a.start() for a in apps]
    links = [scan(stack, b, s["url"], "zhangsan") for s in starts]
    for app, started, link in reversed(list(zip(apps, starts, links, strict=True))):
        _, claims, _ = app.finish(follow_to_client(b, link), started)
        assert claims["sub"] == "zhangsan"


def test_binding_cookie_is_httponly_lax_and_short_lived(stack):
    r = en_browser().get(rp(stack).start()["url"], allow_redirects=False)
    cookie = next(c for c in r.cookies if c.name.endswith("_login"))
    header = r.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert cookie.expires is not None and cookie.expires - time.time() <= 600 + 5


# --- a member who left keeps no bridge session --------------------------------------

def _signed_in(stack, userid: str):
    b = en_browser()
    app = rp(stack)
    started = app.start(scope="openid profile offline_access")
    token, _, _ = app.finish(follow_to_client(b, scan(stack, b, started["url"], userid)),
                             started)
    return b, app, token


@pytest.mark.parametrize("change", [{"status": 2}, {"status": 5}])
def test_disabled_or_departed_member_loses_the_session_for_every_app(stack, receiver, change):
    b, app, token = _signed_in(stack, "sunqi")
    receiver.posts.clear()
    stack.emu("POST", "members/sunqi", **change)
    try:
        time.sleep(RECHECK_TTL + 0.2)
        wiki = rp(stack, WIKI)
        silent = wiki.start(prompt="none")
        back = b.get(silent["url"], allow_redirects=False).headers["Location"]
        assert query(back)["error"] == "login_required"  # no code for the other app
        # The session is gone, and every token it gave.
        loud = b.get(wiki.start()["url"], allow_redirects=False).headers["Location"]
        assert goes_to_wecom(loud)
        r = requests.post(stack.bridge_url + "/token", timeout=5, auth=(SSO[0], SSO[1]),
                          data={"grant_type": "refresh_token",
                                "refresh_token": token["refresh_token"]})
        assert r.json()["error"] == "invalid_grant"
        info = requests.get(stack.bridge_url + "/userinfo", timeout=5,
                            headers={"Authorization": "Bearer " + token["access_token"]})
        assert info.status_code == 401
        assert [p["form"].get("logout_token") for p in receiver.posts], "no back-channel logout"
    finally:
        stack.emu("POST", "members/sunqi", status=1)


def test_active_member_reuses_the_session_and_is_rechecked_once_per_window(stack):
    b, _, _ = _signed_in(stack, "zhaoliu")
    time.sleep(RECHECK_TTL + 0.2)
    before = stack.calls("user/get")
    for _ in range(3):
        wiki = rp(stack, WIKI)
        started = wiki.start(prompt="none")
        _, claims, _ = wiki.finish(b.get(started["url"], allow_redirects=False)
                                   .headers["Location"], started)
        assert claims["sub"] == "zhaoliu"
    assert stack.calls("user/get") - before >= 1
    assert stack.calls("user/get") - before <= 2  # cached, not once per sign-in


def test_session_survives_wecom_outage_during_recheck(stack):
    b, _, _ = _signed_in(stack, "lisi")
    time.sleep(RECHECK_TTL + 0.2)
    stack.emu("POST", "faults", api="user/get", errcode=-1, count=50)
    wiki = rp(stack, WIKI)
    started = wiki.start(prompt="none")
    _, claims, _ = wiki.finish(b.get(started["url"], allow_redirects=False)
                               .headers["Location"], started)
    assert claims["sub"] == "lisi"


# --- unauthenticated store growth through /authorize ---------------------------------

def _db_bytes(stack) -> int:
    db = stack.workdir / "bridge.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


def test_authorize_refuses_oversized_bodies_and_values_without_redirecting(stack):
    url = stack.bridge_url + "/authorize"
    started = rp(stack).start()
    params = query(started["url"])
    big = requests.post(url, data={**params, "state": "s" * 400_000}, allow_redirects=False,
                        timeout=10)
    assert big.status_code == 413
    long = requests.post(url, data={**params, "state": "s" * 3000}, allow_redirects=False,
                         timeout=10, headers={"Accept-Language": "en"})
    assert long.status_code == 400
    assert "Location" not in long.headers
    assert "state" in long.text and "2048" in long.text


def test_long_get_request_reaches_the_bridge(stack):
    # A 6 KB query string (an ID token hint of a member with many groups is this long).
    url = rp(stack).start()["url"] + "&" + "&".join(f"pad{i}={'p' * 2000}" for i in range(3))
    assert len(url) > 6000
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and goes_to_wecom(r.headers["Location"])


def _raw(stack, head: bytes) -> bytes:
    """Send `head` on a fresh connection; the first bytes of the answer."""
    host, port = stack.bridge_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head)
        return conn.recv(2048)


def test_request_head_over_the_server_limit_is_refused_by_the_server(stack):
    # Past serving.MAX_HEAD_BYTES the server answers 431 itself: no worker thread and no
    # memory is spent on a head the bridge would refuse anyway.
    line = b"GET /authorize?pad=" + b"p" * (MAX_HEAD_BYTES + 1) + b" HTTP/1.1\r\n"
    answer = _raw(stack, line + b"Host: bridge\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:60]
    # Many small headers adding up past the limit: the same.
    headers = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"h" * 1000) for i in range(70))
    answer = _raw(stack, b"GET /healthz HTTP/1.1\r\nHost: bridge\r\n" + headers + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:60]


def test_token_request_announcing_a_huge_body_gets_413_at_once(stack):
    # Only the head is sent: the refusal comes from the announced length, before any
    # body is read, and the audit hook observing the answer must not turn it into a 500.
    answer = _raw(stack, b"POST /token HTTP/1.1\r\nHost: bridge\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n"
                         b"Content-Length: 100000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:60]
    assert b"application/json" in answer


def test_authorize_stores_only_what_a_login_needs(stack):
    params = query(rp(stack).start()["url"])
    junk = {f"junk{i}": "j" * 2000 for i in range(25)}  # ~50 KB of ignored parameters
    before = _db_bytes(stack)
    for _ in range(200):
        r = requests.post(stack.bridge_url + "/authorize", data={**params, **junk},
                          allow_redirects=False, timeout=10)
        assert r.status_code == 302 and goes_to_wecom(r.headers["Location"])
    grown = _db_bytes(stack) - before
    # 200 x 50 KB would be 10 MB; a login needs well under 1 KB.
    assert grown < 1_000_000, grown


# --- a leaked code presented by another client --------------------------------------

def test_code_presented_by_another_client_is_refused_and_left_for_its_owner(stack):
    b = en_browser()
    owner = rp(stack)
    started = owner.start()
    back = follow_to_client(b, scan(stack, b, started["url"], "zhangsan"))
    code = query(back)["code"]
    stolen = requests.post(stack.bridge_url + "/token", timeout=5, auth=(WIKI[0], WIKI[1]),
                           data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": WIKI[2]})
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    # The real client's exchange still works: not spent, not counted as a replay.
    token, claims, userinfo = owner.finish(back, started)
    assert claims["sub"] == userinfo["sub"] == "zhangsan"
    # And a real replay by the owner is still refused.
    again = requests.post(stack.bridge_url + "/token", timeout=5, auth=(SSO[0], SSO[1]),
                          data={"grant_type": "authorization_code", "code": code,
                                "redirect_uri": SSO[2],
                                "code_verifier": started["code_verifier"]})
    assert again.json()["error"] == "invalid_grant"
