"""The objects Authlib's grants work with, built from config and store records."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oidc.core import AuthorizationCodeMixin

from ..config import AUTHORIZATION_CODE, DEVICE_CODE, LOOPBACK_HOSTS, ClientSettings
from ..config.secret_hash import Verifier, parse_secret_hash
from .claims import SCOPES


class Client(ClientMixin):
    """A registered relying party. Confidential clients authenticate with their
    secret (basic or post); public clients with `none` and must use PKCE."""

    def __init__(self, settings: ClientSettings):
        self.settings = settings
        self.client_id = settings.client_id
        self._check_secret = _secret_checker(settings)
        self._redirects = frozenset(settings.redirect_uris)

    @property
    def is_public(self) -> bool:
        return self._check_secret is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous single registration may be implied (OIDC requires it anyway).
        return self.settings.redirect_uris[0] if len(self.settings.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Scopes we do not serve are dropped, not refused: OIDC clients routinely
        ask for more (RFC 6749 §3.3 lets the server grant less)."""
        if not scope:
            return ""
        wanted = scope.split()
        return " ".join(s for s in dict.fromkeys(wanted) if s in SCOPES and (
            s != "offline_access" or self.settings.refresh_tokens != "never"))

    def wants_refresh_token(self, scope: str) -> bool:
        """Per client: always, never, or when offline_access was granted."""
        mode = self.settings.refresh_tokens
        return mode == "always" or (mode == "offline_access" and "offline_access" in
                                    scope.split())

    @property
    def id_token_alg(self) -> str:
        return self.settings.id_token_signed_response_alg

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match (RFC 9700 §4.1.3), except that a registered loopback
        redirect accepts any port for native apps (RFC 8252 §7.3; `localhost` too,
        since Vault's and kubelogin's CLIs register it)."""
        if redirect_uri in self._redirects:
            return True
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
            return False
        if "@" in parts.netloc:
            # Only the port may differ (RFC 8252 §7.3); userinfo would be dropped
            # by the comparison below and the redirect would not be the registered one.
            return False
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return False
        bare = parts._replace(netloc=_host(parts.hostname)).geturl()
        for registered in self._redirects:
            r = urlsplit(registered)
            if r.scheme == "http" and r.hostname in LOOPBACK_HOSTS and \
                    r._replace(netloc=_host(r.hostname)).geturl() == bare:
                return True
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        if self._check_secret is None:
            return False
        return self._check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    @property
    def name(self) -> str:
        """What people see on the device confirmation page."""
        return self.settings.name or self.client_id

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and AUTHORIZATION_CODE in self.settings.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "refresh_token":
            return self.settings.refresh_tokens != "never"
        return grant_type in (AUTHORIZATION_CODE, DEVICE_CODE) and \
            grant_type in self.settings.grant_types


def _secret_checker(settings: ClientSettings) -> Callable[[str], bool] | None:
    """Constant-time comparison with the configured secret or its hash; None for a
    public client."""
    if settings.client_secret is not None:
        expected = settings.client_secret.reveal().encode()
        return lambda given: hmac.compare_digest(expected, given.encode())
    if settings.client_secret_hash:
        return Verifier(parse_secret_hash(settings.client_secret_hash))
    return None


def _host(hostname: str) -> str:
    return f"[{hostname}]" if ":" in hostname else hostname


@dataclass
class User:
    """The person an authorization is for: subject, all their claims, when they logged in."""

    sub: str
    claims: dict[str, Any]
    auth_time: int
    sid: str = ""
    identity: dict[str, Any] = field(default_factory=dict)  # for re-checks at refresh
    # The claims of the stored person (oidc/person.py) this user was built from: a
    # code keeps only how the client's claims differ from them.
    base: dict[str, Any] | None = None
    person_until: float = 0.0  # when that stored person expires (0: not known)

    def get_user_id(self) -> str:
        return self.sub


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    """An issued code as stored (under the hash of the code value). The person is
    the login's (`sid`, oidc/person.py); `delta` is how this client's claims
    differ from theirs."""

    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    auth_time: int
    grant_id: str
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    sid: str = ""
    delta: dict[str, Any] = field(default_factory=dict)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None

    def to_record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v or k in _CODE_REQUIRED}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AuthorizationCode:
        # Fields of another version (a code issued just before an upgrade) are left out.
        return cls(**{k: v for k, v in record.items() if k in _CODE_FIELDS})


_CODE_FIELDS = frozenset(f.name for f in fields(AuthorizationCode))
_CODE_REQUIRED = frozenset(f.name for f in fields(AuthorizationCode)
                           if f.default is MISSING and f.default_factory is MISSING)


class StoredToken:
    """An access token (record under its jti) or refresh token (under its value)
    found in the store, as Authlib's refresh grant and token endpoints see it."""

    def __init__(self, kind: str, key: str, record: dict[str, Any]):
        self.kind, self.key, self.record = kind, key, record

    def check_client(self, client: Client) -> bool:
        return self.record["client_id"] == client.client_id

    def get_scope(self) -> str:
        return self.record["scope"]

    def is_expired(self) -> bool:
        return False  # the store never returns an expired record

    def is_revoked(self) -> bool:
        return False  # revoked records are deleted
