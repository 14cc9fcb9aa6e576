"""The person of one login, kept once: the claims every client's view starts from,
the upstream's identity (for re-checks), auth_time. Stored under the session id,
which the session, codes, tokens and device grants carry instead of a copy.

It lives as long as the longest of them: a code issued at the session's last moment,
exchanged at the code's last, yields a refresh token that outlives the session by
its whole TTL (`outlives`); a refresh that rotates past that extends it. Its
grant_id is the session id, so logout, a replayed code and offboarding remove it
with everything else of the login.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..identity import Identity
from ..store.base import StateStore
from ..store.kinds import Kind
from .member_index import track
from .models import User

PERSON = Kind.PERSON
_GONE = None  # a claim in the person that a client's view leaves out


def outlives(settings: Settings) -> float:
    """How long after the session ends its person may still be needed: the
    slowest code or device code, then the longest-lived token it yields."""
    t = settings.tokens
    refresh = any(c.refresh_tokens != "never" for c in settings.clients)
    tokens = max(t.access_token_ttl, t.refresh_token_ttl if refresh else 0)
    return max(t.code_ttl, t.device_code_ttl) + tokens


def save(store: StateStore, user: User, expires_at: float, now: float) -> None:
    """Write the person of login `user.sid`, to live until `expires_at`."""
    store.put(PERSON, user.sid, {"sub": user.sub, "claims": user.claims,
                                 "identity": user.identity, "auth_time": user.auth_time,
                                 "expires_at": expires_at, "grant_id": user.sid},
              expires_at - now)


def user_of(sid: str, record: dict[str, Any]) -> User:
    """The person as Authlib's grants see them (`base`: the stored claims)."""
    return User(record["sub"], record["claims"], record["auth_time"], sid,
                record["identity"], base=record["claims"])


def load(store: StateStore, sid: str) -> dict[str, Any] | None:
    """The person record of login `sid`, or None once the login is over."""
    return store.get(PERSON, sid) if sid else None


def inline(token: dict[str, Any]) -> dict[str, Any] | None:
    """The person a refresh token issued before person records carried itself (its
    first refresh then writes the person record)."""
    if "identity" not in token or "claims" not in token:
        return None
    return {k: token[k] for k in ("sub", "claims", "identity", "auth_time")}


def keep_until(store: StateStore, checked: User, record: dict[str, Any], until: float,
               now: float, client_id: str) -> None:
    """After a refresh: the person as re-checked (`checked`), alive until at least
    `until` (the new refresh token's expiry), rewritten only when the identity,
    claims or expiry moved; and this client's login in the offboarding index as
    long (every refresh, as every token issued from the session already is)."""
    expires_at = max(until, float(record.get("expires_at") or 0))
    if expires_at != record.get("expires_at") or checked.claims != record["claims"] or \
            Identity.from_record(checked.identity) != Identity.from_record(record["identity"]):
        save(store, checked, expires_at, now)
    track(store, checked.sub, checked.sid, [client_id], until - now)


def claims_delta(base: dict[str, Any] | None, claims: dict[str, Any]) -> dict[str, Any]:
    """How one client's claims differ from the person's: what for_client added
    (groups, extra claims, a role) or a re-check changed; empty for most clients."""
    if base is None:
        return dict(claims)
    delta = {k: v for k, v in claims.items() if base.get(k, _GONE) != v}
    delta.update((k, _GONE) for k in base if k not in claims)
    return delta


def with_delta(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The client's claims again: the person's, changed by `delta`."""
    merged = {**base, **delta}
    return {k: v for k, v in merged.items() if v is not _GONE}
