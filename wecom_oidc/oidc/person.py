"""The person of one login, kept once: the claims every client's view starts from,
the upstream's identity (for re-checks), auth_time. Stored under the session id,
which the session, codes, tokens and device grants carry instead of a copy.

It lives as long as the longest of them: a code issued at the session's last moment
and exchanged at the code's last yields an access token that outlives the session
(`outlives`); a refresh token, issued or rotated, extends it to its own expiry (so
the person of a login without refresh tokens is not kept for their TTL). Its
grant_id is the session id, so logout, a replayed code and offboarding remove it
with everything else of the login.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..identity import Identity
from ..store.base import Put, StateStore
from ..store.kinds import Kind
from .member_index import track
from .models import User

PERSON = Kind.PERSON
_GONE = None  # a claim in the person that a client's view leaves out


def outlives(settings: Settings) -> float:
    """How long after the session ends its person may still be needed without a
    refresh token: the slowest code or device code, then its access token."""
    t = settings.tokens
    return max(t.code_ttl, t.device_code_ttl) + t.access_token_ttl


def save(store: StateStore, user: User, expires_at: float, now: float) -> None:
    """Write the person of login `user.sid`, to live until `expires_at`."""
    store.put(*item(user, expires_at, now))


def item(user: User, expires_at: float, now: float) -> Put:
    """save()'s write, for StateStore.put_many."""
    return (PERSON, user.sid, {"sub": user.sub, "claims": user.claims,
                               "identity": user.identity, "auth_time": user.auth_time,
                               "expires_at": expires_at, "grant_id": user.sid},
            expires_at - now)


def user_of(sid: str, record: dict[str, Any]) -> User:
    """The person as Authlib's grants see them (`base`: the stored claims)."""
    return User(record["sub"], record["claims"], record["auth_time"], sid,
                record["identity"], base=record["claims"],
                person_until=float(record.get("expires_at") or 0))


def load(store: StateStore, sid: str) -> dict[str, Any] | None:
    """The person record of login `sid`, or None once the login is over."""
    return store.get(PERSON, sid) if sid else None


def inline(token: dict[str, Any]) -> dict[str, Any] | None:
    """The person a refresh token issued before person records carried itself (its
    first refresh then writes the person record)."""
    if "identity" not in token or "claims" not in token:
        return None
    return {k: token[k] for k in ("sub", "claims", "identity", "auth_time")}


def extend(store: StateStore, user: User, until: float, now: float, client_id: str) -> None:
    """A refresh token was issued: the person, and this client's login in the
    offboarding index, stay until `until` (its expiry), unless they already do."""
    if user.person_until >= until:
        return
    claims = user.base if user.base is not None else user.claims
    save(store, User(user.sub, claims, user.auth_time, user.sid, user.identity), until, now)
    track(store, user.sub, user.sid, [client_id], until - now)


def keep_until(store: StateStore, checked: User, record: dict[str, Any], until: float,
               now: float, client_id: str) -> float:
    """At a refresh: the person as re-checked (`checked`), alive until at least
    `until` (the rotated refresh token's expiry), rewritten only when the identity,
    claims or expiry moved; this client's login in the offboarding index as long.
    Returns the person's expiry."""
    expires_at = max(until, float(record.get("expires_at") or 0))
    if expires_at != record.get("expires_at") or checked.claims != record["claims"] or \
            Identity.from_record(checked.identity) != Identity.from_record(record["identity"]):
        save(store, checked, expires_at, now)
    track(store, checked.sub, checked.sid, [client_id], until - now)
    return expires_at


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
