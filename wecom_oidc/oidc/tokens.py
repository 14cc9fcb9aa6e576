"""JWTs the bridge signs and reads back: RFC 9068 access tokens, back-channel
logout tokens, and its own ID tokens when they come back as id_token_hint."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .keys import ALGS, SIGNING_ALG, KeyRing

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Jwts:
    """Sign with the key ring, verify against every published key (old ones too)."""

    def __init__(self, keys: KeyRing, issuer: str, clock: Callable[[], float]):
        self.keys, self.issuer, self.clock = keys, issuer, clock
        self._keyset = KeySet([f.key for f in keys.files])

    def encode(self, claims: dict[str, Any], *, typ: str = "JWT", alg: str = SIGNING_ALG) -> str:
        key, kid = self.keys.signer(alg)
        return jwt.encode({"alg": alg, "kid": kid, "typ": typ}, claims, key, algorithms=[alg])

    def decode(self, token: str, *, typ: str | None = None, check_exp: bool = True
               ) -> dict[str, Any] | None:
        """The claims of a token this issuer signed, or None (bad signature, foreign
        issuer, wrong type, expired unless `check_exp` is off)."""
        try:
            parsed = jwt.decode(token, self._keyset, algorithms=list(ALGS))
        except (JoseError, ValueError, TypeError):
            return None
        claims = parsed.claims
        if claims.get("iss") != self.issuer:
            return None
        if typ is not None and parsed.header.get("typ", "").lower() != typ:
            return None
        if check_exp and not int(claims.get("exp", 0)) > self.clock():
            return None
        return claims

    def access_token(self, *, client_id: str, sub: str, scope: str, auth_time: int,
                     ttl: int) -> tuple[str, str]:
        """An RFC 9068 access token, so resource servers can verify it locally.
        Returns (token, jti); the store keeps the record under the jti."""
        now = int(self.clock())
        jti = secrets.token_urlsafe(16)
        claims = {"iss": self.issuer, "sub": sub, "aud": client_id, "client_id": client_id,
                  "scope": scope, "iat": now, "exp": now + ttl, "auth_time": auth_time,
                  "jti": jti}
        return self.encode(claims, typ="at+jwt"), jti

    def logout_token(self, *, client_id: str, sub: str, sid: str) -> str:
        """OIDC Back-Channel Logout 1.0 §2.4."""
        now = int(self.clock())
        claims = {"iss": self.issuer, "sub": sub, "aud": client_id, "iat": now,
                  "exp": now + 120, "jti": secrets.token_urlsafe(16), "sid": sid,
                  "events": {BACKCHANNEL_EVENT: {}}}
        return self.encode(claims, typ="logout+jwt")
