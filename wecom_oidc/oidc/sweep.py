"""Reconciliation: callbacks can be lost or restricted (contacts-sync URLs set after
2022-08-15 get no status changes), so every `interval` one process re-checks the
members holding a live session or refresh token and revokes those who are gone.

One sweeper across workers and replicas: the turn is taken with store.add on a lock
that lives for the whole interval, so whoever wins runs the sweep and nobody else
does until the interval has passed. Checks are paced (at most `rate` per second) to
stay well inside WeCom's per-API limits and leave room for logins.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..store.kinds import Kind
from .member_index import live_members
from .offboard import revoke_member

if TYPE_CHECKING:
    from .provider import Provider

log = logging.getLogger(__name__)

SWEEP_LOCK = Kind.SWEEP_LOCK
# Why a member may no longer sign in, None if they may; raises when the upstream
# cannot say (the member is then left alone until the next sweep).
Check = Callable[[str], "str | None"]


class Sweeper:
    def __init__(self, provider: Provider, check: Check, *, interval: float, rate: float,
                 on_revoked: Callable[[str], None] = lambda trigger: None,
                 on_sweep: Callable[[float, int], None] = lambda seconds, n: None,
                 sleep: Callable[[float], None] = time.sleep):
        self.provider, self.check = provider, check
        self.interval, self.pause = interval, 1.0 / max(rate, 0.001)
        self.on_revoked, self.on_sweep, self.sleep = on_revoked, on_sweep, sleep
        self._started_pid = 0

    def try_sweep(self) -> bool:
        """Sweep if it is this process's turn; True if it swept."""
        store = self.provider.store
        if not store.add(SWEEP_LOCK, "sweep", {"at": self.provider.clock()}, self.interval):
            return False
        self.sweep()
        return True

    def sweep(self) -> int:
        """Re-check every member with a live login; returns how many were revoked."""
        started, revoked, errors = time.monotonic(), 0, 0
        members = live_members(self.provider.store)
        for i, userid in enumerate(members):
            if i:
                self.sleep(self.pause)
            try:
                reason = self.check(userid)
            except Exception as e:  # noqa: BLE001 - WeCom down: try this member next time
                errors += 1
                log.warning("sweep: re-check of %s failed (%s); kept", userid,
                            type(e).__name__)
                continue
            if reason:
                revoke_member(self.provider, userid, reason=f"sweep:{reason}")
                self.on_revoked("sweep")
                revoked += 1
        seconds = time.monotonic() - started
        self.on_sweep(seconds, revoked)
        log.info("sweep members=%d revoked=%d errors=%d ms=%d", len(members), revoked,
                 errors, seconds * 1000)
        return revoked

    def start(self) -> None:
        """Run in a daemon thread of this process (once per process: call it after a
        fork, e.g. from the first request)."""
        import os

        if self._started_pid == os.getpid() or self.interval <= 0:
            return
        self._started_pid = os.getpid()
        threading.Thread(target=self._loop, name="offboarding-sweep", daemon=True).start()

    def _loop(self) -> None:
        # Not at startup (a restart is not a reason to call WeCom for everyone); workers
        # wake at different moments and the lock decides who sweeps.
        poll = min(30.0, self.interval / 2)
        self.sleep(self.interval * random.uniform(0.5, 1.0))
        while True:
            try:
                self.try_sweep()
            except Exception as e:  # noqa: BLE001 - e.g. the store is down; try again later
                log.warning("sweep failed: %s", type(e).__name__)
            self.sleep(poll)
