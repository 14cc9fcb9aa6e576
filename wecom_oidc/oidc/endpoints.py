"""Token revocation (RFC 7009) and introspection (RFC 7662) on Authlib's endpoint
classes. Access tokens are JWTs whose record lives under their jti (or, per client,
opaque strings whose record lives under their hash); refresh tokens are opaque and
live under their own (hashed) value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from ..ops.audit import audit
from .grants import ACCESS_TOKEN, AUTH_METHODS, REFRESH_TOKEN
from .models import Client, StoredToken

if TYPE_CHECKING:
    from .provider import Provider


def find_token(provider: Provider, value: str, hint: str | None) -> StoredToken | None:
    """Look in the hinted kind first, then the other (RFC 7009 §2.1)."""
    kinds = [ACCESS_TOKEN, REFRESH_TOKEN]
    if hint == REFRESH_TOKEN:
        kinds.reverse()
    for kind in kinds:
        if kind == ACCESS_TOKEN:
            key = provider.access_token_id(value)
            record = provider.store.get(ACCESS_TOKEN, key) if key else None
            if record:
                return StoredToken(kind, key, record)  # type: ignore[arg-type]
        else:
            record = provider.store.get(REFRESH_TOKEN, value)
            if record:
                return StoredToken(kind, value, record)
    return None


class Revocation(RevocationEndpoint):
    """RFC 7009 at /revoke."""

    server: Provider
    # Public clients may revoke their own tokens too (RFC 7009 §2.1).
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return find_token(self.server, token_string, token_type_hint)

    def revoke_token(self, token: StoredToken, request: Any) -> None:
        self.server.store.delete(token.kind, token.key)
        # RFC 7009 §2.1: a refresh token takes the access tokens of its grant along.
        family = token.record.get("access_tokens", [])
        for jti, _exp in family:
            self.server.store.delete(ACCESS_TOKEN, jti)
        audit("revoke", sub=token.record["sub"], client=token.record["client_id"],
              outcome="success", token_type=token.kind, revoked_access=len(family))


class Introspection(IntrospectionEndpoint):
    """RFC 7662 at /introspect."""

    server: Provider
    # Confidential clients only: introspection tells who a token belongs to.
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return find_token(self.server, token_string, token_type_hint)

    def check_permission(self, token: StoredToken, client: Client, request: Any) -> bool:
        # A client may introspect tokens issued to it; anything else is inactive.
        return token.check_client(client)

    def introspect_token(self, token: StoredToken) -> dict[str, Any]:
        r = token.record
        return {"active": True, "client_id": r["client_id"], "sub": r["sub"],
                "scope": r["scope"], "exp": int(r["exp"]), "iat": int(r["iat"]),
                "iss": self.server.settings.issuer, "aud": r["client_id"],
                "token_type": "Bearer" if token.kind == ACCESS_TOKEN else "refresh_token",
                "username": r.get("username") or r.get("claims", {}).get(
                    "preferred_username", r["sub"])}
