"""WeCom's back-pressure (45009 call frequency exceeded, 45033 too many concurrent
calls) honoured by the whole bridge: the first worker that meets it records a
back-off for that API in the shared store, and until it ends every worker and
replica answers "try again in a minute" without calling WeCom, so a burst of logins
does not keep the limit tripped (wecom-api.md §7: back off for the window).

The back-off starts short and doubles while WeCom keeps answering 45009 after it
(2 s, 4 s ... 60 s, WeCom's shortest window): a single 45009 costs a few seconds, a
persistent limit is met once a minute. The store is advisory here: if it cannot be
read or written, calls go ahead as if there were no back-off.

A process that found no back-off trusts that for RECHECK seconds before it reads the
store again: otherwise every WeCom call of every login would cost a store read for an
event of a few minutes a year. Another worker's back-off is so seen within RECHECK
seconds; a call sent in between and answered 45009 joins the back-off in force
instead of lengthening it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..store.base import StateStore
from ..store.kinds import Kind
from .errors import RateLimited, WecomApiError, error_for

log = logging.getLogger(__name__)

KIND = Kind.WECOM_BACKOFF
FIRST, LONGEST = 2.0, 60.0
RECHECK = 1.0


class BackPressure:
    """`check(api)` raises RateLimited while the bridge backs off `api`;
    `tripped(api, error)` starts or lengthens the back-off."""

    def __init__(self, store: StateStore, cache_key: str, clock: Callable[[], float],
                 on_refused: Callable[[str], None] | None = None):
        self._store, self._key, self._clock = store, cache_key, clock
        self._on_refused = on_refused
        self._clear_until: dict[str, float] = {}  # api -> no store read before then

    def check(self, api: str) -> None:
        now = self._clock()
        if now < self._clear_until.get(api, 0.0):
            return
        try:
            record = self._store.get(KIND, f"{self._key}:{api}")
        except Exception:  # advisory: a store problem must not add to WeCom's
            return
        if not record or now >= float(record.get("until", 0)):
            self._clear_until[api] = now + RECHECK
            return
        if self._on_refused is not None:
            self._on_refused(api)
        left = float(record["until"]) - self._clock()
        raise error_for(api, int(record.get("errcode") or 45009),
                        f"not sent: the bridge backs off {api} for {left:.0f} more s after "
                        "WeCom's rate limit")

    def tripped(self, api: str, error: WecomApiError) -> None:
        if not isinstance(error, RateLimited):
            return
        name = f"{self._key}:{api}"
        self._clear_until.pop(api, None)
        try:
            previous = self._store.get(KIND, name) or {}
            if self._clock() < float(previous.get("until", 0)):
                return  # another worker's back-off is in force: this call was in flight
            window = min(LONGEST, 2 * float(previous.get("window", FIRST / 2)))
            # Kept past its end so the next 45009 doubles it; `until` says when calls resume.
            self._store.put(KIND, name, {"until": self._clock() + window, "window": window,
                                         "errcode": error.errcode}, ttl=window + LONGEST)
        except Exception:
            return
        log.warning("wecom rate limited api=%s errcode=%s: every worker backs off %ds",
                    api, error.errcode, window)
