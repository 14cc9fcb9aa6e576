"""The WeCom directory behind groups, roles and access policies: the department tree
(id -> name, parent) and every tag's members (userids and departments).

The tree rarely changes and reading it costs 2 + (number of tags) API calls
(department/list, tag/list, tag/get per tag; wecom-api.md §6), so:
- one snapshot lives in the StateStore (kind "wecom_directory", keyed by corp+agent)
  and in each process's memory; it is fresh for `ttl` seconds;
- a stale snapshot (up to `max_stale` old) is served at once while one background
  thread refreshes it: a slow or failing WeCom never fails a login that has a copy;
- at most one refresh runs across all workers and replicas (elected with the
  store's lock, store/lock.py, like the access token, wecom/token.py); a failed
  refresh keeps the lock for `retry_after` seconds so the workers back off together
  (a couple of seconds: long enough to spare a failing WeCom the 2 + tags calls per
  login, short enough that logins needing the directory resume soon after WeCom does);
- only a cold start (no usable snapshot anywhere) reads WeCom while the login waits,
  and only for a client that uses departments or tags (oidc.client_claims).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..store.base import StateStore
from ..store.kinds import Kind
from ..store.lock import store_lock
from ..wecom.errors import MemberNotVisible, Transport, WecomApiError, error_for

log = logging.getLogger(__name__)

KIND = Kind.WECOM_DIRECTORY
LOCK_KIND = Kind.WECOM_DIRECTORY_LOCK
ROOT_PARENT = 0  # the corp's root department (id 1) has parentid 0 (wecom-api.md §6)
_MAX_DEPTH = 32  # WeCom allows 15 levels; a guard against a cyclic answer


class DirectoryApi(Protocol):
    """The WecomClient calls the cache needs."""

    def departments(self) -> list[dict[str, Any]]: ...
    def tags(self) -> list[dict[str, Any]]: ...
    def tag_members(self, tagid: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Placement:
    """Where one member sits: see Identity.department_paths/lineage/tags."""

    paths: tuple[tuple[str, ...], ...]
    lineage: tuple[int, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    """The department tree and tag memberships as WeCom answered at `fetched_at`."""

    fetched_at: float
    names: dict[int, str]
    parents: dict[int, int]
    tags: tuple[tuple[str, frozenset[str], frozenset[int]], ...]  # (name, userids, dept ids)

    def to_record(self) -> dict[str, Any]:
        return {"fetched_at": self.fetched_at,
                "departments": [[i, n, self.parents.get(i, ROOT_PARENT)]
                                for i, n in self.names.items()],
                "tags": [[n, sorted(u), sorted(d)] for n, u, d in self.tags]}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Snapshot:
        depts = record.get("departments") or []
        return cls(fetched_at=float(record["fetched_at"]),
                   names={int(i): str(n) for i, n, _ in depts},
                   parents={int(i): int(p) for i, _, p in depts},
                   tags=tuple((str(n), frozenset(u), frozenset(int(x) for x in d))
                              for n, u, d in record.get("tags") or []))

    def chain(self, dept: int) -> list[int]:
        """dept and its ancestors, nearest first (as far as the app can see)."""
        out = [dept]
        while len(out) < _MAX_DEPTH:
            parent = self.parents.get(out[-1])
            if parent is None or parent == ROOT_PARENT or parent in out:
                break
            out.append(parent)
        return out

    def path(self, dept: int) -> tuple[str, ...]:
        """Names from the top of the visible tree down to `dept`, without the corp's
        root department (every path would start with the company's name) unless
        `dept` is the root itself. () for a department the app cannot see."""
        if dept not in self.names:
            return ()
        ids = [i for i in reversed(self.chain(dept)) if i in self.names]
        if len(ids) > 1 and self.parents.get(ids[0]) == ROOT_PARENT:
            ids = ids[1:]
        return tuple(self.names[i] for i in ids)

    def place(self, userid: str, departments: tuple[int, ...]) -> Placement:
        lineage: dict[int, None] = {}
        for d in departments:
            lineage.update(dict.fromkeys(self.chain(d)))
        who, member_of = userid.lower(), set(lineage)
        tags = sorted({name for name, users, depts in self.tags
                       if who in users or member_of & depts})
        return Placement(tuple(self.path(d) for d in departments), tuple(sorted(lineage)),
                         tuple(tags))


def fetch_snapshot(api: DirectoryApi, now: float) -> Snapshot:
    """Read the whole directory the app may see. Any failure aborts the read (a half
    read would silently drop tags); a tag the app may not read (60011) counts as empty."""
    names, parents = {}, {}
    for d in api.departments():
        dept = int(d["id"])
        # 代开发 apps without the admin's authorization get no names (§6): use the id.
        names[dept] = str(d.get("name") or dept)
        parents[dept] = int(d.get("parentid") or ROOT_PARENT)
    tags = []
    for t in api.tags():
        try:
            body = api.tag_members(int(t["tagid"]))
        except MemberNotVisible as e:
            log.warning("wecom tag skipped tagid=%s errcode=%s", t.get("tagid"), e.errcode)
            continue
        # userlist holds only members in the app's visible range; partylist holds
        # department ids that WeCom does not expand: place() does (§6).
        users = frozenset(str(u["userid"]).lower() for u in body.get("userlist") or [])
        depts = frozenset(int(x) for x in body.get("partylist") or [])
        tags.append((str(t.get("tagname") or body.get("tagname") or t["tagid"]), users, depts))
    return Snapshot(now, names, parents, tuple(tags))


def _last_failure(held: dict[str, Any]) -> WecomApiError:
    """The error another worker's failed directory read met, as a fresh exception."""
    api, errcode = str(held.get("api") or "department/list"), held.get("errcode")
    if isinstance(errcode, int):
        return error_for(api, errcode, "the last directory read failed; retrying shortly")
    return Transport(api, "the last directory read failed; retrying shortly", transient=False)


def _daemon(fn: Callable[[], None]) -> None:
    threading.Thread(target=fn, name="wecom-directory-refresh", daemon=True).start()


class DirectoryCache:
    """`snapshot()`: the directory, fresh when possible, stale rather than failing."""

    def __init__(self, api: DirectoryApi, store: StateStore, *, cache_key: str,
                 ttl: float = 600, max_stale: float = 86400,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 spawn: Callable[[Callable[[], None]], None] = _daemon,
                 lock_ttl: float = 300, retry_after: float = 2,
                 wait_timeout: float = 20, poll_interval: float = 0.2):
        self._api, self._store, self._key = api, store, cache_key
        self._ttl, self._max_stale = ttl, max(max_stale, ttl)
        self._clock, self._sleep, self._spawn = clock, sleep, spawn
        self._lock_ttl, self._retry_after = lock_ttl, retry_after
        self._polls = max(1, int(wait_timeout / poll_interval))
        self._poll = poll_interval
        self._memory: Snapshot | None = None
        self._mutex = threading.Lock()  # one cold-start read per process
        self._refreshing = threading.Lock()  # one background refresh per process

    def snapshot(self) -> Snapshot:
        now = self._clock()
        snap = self._memory
        if snap is None or now >= snap.fetched_at + self._ttl:
            snap = self._adopt_stored() or snap  # another worker may have refreshed it
        if snap is not None and now < snap.fetched_at + self._ttl:
            return snap
        if snap is not None and now < snap.fetched_at + self._max_stale:
            self._refresh_in_background()
            return snap
        return self._refresh_now()

    def refresh(self) -> None:
        """Read the directory now (a department or tag changed); skipped when another
        worker is reading it. Failures are logged, the old copy keeps serving."""
        try:
            self._refresh_locked()
        except Exception as e:  # noqa: BLE001 - a failed refresh must not stop the caller
            log.warning("wecom directory refresh after a change failed: %s", e)

    # -- internals -------------------------------------------------------------------

    def _adopt_stored(self) -> Snapshot | None:
        record = self._store.get(KIND, self._key)
        if not record:
            return None
        stored = Snapshot.from_record(record)
        if self._memory is None or stored.fetched_at > self._memory.fetched_at:
            self._memory = stored
        return self._memory

    def _usable(self, snap: Snapshot | None) -> bool:
        return snap is not None and self._clock() < snap.fetched_at + self._max_stale

    def _refresh_in_background(self) -> None:
        if not self._refreshing.acquire(blocking=False):
            return  # this process already refreshes

        def run() -> None:
            try:
                self._refresh_locked()
            except Exception as e:  # logged: the stale copy keeps serving
                log.warning("wecom directory refresh failed (%s); serving the copy from "
                            "%ds ago", e, self._clock() - (self._memory.fetched_at
                                                             if self._memory else 0))
            finally:
                self._refreshing.release()

        try:
            self._spawn(run)
        except Exception:
            self._refreshing.release()
            raise

    def _refresh_now(self) -> Snapshot:
        """Cold start: read WeCom now (or wait for the worker that does)."""
        with self._mutex:
            for _ in range(self._polls):
                snap = self._adopt_stored() if not self._usable(self._memory) else self._memory
                if snap is not None and self._usable(snap):
                    return snap
                snap = self._refresh_locked()
                if snap is not None:
                    return snap
                self._sleep(self._poll)  # another worker reads the directory
        raise Transport("department/list", "timed out waiting for another worker's "
                                           "directory read")

    def _refresh_locked(self) -> Snapshot | None:
        """Read the directory under the cross-process lock; None if someone holds it.
        Raises the WeCom error, leaving the lock to expire after retry_after."""
        with store_lock(self._store, LOCK_KIND, self._key, self._lock_ttl) as won:
            if not won:
                held = self._store.get(LOCK_KIND, self._key) or {}
                if held.get("failed"):
                    raise _last_failure(held)
                return None
            started = self._clock()
            try:
                snap = fetch_snapshot(self._api, started)
            except WecomApiError as e:
                # Every worker answers with this error (its errcode and admin hint) until
                # the back-off ends, without calling WeCom. The lock's record is
                # replaced, so the release (which removes only the record it wrote)
                # leaves it to expire after retry_after.
                self._store.put(LOCK_KIND, self._key, {"failed": True, "api": e.api,
                                                       "errcode": e.errcode},
                                ttl=self._retry_after)
                raise
            self._store.put(KIND, self._key, snap.to_record(), ttl=self._max_stale)
            self._memory = snap
        log.info("wecom directory read departments=%d tags=%d ms=%d", len(snap.names),
                 len(snap.tags), (self._clock() - started) * 1000)
        return snap
