"""The directory cache: snapshot shape, TTL, stale-on-error, one refresh across workers."""

from __future__ import annotations

import pytest
from groups_support import FakeDirectoryApi, snapshot

from wecom_oidc.store import MemoryStore
from wecom_oidc.upstream.directory import KIND, LOCK_KIND, DirectoryCache
from wecom_oidc.wecom.errors import Busy, Transport

KEY = "ww1:1000002"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock):
    s = MemoryStore(clock=clock)
    yield s
    s.close()


class Spawned(list):
    """Background refreshes are queued here and run by the test."""

    def run(self) -> None:
        while self:
            self.pop(0)()


def cache(api, store, clock, spawned=None, sleeps=None, **kw) -> DirectoryCache:
    return DirectoryCache(api, store, cache_key=KEY, ttl=600, max_stale=3600, clock=clock,
                          spawn=(spawned if spawned is not None else Spawned()).append,
                          sleep=(sleeps if sleeps is not None else []).append,
                          wait_timeout=1, poll_interval=0.2, **kw)


def test_snapshot_path_starts_below_the_corp_root():
    assert snapshot().path(4) == ("研发中心", "平台部", "SRE组")
    assert snapshot().path(1) == ("示例科技",)


def test_snapshot_place_lineage_includes_every_ancestor():
    assert snapshot().place("lisi", (4,)).lineage == (1, 2, 3, 4)


def test_snapshot_place_unknown_department_has_no_path_but_keeps_its_id():
    placed = snapshot().place("wujiu", (7,))
    assert placed.paths == ((),)
    assert placed.lineage == (7,)


def test_snapshot_place_tag_users_case_insensitive():
    assert "值班" in snapshot().place("lisi", (4,)).tags


def test_snapshot_place_tag_department_covers_sub_departments():
    assert snapshot().place("lisi", (4,)).tags == ("值班", "全体研发")
    assert snapshot().place("sunqi", (6,)).tags == ()


def test_snapshot_place_tag_department_outside_visible_tree():
    assert snapshot().place("someone", (7,)).tags == ("财务审批",)


def test_snapshot_record_round_trip():
    from wecom_oidc.upstream.directory import Snapshot

    snap = snapshot()
    assert Snapshot.from_record(snap.to_record()) == snap


def test_fetch_snapshot_skips_a_tag_the_app_may_not_read():
    api = FakeDirectoryApi()
    api.hidden = {3}
    from wecom_oidc.upstream.directory import fetch_snapshot

    names = [t[0] for t in fetch_snapshot(api, 0).tags]
    assert "管理层" not in names and "值班" in names


def test_fetch_snapshot_department_without_name_uses_its_id():
    api = FakeDirectoryApi()
    api.departments_data[3]["name"] = ""
    from wecom_oidc.upstream.directory import fetch_snapshot

    assert fetch_snapshot(api, 0).path(4) == ("研发中心", "平台部", "4")


def test_cache_cold_start_reads_wecom_once(store, clock):
    api = FakeDirectoryApi()
    c = cache(api, store, clock)
    c.snapshot()
    calls = api.calls
    c.snapshot()
    assert calls == 2 + 4  # department/list, tag/list, tag/get x4
    assert api.calls == calls


def test_cache_within_ttl_no_refresh(store, clock):
    api, spawned = FakeDirectoryApi(), Spawned()
    c = cache(api, store, clock, spawned)
    c.snapshot()
    clock.now += 599
    c.snapshot()
    assert spawned == []


def test_cache_after_ttl_serves_stale_and_refreshes_in_background(store, clock):
    api, spawned = FakeDirectoryApi(), Spawned()
    c = cache(api, store, clock, spawned)
    first = c.snapshot()
    clock.now += 601
    assert c.snapshot() is first  # answered at once with the stale copy
    assert len(spawned) == 1
    spawned.run()
    assert c.snapshot().fetched_at == clock.now


def test_cache_one_background_refresh_per_process(store, clock):
    api, spawned = FakeDirectoryApi(), Spawned()
    c = cache(api, store, clock, spawned)
    c.snapshot()
    clock.now += 601
    c.snapshot()
    c.snapshot()
    assert len(spawned) == 1


def test_cache_stale_served_when_wecom_fails(store, clock):
    api, spawned = FakeDirectoryApi(), Spawned()
    c = cache(api, store, clock, spawned)
    first = c.snapshot()
    clock.now += 601
    api.fail = True
    c.snapshot()
    spawned.run()  # fails, logged
    assert c.snapshot() is first


def test_cache_failed_refresh_backs_off_across_workers(store, clock):
    api, spawned = FakeDirectoryApi(), Spawned()
    worker_a = cache(api, store, clock, spawned, retry_after=30)
    worker_a.snapshot()
    clock.now += 601
    api.fail = True
    worker_a.snapshot()
    spawned.run()
    failed_calls = api.calls
    worker_b = cache(api, store, clock, spawned)
    worker_b.snapshot()
    spawned.run()
    assert api.calls == failed_calls  # the failure's lock holds everyone back
    clock.now += 31
    api.fail = False
    worker_b.snapshot()
    spawned.run()
    assert worker_b.snapshot().fetched_at == clock.now


def test_cache_refresh_skipped_while_another_worker_holds_the_lock(store, clock):
    api, spawned = FakeDirectoryApi(), Spawned()
    c = cache(api, store, clock, spawned)
    c.snapshot()
    calls = api.calls
    clock.now += 601
    assert store.add(LOCK_KIND, KEY, {"owner": "other-worker"}, ttl=300)
    c.snapshot()
    spawned.run()
    assert api.calls == calls


def test_cache_adopts_another_workers_refresh_without_calling_wecom(store, clock):
    api = FakeDirectoryApi()
    worker_a, worker_b = cache(api, store, clock), cache(api, store, clock)
    worker_a.snapshot()
    worker_b.snapshot()
    clock.now += 601
    spawned = Spawned()
    worker_a = cache(api, store, clock, spawned)
    worker_a.snapshot()
    spawned.run()
    calls = api.calls
    assert worker_b.snapshot().fetched_at == clock.now
    assert api.calls == calls


def test_cache_cold_start_waits_for_the_worker_that_reads(store, clock):
    api = FakeDirectoryApi()
    assert store.add(LOCK_KIND, KEY, {"owner": "other-worker"}, ttl=300)
    sleeps: list[float] = []

    def other_worker_finishes(seconds: float) -> None:
        sleeps.append(seconds)
        store.put(KIND, KEY, snapshot().to_record() | {"fetched_at": clock.now}, ttl=3600)

    c = DirectoryCache(api, store, cache_key=KEY, clock=clock, sleep=other_worker_finishes,
                       wait_timeout=1, poll_interval=0.2)
    assert c.snapshot().path(4) == ("研发中心", "平台部", "SRE组")
    assert api.calls == 0 and len(sleeps) == 1


def test_cache_cold_start_gives_up_waiting(store, clock):
    api = FakeDirectoryApi()
    assert store.add(LOCK_KIND, KEY, {"owner": "stuck-worker"}, ttl=300)
    with pytest.raises(Transport):
        cache(api, store, clock).snapshot()


def test_cache_cold_start_error_propagates(store, clock):
    api = FakeDirectoryApi()
    api.fail = True
    with pytest.raises(Busy):
        cache(api, store, clock).snapshot()


def test_cache_too_stale_is_read_again_while_waiting(store, clock):
    api, spawned = FakeDirectoryApi(), Spawned()
    c = cache(api, store, clock, spawned)
    c.snapshot()
    clock.now += 3601
    assert c.snapshot().fetched_at == clock.now
    assert spawned == []


def test_cache_cold_start_after_failure_reads_again_within_seconds(store, clock):
    api = FakeDirectoryApi()
    api.fail = True
    with pytest.raises(Busy):
        cache(api, store, clock).snapshot()
    api.fail = False
    other_worker = cache(api, store, clock)
    calls = api.calls
    with pytest.raises(Busy):  # inside the shared back-off: the same error, no call
        other_worker.snapshot()
    assert api.calls == calls
    clock.now += 2
    assert other_worker.snapshot().fetched_at == clock.now


class ExpiresAtRelease(MemoryStore):
    """Once the snapshot is stored, the next step on the lock is where the holder
    stalls: right after it, the lock's TTL runs out and another worker takes it. A
    release that reads the owner and then deletes removes the other worker's lock."""

    def __init__(self, clock):
        super().__init__(clock=clock)
        self.clock, self.armed = clock, False

    def put(self, kind, key, record, ttl):
        super().put(kind, key, record, ttl)
        self.armed = self.armed or kind == KIND

    def _then_other_worker_locks(self, kind):
        if self.armed and kind == LOCK_KIND:
            self.armed = False
            self.clock.now += 301  # past lock_ttl
            assert super().add(LOCK_KIND, KEY, {"owner": "next-worker"}, ttl=300)

    def get(self, kind, key):
        record = super().get(kind, key)
        self._then_other_worker_locks(kind)
        return record

    def delete_if(self, kind, key, record):
        removed = super().delete_if(kind, key, record)
        self._then_other_worker_locks(kind)
        return removed

    def take(self, kind, key):
        record = super().take(kind, key)
        self._then_other_worker_locks(kind)
        return record


def test_cache_lock_release_never_removes_the_next_holders_lock(clock):
    store = ExpiresAtRelease(clock)
    cache(FakeDirectoryApi(), store, clock, lock_ttl=300).snapshot()
    assert store.get(LOCK_KIND, KEY) == {"owner": "next-worker"}
