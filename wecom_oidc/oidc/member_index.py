"""Which logins a member holds, kept beside them so offboarding needs no store scan.

The index lives in the store's sets (StateStore.index_add), each entry with the TTL
of what it points at, so it never outlives it:
- member_grants[sub]   the member's grant ids (= session ids: every code, access and
                       refresh token of a login carries its session's id as grant_id)
- grant_clients[sid]   the apps that got a code or token in that login
- live_members["all"]  the members holding any live session or refresh token (the
                       reconciliation sweep walks this)
"""

from __future__ import annotations

from ..store.base import IndexEntry, StateStore
from ..store.kinds import Kind

MEMBER_GRANTS = Kind.MEMBER_GRANTS
GRANT_CLIENTS = Kind.GRANT_CLIENTS
LIVE_MEMBERS = Kind.LIVE_MEMBERS
ALL = "all"


def track(store: StateStore, sub: str, sid: str, clients: list[str], ttl: float) -> None:
    """Remember that `sub` holds login `sid` used by `clients`, for `ttl` seconds."""
    store.index_add_many(entries(sub, sid, clients, ttl))


def entries(sub: str, sid: str, clients: list[str], ttl: float) -> list[IndexEntry]:
    """track()'s index entries (none for an empty member or login, or no time left),
    for StateStore.put_many."""
    if not sub or not sid or ttl <= 0:
        return []
    return [(MEMBER_GRANTS, sub, sid, ttl),
            *((GRANT_CLIENTS, sid, client_id, ttl) for client_id in clients),
            (LIVE_MEMBERS, ALL, sub, ttl)]


def live_members(store: StateStore) -> list[str]:
    """Members with a live session or refresh token."""
    return store.index_members(LIVE_MEMBERS, ALL)
