"""The bridge's own JWT encoder and verifier (oidc/tokens.py): what it signs any JOSE
library verifies, and it accepts exactly the tokens its keys signed."""

from __future__ import annotations

import base64
import json

import pytest
from fakes import FakeClock
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from wecom_oidc.oidc.keys import KeyRing
from wecom_oidc.oidc.tokens import Jwts

ISSUER = "https://sso.example.com"


@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> KeyRing:
    return KeyRing.load(tmp_path_factory.mktemp("keys"), algs=("RS256", "ES256"))


def _claims(clock: FakeClock, **extra) -> dict:
    return {"iss": ISSUER, "sub": "zhangsan", "name": "张三", "exp": int(clock()) + 60,
            **extra}


def _segment(token: str, i: int) -> dict:
    part = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_jwts_encoded_token_verifies_with_joserfc(ring, alg):
    clock = FakeClock()
    token = Jwts(ring, ISSUER, clock).encode(_claims(clock), typ="at+jwt", alg=alg)
    parsed = jwt.decode(token, KeySet([f.key for f in ring.files]), algorithms=[alg])
    assert parsed.header == {"alg": alg, "kid": ring.signer(alg)[1], "typ": "at+jwt"}
    assert parsed.claims == _claims(clock)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_jwts_decode_returns_claims_of_own_token(ring, alg):
    clock = FakeClock()
    jwts = Jwts(ring, ISSUER, clock)
    token = jwts.encode(_claims(clock), typ="at+jwt", alg=alg)
    assert Jwts(ring, ISSUER, clock).decode(token, typ="at+jwt") == _claims(clock)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_jwts_decode_tampered_payload_is_none(ring, alg):
    clock = FakeClock()
    jwts = Jwts(ring, ISSUER, clock)
    head, _, sig = jwts.encode(_claims(clock), alg=alg).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(_claims(clock, sub="lisi")).encode())
    assert jwts.decode(f"{head}.{forged.decode().rstrip('=')}.{sig}") is None


def test_jwts_decode_token_of_foreign_key_with_our_kid_is_none(ring):
    clock = FakeClock()
    foreign = RSAKey.generate_key(2048, private=True)
    token = jwt.encode({"alg": "RS256", "kid": ring.kid, "typ": "at+jwt"}, _claims(clock),
                       foreign, algorithms=["RS256"])
    assert Jwts(ring, ISSUER, clock).decode(token) is None


def test_jwts_decode_token_of_unknown_kid_is_none(ring):
    clock = FakeClock()
    foreign = RSAKey.generate_key(2048, private=True)
    token = jwt.encode({"alg": "RS256", "kid": "someone-else"}, _claims(clock), foreign,
                       algorithms=["RS256"])
    assert Jwts(ring, ISSUER, clock).decode(token) is None


def test_jwts_decode_alg_other_than_the_keys_is_none(ring):
    clock = FakeClock()
    jwts = Jwts(ring, ISSUER, clock)
    head, payload, sig = jwts.encode(_claims(clock), alg="ES256").split(".")
    header = {**_segment(head + ".", 0), "kid": ring.kid}  # ES256 over the RSA key's kid
    swapped = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
    assert jwts.decode(f"{swapped}.{payload}.{sig}") is None


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "a.b.c.d", "...", "é.é.é"])
def test_jwts_decode_malformed_is_none(ring, token):
    assert Jwts(ring, ISSUER, FakeClock()).decode(token) is None


def test_jwts_decode_checks_expiry_again_on_a_verified_token(ring):
    clock = FakeClock()
    jwts = Jwts(ring, ISSUER, clock)
    token = jwts.encode(_claims(clock))
    assert jwts.decode(token) is not None
    clock.advance(61)
    assert jwts.decode(token) is None
    assert jwts.decode(token, check_exp=False) == _claims(FakeClock())


def test_jwts_decode_checks_type_and_issuer_on_a_verified_token(ring):
    clock = FakeClock()
    jwts = Jwts(ring, ISSUER, clock)
    token = jwts.encode(_claims(clock), typ="logout+jwt")
    assert jwts.decode(token, typ="logout+jwt") is not None
    assert jwts.decode(token, typ="at+jwt") is None
    other = Jwts(ring, "https://elsewhere.example.com", clock)
    assert other.decode(jwts.encode(_claims(clock))) is None


def test_jwts_decoded_claims_are_a_copy(ring):
    clock = FakeClock()
    jwts = Jwts(ring, ISSUER, clock)
    token = jwts.encode(_claims(clock))
    jwts.decode(token)["sub"] = "changed"
    assert jwts.decode(token)["sub"] == "zhangsan"


def test_jwts_memo_stays_bounded(ring):
    clock = FakeClock()
    jwts = Jwts(ring, ISSUER, clock)
    tokens = [jwts.encode(_claims(clock, jti=str(i)), alg="ES256")
              for i in range(Jwts.MEMO_SIZE + 5)]
    assert all(jwts.decode(t) is not None for t in tokens)
    assert len(jwts._verified) <= Jwts.MEMO_SIZE


def test_jwts_access_token_just_issued_decodes_as_signed(ring):
    clock = FakeClock()
    jwts = Jwts(ring, ISSUER, clock)
    token, jti = jwts.access_token(client_id="app", sub="zhangsan", scope="openid",
                                   auth_time=int(clock()), ttl=60)
    fresh = Jwts(ring, ISSUER, clock).decode(token, typ="at+jwt")
    assert fresh is not None and fresh["jti"] == jti
    assert jwts.decode(token, typ="at+jwt") == fresh
    clock.advance(61)
    assert jwts.decode(token, typ="at+jwt") is None
