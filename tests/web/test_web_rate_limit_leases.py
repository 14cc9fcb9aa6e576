"""Rate-limit leases (wecom_oidc.ratelimit): a rule with a large limit takes its counts
from the store a lease at a time. What must hold: fewer store round trips, and still
never more than the limit through, however many processes share the counter. (A flood
against a leased limit over the real server's two workers is in
tests/e2e/test_e2e_attacks_limits.py.)"""

from __future__ import annotations

import itertools

import pytest
from fakes import settings_toml

from wecom_oidc import ratelimit
from wecom_oidc.ratelimit import RateLimiter, lease_size
from wecom_oidc.store import MemoryStore


class CountingStore(MemoryStore):
    """A shared store that counts the round trips the limiters make to it."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.trips = 0

    def incr_many(self, kind, counters):
        self.trips += 1
        return super().incr_many(kind, counters)


@pytest.fixture
def limits(make_settings):
    def make(extra: str):
        return make_settings(settings_toml(extra="[limits]\n" + extra)).limits
    return make


def test_leases_a_busy_counter_reaches_the_store_once_a_lease(limits, clock):
    store = CountingStore(clock=clock)
    limiter = RateLimiter(store, limits('token_per_ip = "3000/1m"\n'), clock=clock)
    assert lease_size(3000) == 30
    assert all(limiter.hit("token_per_ip", "a").allowed for _ in range(100))
    assert store.trips == 4  # 30 + 30 + 30 + 10: not one a request


def test_leases_small_limits_and_peeks_count_every_request_in_the_store(limits, clock):
    store = CountingStore(clock=clock)
    limiter = RateLimiter(store, limits('failed_auth_per_ip = "30/5m"\n'
                                        'token_per_ip = "3000/1m"\n'), clock=clock)
    for _ in range(5):
        limiter.hit("failed_auth_per_ip", "a")
        limiter.peek("token_per_ip", "a")
    assert store.trips == 10
    assert limiter.peek("failed_auth_per_ip", "a").count == 5


@pytest.mark.parametrize("limit", [200, 250, 3000])
def test_leases_never_let_more_than_the_limit_through_across_processes(limits, clock, limit):
    """Three processes (a limiter each, a lease table each) on one store, hit in turn:
    the limit holds for their sum, and what is refused early is at most the unspent
    rest of the others' leases."""
    store = MemoryStore(clock=clock)
    processes = [RateLimiter(store, limits(f'token_per_ip = "{limit}/1d"\n'), clock=clock)
                 for _ in range(3)]
    turns = itertools.cycle([0, 1, 2, 0, 0, 2, 1, 2])  # uneven, as a balancer spreads
    allowed = sum(processes[next(turns)].hit("token_per_ip", "a").allowed
                  for _ in range(limit + 200))
    assert limit - 3 * (lease_size(limit) - 1) <= allowed <= limit
    assert not any(p.hit("token_per_ip", "a").allowed for p in processes)


def test_leases_a_refusal_gives_back_what_the_later_counters_took(limits, clock):
    """A request its address's limit refuses spends nothing of its client's counter,
    also when a lease (not the store) would have paid for it."""
    limiter = RateLimiter(MemoryStore(clock=clock), limits(
        'token_per_ip = "2/1m"\ntoken_per_client = "3000/1m"\n'), clock=clock)
    hits = [("token_per_ip", "a", 1), ("token_per_client", "app", 1)]
    assert [d.allowed for d in limiter.hit_many(hits)] == [True, True]
    assert [d.allowed for d in limiter.hit_many(hits)] == [True, True]
    refused = limiter.hit_many(hits)
    assert [d.allowed for d in refused] == [False]
    # The client's third request of the window, not its fourth.
    assert limiter.hit("token_per_client", "app").count == 3


def test_leases_end_with_their_window(limits, clock):
    clock.now -= clock.now % 60
    store = CountingStore(clock=clock)
    limiter = RateLimiter(store, limits('userinfo_per_ip = "200/1m"\n'), clock=clock)
    assert lease_size(200) == 2
    assert sum(limiter.hit("userinfo_per_ip", "a").allowed for _ in range(250)) == 200
    clock.advance(60)
    trips = store.trips
    assert limiter.hit("userinfo_per_ip", "a").count == 1
    assert store.trips == trips + 1  # a new window is a new counter: its own lease


def test_leases_a_flood_of_keys_holds_a_bounded_table(limits, clock, monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_LEASES", 3)
    limiter = RateLimiter(MemoryStore(clock=clock), limits('token_per_ip = "3000/1m"\n'),
                          clock=clock)
    assert all(limiter.hit("token_per_ip", f"192.0.2.{i}").allowed for i in range(10))
    assert len(limiter._leases._held) == 3
    clock.advance(60)  # the held leases' window is over: they make room
    assert limiter.hit("token_per_ip", "198.51.100.1").allowed
    assert len(limiter._leases._held) == 1
