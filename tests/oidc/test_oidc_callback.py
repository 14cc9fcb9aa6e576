"""/wecom/callback: the single-use login state, the upstream's outcomes, and the
code redirect back to the client with state and iss."""

from __future__ import annotations

from fakes import (
    APP_ID,
    APP_REDIRECT,
    APP_SECRET,
    BROKEN,
    BROKEN_ERRCODE,
    BROKEN_HINT,
    ISSUER,
    finish_login,
    query,
    settings_toml,
    start_login,
)
from markupsafe import escape

from wecom_oidc.app import create_app
from wecom_oidc.store import MemoryStore
from wecom_oidc.web.i18n import TEXTS

# The login binding cookie on an https issuer (web/login_state.py).
BINDING_COOKIE = "__Host-wecom_oidc_session_login"


def test_callback_success_redirects_to_client_with_code_state_and_iss(http):
    resp = finish_login(http, start_login(http))
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(APP_REDIRECT + "?")
    q = query(location)
    assert set(q) == {"code", "state", "iss"}
    assert q["state"] == "st-123" and q["iss"] == ISSUER and len(q["code"]) >= 32


def test_callback_state_with_special_characters_comes_back_untouched(http):
    state = "x y+z/é&=%41"
    resp = finish_login(http, start_login(http, state=state))
    assert query(resp.headers["Location"])["state"] == state


def test_callback_without_client_state_returns_no_state(http):
    resp = finish_login(http, start_login(http, state=None))
    assert "state" not in query(resp.headers["Location"])


def test_callback_replayed_state_is_400_invalid_state(http):
    state = start_login(http)
    assert finish_login(http, state).status_code == 302
    resp = finish_login(http, state)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert resp.headers["Cache-Control"] == "no-store"


def test_callback_replayed_state_json_says_invalid_state(http):
    state = start_login(http)
    finish_login(http, state)
    resp = http.get("/wecom/callback", query_string={"state": state, "code": "zhangsan"},
                    headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_state"


def test_callback_unknown_state_is_400(http):
    resp = finish_login(http, "NoSuchState123")
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_callback_missing_state_is_400(http):
    resp = http.get("/wecom/callback", query_string={"code": "zhangsan"})
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_callback_overlong_state_is_400(http):
    assert finish_login(http, "A" * 129).status_code == 400


def test_callback_expired_state_is_400(http, clock):
    state = start_login(http)
    clock.advance(601)
    assert finish_login(http, state).status_code == 400


def test_callback_user_cancelled_redirects_access_denied_with_state_and_iss(http):
    resp = finish_login(http, start_login(http), userid="")
    assert resp.status_code == 302
    q = query(resp.headers["Location"])
    assert resp.headers["Location"].startswith(APP_REDIRECT + "?")
    assert q["error"] == "access_denied" and q["state"] == "st-123" and q["iss"] == ISSUER
    assert "code" not in q


def test_callback_upstream_denied_is_403_page_with_back_link(http):
    resp = finish_login(http, start_login(http), userid="outsider")
    assert resp.status_code == 403
    assert "Location" not in resp.headers
    body = resp.get_data(as_text=True)
    assert TEXTS["zh"]["reason_not_member"] in body  # the catalogue's sentence, not the code's
    assert "invite them" in body  # the admin hint
    assert 'id="back" href="https://app.example.com/cb?error=access_denied' in body
    assert "state=st-123" in body and "iss=https" in body


def test_callback_upstream_denied_issues_no_code(build_app, upstream):
    app, store = build_app()
    http = app.test_client()
    finish_login(http, start_login(http), userid="outsider")
    assert len(store) == 0


def test_callback_upstream_error_page_shows_errcode_and_hint(http):
    resp = finish_login(http, start_login(http), userid=BROKEN)
    assert resp.status_code == 502
    body = resp.get_data(as_text=True)
    assert f'<code id="errcode">{BROKEN_ERRCODE}</code>' in body
    assert str(escape(BROKEN_HINT)) in body
    assert "errcode=60020 from" not in body  # the detail is for the log only


def test_callback_upstream_error_json_for_programs(http):
    state = start_login(http)
    resp = http.get("/wecom/callback", query_string={"state": state, "code": BROKEN},
                    headers={"Accept": "application/json", "Accept-Language": "en"})
    assert resp.status_code == 502
    assert resp.get_json() == {"error": "upstream_error",
                               "error_description": "WeCom refused the request (errcode 60020).",
                               "errcode": BROKEN_ERRCODE, "hint": BROKEN_HINT}


def test_callback_upstream_error_leaves_state_used(http):
    state = start_login(http)
    finish_login(http, state, userid=BROKEN)
    assert finish_login(http, state).status_code == 400


def test_callback_post_authorize_request_resumes(http):
    resp = http.post("/authorize", data={"response_type": "code", "client_id": "app",
                                         "redirect_uri": APP_REDIRECT, "scope": "openid",
                                         "state": "from-post"})
    resp = finish_login(http, query(resp.headers["Location"])["state"])
    assert query(resp.headers["Location"])["state"] == "from-post"


def test_callback_under_issuer_prefix_redirects_with_prefixed_iss(build_app):
    app, _ = build_app(issuer="https://sso.example.com/oidc")
    http = app.test_client()
    resp = finish_login(http, start_login(http, prefix="/oidc"), prefix="/oidc")
    assert query(resp.headers["Location"])["iss"] == "https://sso.example.com/oidc"


def test_callback_redirect_uri_with_query_keeps_it_and_appends_code_and_iss(build_app):
    redirect = "https://q.example.com/cb?tenant=7"
    app, _ = build_app(env={"WECOM_OIDC_CLIENTS": '[{"client_id": "q", "client_secret": "qs-'
                                                  '0123456789abcdefghijklmnopqrstu",'
                                                  f' "redirect_uris": ["{redirect}"]}}]'})
    http = app.test_client()
    resp = finish_login(http, start_login(http, client_id="q", redirect_uri=redirect))
    location = resp.headers["Location"]
    assert location.startswith(redirect + "&")
    q = query(location)
    assert q["tenant"] == "7" and q["iss"] == ISSUER and q["code"]


def test_callback_upstream_error_leaves_nothing_half_written(build_app):
    app, store = build_app()
    http = app.test_client()
    finish_login(http, start_login(http), userid=BROKEN)
    assert len(store) == 0


def restarted(make_settings, keyring, clock, upstream, store, clients_json: str):
    """The bridge started again on the same store with other clients: a login begun
    before the restart comes back to it."""
    settings = make_settings(settings_toml(), {"WECOM_OIDC_CLIENTS": clients_json})
    return create_app(settings, store=store, upstream=upstream, keys=keyring, clock=clock)


def finish_after_restart(make_settings, keyring, clock, upstream, clients_json: str):
    store = MemoryStore(clock=clock)
    before = create_app(make_settings(settings_toml()), store=store, upstream=upstream,
                        keys=keyring, clock=clock).test_client()
    state = start_login(before)
    after = restarted(make_settings, keyring, clock, upstream, store, clients_json)
    http = after.test_client()
    cookie = before.get_cookie(BINDING_COOKIE, domain="localhost")
    assert cookie is not None
    http.set_cookie(BINDING_COOKIE, cookie.value, domain="localhost")
    return http.get("/wecom/callback", query_string={"state": state, "code": "zhangsan"},
                    headers={"Accept": "application/json"})


def test_callback_client_removed_since_authorize_is_400_page_no_code(make_settings, keyring,
                                                                    clock, upstream):
    other = ('[{"client_id": "other-app", "client_secret": "os-0123456789abcdefghijklmnop'
             'qrstu", "redirect_uris": ["https://x.example.com/cb"]}]')
    resp = finish_after_restart(make_settings, keyring, clock, upstream, other)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert resp.json["error"] == "invalid_client"


def test_callback_redirect_uri_unregistered_since_authorize_is_400_page_no_redirect(
        make_settings, keyring, clock, upstream):
    moved = (f'[{{"client_id": "{APP_ID}", "client_secret": "{APP_SECRET}",'
             ' "redirect_uris": ["https://moved.example.com/cb"]}]')
    resp = finish_after_restart(make_settings, keyring, clock, upstream, moved)
    assert resp.status_code == 400 and "Location" not in resp.headers
    assert resp.json["error"] == "invalid_request"
