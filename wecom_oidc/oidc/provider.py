"""The OpenID provider: Authlib's authorization server with our grants, plus the
few things Authlib leaves to us (userinfo lookup, discovery, RFC 9207 `iss`)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import Response

from ..config import Settings
from ..store.base import StateStore
from . import redact
from .claims import CLAIMS_SUPPORTED, SCOPES, all_claims, claims_for_scope
from .grants import ACCESS_TOKEN, BridgeOpenIDCode, S256CodeChallenge, code_grant
from .keys import SIGNING_ALG, KeyRing
from .models import Client, User


def random_token(*_args: Any, **_kwargs: Any) -> str:
    """256 random bits, URL-safe (Authlib's default picks 42 characters one by one)."""
    return secrets.token_urlsafe(32)


class ResumedRequest(OAuth2Request):
    """An authorization request saved before the WeCom hop, replayed after it."""

    def __init__(self, uri: str, params: Mapping[str, str]):
        super().__init__("GET", uri)
        self.payload = BasicOAuth2Payload(dict(params))

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return {}


class _Server(AuthorizationServer):
    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)


class Provider:
    """Everything the OIDC endpoints need, built once at startup."""

    def __init__(self, settings: Settings, store: StateStore, keys: KeyRing,
                 clock: Callable[[], float] = time.time):
        redact.install()
        self.settings = settings
        self.store = store
        self.keys = keys
        self.clock = clock
        self.clients = {c.client_id: Client(c) for c in settings.clients}
        self.server = _Server(query_client=self.clients.get, save_token=self._save_token)
        self.server.load_config({
            "OAUTH2_TOKEN_EXPIRES_IN": {"authorization_code": settings.tokens.access_token_ttl},
            "OAUTH2_ACCESS_TOKEN_GENERATOR": random_token,
            "OAUTH2_REFRESH_TOKEN_GENERATOR": random_token,
        })
        self.server.register_grant(code_grant(self), [BridgeOpenIDCode(self), S256CodeChallenge()])
        self._discovery = self._build_discovery()

    def url(self, path: str) -> str:
        return self.settings.issuer + path

    def user_for(self, identity: Any, auth_time: int | None = None) -> User:
        """The Authlib user for a fresh upstream login."""
        when = int(auth_time if auth_time is not None else self.clock())
        return User(identity.subject, all_claims(identity, self.settings.claims), when)

    def resumed_request(self, params: Mapping[str, str]) -> ResumedRequest:
        return ResumedRequest(self.url("/authorize"), params)

    def with_iss(self, response: Response) -> Response:
        """RFC 9207: every authorization response names its issuer (mix-up defence)."""
        location = response.headers.get("Location")
        if location and response.status_code in (302, 303):
            sep = "&" if "?" in location else "?"
            fragment = ""
            if "#" in location:
                location, fragment = location.split("#", 1)
                fragment = "#" + fragment
            response.headers["Location"] = (
                f"{location}{sep}iss={quote(self.settings.issuer, safe='')}{fragment}")
        return response

    def _save_token(self, token: dict[str, Any], request: Any) -> None:
        code = request.authorization_code
        record = {"client_id": request.client.client_id, "sub": request.user.sub,
                  "scope": token.get("scope", ""), "claims": request.user.claims,
                  "grant_id": code.grant_id if code else None}
        self.store.put(ACCESS_TOKEN, token["access_token"], record, int(token["expires_in"]))

    def userinfo(self, access_token: str) -> dict[str, Any] | None:
        """The claims an access token releases, or None if it is unknown/expired/revoked."""
        record = self.store.get(ACCESS_TOKEN, access_token)
        if record is None or "openid" not in record["scope"].split():
            return None
        return claims_for_scope(record["claims"], record["scope"])

    def discovery(self) -> dict[str, Any]:
        return self._discovery

    def _build_discovery(self) -> dict[str, Any]:
        """Exactly what this server does, no more (OIDC Discovery 1.0 §3)."""
        return {
            "issuer": self.settings.issuer,
            "authorization_endpoint": self.url("/authorize"),
            "token_endpoint": self.url("/token"),
            "userinfo_endpoint": self.url("/userinfo"),
            "jwks_uri": self.url("/jwks.json"),
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [SIGNING_ALG],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(CLAIMS_SUPPORTED),
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "authorization_response_iss_parameter_supported": True,
        }
