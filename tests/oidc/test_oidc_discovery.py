"""Discovery and JWKS: the configured issuer, every endpoint below it, exactly
what the server does, public and readable by browser apps."""

from __future__ import annotations

import pytest
from fakes import ISSUER

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth"}


def discovery(http, prefix: str = "") -> dict:
    resp = http.get(prefix + "/.well-known/openid-configuration")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    return resp.get_json()


def test_discovery_issuer_is_the_configured_issuer(http):
    assert discovery(http)["issuer"] == ISSUER


@pytest.mark.parametrize("name,path", [
    ("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
    ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/jwks.json"),
    ("revocation_endpoint", "/revoke"), ("introspection_endpoint", "/introspect"),
    ("end_session_endpoint", "/end_session"),
])
def test_discovery_endpoint_is_below_issuer_and_served(http, name, path):
    url = discovery(http)[name]
    assert url == ISSUER + path
    assert http.open(path, method="OPTIONS").status_code != 404


def test_discovery_lists_exactly_what_the_server_does(http):
    d = discovery(http)
    assert d["response_types_supported"] == ["code"]
    assert d["response_modes_supported"] == ["query"]
    assert d["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert d["code_challenge_methods_supported"] == ["S256"]
    assert d["id_token_signing_alg_values_supported"] == ["RS256"]
    assert d["subject_types_supported"] == ["public"]
    assert sorted(d["token_endpoint_auth_methods_supported"]) == [
        "client_secret_basic", "client_secret_post", "none"]
    assert d["authorization_response_iss_parameter_supported"] is True
    assert d["request_parameter_supported"] is False
    assert d["request_uri_parameter_supported"] is False
    assert d["claims_parameter_supported"] is False
    assert d["backchannel_logout_supported"] is True
    assert d["backchannel_logout_session_supported"] is True
    assert d["frontchannel_logout_supported"] is True
    assert sorted(d["introspection_endpoint_auth_methods_supported"]) == [
        "client_secret_basic", "client_secret_post"]


def test_discovery_scopes_include_openid_and_only_served_ones(http):
    assert discovery(http)["scopes_supported"] == ["openid", "profile", "email", "phone", "groups",
                                                   "offline_access"]


def test_discovery_claims_cover_every_released_claim(http):
    claims = set(discovery(http)["claims_supported"])
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name",
            "preferred_username", "email", "email_verified", "phone_number"} <= claims


def test_discovery_has_no_endpoint_the_server_lacks(http):
    d = discovery(http)
    for absent in ("registration_endpoint", "pushed_authorization_request_endpoint",
                   "device_authorization_endpoint"):
        assert absent not in d


def test_discovery_is_public_with_cors(http):
    resp = http.get("/.well-known/openid-configuration")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Cache-Control"].startswith("public")


def test_discovery_under_issuer_prefix(build_app):
    app, _ = build_app(issuer="https://sso.example.com/oidc")
    http = app.test_client()
    d = discovery(http, "/oidc")
    assert d["issuer"] == "https://sso.example.com/oidc"
    assert d["token_endpoint"] == "https://sso.example.com/oidc/token"
    assert http.get("/.well-known/openid-configuration").status_code == 404


def test_jwks_serves_the_keyring_keys(http, keyring):
    resp = http.get("/jwks.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert [k["kid"] for k in resp.get_json()["keys"]] == [keyring.kid]


def test_jwks_has_no_private_members(http):
    for jwk in http.get("/jwks.json").get_json()["keys"]:
        assert PRIVATE_MEMBERS.isdisjoint(jwk)
        assert {"kty", "n", "e", "kid", "alg", "use"} <= set(jwk)


def test_jwks_is_public_with_cors(http):
    resp = http.get("/jwks.json")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Cache-Control"].startswith("public")


def test_healthz_is_ok(http):
    resp = http.get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_discovery_ignores_forwarded_headers_by_default(http):
    d = http.get("/.well-known/openid-configuration",
                 headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
                          "Host": "other.example"}).get_json()
    assert d["issuer"] == ISSUER and d["token_endpoint"] == ISSUER + "/token"


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks.json"])
def test_public_document_with_its_etag_is_not_modified(http, path):
    first = http.get(path)
    etag = first.headers["ETag"]
    again = http.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"].startswith("public")
    other = http.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.get_json() == first.get_json()
    for held in ("W/" + etag, f'"other", {etag}', "*"):
        assert http.get(path, headers={"If-None-Match": held}).status_code == 304


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/jwks.json"])
def test_public_document_answered_in_front_of_flask_keeps_every_header(http, path):
    """Served before Flask's hooks run, the documents still carry what the hooks give
    every JSON answer, HEAD has no body, and a browser's preflight is answered."""
    resp, flask_json = http.get(path), http.get("/healthz")
    for name in ("X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
                 "Content-Security-Policy"):
        assert resp.headers[name] == flask_json.headers[name]
    assert resp.headers["X-Request-Id"] and resp.mimetype == "application/json"
    head = http.head(path)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == resp.headers["Content-Length"]
    preflight = http.open(path, method="OPTIONS", headers={
        "Origin": "https://spa.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert http.post(path).status_code in (404, 405)  # never the document
