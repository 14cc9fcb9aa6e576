"""/token: client authentication, PKCE, single-use codes with revocation on reuse,
expiry, binding to client and redirect_uri, and the response itself."""

from __future__ import annotations

import base64

import pytest
from fakes import (
    APP_ID,
    APP_REDIRECT,
    APP_SECRET,
    CLI_ID,
    CLI_REDIRECT,
    OTHER_ID,
    OTHER_REDIRECT,
    OTHER_SECRET,
    basic_auth,
    exchange,
    login,
    pkce_pair,
)


def assert_token_error(resp, status: int, error: str) -> None:
    assert resp.status_code == status
    assert resp.get_json()["error"] == error
    assert "access_token" not in resp.get_json()
    assert resp.headers["Cache-Control"] == "no-store"


def userinfo_status(http, access_token: str) -> int:
    return http.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


def public_code(http, redirect_uri: str = CLI_REDIRECT) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    code = login(http, client_id=CLI_ID, redirect_uri=redirect_uri, code_challenge=challenge,
                 code_challenge_method="S256")
    return code, verifier


def test_token_client_secret_basic_gets_tokens(http):
    resp = exchange(http, login(http))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"] and body["id_token"]
    assert "refresh_token" not in body


def test_token_response_is_not_cacheable(http):
    resp = exchange(http, login(http))
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Pragma"] == "no-cache"
    assert resp.mimetype == "application/json"


def test_token_response_scope_is_the_granted_scope(http):
    resp = exchange(http, login(http, scope="openid profile address"))
    assert resp.get_json()["scope"] == "openid profile"


def test_token_client_secret_post_gets_tokens(http):
    resp = http.post("/token", data={"grant_type": "authorization_code", "code": login(http),
                                     "redirect_uri": APP_REDIRECT, "client_id": APP_ID,
                                     "client_secret": APP_SECRET})
    assert resp.status_code == 200 and resp.get_json()["access_token"]


def test_token_wrong_secret_is_401_invalid_client(http):
    resp = exchange(http, login(http), secret="wrong")
    assert_token_error(resp, 401, "invalid_client")
    assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_token_wrong_secret_post_is_401_invalid_client(http):
    resp = http.post("/token", data={"grant_type": "authorization_code", "code": login(http),
                                     "redirect_uri": APP_REDIRECT, "client_id": APP_ID,
                                     "client_secret": "wrong"})
    assert_token_error(resp, 401, "invalid_client")


@pytest.mark.parametrize("authorization", ["Basic \xe9\xe9", "Basic  ", "Basic d2ViYXBwOnjp"])
def test_token_basic_credentials_unreadable_are_401_invalid_client(http, authorization):
    """Not ASCII, nothing after "Basic", or not UTF-8 once decoded: no credentials
    (Authlib's own parsing let the first two escape as a 500)."""
    resp = http.post("/token", headers={"Authorization": authorization}, data={
        "grant_type": "authorization_code", "code": login(http), "redirect_uri": APP_REDIRECT})
    assert_token_error(resp, 401, "invalid_client")


def test_token_basic_credentials_are_form_urldecoded(http):
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded before base64."""
    encoded = "".join(f"%{b:02X}" for b in APP_SECRET.encode())  # every byte escaped
    raw = base64.b64encode(f"{APP_ID}:{encoded}".encode()).decode()
    resp = http.post("/token", headers={"Authorization": f"Basic {raw}"}, data={
        "grant_type": "authorization_code", "code": login(http), "redirect_uri": APP_REDIRECT})
    assert resp.status_code == 200 and resp.get_json()["id_token"]


def test_token_confidential_client_without_secret_is_401(http):
    resp = exchange(http, login(http), secret=None)
    assert_token_error(resp, 401, "invalid_client")


def test_token_unknown_client_is_401(http):
    resp = exchange(http, login(http), client_id="nobody", secret="x")
    assert_token_error(resp, 401, "invalid_client")


def test_token_wrong_secret_does_not_burn_the_code(http):
    code = login(http)
    exchange(http, code, secret="wrong")
    assert exchange(http, code).status_code == 200


def test_token_public_client_with_verifier_gets_tokens(http):
    code, verifier = public_code(http)
    resp = exchange(http, code, client_id=CLI_ID, secret=None, redirect_uri=CLI_REDIRECT,
                    code_verifier=verifier)
    assert resp.status_code == 200 and resp.get_json()["id_token"]


def test_token_public_client_loopback_other_port_gets_tokens(http):
    redirect = "http://127.0.0.1:49152/callback"
    code, verifier = public_code(http, redirect)
    resp = exchange(http, code, client_id=CLI_ID, secret=None, redirect_uri=redirect,
                    code_verifier=verifier)
    assert resp.status_code == 200


def test_token_public_client_without_verifier_is_refused(http):
    code, _ = public_code(http)
    resp = exchange(http, code, client_id=CLI_ID, secret=None, redirect_uri=CLI_REDIRECT)
    assert_token_error(resp, 400, "invalid_request")


def test_token_verifier_mismatch_is_invalid_grant(http):
    code, _ = public_code(http)
    other_verifier, _ = pkce_pair()
    resp = exchange(http, code, client_id=CLI_ID, secret=None, redirect_uri=CLI_REDIRECT,
                    code_verifier=other_verifier)
    assert_token_error(resp, 400, "invalid_grant")


def test_token_confidential_client_pkce_is_honoured(http):
    verifier, challenge = pkce_pair()
    code = login(http, code_challenge=challenge, code_challenge_method="S256")
    wrong, _ = pkce_pair()
    assert_token_error(exchange(http, code, code_verifier=wrong), 400, "invalid_grant")


def test_token_confidential_client_pkce_right_verifier_gets_tokens(http):
    verifier, challenge = pkce_pair()
    code = login(http, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(http, code, code_verifier=verifier).status_code == 200


def test_token_reused_code_is_invalid_grant(http):
    code = login(http)
    assert exchange(http, code).status_code == 200
    assert_token_error(exchange(http, code), 400, "invalid_grant")


def test_token_reused_code_revokes_first_access_token(http):
    code = login(http)
    access_token = exchange(http, code).get_json()["access_token"]
    assert userinfo_status(http, access_token) == 200
    exchange(http, code)
    assert userinfo_status(http, access_token) == 401


def test_token_reused_code_leaves_other_sessions_alone(http):
    first = login(http)
    # Another browser: a separate bridge session. (Within one session a replayed
    # code revokes everything that session issued.)
    http.delete_cookie("wecom_oidc_session")
    second = login(http)
    exchange(http, first)
    other_token = exchange(http, second).get_json()["access_token"]
    exchange(http, first)
    assert userinfo_status(http, other_token) == 200


def test_token_reuse_after_30_seconds_still_revokes(http, clock):
    code = login(http)
    access_token = exchange(http, code).get_json()["access_token"]
    clock.advance(30)
    assert_token_error(exchange(http, code), 400, "invalid_grant")
    assert userinfo_status(http, access_token) == 401


def test_token_expired_code_is_invalid_grant(http, clock):
    code = login(http)
    clock.advance(121)
    assert_token_error(exchange(http, code), 400, "invalid_grant")


def test_token_code_just_before_expiry_works(http, clock):
    code = login(http)
    clock.advance(119)
    assert exchange(http, code).status_code == 200


def test_token_code_of_client_a_used_by_client_b_is_invalid_grant(http):
    code = login(http)
    resp = exchange(http, code, client_id=OTHER_ID, secret=OTHER_SECRET,
                    redirect_uri=APP_REDIRECT)
    assert_token_error(resp, 400, "invalid_grant")


def test_token_code_of_client_a_used_by_client_b_with_own_redirect_is_invalid_grant(http):
    code = login(http)
    resp = exchange(http, code, client_id=OTHER_ID, secret=OTHER_SECRET,
                    redirect_uri=OTHER_REDIRECT)
    assert_token_error(resp, 400, "invalid_grant")


def test_token_public_client_code_claimed_by_other_client_id_is_invalid_grant(http):
    code, verifier = public_code(http)
    resp = exchange(http, code, client_id=OTHER_ID, secret=OTHER_SECRET,
                    redirect_uri=CLI_REDIRECT, code_verifier=verifier)
    assert_token_error(resp, 400, "invalid_grant")


def test_token_redirect_uri_mismatch_is_invalid_grant(http):
    resp = exchange(http, login(http), redirect_uri="https://app.example.com/other")
    assert_token_error(resp, 400, "invalid_grant")


def test_token_missing_redirect_uri_is_invalid_grant(http):
    resp = http.post("/token", data={"grant_type": "authorization_code", "code": login(http)},
                     headers=basic_auth(APP_ID, APP_SECRET))
    assert_token_error(resp, 400, "invalid_grant")


def test_token_unknown_code_is_invalid_grant(http):
    assert_token_error(exchange(http, "not-a-code"), 400, "invalid_grant")


def test_token_missing_code_is_invalid_request(http):
    resp = http.post("/token", data={"grant_type": "authorization_code",
                                     "redirect_uri": APP_REDIRECT},
                     headers=basic_auth(APP_ID, APP_SECRET))
    assert_token_error(resp, 400, "invalid_request")


def test_token_unsupported_grant_type_is_refused(http):
    resp = http.post("/token", data={"grant_type": "password", "username": "u", "password": "p"},
                     headers=basic_auth(APP_ID, APP_SECRET))
    assert_token_error(resp, 400, "unsupported_grant_type")


def test_token_get_is_not_allowed(http):
    assert http.get("/token").status_code == 405


def test_token_access_token_expires_with_its_ttl(http, clock):
    access_token = exchange(http, login(http)).get_json()["access_token"]
    clock.advance(3601)
    assert userinfo_status(http, access_token) == 401


def test_token_code_issued_without_redirect_uri_needs_none_at_token(http):
    code = login(http, redirect_uri=None)
    resp = http.post("/token", data={"grant_type": "authorization_code", "code": code},
                     headers=basic_auth(APP_ID, APP_SECRET))
    assert resp.status_code == 200


def test_token_verifier_for_code_without_challenge_is_refused(http):
    verifier, _ = pkce_pair()
    resp = exchange(http, login(http), code_verifier=verifier)
    assert_token_error(resp, 400, "invalid_request")


def test_token_failed_verifier_stores_no_token(build_app):
    app, store = build_app()
    http = app.test_client()
    verifier, challenge = pkce_pair()
    code = login(http, client_id=CLI_ID, redirect_uri=CLI_REDIRECT, code_challenge=challenge,
                 code_challenge_method="S256")
    before = len(store)
    wrong, _ = pkce_pair()
    exchange(http, code, client_id=CLI_ID, secret=None, redirect_uri=CLI_REDIRECT,
             code_verifier=wrong)
    # The code is spent (single use); only its reuse marker remains, no token.
    assert len(store) == before
