"""The authorization code grant with OpenID Connect and PKCE, wired to our store
and keys. Authlib stays the only validator of the protocol parameters."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from authlib.oidc.core.grants import OpenIDCode

from .claims import claims_for_scope
from .keys import SIGNING_ALG
from .models import AuthorizationCode, Client, User

if TYPE_CHECKING:
    from .provider import Provider

log = logging.getLogger(__name__)

CODE = "code"
USED_CODE = "code_used"
ACCESS_TOKEN = "access_token"


def new_grant_id() -> str:
    return secrets.token_urlsafe(16)


def code_grant(provider: Provider) -> type[grants.AuthorizationCodeGrant]:
    """The code grant class bound to one provider (Authlib instantiates it per request)."""

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

        def generate_authorization_code(self) -> str:
            return secrets.token_urlsafe(32)

        def save_authorization_code(self, code: str, request: Any) -> None:
            user: User = request.user
            data = request.payload.data
            record = AuthorizationCode(
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.scope, sub=user.sub, claims=user.claims,
                auth_time=user.auth_time, grant_id=new_grant_id(),
                nonce=data.get("nonce") or None,
                code_challenge=data.get("code_challenge") or None,
                code_challenge_method="S256" if data.get("code_challenge") else None,
            )
            provider.store.put(CODE, code, record.to_record(), provider.settings.tokens.code_ttl)

        def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
            store = provider.store
            record = store.take(CODE, code)
            if record is None:
                used = store.get(USED_CODE, code)
                if used:
                    # A replayed code means it leaked: kill what it bought (RFC 6749 §4.1.2).
                    n = store.revoke_grant(used["grant_id"])
                    log.warning("authorization code reused client=%s; revoked %d token(s)",
                                client.client_id, n)
                return None
            store.put(USED_CODE, code, {"grant_id": record["grant_id"]},
                      provider.settings.tokens.access_token_ttl)
            found = AuthorizationCode.from_record(record)
            return found if found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
            """Nothing to do: query_authorization_code took the code atomically."""

        def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
            return User(authorization_code.sub, authorization_code.claims,
                        authorization_code.auth_time)

    return CodeGrant


class BridgeOpenIDCode(OpenIDCode):
    """ID tokens signed by the key ring's newest key, with the granted scopes' claims."""

    def __init__(self, provider: Provider):
        super().__init__(require_nonce=False)
        self.provider = provider

    def __call__(self, grant: Any) -> None:
        super().__call__(grant)
        grant.register_hook("after_validate_authorization_request_payload", require_openid)
        grant.register_hook("after_validate_authorization_request_payload",
                            refuse_request_objects)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Nonce replay is the relying party's check (OIDC Core §3.1.3.7); refusing
        # a reused nonce here would only break clients that retry a login.
        return False

    def resolve_client_private_key(self, client: Client) -> Any:
        return self.provider.keys.signing_key

    def get_client_algorithm(self, client: Client) -> str:
        return SIGNING_ALG

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": SIGNING_ALG, "kid": self.provider.keys.kid, "typ": "JWT"}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        # The provider's clock, like every other TTL (auth_time, code and token expiry).
        now = int(self.provider.clock())
        return {"iss": self.provider.settings.issuer, "aud": client.client_id, "iat": now,
                "exp": now + self.provider.settings.tokens.id_token_ttl}

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        if self.provider.settings.claims.claims_in_id_token:
            return claims_for_scope(user.claims, scope)
        return {"sub": user.sub}


def require_openid(grant: Any, redirect_uri: str) -> None:
    """This is an OpenID provider: every authorization request is an OIDC one."""
    if "openid" not in (grant.request.payload.scope or "").split():
        raise InvalidScopeError("The 'openid' scope is required.", redirect_uri=redirect_uri)


def refuse_request_objects(grant: Any, redirect_uri: str) -> None:
    """Discovery says request/request_uri are not supported, so say so (OIDC Core
    §6.1, §6.2) rather than ignore them: the parameters inside would be lost."""
    data = grant.request.payload.data
    if "request" in data:
        raise RequestNotSupportedError(redirect_uri=redirect_uri)
    if "request_uri" in data:
        raise RequestURINotSupportedError(redirect_uri=redirect_uri)


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only (`plain` is refused, RFC 9700 §2.1.1); required for
    public clients, honoured for confidential ones."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def __init__(self) -> None:
        super().__init__(required=True)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if not challenge and grant.request.client.is_public:
            raise InvalidRequestError(
                "PKCE is required for public clients: send code_challenge with "
                "code_challenge_method=S256.", redirect_uri=redirect_uri)
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)
