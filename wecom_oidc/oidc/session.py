"""The bridge's own login session: after one WeCom login, further authorization
requests (another app, prompt=none) are answered without sending the person back
to WeCom.

One record per session, under its public id `sid` (the one ID tokens and logout
tokens carry), so a logout that names the session by an ID token (an app's server
calling end_session, without the browser's cookie) finds it as the cookie does.
The cookie is `<sid>.<secret>`; the record keeps only a hash of the secret, and a
cookie whose secret does not match is no session. Who the person is lives once in
their person record (oidc/person.py), read in the same round trip."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import SessionSettings
from ..store.base import StateStore
from ..store.kinds import Kind
from . import person
from .member_index import entries, track
from .models import User

SESSION = Kind.SESSION


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
        # Every token born of this session shares its grant id, so revoking the
        # grant (logout, a replayed code or refresh token) ends them all at once.
        return {"sub": self.sub, "auth_time": self.auth_time, "expires_at": self.expires_at,
                "clients": self.clients, "secret": _digest(self.cookie), "grant_id": self.sid}

    def user(self) -> User:
        """The session's person, as the grants see them."""
        return User(self.sub, self.claims, self.auth_time, self.sid, self.identity,
                    base=self.claims)


class Sessions:
    """Start, read and end bridge sessions."""

    def __init__(self, store: StateStore, settings: SessionSettings,
                 clock: Callable[[], float], outlives: float = 0.0):
        self.store, self.settings, self.clock = store, settings, clock
        self.outlives = outlives  # how long the person stays after the session (person.py)

    def start(self, *, sub: str, claims: dict[str, Any], identity: dict[str, Any],
              auth_time: int, client_id: str) -> Session:
        sid = secrets.token_urlsafe(16)
        now = self.clock()
        s = Session(cookie=f"{sid}.{secrets.token_urlsafe(32)}", sid=sid, sub=sub,
                    claims=claims, identity=identity, auth_time=auth_time,
                    expires_at=now + self.settings.lifetime, clients=[client_id])
        until = self._person_until(s)
        # One round trip: the person, the session, and for offboarding the index of the
        # login, as long as anything of it may live.
        self.store.put_many([person.item(s.user(), until, now),
                             (SESSION, sid, s.record(), self.settings.lifetime)],
                            index=entries(s.sub, s.sid, s.clients, until - now))
        return s

    def _person_until(self, s: Session) -> float:
        return s.expires_at + self.outlives

    def load(self, cookie: str | None) -> Session | None:
        """The live session this cookie names, with its person (one round trip)."""
        sid = _sid(cookie)
        if sid is None:
            return None
        record, who = self.store.get_many([(SESSION, sid), (person.PERSON, sid)])
        if record is None or who is None or not _matches(record, cookie):
            return None
        return Session(cookie=str(cookie), sid=sid, sub=record["sub"], claims=who["claims"],
                       identity=who["identity"], auth_time=record["auth_time"],
                       expires_at=record["expires_at"], clients=record["clients"])

    def add_client(self, session: Session, client_id: str) -> None:
        """Remember which apps got a code, for back- and front-channel logout. One
        write the first time an app joins the session, none afterwards."""
        if client_id in session.clients:
            return
        session.clients.append(client_id)
        now = self.clock()
        remaining = session.expires_at - now
        if remaining > 0:
            self.store.put(SESSION, session.sid, session.record(), remaining)
            track(self.store, session.sub, session.sid, [client_id],
                  self._person_until(session) - now)

    def end(self, cookie: str | None) -> Session | None:
        """Remove the session; returns what it was, for logout notifications (its
        person stays for the tokens of the login: revoke the grant to end those)."""
        sid = _sid(cookie)
        if sid is None:
            return None
        record = self.store.get(SESSION, sid)
        if record is None or not _matches(record, cookie):
            return None  # a sid is public: only the cookie's holder ends the session
        return self._take(sid, str(cookie))

    def end_by_sid(self, sid: str, sub: str) -> Session | None:
        """Remove the session an ID token names (its sid, for the same person):
        logout requested without the browser's cookie."""
        if not sid or len(sid) > 128:
            return None
        record = self.store.get(SESSION, sid)
        if record is None or record.get("sub") != sub:
            return None
        return self._take(sid, "")

    def _take(self, sid: str, cookie: str) -> Session | None:
        # Of two logouts at once, one gets the session (and sends the notices).
        record = self.store.take(SESSION, sid)
        if record is None:
            return None
        return Session(cookie=cookie, sid=sid, sub=record["sub"], claims={}, identity={},
                       auth_time=record["auth_time"], expires_at=record["expires_at"],
                       clients=record["clients"])


def _sid(cookie: str | None) -> str | None:
    if not cookie or len(cookie) > 128:
        return None
    sid, dot, secret = cookie.partition(".")
    return sid if dot and sid and secret else None


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _matches(record: dict[str, Any], cookie: str | None) -> bool:
    return hmac.compare_digest(str(record.get("secret", "")), _digest(str(cookie)))
