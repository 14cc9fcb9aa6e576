"""Offboarding: end everything a member holds at once (found through member_index)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..ops.audit import audit
from .logout import notify_backchannel
from .member_index import ALL, GRANT_CLIENTS, LIVE_MEMBERS, MEMBER_GRANTS
from .session import SESSION, Session

if TYPE_CHECKING:
    from .provider import Provider

log = logging.getLogger(__name__)

MEMBER_CHECK = "member_check"  # the provider's cache of the last WeCom check


@dataclass
class Revoked:
    """What revoke_member ended."""

    sub: str
    sessions: list[str] = field(default_factory=list)  # session ids (grants)
    records: int = 0  # store records deleted (sessions, codes, access/refresh tokens)
    clients: list[str] = field(default_factory=list)  # apps of those sessions
    backchannel_sent: int = 0  # logout tokens accepted by apps (2xx)
    frontchannel_only: list[str] = field(default_factory=list)  # no server-side notice


def revoke_member(provider: Provider, sub: str, *, reason: str) -> Revoked:
    """End every bridge session of `sub` (the WeCom userid), revoke every code,
    access token and refresh token born of them, and POST a back-channel logout
    token (with sub and sid) to every app of those sessions that registered one.

    Apps that registered only a front-channel logout URL cannot be told without the
    person's browser (the URL is meant to run in an iframe with the app's cookies);
    they are listed in `frontchannel_only`: their tokens are revoked, so their next
    refresh, userinfo or introspection fails, and the next silent authorize finds
    no session. Idempotent: a second call finds nothing and returns an empty result."""
    store = provider.store
    done = Revoked(sub)
    for sid in store.index_members(MEMBER_GRANTS, sub):
        record = store.get(SESSION, sid) or {}
        clients = sorted(set(store.index_members(GRANT_CLIENTS, sid))
                         | set(record.get("clients") or []))
        n = store.revoke_grant(sid)
        store.index_remove(MEMBER_GRANTS, sub, sid)
        if n == 0 and not record:
            continue  # already ended (logout, replay revocation): nobody to tell
        done.records += n
        done.sessions.append(sid)
        session = Session(cookie="", sid=sid, sub=sub, claims={}, identity={}, auth_time=0,
                          expires_at=0.0, clients=clients)
        done.backchannel_sent += notify_backchannel(provider, session)
        for client_id in clients:
            if client_id not in done.clients:
                done.clients.append(client_id)
            c = provider.clients.get(client_id)
            if c is not None and c.settings.frontchannel_logout_uri and \
                    not c.settings.backchannel_logout_uri and \
                    client_id not in done.frontchannel_only:
                done.frontchannel_only.append(client_id)
    store.index_remove(LIVE_MEMBERS, ALL, sub)
    store.delete(MEMBER_CHECK, sub)  # the next re-check asks WeCom, not the cache
    if done.sessions:
        log.warning("offboard sub=%s reason=%s sessions=%d records=%d clients=%s "
                    "backchannel_accepted=%d", sub, reason, len(done.sessions), done.records,
                    ",".join(done.clients) or "-", done.backchannel_sent)
        audit("revoke", sub=sub, reason=f"offboard:{reason}", outcome="success",
              sessions=len(done.sessions), clients="+".join(done.clients))
    return done
