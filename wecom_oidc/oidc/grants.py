"""The authorization code and refresh token grants with OpenID Connect and PKCE,
wired to our store and keys. Authlib stays the only validator of the protocol
parameters."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    grants,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from authlib.oidc.core.grants import OpenIDCode

from ..errors import AccessDenied
from ..store.kinds import Kind
from . import person
from .claims import claims_for_scope
from .client_claims import for_client
from .models import AuthorizationCode, Client, StoredToken, User
from .person import claims_delta, with_delta
from .tokens import b64url

if TYPE_CHECKING:
    from .provider import Provider

log = logging.getLogger(__name__)

CODE = Kind.CODE
USED_CODE = Kind.USED_CODE
ACCESS_TOKEN = Kind.ACCESS_TOKEN
REFRESH_TOKEN = Kind.REFRESH_TOKEN
USED_REFRESH_TOKEN = Kind.USED_REFRESH_TOKEN
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class CodeGrant(grants.AuthorizationCodeGrant):
    """The authorization code grant on our store. Authlib makes one per request,
    its `server` the provider."""

    server: Provider
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def generate_authorization_code(self) -> str:
        return secrets.token_urlsafe(32)

    def exchange(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """Authlib's code exchange (validate_token_request, create_token_response) with
        the provider's PKCE and ID token extensions called where their hooks would run,
        in the same order: PKCE once the code is taken and the redirect_uri matched,
        the ID token once the tokens are saved. Registering both extensions' hooks on
        a fresh grant for every request is what this saves."""
        self.validate_token_request()
        self.server.code_pkce.validate_code_verifier(self, None)
        response = self.create_token_response()
        self.server.code_openid.process_token(self, response)
        return response

    def authenticate_token_endpoint_client(self) -> Any:
        client = getattr(self.request, "authenticated", None)
        if client is None:
            return super().authenticate_token_endpoint_client()
        # Authenticated by the token front (provider.FormRequest) as Authlib does it.
        self.server.send_signal("after_authenticate_client", client=client, grant=self)
        return client

    def generate_token(self, user: Any = None, scope: Any = None, grant_type: Any = None,
                       expires_in: Any = None, include_refresh_token: bool = True) -> Any:
        include = self.request.client.wants_refresh_token(scope or "")
        return super().generate_token(user, scope, grant_type, expires_in, include)

    def save_authorization_code(self, code: str, request: Any) -> None:
        user: User = request.user
        data = request.payload.data
        record = AuthorizationCode(
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope, sub=user.sub, auth_time=user.auth_time,
            grant_id=user.sid, sid=user.sid, delta=claims_delta(user.base, user.claims),
            nonce=data.get("nonce") or None,
            code_challenge=data.get("code_challenge") or None,
            code_challenge_method="S256" if data.get("code_challenge") else None,
        )
        self.server.store.put(CODE, code_key(request.client.client_id, code),
                              record.to_record(), self.server.settings.tokens.code_ttl)

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        record = take_once(self.server, CODE, USED_CODE, code_key(client.client_id, code),
                           self.server.settings.tokens.access_token_ttl)
        return AuthorizationCode.from_record(record) if record is not None else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: query_authorization_code took the code atomically."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        c = authorization_code
        found = person.load(self.server.store, c.sid)
        if found is None:
            return None  # the login ended since (logout, offboarding): invalid_grant
        user = person.user_of(c.sid, found)  # a new User: set in place, not copied
        user.claims, user.auth_time = with_delta(user.claims, c.delta), c.auth_time
        return user


def code_key(client_id: str, code: str) -> str:
    """A code is found only by the client it was issued to: a leaked code that
    another client presents neither spends it nor counts as a replay that would
    revoke the real client's login."""
    return f"{client_id} {code}"


def take_once(provider: Provider, kind: str, used_kind: str, value: str,
              remember: int) -> dict[str, Any] | None:
    """Take a single-use credential (code, refresh token). A second use means it
    leaked: everything born of the same login is revoked (RFC 9700 §2.2.2, §4.14)."""
    # Taken, and its use remembered (grant and client), in one store operation.
    record = provider.store.take(kind, value, used=(used_kind, remember))
    if record is None:
        revoke_if_replayed(provider, kind, used_kind, value)
    return record


def revoke_if_replayed(provider: Provider, kind: str, used_kind: str, value: str) -> None:
    """A credential that was already used is presented again: revoke its login."""
    used = provider.store.get(used_kind, value)
    if used:
        n = provider.store.revoke_grant(used["grant_id"])
        log.warning("%s replayed client=%s; revoked %d record(s) of its login", kind,
                    used.get("client_id"), n)


class RefreshGrant(grants.RefreshTokenGrant):
    """Refresh with rotation: every use returns a new refresh token; reusing an
    old one revokes the whole login. Each refresh re-checks the member upstream."""

    server: Provider
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> StoredToken | None:
        # Only looked at here: Authlib checks the client and the scope after this,
        # and a request refused for those must not spend the token (the client's
        # next, correct refresh would otherwise look like a replay and end the
        # login). authenticate_user takes it once everything else has passed.
        record = self.server.store.get(REFRESH_TOKEN, refresh_token)
        if record is None:
            revoke_if_replayed(self.server, REFRESH_TOKEN, USED_REFRESH_TOKEN, refresh_token)
            return None
        return StoredToken(REFRESH_TOKEN, refresh_token, record)

    def authenticate_user(self, refresh_token: StoredToken) -> User | None:
        r = refresh_token.record
        found = person.load(self.server.store, r["sid"]) or person.inline(r)
        if found is None:
            return None  # the login ended since: invalid_grant
        try:
            checked = self.server.recheck(person.user_of(r["sid"], found))
            # Groups, extra claims and the access policy as the directory says now.
            user = for_client(self.server.settings, checked, r["client_id"], r["scope"],
                              self.server.place)
        except AccessDenied as e:
            self.server.store.revoke_grant(r["grant_id"])
            log.warning("refresh refused sub=%s: %s; revoked its login", r["sub"], e.detail)
            raise InvalidGrantError("The person may no longer sign in.") from None
        rttl = self.server.settings.tokens.refresh_token_ttl
        if take_once(self.server, REFRESH_TOKEN, USED_REFRESH_TOKEN, refresh_token.key,
                     rttl) is None:
            raise InvalidGrantError()  # used concurrently: take_once revoked the login
        now = self.server.clock()
        # The rotated refresh token may outlive the person: keep them as long.
        until = person.keep_until(self.server.store, checked, found, now + rttl, now,
                                  r["client_id"])
        return replace(user, person_until=until)

    def revoke_old_credential(self, refresh_token: StoredToken) -> None:
        """Nothing to do: authenticate_user took it atomically."""


class BridgeOpenIDCode(OpenIDCode):
    """ID tokens signed by the key ring (RS256, or ES256 per client), with the
    granted scopes' claims, auth_time and the session id."""

    def __init__(self, provider: Provider):
        super().__init__(require_nonce=False)
        self.provider = provider

    def __call__(self, grant: Any) -> None:
        super().__call__(grant)
        grant.register_hook("after_validate_authorization_request_payload", require_openid)
        grant.register_hook("after_validate_authorization_request_payload",
                            refuse_request_objects)

    def process_token(self, grant: Any, response: Any) -> Any:
        """Authlib's OpenIDToken.process_token: an ID token when openid was granted."""
        token = response[1]
        scope = token.get("scope")
        if not scope or "openid" not in scope.split():
            return token
        token["id_token"] = self.encode_id_token(token, grant.request)
        sid = getattr(grant.request.user, "sid", "")
        if sid:
            # The login's session id, the same value as the ID token's and every logout
            # token's `sid`: Keycloak brokering this bridge keeps the token response's
            # session_state and matches back-channel logout tokens' sid against it.
            token["session_state"] = sid
        return token

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        # Nonce replay is the relying party's check (OIDC Core §3.1.3.7); refusing
        # a reused nonce here would only break clients that retry a login.
        return False

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        """Authlib's claims (OIDC Core §2, §3.1.3.6 at_hash), signed by the key ring's
        own encoder (oidc/tokens.py) rather than joserfc's generic one. Put together
        here rather than through Authlib's get_compatible_claims and
        get_authorization_code_claims: their defaults (aud as a list, auth_time now,
        acr, amr) are all overridden or absent here, and the code's auth_time is the
        user's (authenticate_user)."""
        client: Client = request.client
        claims = self.get_client_claims(client)
        code = request.authorization_code
        if code is not None and code.nonce:
            claims["nonce"] = code.nonce
        access_token = token.get("access_token")
        if access_token:
            claims["at_hash"] = _half_hash(access_token)
        claims.update(self.generate_user_info(request.user, token["scope"]))
        return self.provider.jwts.encode(claims, typ="JWT", alg=client.id_token_alg)

    def get_client_algorithm(self, client: Client) -> str:
        return client.id_token_alg

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        # The provider's clock, like every other TTL (auth_time, code and token expiry).
        now = int(self.provider.clock())
        return {"iss": self.provider.settings.issuer, "aud": client.client_id, "iat": now,
                "exp": now + self.provider.settings.tokens.id_token_ttl}

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        if self.provider.settings.claims.claims_in_id_token:
            info = claims_for_scope(user.claims, scope)
        else:
            info = {"sub": user.sub}
        # auth_time always (OIDC Core §2; max_age and prompt=login rely on it), and
        # the session id for back-/front-channel logout.
        info["auth_time"] = user.auth_time
        if user.sid:
            info["sid"] = user.sid
        return info


class RefreshOpenID(BridgeOpenIDCode):
    """A fresh ID token on refresh (OIDC Core §12.2), with the directory's claims now."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.process_token)


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


def _half_hash(value: str) -> str:
    """at_hash: the left half of the SHA-256 of the value, base64url (RS256 and ES256
    both hash with SHA-256)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return b64url(digest[:16]).decode("ascii")


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
