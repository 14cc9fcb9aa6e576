"""Rate limits counted in the state store, so every worker and every replica sharing
the store (Redis) shares the count; with the in-process memory store each process
counts alone.

Fixed windows aligned on the clock: a rule of 600/1m counts requests per (rule, key)
from :00 to :59 of each minute; all of a request's counters go to the store in one
`StateStore.incr_many` round trip. A burst at a window boundary may pass up to twice the
limit within a minute; in exchange each counter is one atomic store operation. Keys
(client IPs, client ids) are hashed by the store like every other key.

The API others use (e.g. a new endpoint):

    limiter.check("device_user_code_per_ip", client_ip)   # raises TooManyRequests
    decision = limiter.hit(rule, key)                      # count, no raise
    decision = limiter.peek(rule, key)                     # look, no count
    decisions = limiter.hit_many([(rule, key, 1), ...])    # several, one store trip

`rule` is a [limits] key (config.settings.DEFAULT_RATES: add new rules there, with a
default, and document them in config.example.toml); a rule set to "off" or
`[limits] enabled = false` always allows.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
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
        # settings.rate() of every rule, looked up once.
        self._rates: dict[str, Rate | None] = {
            name: settings.rate(name) for name, _ in settings.rates}

    def hit(self, rule: str, key: str, amount: int = 1) -> Decision:
        """Count `amount` requests for `key` under `rule`; allowed while the count
        stays within the limit."""
        return self.hit_many([(rule, key, amount)])[0]

    def peek(self, rule: str, key: str) -> Decision:
        """Whether one more request would be allowed, without counting it (for
        counters that only failures increase)."""
        return self.hit_many([(rule, key, 0)])[0]

    def check(self, rule: str, key: str) -> None:
        """hit(), raising TooManyRequests (-> 429 with Retry-After) when over."""
        raise_if_refused(rule, self.hit(rule, key))

    def hit_many(self, hits: Sequence[tuple[str, str, int]]) -> list[Decision]:
        """hit() (amount >= 1) or peek() (amount 0) for each (rule, key, amount), in
        one store round trip. Stops at the first refusal: the decisions end there and
        the later rules are not counted, so put the caller's own counters (its
        address) before shared ones (its client)."""
        now = self.clock()
        counters: list[tuple[str, float, int, int]] = []
        # Per hit: None (the rule is off) or (limit, seconds until its window ends).
        plan: list[tuple[int, int] | None] = []
        rates = self._rates
        for rule, key, amount in hits:
            # settings.rate() raises KeyError for a rule [limits] does not know.
            rate = rates[rule] if rule in rates else self.settings.rate(rule)
            if rate is None:
                plan.append(None)
                continue
            window = int(now // rate.window)
            end = (window + 1) * rate.window
            # A peek asks whether one more would pass: refused at the limit, not
            # above it. The counter outlives its window by a little: the store
            # (Redis) may measure TTLs on a clock slightly apart from ours.
            counters.append((f"{rule}:{rate.window}:{window}:{key or '-'}", end - now + 5,
                             amount, rate.limit if amount else rate.limit - 1))
            plan.append((rate.limit, max(1, math.ceil(end - now))))
        counts = iter(self.store.incr_many(RATE, counters) if counters else ())
        decisions = []
        for (rule, _, amount), planned in zip(hits, plan, strict=True):
            if planned is None:
                decisions.append(ALLOWED)
                continue
            limit, retry_after = planned
            count = next(counts)
            allowed = count <= limit if amount else count < limit
            decisions.append(Decision(allowed, count, limit, retry_after))
            if not allowed:
                self._on_limited(rule)
                break
        return decisions


def raise_if_refused(rule: str, decision: Decision) -> None:
    if not decision.allowed:
        raise TooManyRequests(rule, decision.retry_after)
