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
import threading
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
        self._leases = _Leases()
        self._leases_lock = threading.Lock()

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
        at most one store round trip (none when leases cover every hit). Stops at the
        first refusal: the decisions end there and the later rules are not counted, so
        put the caller's own counters (its address) before shared ones (its client)."""
        now = self.clock()
        plans: list[_Plan | None] = []
        rates = self._rates
        for rule, key, amount in hits:
            # settings.rate() raises KeyError for a rule [limits] does not know.
            rate = rates[rule] if rule in rates else self.settings.rate(rule)
            if rate is None:
                plans.append(None)
                continue
            window = int(now // rate.window)
            end = (window + 1) * rate.window
            # The counter outlives its window by a little: the store (Redis) may
            # measure TTLs on a clock slightly apart from ours.
            plans.append(_Plan(f"{rule}:{rate.window}:{window}:{key or '-'}", rate.limit,
                               amount, lease_size(rate.limit) if amount else 0,
                               end - now + 5, end, max(1, math.ceil(end - now))))
        with self._leases_lock:
            fetch = [p for p in plans if p is not None and not self._leases.take(p)]
        values = self.store.incr_many(RATE, [p.increment() for p in fetch]) if fetch else []
        counted = dict(zip(map(id, fetch), values, strict=False))
        decisions: list[Decision] = []
        with self._leases_lock:
            for i, ((rule, _, _), plan) in enumerate(zip(hits, plans, strict=True)):
                if plan is None:
                    decisions.append(ALLOWED)
                    continue
                decision = plan.paid or self._leases.refill(plan, counted[id(plan)], now)
                decisions.append(decision)
                if not decision.allowed:
                    # The later hits are not counted: what their leases paid goes back.
                    for later in plans[i + 1:]:
                        if later is not None and later.paid:
                            self._leases.give_back(later)
                    self._on_limited(rule)
                    break
        return decisions


# Leases. A rule with a large limit takes counts from the store ahead, `lease_size` at a
# time, and spends them in this process without a store round trip: per-address and
# per-client counters of busy endpoints would otherwise cost a store write on every
# request. The store's counter is the sum of every process's leases, so the limit still
# holds across workers and replicas: a lease is cut to what is left under the limit, and
# what a process has leased but not spent is refused to the others. That unspent rest
# (at most lease_size - 1 per process and counter) is all a lease changes: a counter may
# refuse that much before its limit. Limits under LEASE_MIN_LIMIT (the failed-auth and
# device-code rules) and peeks count every request in the store, exactly.
LEASE_MIN_LIMIT = 200
LEASE_SHARE = 100  # a lease is at most this fraction of the limit (1 %) ...
LEASE_MAX = 32  # ... and at most this many counts
MAX_LEASES = 10_000  # counters holding a lease at once in a process (keys are per address)


def lease_size(limit: int) -> int:
    """Counts taken from the store at once for a rule of `limit` (1: no lease)."""
    return min(LEASE_MAX, limit // LEASE_SHARE) if limit >= LEASE_MIN_LIMIT else 1


@dataclass(slots=True)
class _Plan:
    """One hit of hit_many: its store counter and what this request spends of it."""

    counter: str
    limit: int
    amount: int
    lease: int  # counts to take from the store when it is reached (0: a peek)
    ttl: float
    window_end: float
    retry_after: int
    paid: Decision | None = None  # the decision when a lease paid for this hit

    def increment(self) -> tuple[str, float, int, int]:
        """The store counter move: a lease's counts, else the amount itself; the store
        stops after a counter above its ceiling (too few counts left for `amount`)."""
        taken = max(self.lease, self.amount)
        ceiling = self.limit + taken - self.amount if self.amount else self.limit - 1
        return (self.counter, self.ttl, taken, ceiling)


class _Leases:
    """The counts this process holds, per store counter."""

    def __init__(self) -> None:
        self._held: dict[str, list[float]] = {}  # values: [left, count, window end]

    def take(self, plan: _Plan) -> bool:
        """Spend `plan.amount` from its lease; False when it must go to the store."""
        if plan.lease <= 1:
            return False
        held = self._held.get(plan.counter)
        if held is None or held[0] < plan.amount:
            return False
        held[0] -= plan.amount
        plan.paid = Decision(True, int(held[1] - held[0]), plan.limit, plan.retry_after)
        return True

    def give_back(self, plan: _Plan) -> None:
        held = self._held.get(plan.counter)
        if held is not None:
            held[0] += plan.amount

    def refill(self, plan: _Plan, count: int, now: float) -> Decision:
        """The decision for a counter the store moved to `count`, keeping what is left
        of a lease for the next requests."""
        if not plan.amount:  # a peek: would one more pass?
            return Decision(count < plan.limit, count, plan.limit, plan.retry_after)
        taken = max(plan.lease, plan.amount)
        # The counts of this move that are under the limit. What an older lease still
        # holds (less than one request's amount) is dropped, so that this agrees with
        # the store's ceiling on where the request is refused.
        usable = min(taken, plan.limit - (count - taken))
        if usable < plan.amount:
            return Decision(False, count, plan.limit, plan.retry_after)
        left = usable - plan.amount
        if plan.lease > 1:
            left = self._keep(plan, left, count, now)
        return Decision(True, count - left, plan.limit, plan.retry_after)

    def _keep(self, plan: _Plan, left: int, count: int, now: float) -> int:
        """Hold `left` more counts of the counter (another thread may have refilled it
        meanwhile: both stand); returns what is held now."""
        held = self._held.get(plan.counter)
        if held is not None:
            held[0] += left
            held[1] = max(held[1], count)
            return int(held[0])
        if len(self._held) >= MAX_LEASES:
            self._held = {k: v for k, v in self._held.items() if v[2] > now}
            if len(self._held) >= MAX_LEASES:
                return 0  # a flood of keys: the rest of this lease is dropped
        self._held[plan.counter] = [left, count, plan.window_end]
        return left


def raise_if_refused(rule: str, decision: Decision) -> None:
    if not decision.allowed:
        raise TooManyRequests(rule, decision.retry_after)
