"""CORS on the endpoints browser apps call: only the origins of public clients'
redirect URIs and configured allowed_origins are echoed, with Vary: Origin; never a
wildcard on token, userinfo or revoke. (A real SPA in Chromium: tests/browser.)"""

from __future__ import annotations

import pytest
from fakes import settings_toml

from wecom_oidc.errors import ConfigError

CLI_ORIGIN = "http://127.0.0.1:8000"  # fakes' public client redirects there
SPA = """
[[clients]]
client_id = "spa"
redirect_uris = ["https://spa.example.com/callback"]

[[clients]]
client_id = "bff"
client_secret = "bff-secret-0123456789abcdefghijklmnop"
redirect_uris = ["https://bff.example.com/cb"]
allowed_origins = ["https://portal.example.com:8443"]
"""
ALLOWED = ["https://spa.example.com", CLI_ORIGIN, "https://portal.example.com:8443"]
FOREIGN = ["https://evil.example.com", "https://spa.example.com.evil.example", "null",
           "https://bff.example.com", "http://spa.example.com"]


@pytest.fixture
def http(build_app):
    """The fakes' clients only: two confidential ones and a loopback public one."""
    return build_app()[0].test_client()


@pytest.fixture
def cors_http(make_settings, keyring, clock, upstream):
    from wecom_oidc.app import create_app
    from wecom_oidc.store import MemoryStore

    settings = make_settings(settings_toml() + SPA)
    return create_app(settings, store=MemoryStore(clock=clock), upstream=upstream,
                      keys=keyring, clock=clock).test_client()


@pytest.mark.parametrize("origin", ALLOWED)
@pytest.mark.parametrize("path, method", [("/token", "POST"), ("/revoke", "POST"),
                                          ("/userinfo", "GET")])
def test_cors_preflight_from_an_allowed_origin_is_granted(cors_http, origin, path, method):
    resp = cors_http.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization"})
    assert resp.status_code in (200, 204)
    assert resp.headers["Access-Control-Allow-Origin"] == origin
    assert method in resp.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    assert "Origin" in resp.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in resp.headers


@pytest.mark.parametrize("origin", FOREIGN)
@pytest.mark.parametrize("path", ["/token", "/revoke", "/userinfo"])
def test_cors_foreign_origin_gets_no_grant(cors_http, origin, path):
    pre = cors_http.options(path, headers={"Origin": origin,
                                           "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in pre.headers
    assert "Origin" in pre.headers["Vary"]
    resp = cors_http.post(path, headers={"Origin": origin}, data={"client_id": "spa"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_error_answers_are_readable_by_the_app(cors_http):
    resp = cors_http.post("/token", headers={"Origin": "https://spa.example.com"},
                          data={"grant_type": "authorization_code", "client_id": "spa",
                                "code": "nope"})
    assert resp.status_code == 400
    assert resp.headers["Access-Control-Allow-Origin"] == "https://spa.example.com"
    assert "Retry-After" in resp.headers["Access-Control-Expose-Headers"]
    userinfo = cors_http.get("/userinfo", headers={"Origin": "https://spa.example.com",
                                                  "Authorization": "Bearer junk"})
    assert userinfo.status_code == 401
    assert userinfo.headers["Access-Control-Allow-Origin"] == "https://spa.example.com"
    assert "WWW-Authenticate" in userinfo.headers["Access-Control-Expose-Headers"]


def test_cors_other_endpoints_grant_nothing_to_anyone(cors_http):
    for path in ("/introspect", "/authorize", "/end_session"):
        resp = cors_http.options(path, headers={"Origin": "https://spa.example.com",
                                                "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in resp.headers, path


def test_cors_public_metadata_is_open_to_any_origin(cors_http):
    for path in ("/.well-known/openid-configuration", "/jwks.json"):
        resp = cors_http.get(path, headers={"Origin": "https://evil.example.com"})
        assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_confidential_redirect_origins_are_not_granted(http):
    resp = http.options("/token", headers={"Origin": "https://app.example.com",
                                           "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.parametrize("origin, words", [
    ("*", "wildcard"), ("https://spa.example.com/app", "no path"),
    ("http://spa.example.com", "https"), ("spa.example.com", "scheme"),
])
def test_cors_bad_allowed_origin_is_a_config_error(make_settings, origin, words):
    text = settings_toml() + SPA.replace("https://portal.example.com:8443", origin)
    with pytest.raises(ConfigError) as e:
        make_settings(text)
    assert any("clients[4].allowed_origins[0]" in p and words in p
               for p in e.value.problems), e.value.problems
