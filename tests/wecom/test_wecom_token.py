"""AccessTokenSource: margin, single flight across threads, invalidate-if-same, locks."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from wecom_fakes import FakeClock

from wecom_oidc.store import MemoryStore, SqliteStore
from wecom_oidc.wecom.errors import ConfigProblem, Transport
from wecom_oidc.wecom.token import KIND, LOCK_KIND, AccessTokenSource

KEY = "ww0123456789abcdef:1000002"


class CountingFetch:
    """A gettoken stand-in: numbered tokens, optional delay, optional failure."""

    def __init__(self, expires_in: int = 7200, delay: float = 0.0, error=None):
        self.calls = 0
        self.expires_in = expires_in
        self.delay = delay
        self.error = error
        self._lock = threading.Lock()

    def __call__(self) -> tuple[str, int]:
        with self._lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return f"TOKEN-{n}", self.expires_in


class CountingStore(MemoryStore):
    """A MemoryStore that counts reads (to see the in-memory fast path)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.gets = 0

    def get(self, kind, key):
        self.gets += 1
        return super().get(kind, key)


def _source(store, fetch, clock=time.time, **kw) -> AccessTokenSource:
    kw.setdefault("poll_interval", 0.01)
    return AccessTokenSource(store, fetch, cache_key=KEY, clock=clock, **kw)


def _race(n: int, fn) -> list:
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn()
        except Exception as exc:  # collected for the assertion
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_token_cold_cache_50_threads_one_gettoken(tmp_path, backend):
    store = MemoryStore() if backend == "memory" else SqliteStore(tmp_path / "s.db")
    fetch = CountingFetch(delay=0.2)
    source = _source(store, fetch)
    assert _race(50, source.get) == ["TOKEN-1"] * 50
    assert fetch.calls == 1
    store.close()


def test_token_two_sources_one_store_one_gettoken(tmp_path):
    # Two "workers" (separate sources, separate in-memory caches) on one store file.
    path = tmp_path / "s.db"
    stores = [SqliteStore(path), SqliteStore(path)]
    fetch = CountingFetch(delay=0.2)
    sources = [_source(s, fetch) for s in stores]
    turn = itertools.count()
    results = _race(20, lambda: sources[next(turn) % 2].get())
    assert results == ["TOKEN-1"] * 20
    assert fetch.calls == 1
    for s in stores:
        s.close()


def test_token_cached_until_margin_before_expiry():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    fetch = CountingFetch(expires_in=7200)
    source = _source(store, fetch, clock=clock, margin=300)
    assert source.get() == "TOKEN-1"
    clock.advance(7200 - 300 - 1)
    assert source.get() == "TOKEN-1"
    assert fetch.calls == 1
    clock.advance(1)
    assert source.get() == "TOKEN-2"
    assert fetch.calls == 2


def test_token_stored_record_expires_at_margin():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    _source(store, CountingFetch(), clock=clock, margin=300).get()
    fresh = _source(store, CountingFetch(), clock=clock, margin=300)
    clock.advance(6899)
    assert fresh.get() == "TOKEN-1"  # read from the store, not fetched
    clock.advance(1)
    assert store.get(KIND, KEY) is None


def test_token_short_lifetime_still_cached():
    clock = FakeClock()
    fetch = CountingFetch(expires_in=200)  # shorter than the margin
    source = _source(MemoryStore(clock=clock), fetch, clock=clock, margin=300)
    source.get()
    clock.advance(99)
    source.get()
    assert fetch.calls == 1


def test_token_hot_path_skips_store():
    store = CountingStore()
    source = _source(store, CountingFetch())
    source.get()
    reads = store.gets
    for _ in range(100):
        source.get()
    assert store.gets == reads


def test_token_cache_key_is_not_the_secret():
    store = MemoryStore()
    _source(store, CountingFetch()).get()
    assert store.get(KIND, KEY) is not None


def test_token_lock_released_after_refresh():
    store = MemoryStore()
    _source(store, CountingFetch()).get()
    assert store.get(LOCK_KIND, KEY) is None


def test_token_lock_released_after_failed_refresh():
    store = MemoryStore()
    source = _source(store, CountingFetch(error=ConfigProblem("gettoken", 40001, "bad")))
    with pytest.raises(ConfigProblem):
        source.get()
    assert store.get(LOCK_KIND, KEY) is None


# -- invalidate -------------------------------------------------------------------------------


def test_token_invalidate_current_token_refetches():
    store = MemoryStore()
    fetch = CountingFetch()
    source = _source(store, fetch)
    token = source.get()
    source.invalidate(token)
    assert store.get(KIND, KEY) is None
    assert source.get() == "TOKEN-2"


def test_token_invalidate_stale_token_keeps_fresher_one():
    store = MemoryStore()
    fetch = CountingFetch()
    worker_a, worker_b = _source(store, fetch), _source(store, fetch)
    stale = worker_a.get()
    assert worker_b.get() == stale
    worker_b.invalidate(stale)  # B saw the rejection first and refreshed
    assert worker_b.get() == "TOKEN-2"
    worker_a.invalidate(stale)  # A's late invalidation of the old token
    assert store.get(KIND, KEY)["token"] == "TOKEN-2"
    assert worker_a.get() == "TOKEN-2"
    assert fetch.calls == 2


# -- failures and foreign locks ----------------------------------------------------------------


def test_token_queued_threads_share_a_failed_refresh():
    fetch = CountingFetch(delay=0.2, error=ConfigProblem("gettoken", 40001, "invalid credential"))
    source = _source(MemoryStore(), fetch)
    results = _race(10, source.get)
    assert all(isinstance(r, ConfigProblem) for r in results)
    assert fetch.calls == 1


def test_token_failure_is_not_cached_for_later_callers():
    fetch = CountingFetch(error=Transport("gettoken", "read timeout"))
    source = _source(MemoryStore(), fetch)
    with pytest.raises(Transport):
        source.get()
    fetch.error = None
    assert source.get() == "TOKEN-2"


def test_token_foreign_lock_times_out_without_gettoken():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    store.add(LOCK_KIND, KEY, {"owner": "another-worker"}, ttl=10)
    fetch = CountingFetch()
    source = _source(store, fetch, clock=clock, sleep=clock.advance, wait_timeout=5,
                     poll_interval=0.05)
    with pytest.raises(Transport) as info:
        source.get()
    assert "another worker" in str(info.value)
    assert fetch.calls == 0


def test_token_dead_lock_holder_expires_then_refresh():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    store.add(LOCK_KIND, KEY, {"owner": "crashed-worker"}, ttl=10)
    fetch = CountingFetch()
    source = _source(store, fetch, clock=clock, sleep=clock.advance, wait_timeout=15,
                     poll_interval=0.5)
    assert source.get() == "TOKEN-1"
    assert fetch.calls == 1


def test_token_waiter_picks_up_other_workers_token():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    store.add(LOCK_KIND, KEY, {"owner": "other"}, ttl=10)
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 3:  # the other worker finishes its gettoken
            store.put(KIND, KEY, {"token": "THEIRS", "valid_until": clock() + 6900}, ttl=6900)
            store.delete(LOCK_KIND, KEY)

    fetch = CountingFetch()
    assert _source(store, fetch, clock=clock, sleep=sleep).get() == "THEIRS"
    assert fetch.calls == 0


def test_token_release_leaves_someone_elses_lock():
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    holder = {}

    def slow_fetch() -> tuple[str, int]:
        clock.advance(11)  # our lock (ttl 10) expires mid-fetch; another worker takes it
        assert store.add(LOCK_KIND, KEY, {"owner": "next"}, ttl=10)
        holder["ok"] = True
        return "TOKEN-X", 7200

    _source(store, slow_fetch, clock=clock).get()
    assert holder["ok"]
    assert store.get(LOCK_KIND, KEY) == {"owner": "next"}
