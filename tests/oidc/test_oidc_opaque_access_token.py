"""A client with access_token_format = "opaque": a random access token (no JWT to sign
or verify) that /userinfo, /introspect and /revoke read back from the store; other
clients keep RFC 9068 JWTs."""

from __future__ import annotations

import pytest
from fakes import APP_ID, APP_SECRET, basic_auth, exchange, login

OPAQUE = ("opaque-app", "opaque-app-secret-0123456789-0123", "https://opaque.example.com/cb")
EXTRA = f"""
[[clients]]
client_id = "{OPAQUE[0]}"
client_secret = "{OPAQUE[1]}"
redirect_uris = ["{OPAQUE[2]}"]
access_token_format = "opaque"
refresh_tokens = "always"
"""


@pytest.fixture
def http(build_app):
    return build_app(extra=EXTRA)[0].test_client()


def opaque_tokens(http) -> dict:
    code = login(http, "zhangsan", client_id=OPAQUE[0], redirect_uri=OPAQUE[2],
                 scope="openid profile")
    resp = exchange(http, code, client_id=OPAQUE[0], secret=OPAQUE[1], redirect_uri=OPAQUE[2])
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def userinfo(http, token: str):
    return http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})


def test_opaque_client_access_token_is_no_jwt_and_answers_userinfo(http):
    token = opaque_tokens(http)["access_token"]
    assert "." not in token and len(token) >= 43
    resp = userinfo(http, token)
    assert resp.status_code == 200 and resp.get_json()["sub"] == "zhangsan"


def test_opaque_access_token_unknown_value_is_refused(http):
    opaque_tokens(http)
    assert userinfo(http, "x" * 43).status_code == 401


def test_opaque_access_token_introspects_active_for_its_client(http):
    token = opaque_tokens(http)["access_token"]
    resp = http.post("/introspect", data={"token": token}, headers=basic_auth(*OPAQUE[:2]))
    body = resp.get_json()
    assert body["active"] is True and body["client_id"] == OPAQUE[0]
    assert body["sub"] == "zhangsan"


def test_opaque_access_token_revoked_stops_userinfo(http):
    token = opaque_tokens(http)["access_token"]
    resp = http.post("/revoke", data={"token": token}, headers=basic_auth(*OPAQUE[:2]))
    assert resp.status_code == 200
    assert userinfo(http, token).status_code == 401


def test_opaque_access_token_goes_with_its_revoked_refresh_token(http):
    tokens = opaque_tokens(http)
    resp = http.post("/revoke", data={"token": tokens["refresh_token"]},
                     headers=basic_auth(*OPAQUE[:2]))
    assert resp.status_code == 200
    assert userinfo(http, tokens["access_token"]).status_code == 401


def test_other_clients_keep_jwt_access_tokens(http):
    resp = exchange(http, login(http, "zhangsan"), client_id=APP_ID, secret=APP_SECRET)
    assert resp.get_json()["access_token"].count(".") == 2
