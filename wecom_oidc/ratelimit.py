"""Rate limits counted in the state store, so every worker and every replica sharing
the store (Redis) shares the count; with the in-process memory store each process
counts alone.

Fixed windows aligned on the clock: a rule of 600/1m counts requests per (rule, key)
from :00 to :59 of each minute, in one `StateStore.incr` per request. A burst at a
window boundary may pass up to twice the limit within a minute; in exchange a check
is one atomic store operation. Keys (client IPs, client ids) are hashed by the store
like every other key.

The API others use (e.g. a new endpoint):

    limiter.check("device_user_code_per_ip", client_ip)   # raises TooManyRequests
    decision = limiter.hit(rule, key)                      # count, no raise
    decision = limiter.peek(rule, key)                     # look, no count

`rule` is a [limits] key (config.settings.DEFAULT_RATES: add new rules there, with a
default, and document them in config.example.toml); a rule set to "off" or
`[limits] enabled = false` always allows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import LimitSettings, Rate
from .errors import TooManyRequests
from .store.base import StateStore
from .store.kinds import Kind

RATE = Kind.RATE  # the store kind of every counter


@dataclass(frozen=True)
class Decision:
    """The outcome of one look at a counter."""

    allowed: bool
    count: int  # the counter after this call
    limit: int
    retry_after: int  # whole seconds until the window ends (>= 1)


ALLOWED = Decision(True, 0, 0, 0)


class RateLimiter:
    """Rules from `[limits]`, counters in `store`. `on_limited(rule)` is called for
    every refused request (metrics); it must not raise."""

    def __init__(self, store: StateStore, settings: LimitSettings, *,
                 clock: Callable[[], float] = time.time,
                 on_limited: Callable[[str], None] | None = None):
        self.store = store
        self.settings = settings
        self.clock = clock
        self._on_limited = on_limited or (lambda rule: None)

    def hit(self, rule: str, key: str, amount: int = 1) -> Decision:
        """Count `amount` requests for `key` under `rule`; allowed while the count
        stays within the limit."""
        rate = self.settings.rate(rule)
        if rate is None:
            return ALLOWED
        count, retry_after = self._count(rule, key, rate, amount)
        decision = Decision(count <= rate.limit, count, rate.limit, retry_after)
        if not decision.allowed:
            self._on_limited(rule)
        return decision

    def peek(self, rule: str, key: str) -> Decision:
        """Whether one more request would be allowed, without counting it (for
        counters that only failures increase)."""
        rate = self.settings.rate(rule)
        if rate is None:
            return ALLOWED
        count, retry_after = self._count(rule, key, rate, 0)
        decision = Decision(count < rate.limit, count, rate.limit, retry_after)
        if not decision.allowed:
            self._on_limited(rule)
        return decision

    def check(self, rule: str, key: str) -> None:
        """hit(), raising TooManyRequests (-> 429 with Retry-After) when over."""
        raise_if_refused(rule, self.hit(rule, key))

    def _count(self, rule: str, key: str, rate: Rate, amount: int) -> tuple[int, int]:
        now = self.clock()
        window = int(now // rate.window)
        ends = (window + 1) * rate.window
        # The counter outlives its window by a little: the store (Redis) may measure
        # TTLs on a clock slightly apart from ours.
        count = self.store.incr(RATE, f"{rule}:{rate.window}:{window}:{key or '-'}",
                                ttl=ends - now + 5, amount=amount)
        return count, max(1, math.ceil(ends - now))


def raise_if_refused(rule: str, decision: Decision) -> None:
    if not decision.allowed:
        raise TooManyRequests(rule, decision.retry_after)
