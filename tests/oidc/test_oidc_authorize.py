"""/authorize: client and redirect_uri first (error page), then errors to the client
with state and iss, PKCE rules, and the hop to the upstream login."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fakes import APP_REDIRECT, CLI_ID, CLI_REDIRECT, ISSUER, auth_params, pkce_pair, query


def authorize(http, **params):
    return http.get("/authorize", query_string=auth_params(**params))


def assert_error_redirect(resp, redirect_uri: str, error: str, state: str = "st-123") -> dict:
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    q = query(location)
    assert q["error"] == error
    assert q["state"] == state
    assert q["iss"] == ISSUER
    return q


def test_authorize_valid_request_redirects_to_upstream_with_fresh_state(http, upstream):
    resp = authorize(http)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("https://upstream.test/login?")
    state = upstream.last_login["state"]
    assert state.isalnum() and state.isascii() and 32 <= len(state) <= 128
    assert state != "st-123"
    assert upstream.last_login["callback_url"] == ISSUER + "/wecom/callback"


def test_authorize_two_requests_get_different_states(http, upstream):
    authorize(http)
    first = upstream.last_login["state"]
    authorize(http)
    assert upstream.last_login["state"] != first


def test_authorize_passes_granted_scopes_and_user_agent_to_upstream(http, upstream):
    http.get("/authorize", query_string=auth_params(scope="openid phone address"),
             headers={"User-Agent": "Mozilla/5.0 wxwork/4.1"})
    assert upstream.last_login["scopes"] == ("openid", "phone")
    assert upstream.last_login["user_agent"] == "Mozilla/5.0 wxwork/4.1"


def test_authorize_unknown_client_is_400_page_without_redirect(http):
    resp = authorize(http, client_id="nobody")
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert resp.mimetype == "text/html"
    assert resp.headers["Cache-Control"] == "no-store"


def test_authorize_missing_client_id_is_400_page(http):
    resp = authorize(http, client_id=None)
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_authorize_redirect_uri_mismatch_is_400_page_never_redirect(http):
    resp = authorize(http, redirect_uri="https://evil.example.com/cb")
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert resp.mimetype == "text/html"


def test_authorize_redirect_uri_mismatch_with_bad_response_type_is_page(http):
    resp = authorize(http, redirect_uri="https://evil.example.com/cb", response_type="token")
    assert resp.status_code == 400 and "Location" not in resp.headers


def test_authorize_error_page_for_program_is_json(http):
    resp = http.get("/authorize", query_string=auth_params(client_id="nobody"),
                    headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid_client"


def test_authorize_missing_openid_redirects_invalid_scope(http):
    assert_error_redirect(authorize(http, scope="profile email"), APP_REDIRECT, "invalid_scope")


def test_authorize_response_type_token_redirects_unsupported_response_type(http):
    assert_error_redirect(authorize(http, response_type="token"), APP_REDIRECT,
                          "unsupported_response_type")


def test_authorize_missing_response_type_redirects_error(http):
    q = assert_error_redirect(authorize(http, response_type=None), APP_REDIRECT,
                              "unsupported_response_type")
    assert "code" not in q


def test_authorize_public_client_without_pkce_redirects_invalid_request(http):
    q = assert_error_redirect(authorize(http, client_id=CLI_ID, redirect_uri=CLI_REDIRECT),
                              CLI_REDIRECT, "invalid_request")
    assert "PKCE" in q["error_description"]


def test_authorize_pkce_plain_is_refused(http):
    verifier, _ = pkce_pair()
    assert_error_redirect(
        authorize(http, client_id=CLI_ID, redirect_uri=CLI_REDIRECT, code_challenge=verifier,
                  code_challenge_method="plain"), CLI_REDIRECT, "invalid_request")


def test_authorize_pkce_without_method_is_refused(http):
    _, challenge = pkce_pair()
    assert_error_redirect(
        authorize(http, client_id=CLI_ID, redirect_uri=CLI_REDIRECT, code_challenge=challenge),
        CLI_REDIRECT, "invalid_request")


def test_authorize_public_client_with_s256_goes_upstream(http):
    _, challenge = pkce_pair()
    resp = authorize(http, client_id=CLI_ID, redirect_uri=CLI_REDIRECT,
                     code_challenge=challenge, code_challenge_method="S256")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("https://upstream.test/")


def test_authorize_public_client_loopback_other_port_goes_upstream(http):
    _, challenge = pkce_pair()
    resp = authorize(http, client_id=CLI_ID, redirect_uri="http://127.0.0.1:51234/callback",
                     code_challenge=challenge, code_challenge_method="S256")
    assert resp.headers["Location"].startswith("https://upstream.test/")


def test_authorize_post_form_goes_upstream(http):
    resp = http.post("/authorize", data=auth_params())
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("https://upstream.test/")


@pytest.mark.parametrize("extra", [
    {"unknown_param": "x"}, {"display": "popup"}, {"display": "page"},
    {"login_hint": "zhangsan"}, {"ui_locales": "en-US zh-CN"}, {"claims_locales": "en"},
    {"acr_values": "urn:mace:incommon:iap:silver"},
    {"claims": '{"id_token": {"name": {"essential": true}}}'},
    {"max_age": "10000"}, {"prompt": "login"},
])
def test_authorize_optional_parameters_are_accepted(http, extra):
    resp = authorize(http, **extra)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("https://upstream.test/")


def test_authorize_reversed_scopes_and_no_nonce_are_accepted(http):
    resp = authorize(http, scope="email profile openid", nonce=None)
    assert resp.headers["Location"].startswith("https://upstream.test/")


def test_authorize_prompt_none_without_session_redirects_login_required(http, upstream):
    assert_error_redirect(authorize(http, prompt="none"), APP_REDIRECT, "login_required")
    assert upstream.last_login == {}


def test_authorize_prompt_none_with_login_is_invalid_request(http):
    assert_error_redirect(authorize(http, prompt="none login"), APP_REDIRECT, "invalid_request")


def test_authorize_request_object_is_refused_as_not_supported(http):
    assert_error_redirect(authorize(http, request="eyJhbGciOiJub25lIn0.e30."), APP_REDIRECT,
                          "request_not_supported")


def test_authorize_request_uri_is_refused_as_not_supported(http):
    assert_error_redirect(authorize(http, request_uri="https://app.example.com/req.jwt"),
                          APP_REDIRECT, "request_uri_not_supported")


def test_authorize_duplicate_parameter_is_refused(http):
    resp = http.get("/authorize?" + "&".join(
        f"{k}={quote(v, safe='')}" for k, v in auth_params().items()) + "&state=again")
    assert resp.status_code in (302, 400)
    assert not resp.headers.get("Location", "").startswith("https://upstream.test/")


def test_authorize_error_redirect_keeps_state_untouched(http):
    state = "a b+c/é%20=&"
    q = assert_error_redirect(authorize(http, scope="profile", state=state), APP_REDIRECT,
                              "invalid_scope", state=state)
    assert q["state"] == state


def test_authorize_error_without_state_has_no_state(http):
    resp = authorize(http, scope="profile", state=None)
    q = query(resp.headers["Location"])
    assert "state" not in q and q["iss"] == ISSUER


def test_authorize_saves_pending_request_in_store(build_app, upstream, clock):
    app, store = build_app()
    before = len(store)
    app.test_client().get("/authorize", query_string=auth_params())
    assert len(store) == before + 1


def test_authorize_refused_request_saves_nothing(build_app):
    app, store = build_app()
    app.test_client().get("/authorize", query_string=auth_params(scope="profile"))
    app.test_client().get("/authorize", query_string=auth_params(client_id="nobody"))
    assert len(store) == 0


def test_authorize_with_issuer_path_prefix_is_under_prefix(build_app, upstream):
    app, _ = build_app(issuer="https://sso.example.com/oidc")
    http = app.test_client()
    assert http.get("/authorize", query_string=auth_params()).status_code == 404
    resp = http.get("/oidc/authorize", query_string=auth_params())
    assert resp.headers["Location"].startswith("https://upstream.test/")
    assert upstream.last_login["callback_url"] == "https://sso.example.com/oidc/wecom/callback"


def test_authorize_with_issuer_path_prefix_error_iss_is_full_issuer(build_app):
    app, _ = build_app(issuer="https://sso.example.com/oidc")
    resp = app.test_client().get("/oidc/authorize", query_string=auth_params(scope="email"))
    assert query(resp.headers["Location"])["iss"] == "https://sso.example.com/oidc"


def test_authorize_pkce_malformed_challenge_is_refused(http):
    assert_error_redirect(
        authorize(http, client_id=CLI_ID, redirect_uri=CLI_REDIRECT, code_challenge="short",
                  code_challenge_method="S256"), CLI_REDIRECT, "invalid_request")


def test_authorize_without_redirect_uri_uses_the_single_registered_one(http):
    resp = authorize(http, redirect_uri=None, scope="profile")
    assert_error_redirect(resp, APP_REDIRECT, "invalid_scope")
