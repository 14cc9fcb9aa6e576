"""RP-initiated logout at /end_session, back-channel logout (a receiver on a
loopback port records the logout_token POSTs) and front-channel logout, end to end."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.jwk import KeySet

from .stack import RelyingParty, browser, qr_login, start_stack

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
PORTAL = ("portal", "portal-secret-0123456789-0123456", "https://portal.example/callback")
PORTAL_BYE = "https://portal.example/logged-out"
WIKI = ("wiki", "wiki-secret-0123456789-012345678", "https://wiki.example/callback")
WIKI_BYE = "https://wiki.example/bye"
WIKI_FRONTCHANNEL = "https://wiki.example/frontchannel-logout"
SCOPE = "openid profile offline_access"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, receiver):
    extra = f"""
[[clients]]
client_id = "{PORTAL[0]}"
client_secret = "{PORTAL[1]}"
redirect_uris = ["{PORTAL[2]}"]
post_logout_redirect_uris = ["{PORTAL_BYE}"]
backchannel_logout_uri = "{receiver.url}"

[[clients]]
client_id = "{WIKI[0]}"
client_secret = "{WIKI[1]}"
redirect_uris = ["{WIKI[2]}"]
post_logout_redirect_uris = ["{WIKI_BYE}"]
frontchannel_logout_uri = "{WIKI_FRONTCHANNEL}"
"""
    s = start_stack(tmp_path_factory.mktemp("op-logout"), extra_config=extra)
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _clean_receiver(receiver):
    receiver.posts.clear()


def rp_for(stack, client) -> RelyingParty:
    return RelyingParty(stack, scope=SCOPE, client_id=client[0], client_secret=client[1],
                        redirect_uri=client[2])


def signed_in(stack, client=PORTAL, b=None):
    """A browser with a bridge session (QR login through `client`, or silently when
    `b` already has one); returns the browser, the app and its tokens and claims."""
    b = b if b is not None else browser()
    rp = rp_for(stack, client)
    started = rp.start()
    if b.cookies:
        back = b.get(started["url"], allow_redirects=False).headers["Location"]
    else:
        back = qr_login(stack, started["url"], "zhangsan", b=b)
    token, claims, _ = rp.finish(back, started)
    return b, rp, token, claims


def end_session(stack, b, **params):
    return b.get(stack.bridge_url + "/end_session", params=params, allow_redirects=False)


def confirm(stack, b, page):
    """Press "Sign out" on the confirmation page: post its form as the browser."""
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S)
    assert form, page.text[:500]
    fields = {k: html.unescape(v) for k, v in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2))}
    url = stack.bridge_url.split("/", 3)[:3]
    return b.post("/".join(url) + html.unescape(form.group(1)), data=fields,
                  allow_redirects=False)


def is_confirmation(r) -> bool:
    return (r.status_code == 200 and 'id="confirm-logout"' in r.text
            and "Set-Cookie" not in r.headers)


def userinfo_status(stack, access_token: str) -> int:
    return requests.get(stack.bridge_url + "/userinfo", timeout=5,
                        headers={"Authorization": "Bearer " + access_token}).status_code


def goes_to_wecom(stack, b, client=PORTAL) -> bool:
    started = rp_for(stack, client).start()
    location = b.get(started["url"], allow_redirects=False).headers["Location"]
    return urlsplit(location).path == "/wwlogin/sso/login"


def test_logout_registered_redirect_302_with_state(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"],
                    post_logout_redirect_uri=PORTAL_BYE, state="st-123")
    assert r.status_code == 302
    assert r.headers["Location"] == PORTAL_BYE + "?state=st-123"
    assert r.headers["Cache-Control"] == "no-store"


def test_logout_redirect_without_state_has_no_query(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"],
                    post_logout_redirect_uri=PORTAL_BYE)
    assert r.status_code == 302
    assert r.headers["Location"] == PORTAL_BYE


def test_logout_client_id_instead_of_hint_confirms_then_redirects(stack):
    b, _, _, _ = signed_in(stack)
    page = end_session(stack, b, client_id=PORTAL[0], post_logout_redirect_uri=PORTAL_BYE,
                       state="s")
    assert is_confirmation(page)
    assert not goes_to_wecom(stack, b)
    r = confirm(stack, b, page)
    assert r.status_code == 302
    assert r.headers["Location"] == PORTAL_BYE + "?state=s"


def test_logout_clears_session_next_authorize_goes_to_wecom(stack):
    b, _, token, _ = signed_in(stack)
    assert not goes_to_wecom(stack, b)
    r = end_session(stack, b, id_token_hint=token["id_token"],
                    post_logout_redirect_uri=PORTAL_BYE)
    assert r.status_code == 302
    assert goes_to_wecom(stack, b)


def test_logout_deletes_session_cookie(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"])
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("wecom_oidc_session=;")
    assert "Max-Age=0" in cookie or "expires=Thu, 01 Jan 1970" in cookie


def test_logout_session_cookie_replayed_after_logout_is_dead(stack):
    """A copy of the cookie taken before logout (another tab, a thief) gets nothing."""
    b, _, token, _ = signed_in(stack)
    stolen = browser()
    stolen.cookies.update(b.cookies)
    end_session(stack, b, id_token_hint=token["id_token"])
    assert goes_to_wecom(stack, stolen)


def test_logout_revokes_session_refresh_and_access_tokens(stack):
    b, rp, token, _ = signed_in(stack)
    _, rp2, token2, _ = signed_in(stack, WIKI, b=b)  # a second app in the same session
    assert userinfo_status(stack, token["access_token"]) == 200
    end_session(stack, b, id_token_hint=token["id_token"],
                post_logout_redirect_uri=PORTAL_BYE)
    for app, tok in ((rp, token), (rp2, token2)):
        assert userinfo_status(stack, tok["access_token"]) == 401
        with pytest.raises(OAuthError) as e:
            app.refresh(tok["refresh_token"])
        assert e.value.error == "invalid_grant"
        r = requests.post(stack.bridge_url + "/introspect", auth=(app.client_id,
                          app.client_secret), data={"token": tok["refresh_token"]}, timeout=5)
        assert r.json() == {"active": False}


def test_logout_refreshed_tokens_revoked_too(stack):
    b, rp, token, _ = signed_in(stack)
    new = rp.refresh(token["refresh_token"])
    end_session(stack, b, id_token_hint=new["id_token"])
    assert userinfo_status(stack, new["access_token"]) == 401
    with pytest.raises(OAuthError):
        rp.refresh(new["refresh_token"])


def test_logout_foreign_post_logout_redirect_uri_error_page_no_redirect(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"],
                    post_logout_redirect_uri="https://evil.example/phish", state="s")
    assert r.status_code == 400
    assert "Location" not in r.headers
    assert r.headers["Content-Type"].startswith("text/html")
    assert "evil.example" not in r.headers.get("Refresh", "")


def test_logout_other_clients_post_logout_redirect_uri_refused(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"],
                    post_logout_redirect_uri=WIKI_BYE)
    assert r.status_code == 400
    assert "Location" not in r.headers


def test_logout_query_added_to_post_logout_redirect_uri_refused(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"],
                    post_logout_redirect_uri=PORTAL_BYE + "?extra=1")
    assert r.status_code == 400
    assert "Location" not in r.headers


def test_logout_redirect_without_hint_or_client_id_refused(stack):
    b, _, _, _ = signed_in(stack)
    r = end_session(stack, b, post_logout_redirect_uri=PORTAL_BYE)
    assert r.status_code == 400
    assert "Location" not in r.headers


def test_logout_modified_id_token_hint_error_page(stack):
    b, _, token, _ = signed_in(stack)
    head, payload, sig = token["id_token"].split(".")
    tampered = ".".join((head, payload, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")))
    r = end_session(stack, b, id_token_hint=tampered, post_logout_redirect_uri=PORTAL_BYE)
    assert r.status_code == 400
    assert "Location" not in r.headers
    assert r.headers["Content-Type"].startswith("text/html")


def test_logout_mismatched_client_id_and_hint_refused(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"], client_id=WIKI[0],
                    post_logout_redirect_uri=WIKI_BYE)
    assert r.status_code == 400
    assert "Location" not in r.headers


def test_logout_no_params_confirmed_logged_out_page(stack):
    b, _, _, _ = signed_in(stack)
    page = end_session(stack, b)
    assert is_confirmation(page)
    r = confirm(stack, b, page)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert 'id="logged-out"' in r.text
    assert goes_to_wecom(stack, b)


def test_logout_only_state_logged_out_page(stack):
    r = end_session(stack, browser(), state="only-state")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Location" not in r.headers


def test_logout_hint_without_redirect_logged_out_page(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"])
    assert r.status_code == 200
    assert "Location" not in r.headers


def test_logout_post_form_accepted(stack):
    b, _, token, _ = signed_in(stack)
    r = b.post(stack.bridge_url + "/end_session", allow_redirects=False, data={
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": PORTAL_BYE,
        "state": "p"})
    assert r.status_code == 302
    assert r.headers["Location"] == PORTAL_BYE + "?state=p"


def test_logout_expired_session_hint_still_accepted(stack):
    """An ID token past its exp still identifies the app (RP-Initiated Logout §2)."""
    b, _, token, _ = signed_in(stack)
    end_session(stack, b, id_token_hint=token["id_token"])  # the session is gone already
    r = end_session(stack, b, id_token_hint=token["id_token"],
                    post_logout_redirect_uri=PORTAL_BYE, state="again")
    assert r.status_code == 302
    assert r.headers["Location"] == PORTAL_BYE + "?state=again"


# --- logout CSRF: without a hint naming the session's person, the person confirms ---

def test_logout_cross_site_get_without_hint_keeps_session(stack, receiver):
    """The attack: another site links or redirects the browser to end_session (an
    <img>, a top-level link). Nothing ends: the person is asked."""
    b, rp, token, _ = signed_in(stack)
    r = b.get(stack.bridge_url + "/end_session", allow_redirects=False, headers={
        "Referer": "https://evil.example/", "Sec-Fetch-Site": "cross-site"})
    assert is_confirmation(r)
    assert not goes_to_wecom(stack, b)
    assert userinfo_status(stack, token["access_token"]) == 200
    assert rp.refresh(token["refresh_token"])["access_token"]
    assert receiver.posts == []


def test_logout_attackers_own_id_token_as_hint_keeps_victims_session(stack):
    """A valid ID token, but of someone else (the attacker's own login)."""
    _, _, attacker, _ = signed_in(stack)  # any member's token will do
    victim = browser()
    rp = rp_for(stack, PORTAL)
    started = rp.start()
    victim_token, _, _ = rp.finish(qr_login(stack, started["url"], "lisi", b=victim), started)
    r = end_session(stack, victim, id_token_hint=attacker["id_token"],
                    post_logout_redirect_uri=PORTAL_BYE)
    assert is_confirmation(r)
    assert not goes_to_wecom(stack, victim)
    assert userinfo_status(stack, victim_token["access_token"]) == 200


def test_logout_forged_post_without_confirm_token_keeps_session(stack):
    b, _, token, _ = signed_in(stack)
    r = b.post(stack.bridge_url + "/end_session", data={"logout_confirm": "0" * 64},
               allow_redirects=False)
    assert is_confirmation(r)
    assert not goes_to_wecom(stack, b)
    assert userinfo_status(stack, token["access_token"]) == 200


def test_logout_confirm_token_of_another_session_refused(stack):
    other, _, _, _ = signed_in(stack)
    stolen_form = end_session(stack, other)
    b, _, _, _ = signed_in(stack)
    b_page = end_session(stack, b)
    assert is_confirmation(b_page)
    # The other browser's form, posted with this browser's cookie.
    form = re.search(r'name="logout_confirm" value="([^"]+)"', stolen_form.text).group(1)
    r = b.post(stack.bridge_url + "/end_session", data={"logout_confirm": form},
               allow_redirects=False)
    assert is_confirmation(r)
    assert not goes_to_wecom(stack, b)


def test_logout_confirmation_page_in_english_and_chinese(stack):
    b, _, _, _ = signed_in(stack)
    en = b.get(stack.bridge_url + "/end_session", headers={"Accept-Language": "en"})
    assert "Sign out?" in en.text and '<html lang="en">' in en.text
    zh = b.get(stack.bridge_url + "/end_session", headers={"Accept-Language": "zh-CN"})
    assert "退出登录？" in zh.text and '<html lang="zh-CN">' in zh.text
    assert zh.headers["Cache-Control"] == "no-store"


def test_logout_confirmation_escapes_carried_parameters(stack):
    b, _, _, _ = signed_in(stack)
    r = end_session(stack, b, client_id=PORTAL[0], post_logout_redirect_uri=PORTAL_BYE,
                    state='"><script>alert(1)</script>')
    assert is_confirmation(r)
    assert "<script>alert(1)" not in r.text
    assert "&#34;&gt;&lt;script&gt;" in r.text or "&quot;&gt;&lt;script&gt;" in r.text
    done = confirm(stack, b, r)
    assert done.headers["Location"] == PORTAL_BYE + "?" + urlencode(
        {"state": '"><script>alert(1)</script>'})


def test_backchannel_logout_token_posted_and_verifies(stack, receiver):
    b, _, token, claims = signed_in(stack)
    end_session(stack, b, id_token_hint=token["id_token"],
                post_logout_redirect_uri=PORTAL_BYE)
    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert post["path"] == "/backchannel-logout"
    assert post["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    jwks = requests.get(stack.bridge_url + "/jwks.json", timeout=5).json()
    parsed = jwt.decode(post["form"]["logout_token"], KeySet.import_key_set(jwks),
                        algorithms=["RS256"])
    assert parsed.header["typ"] == "logout+jwt"
    c = parsed.claims
    assert c["iss"] == stack.bridge_url
    assert c["aud"] == PORTAL[0]
    assert c["sid"] == claims["sid"]
    assert c["sub"] == claims["sub"]
    assert BACKCHANNEL_EVENT in c["events"]
    assert c["events"][BACKCHANNEL_EVENT] == {}
    assert "nonce" not in c
    assert c["jti"]
    assert c["iat"] <= time.time() + 5 < c["exp"] + 5


def test_backchannel_not_sent_to_app_without_session(stack, receiver):
    b, _, token, _ = signed_in(stack, WIKI)  # the portal never joined this session
    end_session(stack, b, id_token_hint=token["id_token"])
    assert receiver.posts == []


def test_backchannel_sent_once_when_app_logged_in_twice(stack, receiver):
    b, _, token, _ = signed_in(stack)
    signed_in(stack, PORTAL, b=b)
    end_session(stack, b, id_token_hint=token["id_token"])
    assert len(receiver.posts) == 1


def test_frontchannel_logged_out_page_has_iframe_with_iss_and_sid(stack):
    b, _, token, claims = signed_in(stack, WIKI)
    r = end_session(stack, b, id_token_hint=token["id_token"])
    assert r.status_code == 200
    src = WIKI_FRONTCHANNEL + "?" + urlencode({"iss": stack.bridge_url, "sid": claims["sid"]})
    assert "<iframe" in r.text
    assert html.escape(src) in r.text or src in r.text


def test_frontchannel_with_redirect_page_loads_iframe_then_continues(stack):
    b, _, token, claims = signed_in(stack, WIKI)
    r = end_session(stack, b, id_token_hint=token["id_token"],
                    post_logout_redirect_uri=WIKI_BYE, state="fc")
    assert r.status_code == 200
    assert "<iframe" in r.text
    assert claims["sid"] in r.text
    assert html.escape(WIKI_BYE + "?state=fc") in r.text


def test_frontchannel_no_iframe_for_apps_without_frontchannel_uri(stack):
    b, _, token, _ = signed_in(stack)
    r = end_session(stack, b, id_token_hint=token["id_token"])
    assert "<iframe" not in r.text


def test_logout_from_app_server_without_cookie_ends_hinted_session(stack, receiver):
    """oauth2-proxy's --backend-logout-url, Keycloak's back-channel call: the app's
    server, not the browser, calls end_session with the ID token; the session the
    token's sid names ends, its tokens are revoked and its apps told."""
    b, rp, token, claims = signed_in(stack)
    server_side = requests.get(stack.bridge_url + "/end_session", timeout=10,
                               params={"id_token_hint": token["id_token"]},
                               allow_redirects=False)
    assert server_side.status_code == 200
    assert goes_to_wecom(stack, b)
    assert userinfo_status(stack, token["access_token"]) == 401
    with pytest.raises(OAuthError):
        rp.refresh(token["refresh_token"])
    assert len(receiver.posts) == 1
    logout_token = jwt.decode(receiver.posts[0]["form"]["logout_token"], KeySet.import_key_set(
        requests.get(stack.bridge_url + "/jwks.json", timeout=5).json()))
    assert logout_token.claims["sid"] == claims["sid"]


def test_logout_without_cookie_hint_of_ended_session_changes_nothing_else(stack, receiver):
    b, _, token, _ = signed_in(stack)
    end_session(stack, b, id_token_hint=token["id_token"])  # the browser logs out
    b2, _, token2, _ = signed_in(stack)  # a new session
    receiver.posts.clear()
    r = requests.get(stack.bridge_url + "/end_session", timeout=10,
                     params={"id_token_hint": token["id_token"]}, allow_redirects=False)
    assert r.status_code == 200
    assert not goes_to_wecom(stack, b2)
    assert userinfo_status(stack, token2["access_token"]) == 200
    assert receiver.posts == []


def test_backchannel_logout_sid_is_the_token_responses_session_state(stack, receiver):
    """Keycloak brokering the bridge keeps the token response's session_state and ends
    the brokered session whose session_state equals a logout token's sid."""
    b, rp, token, claims = signed_in(stack)
    assert token["session_state"] == claims["sid"]
    refreshed = rp.refresh(token["refresh_token"])
    assert refreshed["session_state"] == claims["sid"]
    end_session(stack, b, id_token_hint=token["id_token"])
    logout_token = jwt.decode(receiver.posts[0]["form"]["logout_token"], KeySet.import_key_set(
        requests.get(stack.bridge_url + "/jwks.json", timeout=5).json()))
    assert logout_token.claims["sid"] == token["session_state"]


def test_frontchannel_page_csp_frames_only_the_apps_origins(stack):
    b, _, token, _ = signed_in(stack, WIKI)
    r = end_session(stack, b, id_token_hint=token["id_token"])
    policy = r.headers["Content-Security-Policy"]
    assert "frame-src https://wiki.example;" in policy
    assert "frame-ancestors 'none'" in policy
    assert r.headers["X-Frame-Options"] == "DENY"
    # The page's own continue script runs by nonce, not by 'unsafe-inline'.
    assert "'unsafe-inline'" not in policy


def test_logout_confirmation_csp_lets_the_form_end_at_the_app_only(stack):
    b, _, _, _ = signed_in(stack)
    page = end_session(stack, b, client_id=PORTAL[0], post_logout_redirect_uri=PORTAL_BYE)
    assert is_confirmation(page)
    policy = page.headers["Content-Security-Policy"]
    assert policy.count("https://portal.example") == 1
    assert "form-action 'self' " in policy and "https://portal.example;" in policy
    assert "frame-ancestors 'none'" in policy
