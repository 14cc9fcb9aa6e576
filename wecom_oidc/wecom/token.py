"""The shared WeCom access_token cache with single-flight refresh.

WeCom wants the token cached per app and punishes frequent gettoken calls (wecom-api.md
§1, §10), and a `serve` deployment has many threads in many processes. So:
- the token lives in the StateStore (kind "wecom_token", keyed by corp+agent, never by
  the secret) until `margin` seconds before WeCom's expires_in;
- at most one gettoken is in flight across all threads and processes: the refresher is
  elected with `store.add(LOCK_KIND, ...)`, the others poll the store for its result;
- each process also keeps the token in memory so the hot path does not touch the store.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from ..store.base import StateStore
from ..store.kinds import Kind
from ..store.lock import store_lock
from .errors import Transport

log = logging.getLogger(__name__)

KIND = Kind.WECOM_TOKEN
LOCK_KIND = Kind.WECOM_TOKEN_LOCK


class AccessTokenSource:
    """`get()` returns a valid access_token, `invalidate(token)` forgets a rejected one.

    `fetch()` calls gettoken and returns (access_token, expires_in); its errors propagate
    to the caller of `get()` (and to the threads of this process that queued behind it).
    """

    def __init__(self, store: StateStore, fetch: Callable[[], tuple[str, int]], *,
                 cache_key: str, clock: Callable[[], float] = time.time, margin: float = 300,
                 lock_ttl: float = 10, wait_timeout: float = 5,
                 sleep: Callable[[float], None] = time.sleep, poll_interval: float = 0.05,
                 on_lookup: Callable[[bool], None] | None = None):
        self._store = store
        self._fetch = fetch
        self._key = cache_key
        self._clock = clock
        self._margin = margin
        self._lock_ttl = lock_ttl
        self._sleep = sleep
        self._poll = poll_interval
        # Counted polls rather than a deadline, so a frozen test clock cannot spin forever.
        self._polls = max(1, math.ceil(wait_timeout / poll_interval))
        self._mutex = threading.Lock()  # one refresher per process; the store lock does the rest
        self._memory: tuple[str, float] | None = None  # (token, valid_until)
        self._finished = 0
        self._last_error: Exception | None = None
        # Told True when get() answers from a cache (memory or store), False when it
        # calls gettoken itself: the token cache hit/miss metric.
        self._on_lookup = on_lookup

    @property
    def lock_ttl(self) -> float:
        """How long a refresher may hold the cross-process lock."""
        return self._lock_ttl

    def get(self) -> str:
        """A cached token, or one fetched by exactly one caller across all workers."""
        token = self._from_memory()
        if token:
            self._observe(True)
            return token
        arrived = self._finished  # refreshes completed before we started waiting
        with self._mutex:
            token = self._from_memory()
            if token:
                self._observe(True)
                return token
            if self._finished != arrived and self._last_error is not None:
                # A refresh ran while we waited and failed: share its outcome instead of
                # calling gettoken again (repeated failed calls lead to a block, §1).
                raise self._last_error
            try:
                token = self._get_shared()
                self._last_error = None
                return token
            except Exception as exc:
                self._last_error = exc
                raise
            finally:
                self._finished += 1

    def invalidate(self, token: str) -> None:
        """Forget `token` (WeCom rejected it) — but only if the cache still holds that
        very token, so a fresher one fetched by another worker survives."""
        with self._mutex:
            if self._memory and self._memory[0] == token:
                self._memory = None
        # Under the refresh lock: cache writers hold it, so compare-and-delete is exact.
        for _ in range(self._polls):
            won, _unused = self._locked(lambda: self._drop_if(token))
            if won:
                return
            self._sleep(self._poll)
        self._drop_if(token)  # the lock holder is stuck: best effort

    # -- internals -------------------------------------------------------------------

    def _observe(self, hit: bool) -> None:
        if self._on_lookup is not None:
            try:
                self._on_lookup(hit)
            except Exception:  # a metrics hook must never break a login
                log.exception("token cache observer failed")

    def _from_memory(self) -> str | None:
        cached = self._memory
        if cached and self._clock() < cached[1]:
            return cached[0]
        return None

    def _from_store(self) -> str | None:
        record = self._store.get(KIND, self._key) or {}
        token = record.get("token")
        if not isinstance(token, str) or not token:
            return None
        valid_until = float(record.get("valid_until", 0))
        if self._clock() >= valid_until:
            return None
        self._memory = (token, valid_until)
        return token

    def _get_shared(self) -> str:
        for _ in range(self._polls + 1):
            token = self._from_store()
            if token:
                self._observe(True)
                return token
            won, token = self._locked(self._refresh)
            if won and isinstance(token, str):
                return token
            self._sleep(self._poll)  # another worker is fetching: wait for its result
        raise Transport("gettoken", "timed out waiting for another worker's token refresh")

    def _refresh(self) -> str:
        # Re-read under the lock: another worker may have stored a token since we looked.
        token = self._from_store()
        if token:
            self._observe(True)
            return token
        self._observe(False)
        token, expires_in = self._fetch()
        now = self._clock()
        lifetime = expires_in - self._margin
        if lifetime <= 0:  # a short-lived token: keep it for half its life rather than never
            lifetime = max(expires_in / 2, 1)
        self._store.put(KIND, self._key, {"token": token, "valid_until": now + lifetime},
                        ttl=lifetime)
        self._memory = (token, now + lifetime)
        log.info("wecom access_token refreshed cache_ttl=%ds", int(lifetime))
        return token

    def _locked(self, fn: Callable[[], Any]) -> tuple[bool, Any]:
        """Run fn under the cross-process refresh lock; (False, None) if someone holds it."""
        with store_lock(self._store, LOCK_KIND, self._key, self._lock_ttl) as won:
            return (True, fn()) if won else (False, None)

    def _drop_if(self, token: str) -> None:
        record = self._store.get(KIND, self._key)
        if record and record.get("token") == token:
            self._store.delete(KIND, self._key)
            log.info("wecom access_token invalidated")
