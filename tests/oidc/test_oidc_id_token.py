"""The ID token, validated like a relying party would: against /jwks.json with
joserfc, every required claim checked, only the granted scopes' claims."""

from __future__ import annotations

import base64
import hashlib

import pytest
from fakes import APP_ID, CLI_ID, CLI_REDIRECT, ISSUER, exchange, login, pkce_pair
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet


def id_token_of(http, prefix: str = "", **params) -> tuple[dict, dict, dict]:
    """(header, claims, token response) after a full login, the token checked
    against the published JWKS."""
    body = exchange(http, login(http, prefix=prefix, **params), prefix=prefix).get_json()
    keys = KeySet.import_key_set(http.get(prefix + "/jwks.json").get_json())
    token = jwt.decode(body["id_token"], keys, algorithms=["RS256"])
    return dict(token.header), dict(token.claims), body


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_id_token_header_is_rs256_with_published_kid(http):
    header, _, _ = id_token_of(http)
    kids = [k["kid"] for k in http.get("/jwks.json").get_json()["keys"]]
    assert header["alg"] == "RS256" and header["kid"] in kids


def test_id_token_signature_fails_with_another_key(http, tmp_path):
    from wecom_oidc.oidc.keys import KeyRing

    body = exchange(http, login(http))
    stranger = KeyRing.load(tmp_path).signing_key
    with pytest.raises(BadSignatureError):
        jwt.decode(body.get_json()["id_token"], stranger, algorithms=["RS256"])


def test_id_token_iss_and_aud_are_issuer_and_client(http):
    _, claims, _ = id_token_of(http)
    assert claims["iss"] == ISSUER
    assert claims["aud"] == APP_ID


def test_id_token_sub_is_the_userid(http):
    _, claims, _ = id_token_of(http)
    assert claims["sub"] == "zhangsan"


def test_id_token_times_follow_the_injected_clock(http, clock):
    _, claims, _ = id_token_of(http)
    assert claims["iat"] == int(clock.now)
    assert claims["exp"] == int(clock.now) + 3600
    assert claims["auth_time"] == int(clock.now)


def test_id_token_auth_time_is_login_time_not_exchange_time(http, clock):
    code = login(http)
    logged_in = int(clock.now)
    clock.advance(30)
    body = exchange(http, code).get_json()
    claims = jwt.decode(body["id_token"], KeySet.import_key_set(
        http.get("/jwks.json").get_json())).claims
    assert claims["auth_time"] == logged_in
    assert claims["iat"] == logged_in + 30


def test_id_token_nonce_is_passed_through_untouched(http):
    nonce = "n+/=é ü-0123456789" * 3
    _, claims, _ = id_token_of(http, nonce=nonce)
    assert claims["nonce"] == nonce


def test_id_token_without_nonce_has_no_nonce(http):
    _, claims, _ = id_token_of(http, nonce=None)
    assert "nonce" not in claims


def test_id_token_at_hash_matches_access_token(http):
    _, claims, body = id_token_of(http)
    assert claims["at_hash"] == at_hash(body["access_token"])


def test_id_token_is_a_compact_jws_with_three_parts(http):
    body = exchange(http, login(http)).get_json()
    assert body["id_token"].count(".") == 2
    assert jws.extract_compact(body["id_token"].encode()).protected["alg"] == "RS256"


def test_id_token_profile_without_email_has_no_email_claim(http):
    _, claims, _ = id_token_of(http, scope="openid profile")
    assert claims["name"] == "张三" and claims["preferred_username"] == "zhangsan"
    assert claims["gender"] == "male"
    assert "email" not in claims and "email_verified" not in claims
    assert "phone_number" not in claims


def test_id_token_openid_only_has_no_profile_claims(http):
    _, claims, _ = id_token_of(http, scope="openid")
    assert not {"name", "preferred_username", "email", "phone_number"} & set(claims)


def test_id_token_email_scope_gives_email_claims(http):
    _, claims, _ = id_token_of(http, scope="openid email")
    assert claims["email"] == "zhangsan@corp.example"
    assert claims["email_verified"] is False
    assert "name" not in claims


def test_id_token_phone_scope_gives_phone_claims(http):
    _, claims, _ = id_token_of(http, scope="openid phone")
    assert claims["phone_number"] == "13800000001"
    assert claims["phone_number_verified"] is False


def test_id_token_claims_in_id_token_off_keeps_only_sub(build_app):
    app, _ = build_app(extra="[claims]\nclaims_in_id_token = false\n")
    _, claims, _ = id_token_of(app.test_client(), scope="openid profile email")
    assert "name" not in claims and "email" not in claims and claims["sub"] == "zhangsan"


def test_id_token_public_client_aud_is_its_client_id(http):
    verifier, challenge = pkce_pair()
    code = login(http, client_id=CLI_ID, redirect_uri=CLI_REDIRECT, code_challenge=challenge,
                 code_challenge_method="S256")
    body = exchange(http, code, client_id=CLI_ID, secret=None, redirect_uri=CLI_REDIRECT,
                    code_verifier=verifier).get_json()
    claims = jwt.decode(body["id_token"], KeySet.import_key_set(
        http.get("/jwks.json").get_json())).claims
    assert claims["aud"] == CLI_ID


def test_id_token_under_issuer_prefix_has_prefixed_iss(build_app):
    app, _ = build_app(issuer="https://sso.example.com/oidc")
    _, claims, _ = id_token_of(app.test_client(), prefix="/oidc")
    assert claims["iss"] == "https://sso.example.com/oidc"
