"""Revocation (RFC 7009), introspection (RFC 7662) and JWT access tokens (RFC 9068),
end to end: tokens from real logins, checked through the bridge's endpoints and
locally against its JWKS as a resource server would."""

from __future__ import annotations

import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from .stack import CONFIDENTIAL, RelyingParty, browser, qr_login, start_stack

OTHER = ("other", "other-secret-0123456789-01234567", "https://other.example/callback")
EXTRA = f"""
[[clients]]
client_id = "{OTHER[0]}"
client_secret = "{OTHER[1]}"
redirect_uris = ["{OTHER[2]}"]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("op-tokens"), extra_config=EXTRA)
    yield s
    s.stop()


def login(stack, rp: RelyingParty | None = None,
          scope: str = "openid profile email offline_access") -> dict:
    rp = rp or RelyingParty(stack, scope=scope)
    started = rp.start()
    token, _, _ = rp.finish(qr_login(stack, started["url"], "zhangsan"), started)
    return token


def introspect(stack, token: str, auth=CONFIDENTIAL, **extra) -> requests.Response:
    return requests.post(stack.bridge_url + "/introspect", auth=auth,
                         data={"token": token, **extra}, timeout=5)


def revoke(stack, token: str, auth=CONFIDENTIAL, **extra) -> requests.Response:
    return requests.post(stack.bridge_url + "/revoke", auth=auth,
                         data={"token": token, **extra}, timeout=5)


def userinfo(stack, access_token: str) -> requests.Response:
    return requests.get(stack.bridge_url + "/userinfo", timeout=5,
                        headers={"Authorization": "Bearer " + access_token})


def jwks(stack) -> KeySet:
    return KeySet.import_key_set(requests.get(stack.bridge_url + "/jwks.json", timeout=5).json())


def test_introspect_valid_access_token_active_with_sub_client_scope_exp(stack):
    token = login(stack)
    r = introspect(stack, token["access_token"])
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["active"] is True
    assert body["sub"] == "zhangsan"
    assert body["client_id"] == CONFIDENTIAL[0]
    assert set(body["scope"].split()) == set(token["scope"].split())
    assert body["exp"] > time.time()
    assert body["iss"] == stack.bridge_url


def test_introspect_refresh_token_active_with_hint(stack):
    token = login(stack)
    body = introspect(stack, token["refresh_token"], token_type_hint="refresh_token").json()
    assert body["active"] is True
    assert body["sub"] == "zhangsan"
    assert body["client_id"] == CONFIDENTIAL[0]


def test_introspect_client_secret_post_accepted(stack):
    token = login(stack)
    r = requests.post(stack.bridge_url + "/introspect", timeout=5, data={
        "token": token["access_token"], "client_id": CONFIDENTIAL[0],
        "client_secret": CONFIDENTIAL[1]})
    assert r.json()["active"] is True


def test_revoke_access_token_introspection_inactive_and_userinfo_401(stack):
    token = login(stack)
    assert userinfo(stack, token["access_token"]).status_code == 200
    r = revoke(stack, token["access_token"], token_type_hint="access_token")
    assert r.status_code == 200
    assert introspect(stack, token["access_token"]).json() == {"active": False}
    info = userinfo(stack, token["access_token"])
    assert info.status_code == 401
    assert 'error="invalid_token"' in info.headers["WWW-Authenticate"]


def test_revoke_refresh_token_makes_it_unusable(stack):
    rp = RelyingParty(stack, scope="openid profile offline_access")
    token = login(stack, rp)
    assert revoke(stack, token["refresh_token"], token_type_hint="refresh_token") \
        .status_code == 200
    assert introspect(stack, token["refresh_token"]).json() == {"active": False}
    r = requests.post(stack.bridge_url + "/token", auth=CONFIDENTIAL, timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_revoke_refresh_token_revokes_access_tokens_of_its_grant(stack):
    """RFC 7009 §2.1: revoking the refresh token also ends every access token issued
    from the same grant: the first one and those of earlier refreshes."""
    rp = RelyingParty(stack, scope="openid profile offline_access")
    first = login(stack, rp)
    second = rp.refresh(first["refresh_token"])
    for access in (first["access_token"], second["access_token"]):
        assert userinfo(stack, access).status_code == 200
    assert revoke(stack, second["refresh_token"], token_type_hint="refresh_token") \
        .status_code == 200
    for access in (first["access_token"], second["access_token"]):
        assert userinfo(stack, access).status_code == 401
        assert introspect(stack, access).json() == {"active": False}


def test_revoke_refresh_token_leaves_other_apps_of_the_session_alone(stack):
    b = browser()
    rp = RelyingParty(stack, scope="openid profile offline_access")
    started = rp.start()
    token, _, _ = rp.finish(qr_login(stack, started["url"], "zhangsan", b=b), started)
    other = RelyingParty(stack, scope="openid profile offline_access", client_id=OTHER[0],
                         client_secret=OTHER[1], redirect_uri=OTHER[2])
    started = other.start()
    silent = b.get(started["url"], allow_redirects=False).headers["Location"]
    other_token, _, _ = other.finish(silent, started)
    revoke(stack, token["refresh_token"])
    assert userinfo(stack, token["access_token"]).status_code == 401
    assert userinfo(stack, other_token["access_token"]).status_code == 200
    assert other.refresh(other_token["refresh_token"])["access_token"]


def test_revoke_by_public_client_of_its_own_token_succeeds(stack):
    rp = RelyingParty(stack, public=True, scope="openid profile")
    token = login(stack, rp)
    r = requests.post(stack.bridge_url + "/revoke", timeout=5, data={
        "token": token["access_token"], "client_id": "cli"})
    assert r.status_code == 200
    assert userinfo(stack, token["access_token"]).status_code == 401


def test_revoke_unknown_token_answers_200(stack):
    assert revoke(stack, "not-a-token-we-issued").status_code == 200


def test_revoke_by_another_client_leaves_token_active(stack):
    token = login(stack)
    revoke(stack, token["access_token"], auth=OTHER[:2])
    assert introspect(stack, token["access_token"]).json()["active"] is True
    assert userinfo(stack, token["access_token"]).status_code == 200


def test_introspect_public_client_refused_invalid_client(stack):
    rp = RelyingParty(stack, public=True, scope="openid profile")
    token = login(stack, rp)
    r = requests.post(stack.bridge_url + "/introspect", timeout=5, data={
        "token": token["access_token"], "client_id": "cli"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_introspect_wrong_secret_refused_invalid_client(stack):
    token = login(stack)
    r = introspect(stack, token["access_token"], auth=(CONFIDENTIAL[0], "wrong"))
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_introspect_another_clients_token_inactive(stack):
    token = login(stack)
    r = introspect(stack, token["access_token"], auth=OTHER[:2])
    assert r.status_code == 200
    assert r.json() == {"active": False}


def test_introspect_foreign_strings_inactive(stack):
    foreign_key = RSAKey.generate_key(2048, private=True)
    now = int(time.time())
    forged = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "x"}, {
        "iss": stack.bridge_url, "sub": "zhangsan", "aud": CONFIDENTIAL[0],
        "client_id": CONFIDENTIAL[0], "exp": now + 600, "iat": now, "jti": "forged",
        "scope": "openid"}, foreign_key)
    for value in ("garbage", "a.b.c", forged, "x" * 5000):
        r = introspect(stack, value)
        assert r.status_code == 200, value[:20]
        assert r.json() == {"active": False}


def test_introspect_expired_access_token_inactive(stack):
    """The bridge's own key signs a copy of a live token that has expired (same jti,
    so its record still exists): only the expiry makes it inactive."""
    token = login(stack)
    claims = jwt.decode(token["access_token"], jwks(stack)).claims
    key_file = sorted((stack.workdir / "keys").glob("*.pem"))[-1]
    key = RSAKey.import_key(key_file.read_bytes())
    now = int(time.time())
    expired = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.thumbprint()},
                         {**claims, "iat": now - 7200, "exp": now - 3600}, key)
    assert introspect(stack, expired).json() == {"active": False}
    assert userinfo(stack, expired).status_code == 401
    assert introspect(stack, token["access_token"]).json()["active"] is True


def test_access_token_verifies_locally_with_jwks_as_rfc9068(stack):
    token = login(stack)
    parsed = jwt.decode(token["access_token"], jwks(stack), algorithms=["RS256"])
    assert parsed.header["typ"] == "at+jwt"
    assert parsed.header["alg"] == "RS256"
    assert parsed.header["kid"]
    c = parsed.claims
    assert c["iss"] == stack.bridge_url
    assert c["aud"] == CONFIDENTIAL[0]
    assert c["client_id"] == CONFIDENTIAL[0]
    assert c["sub"] == "zhangsan"
    assert c["jti"]
    assert c["iat"] <= time.time() < c["exp"]
    assert set(c["scope"].split()) == set(token["scope"].split())
    assert isinstance(c["auth_time"], int)
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": stack.bridge_url},
                          aud={"essential": True, "value": CONFIDENTIAL[0]}).validate(c)


def test_access_token_in_form_body_accepted_by_userinfo(stack):
    token = login(stack)
    r = requests.post(stack.bridge_url + "/userinfo", timeout=5,
                      data={"access_token": token["access_token"]})
    assert r.status_code == 200
    assert r.json()["sub"] == "zhangsan"
