"""The OpenID provider: Authlib's authorization server with our grants and
endpoints, plus what Authlib leaves to us (sessions, token records, userinfo)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.integrations.flask_oauth2.signals import client_authenticated, token_revoked
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InsecureTransportError, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Response, g, has_request_context
from flask import request as flask_request

from ..config import AUTHORIZATION_CODE, DEVICE_CODE, Settings
from ..identity import Identity
from ..store.base import StateStore
from ..store.kinds import Kind
from . import person
from .claims import all_claims, claims_for_scope
from .client_auth import client_secret_basic
from .client_claims import Place
from .device import DeviceAuthorization, DeviceGrant
from .endpoints import Introspection, Revocation
from .grants import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    BridgeOpenIDCode,
    CodeGrant,
    RefreshGrant,
    RefreshOpenID,
    S256CodeChallenge,
)
from .keys import KeyRing
from .models import Client, StoredToken, User
from .session import Sessions
from .tokens import Jwts, b64url, json_encoder

MEMBER_CHECK = Kind.MEMBER_CHECK
_SIGNALS = {"after_authenticate_client": client_authenticated,
            "after_revoke_token": token_revoked}
# What Authlib's Flask integration writes (json.dumps: sorted keys, ASCII).
RESPONSE_JSON = json_encoder(sort_keys=True)
Recheck = Callable[[Identity], Identity]


def random_token(*_args: Any, **_kwargs: Any) -> str:
    """256 random bits, URL-safe (Authlib's default picks 42 characters one by one)."""
    return secrets.token_urlsafe(32)


class Issuer(IssuerParameter):
    """RFC 9207: every authorization response, errors included, names its issuer
    (mix-up defence)."""

    def __init__(self, issuer: str):
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class BridgePayload(FlaskOAuth2Payload):
    """The request's parameters as Authlib reads them (`request.values`: the query,
    then the form of a non-GET request), but the form itself when there is no query:
    the same answers without building and searching werkzeug's combined view."""

    data: Any = None  # an attribute, not FlaskOAuth2Payload's property

    def __init__(self, request: Any):
        self._request = request
        self.data = request.form if request.method != "GET" and not \
            request.environ.get("QUERY_STRING") else request.values


class BridgeRequest(FlaskOAuth2Request):
    """Authlib's view of the Flask request, without building `request.url` (the IRI
    decoding of every part of the URL) for each request: Authlib reads the URL only to
    refuse plain http, which app.py turns off (behind a TLS proxy the request is http;
    the issuer decides transport), so the URL is built only if that check is on."""

    def __init__(self, request: Any):
        # OAuth2Request.__init__'s attributes, but for the URL.
        self.method = request.method
        # Set apart: OAuth2Request's `headers or {}` would count werkzeug's headers,
        # a walk over the whole WSGI environ.
        self.headers = request.headers
        self._request = request
        self._body = None
        self.payload = BridgePayload(request)
        self.client = self.auth_method = self.user = self.authorization_code = None
        self.refresh_token = self.credential = self._scope = None
        if not os.environ.get("AUTHLIB_INSECURE_TRANSPORT"):
            InsecureTransportError.check(self.uri)

    @property
    def uri(self) -> str:
        r = self._request
        return f"{r.scheme}://{r.host}{r.path}"


class FormRequest(OAuth2Request):
    """A code exchange read in front of Flask (web/token_front.py): its form already
    parsed and checked, its client already authenticated there (`authenticated`, by
    `auth_method`), as Authlib's client authentication would have."""

    client: Any
    user: Any  # the User, once the exchange has authenticated it

    def __init__(self, form: dict[str, str], client: Client, auth_method: str):
        # OAuth2Request.__init__'s attributes; no URL: the transport check is off (app.py).
        self.method, self.uri, self._body = "POST", "", None
        self.headers: dict[str, str] = {}
        self.payload = BasicOAuth2Payload(form)
        self.client = self.user = self.authorization_code = None
        self.refresh_token = self.credential = self._scope = None
        self.auth_method, self.authenticated = auth_method, client

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class IssuedToken(NamedTuple):
    """What a token response gave, and to whom."""

    sub: str
    client_id: str
    scope: str


class Provider(AuthorizationServer):
    """Authlib's authorization server with the bridge's grants and endpoints,
    holding what they reach for: settings, store, keys, clock, sessions, clients.
    Built once at startup (create_app); the views find it in app.extensions."""

    def __init__(self, settings: Settings, store: StateStore, keys: KeyRing,
                 clock: Callable[[], float] = time.time, recheck: Recheck | None = None,
                 place: Place | None = None):
        super().__init__()
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clock = clock
        self._recheck = recheck
        self.place = place  # the upstream's directory placement (client_claims.for_client)
        self.jwts = Jwts(keys, settings.issuer, clock)
        self.sessions = Sessions(store, settings.session, clock, person.outlives(settings))
        self.clients = {c.client_id: Client(c) for c in settings.clients}
        self.register_client_auth_method("client_secret_basic", client_secret_basic)
        # RFC 9207. Registered for any response Authlib's create_authorization_response
        # builds; the views build theirs directly (oidc/authorization.py) and name the
        # issuer this extension gives.
        self.issuer_parameter = Issuer(settings.issuer)
        self.register_extension(self.issuer_parameter)
        ttl = settings.tokens.access_token_ttl
        self.load_config({
            "OAUTH2_TOKEN_EXPIRES_IN": {"authorization_code": ttl, "refresh_token": ttl,
                                        DEVICE_CODE: ttl},
            "OAUTH2_ACCESS_TOKEN_GENERATOR": self._access_token,
            "OAUTH2_REFRESH_TOKEN_GENERATOR": random_token,
        })
        # Authlib makes a grant or endpoint per request, handing it this provider.
        self.code_openid, self.code_pkce = BridgeOpenIDCode(self), S256CodeChallenge()
        self.register_grant(CodeGrant, [self.code_openid, self.code_pkce])
        self.register_grant(RefreshGrant, [RefreshOpenID(self)])
        # The device grant exists only when some client opted in (discovery says so).
        self.device = any(c.device for c in settings.clients)
        if self.device:
            # The same ID token extension as refresh: an ID token in the token response.
            self.register_grant(DeviceGrant, [RefreshOpenID(self)])
            self.register_endpoint(DeviceAuthorization)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """`request` itself when a view built it (authorize: oidc/authorization.py),
        else a wrapper of the Flask request (the token and other endpoints): the
        request itself, not Flask's proxy, since Authlib reads it many times."""
        if isinstance(request, OAuth2Request):
            return request
        return BridgeRequest(flask_request._get_current_object())  # type: ignore[attr-defined]

    def create_token_response(self, request: Any = None) -> Any:
        """/token. The code exchange, most of its traffic, goes straight to CodeGrant
        (the grant Authlib's dispatch picks for it: grant_type=authorization_code over
        POST); every other grant through Authlib's dispatch."""
        oauth_request = self.create_oauth2_request(request)
        if oauth_request.method != "POST" or \
                oauth_request.payload.grant_type != AUTHORIZATION_CODE:
            return super().create_token_response(oauth_request)
        try:
            return self.handle_response(*CodeGrant(oauth_request, self).exchange())
        except OAuth2Error as error:
            return self.handle_error_response(oauth_request, error)

    def exchange_code(self, request: FormRequest) -> dict[str, Any]:
        """The code exchange of a request read in front of Flask: the same CodeGrant
        steps as create_token_response; the token response's body, or OAuth2Error."""
        return CodeGrant(request, self).exchange()[1]

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's Flask signals, not sent when nothing listens (blinker's send
        costs as much as reading the client's credentials)."""
        signal = _SIGNALS.get(name)
        if signal is not None and signal.receivers:
            super().send_signal(name, *args, **kwargs)

    def handle_response(self, status: int, body: Any, headers: Any) -> Any:
        """Authlib's Flask response, with the body serialised by one encoder kept for
        the process: the same text as Flask's json.dumps (sorted keys, ASCII), which
        builds an encoder for every call."""
        if isinstance(body, dict):
            body = RESPONSE_JSON(body)
        if headers is default_json_headers:
            # Every token response's headers (Authlib's TOKEN_RESPONSE_HEADER): the
            # content type as an argument and the others added costs werkzeug a third
            # less than validating and searching a list of them.
            resp = Response(body, status=status, content_type="application/json")
            resp.headers.add("Cache-Control", "no-store")
            resp.headers.add("Pragma", "no-cache")
            return resp
        return Response(body, status=status, headers=headers)

    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def url(self, path: str) -> str:
        return self.settings.issuer + path

    def user_for(self, identity: Identity, auth_time: int | None = None, sid: str = "") -> User:
        """The Authlib user for an upstream login."""
        when = int(auth_time if auth_time is not None else self.clock())
        return User(identity.subject, all_claims(identity, self.settings.claims), when, sid,
                    identity.to_record())

    def recheck(self, user: User) -> User:
        """The person as the directory describes them now (refresh): re-read upstream
        at most once per member_recheck_ttl; UpstreamDenied if they may no longer
        sign in."""
        if self._recheck is None:
            return user
        cached = self.store.get(MEMBER_CHECK, user.sub)
        if cached is not None:
            identity = Identity.from_record(cached)
        else:
            identity = self._recheck(Identity.from_record(user.identity))
            self.store.put(MEMBER_CHECK, user.sub, identity.to_record(),
                           self.settings.tokens.member_recheck_ttl)
        # Still measured against the stored person: a code keeps only the difference.
        return replace(self.user_for(identity, user.auth_time, user.sid), base=user.base)

    def _access_token(self, client: Client, grant_type: str, user: User, scope: str) -> str:
        if client.settings.access_token_format == "opaque":
            return random_token()
        token, _ = self.jwts.access_token(client_id=client.client_id, sub=user.sub,
                                          scope=scope, auth_time=user.auth_time,
                                          ttl=self.settings.tokens.access_token_ttl)
        return token

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Records for the tokens just issued: the access token under its jti, the
        refresh token under its value; both carry the login's grant id (= sid). The
        person stays in their own record (oidc/person.py): the login keeps it, and
        the offboarding index, alive past its access tokens; a refresh token extends
        both to its expiry. The access token keeps only what /userinfo and
        introspection answer."""
        user: User = request.user
        now = int(self.clock())
        scope = token.get("scope", "")
        base = {"client_id": request.client.client_id, "sub": user.sub, "scope": scope,
                "iat": now, "grant_id": user.sid or None}
        # For the token endpoint's audit line (ops/hooks.py): who got it, whatever the
        # access token's format, without reading the answer back.
        # (The token front answers outside Flask and reads request.user itself.)
        if has_request_context():
            g._get_current_object().issued_token = IssuedToken(
                user.sub, request.client.client_id, scope)
        username = user.claims.get("preferred_username", user.sub)
        if username != user.sub:
            base["username"] = username
        ttl = int(token["expires_in"])
        # The jti the signer just put in it, rather than parsing the token again.
        jti = self.jwts.issued_jti(token["access_token"]) or token_id(token["access_token"])
        access = {**base, "exp": now + ttl}
        if "openid" in scope.split():
            access["claims"] = claims_for_scope(user.claims, scope)
        self.store.put(ACCESS_TOKEN, jti, access, ttl)
        if token.get("refresh_token"):
            rttl = self.settings.tokens.refresh_token_ttl
            self.store.put(REFRESH_TOKEN, token["refresh_token"], {
                **base, "exp": now + rttl, "auth_time": user.auth_time, "sid": user.sid,
                "access_tokens": access_family(request, jti, now + ttl, now)}, rttl)
            person.extend(self.store, user, now + rttl, now, request.client.client_id)

    def access_token_record(self, access_token: str) -> dict[str, Any] | None:
        """The live record of one of our access tokens, or None if it is not ours,
        expired or revoked."""
        key = self.access_token_id(access_token)
        return self.store.get(ACCESS_TOKEN, key) if key else None

    def userinfo(self, record: dict[str, Any] | None) -> dict[str, Any] | None:
        """The claims an access token's record releases (None without openid)."""
        if record is None or "openid" not in record["scope"].split():
            return None
        return claims_for_scope(record["claims"], record["scope"])

    def access_token_id(self, access_token: str) -> str | None:
        """The store key of one of our access tokens: a JWT's jti once its signature
        and claims check out; an opaque token's hash (its record, if any, decides)."""
        if "." not in access_token:
            return token_id(access_token)
        claims = self.jwts.decode(access_token, typ="at+jwt")
        return claims["jti"] if claims else None


def access_family(request: Any, jti: str, exp: int, now: int) -> list[list[Any]]:
    """[jti, exp] of every live access token issued from this grant: the one just
    issued and those the rotated refresh token listed, so revoking the refresh token
    revokes them too (RFC 7009 §2.1)."""
    old = getattr(request, "refresh_token", None)
    before = old.record.get("access_tokens", []) if isinstance(old, StoredToken) else []
    return [[j, e] for j, e in before if e > now] + [[jti, exp]]


def token_id(access_token: str) -> str:
    """The id an access token's record is kept under: the jti of a JWT we just signed
    (no need to verify our own signature), or a hash of an opaque token, so the raw
    value never sits in a refresh token's list of its grant's access tokens."""
    if "." not in access_token:
        digest = hashlib.sha256(access_token.encode()).digest()
        return b64url(digest).decode()
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
