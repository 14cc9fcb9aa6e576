"""The device authorization grant (RFC 8628) on Authlib's endpoint and grant
classes, with our store.

Three records per request, none holding a raw secret (the store hashes keys):
- DEVICE under the device code: client, scope, user code, expiry, interval. It
  outlives the user code a little so late polls get `expired_token`, not
  `invalid_grant`.
- USER_CODE under the normalised user code: what the verification page reads and
  where the person's decision (and who they are) is written.
- POLL under the device code, living one interval: a poll that finds it is too
  early (`slow_down`).
The device code is taken once when the tokens are issued; presented again, it
revokes what it produced, like a replayed authorization code.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc8628 import (
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)

from ..config import DEVICE_CODE
from ..store.kinds import Kind
from . import person
from .grants import AUTH_METHODS, revoke_if_replayed
from .models import Client, User
from .person import claims_delta, with_delta

if TYPE_CHECKING:
    from .provider import Provider

log = logging.getLogger(__name__)

DEVICE = Kind.DEVICE
USED_DEVICE = Kind.USED_DEVICE
USER_CODE = Kind.USER_CODE
POLL = Kind.POLL

# RFC 8628 §6.1: base-20, no vowels (no words, no 0/O or 1/I mix-ups); 8 characters
# are 20^8 ≈ 2^34.5, with entry rate-limited on the verification page.
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
# Late polls keep getting `expired_token` (not `invalid_grant`) this much longer.
EXPIRED_GRACE = 600

PENDING, APPROVED, DENIED = "pending", "approved", "denied"


def new_user_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalise_user_code(text: str) -> str | None:
    """The code as stored (8 letters of ALPHABET), from whatever was typed: any
    case, with or without dashes or spaces (§6.1); None if it cannot be one."""
    code = re.sub(r"[\s\-_.]", "", text or "")[:64].upper()
    if len(code) != USER_CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def display_user_code(code: str) -> str:
    """XXXX-XXXX: what the device shows and the page repeats."""
    return f"{code[:4]}-{code[4:]}"


@dataclass
class DeviceRequest:
    """A pending device authorization as the verification page sees it."""

    user_code: str
    client_id: str
    scope: str
    status: str
    expires_at: float
    device: dict[str, str]

    @property
    def display_code(self) -> str:
        return display_user_code(self.user_code)


def find_request(provider: Provider, user_code: str) -> DeviceRequest | None:
    """The live request for a normalised user code, or None."""
    record = provider.store.get(USER_CODE, user_code)
    if record is None:
        return None
    return DeviceRequest(user_code, record["client_id"], record["scope"], record["status"],
                         record["expires_at"], record.get("device", {}))


def decide(provider: Provider, user_code: str, user: User | None) -> bool:
    """Record the person's answer: approve for `user`, deny when None. Only the
    first answer counts (True); a request already answered or expired is left
    as it is (False)."""
    store = provider.store
    record = store.take(USER_CODE, user_code)
    if record is None:
        return False
    remaining = record["expires_at"] - provider.clock()
    if record["status"] != PENDING or remaining <= 0:
        if remaining > 0:
            store.put(USER_CODE, user_code, record, remaining)
        return False
    record["status"] = APPROVED if user is not None else DENIED
    if user is not None:
        # Who approved: their login's person (by sid) and this client's view of them.
        record["user"] = {"sub": user.sub, "auth_time": user.auth_time, "sid": user.sid,
                          "delta": claims_delta(user.base, user.claims)}
    store.put(USER_CODE, user_code, record, remaining)
    return True


class DeviceAuthorization(DeviceAuthorizationEndpoint):
    """POST /device/code (RFC 8628 §3.1): a device code and a user code."""

    server: Provider
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def __init__(self, server: Provider):
        super().__init__(server)
        tokens = server.settings.tokens
        # Authlib reads these as class attributes; here they come from the config.
        self.EXPIRES_IN = tokens.device_code_ttl
        self.INTERVAL = tokens.device_poll_interval

    def authenticate_client(self, request: Any) -> Client:
        client: Client = super().authenticate_client(request)
        if not client.check_grant_type(DEVICE_CODE):
            raise UnauthorizedClientError(
                f"Client {client.client_id} may not use the device grant: add "
                f"{DEVICE_CODE} to its grant_types.")
        return client

    def create_endpoint_response(self, request: Any) -> tuple[int, Any, Any]:
        self.request = request  # save_device_credential records the device's address
        status, data, headers = super().create_endpoint_response(request)
        data["user_code"] = display_user_code(data["user_code"])
        data["verification_uri_complete"] = (
            f"{data['verification_uri']}?user_code={data['user_code']}")
        return status, data, headers  # Authlib's JSON headers say no-store

    def generate_user_code(self) -> str:
        return new_user_code()

    def generate_device_code(self) -> str:
        return secrets.token_urlsafe(32)

    def get_verification_uri(self) -> str:
        return self.server.url("/device")

    def save_device_credential(self, client_id: str, scope: str | None,
                               data: dict[str, Any]) -> None:
        client = self.server.clients[client_id]
        granted = client.get_allowed_scope(scope or "openid")
        expires_at = self.server.clock() + self.EXPIRES_IN
        code = data["user_code"]
        self.server.store.put(DEVICE, data["device_code"], {
            "client_id": client_id, "scope": granted, "user_code": code,
            "expires_at": expires_at, "interval": self.INTERVAL,
        }, self.EXPIRES_IN + EXPIRED_GRACE)
        # add, not put: two live requests never share a user code (20^8 makes a
        # collision unlikely, and then this request fails rather than mixes).
        if not self.server.store.add(USER_CODE, code, {
                "client_id": client_id, "scope": granted, "status": PENDING,
                "expires_at": expires_at, "device": _device_info(self.request),
        }, self.EXPIRES_IN):
            raise RuntimeError("user code collision")
        log.info("device authorization client=%s", client_id)


def _device_info(request: Any) -> dict[str, str]:
    """Where the request came from, for the confirmation page (RFC 8628 §5.4). The
    address is the framework request's (Authlib's Flask adapter keeps it), after
    ProxyFix when the bridge sits behind proxies."""
    framework = getattr(request, "_request", None)
    headers = getattr(request, "headers", None) or {}
    return {"ip": str(getattr(framework, "remote_addr", "") or "")[:64],
            "ua": str(headers.get("User-Agent", ""))[:200]}


class DeviceGrant(DeviceCodeGrant):
    """The token endpoint's side (RFC 8628 §3.4, §3.5)."""

    server: Provider
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def query_device_credential(self, device_code: str) -> DeviceCredentialDict:
        record = self.server.store.get(DEVICE, device_code)
        if record is None:
            # Unknown, long expired, or already exchanged (then its tokens go).
            revoke_if_replayed(self.server, DEVICE, USED_DEVICE, device_code)
            raise InvalidGrantError("The device_code is invalid, expired or used.")
        return _Credential(record, self.server.clock)

    def query_user_grant(self, user_code: str) -> tuple[User, bool] | None:
        record = self.server.store.get(USER_CODE, user_code)
        if record is None or record["status"] == PENDING:
            return None
        if record["status"] == DENIED:
            raise AccessDeniedError("The person denied the request.")
        return self._take(user_code, record), True

    def _take(self, user_code: str, record: dict[str, Any]) -> User:
        """Single use: of concurrent polls, one gets the tokens."""
        device_code = self.request.payload.data["device_code"]
        store = self.server.store
        if store.take(DEVICE, device_code) is None:
            raise InvalidGrantError("The device_code is invalid, expired or used.")
        store.delete(USER_CODE, user_code)
        u = record["user"]
        store.put(USED_DEVICE, device_code, {"grant_id": u["sid"],
                                             "client_id": record["client_id"]},
                  self.server.settings.tokens.refresh_token_ttl)
        found = person.load(store, u["sid"])
        if found is None:  # the approving login ended since (logout, offboarding)
            raise InvalidGrantError("The device_code is invalid, expired or used.")
        user = person.user_of(u["sid"], found)
        return replace(user, claims=with_delta(user.claims, u.get("delta") or {}),
                       auth_time=u["auth_time"])

    def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
        """A poll sooner than the interval after the previous one: slow_down,
        and the interval grows by 5 s for every later poll (§3.5)."""
        device_code = self.request.payload.data["device_code"]
        interval = int(credential["interval"])
        store = self.server.store
        if store.add(POLL, device_code, {}, _quiet(interval)):
            return False
        record = store.get(DEVICE, device_code)
        if record is not None:
            record["interval"] = interval + 5
            left = record["expires_at"] + EXPIRED_GRACE - self.server.clock()
            if left > 0:
                store.put(DEVICE, device_code, record, left)
        store.put(POLL, device_code, {}, _quiet(interval + 5))
        return True

    def generate_token(self, user: Any = None, scope: Any = None, grant_type: Any = None,
                       expires_in: Any = None, include_refresh_token: bool = True) -> Any:
        include = self.request.client.wants_refresh_token(scope or "")
        return super().generate_token(user, scope, grant_type, expires_in, include)


def _quiet(interval: int) -> float:
    """How long after a poll the next one is too early: the interval, less a second
    of network jitter (a client polling exactly on time must never be slowed)."""
    return max(interval - 1, 1)


class _Credential(DeviceCredentialDict):
    """The stored device request; expiry by the provider's clock."""

    def __init__(self, record: dict[str, Any], clock: Any):
        super().__init__(record)
        self._clock = clock

    def is_expired(self) -> bool:
        return self["expires_at"] <= self._clock()
