"""The bridge's own login session: after one WeCom login, further authorization
requests (another app, prompt=none) are answered without sending the person back
to WeCom. Kept in the store under the cookie value (hashed there); `sid` is the
public session id that ID tokens and logout tokens carry."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import SessionSettings
from ..store.base import StateStore
from ..store.kinds import Kind
from .member_index import track

SESSION = Kind.SESSION
# The same record under the public sid, so a logout that names the session by an
# ID token (an app's server calling end_session, without the browser's cookie)
# finds it. It holds nothing secret: never the cookie value.
SESSION_BY_SID = Kind.SESSION_BY_SID


@dataclass
class Session:
    cookie: str
    sid: str
    sub: str
    claims: dict[str, Any]
    identity: dict[str, Any]
    auth_time: int
    expires_at: float
    clients: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        del data["cookie"]
        # Every token born of this session shares its grant id, so revoking the
        # grant (logout, a replayed code or refresh token) ends them all at once.
        data["grant_id"] = self.sid
        return data


class Sessions:
    """Start, read and end bridge sessions."""

    def __init__(self, store: StateStore, settings: SessionSettings,
                 clock: Callable[[], float]):
        self.store, self.settings, self.clock = store, settings, clock

    def start(self, *, sub: str, claims: dict[str, Any], identity: dict[str, Any],
              auth_time: int, client_id: str) -> Session:
        s = Session(cookie=secrets.token_urlsafe(32), sid=secrets.token_urlsafe(16), sub=sub,
                    claims=claims, identity=identity, auth_time=auth_time,
                    expires_at=self.clock() + self.settings.lifetime, clients=[client_id])
        self._save(s, self.settings.lifetime)
        return s

    def _save(self, s: Session, ttl: float) -> None:
        record = s.record()
        self.store.put(SESSION, s.cookie, record, ttl)
        self.store.put(SESSION_BY_SID, s.sid, record, ttl)
        track(self.store, s.sub, s.sid, s.clients, ttl)  # for offboarding

    def load(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 128:
            return None
        record = self.store.get(SESSION, cookie)
        if record is None:
            return None
        record.pop("grant_id", None)
        return Session(cookie=cookie, **record)

    def add_client(self, session: Session, client_id: str) -> None:
        """Remember which apps got a code, for back- and front-channel logout. One
        write the first time an app joins the session, none afterwards."""
        if client_id in session.clients:
            return
        session.clients.append(client_id)
        remaining = session.expires_at - self.clock()
        if remaining > 0:
            self._save(session, remaining)

    def end(self, cookie: str | None) -> Session | None:
        """Remove the session; returns what it was, for logout notifications."""
        if not cookie or len(cookie) > 128:
            return None
        record = self.store.take(SESSION, cookie)
        if record is None:
            return None
        record.pop("grant_id", None)
        self.store.delete(SESSION_BY_SID, record["sid"])
        return Session(cookie=cookie, **record)

    def end_by_sid(self, sid: str, sub: str) -> Session | None:
        """Remove the session an ID token names (its sid, for the same person):
        logout requested without the browser's cookie."""
        if not sid or len(sid) > 128:
            return None
        record = self.store.take(SESSION_BY_SID, sid)
        if record is None:
            return None
        if record.get("sub") != sub:
            return None
        record.pop("grant_id", None)
        # The cookie's record goes with the session's grant (the caller revokes it).
        return Session(cookie="", **record)
