"""One StateStore conformance suite, run against every backend (see conftest BACKENDS)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from wecom_oidc.store import StateStore

THREADS = 20


def _race(n: int, fn) -> list:
    """Run fn() in n threads released together; return their results."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# -- basic operations -----------------------------------------------------------------


def test_store_get_missing_returns_none(store: StateStore):
    assert store.get("code", "nope") is None
    assert store.take("code", "nope") is None


def test_store_put_get_unicode_round_trips(store: StateStore):
    record = {"name": "张三", "emoji": "🔑", "n": 3, "f": 1.5, "ok": True, "none": None,
              "list": [1, "二", {"x": []}], "nested": {"a": {"b": "ç"}}}
    store.put("login_state", "k1", record, ttl=60)
    assert store.get("login_state", "k1") == record


def test_store_put_upserts(store: StateStore):
    store.put("code", "k", {"v": 1}, ttl=60)
    store.put("code", "k", {"v": 2}, ttl=60)
    assert store.get("code", "k") == {"v": 2}


def test_store_get_returns_copy(store: StateStore):
    store.put("code", "k", {"list": [1]}, ttl=60)
    store.get("code", "k")["list"].append(2)
    assert store.get("code", "k") == {"list": [1]}


def test_store_kinds_are_separate_namespaces(store: StateStore):
    store.put("code", "same", {"kind": "code"}, ttl=60)
    store.put("access_token", "same", {"kind": "at"}, ttl=60)
    assert store.get("code", "same") == {"kind": "code"}
    assert store.get("access_token", "same") == {"kind": "at"}


def test_store_get_many_returns_each_record_in_order_none_for_missing(store: StateStore):
    store.put("code", "a", {"v": "a"}, ttl=60)
    store.put("person", "a", {"v": "person a"}, ttl=60)
    store.put("code", "b", {"v": "b"}, ttl=60)
    got = store.get_many([("person", "a"), ("code", "missing"), ("code", "b"), ("code", "a"),
                          ("code", "b")])
    assert got == [{"v": "person a"}, None, {"v": "b"}, {"v": "a"}, {"v": "b"}]
    assert store.get_many([]) == []


def test_store_get_many_returns_copies(store: StateStore):
    store.put("code", "k", {"list": [1]}, ttl=60)
    first, second = store.get_many([("code", "k"), ("code", "k")])
    first["list"].append(2)
    assert second == {"list": [1]} and store.get("code", "k") == {"list": [1]}


def test_store_get_many_spans_many_keys(store: StateStore):
    # Enough keys to land in many Redis Cluster slots.
    for i in range(40):
        store.put("code", f"k{i}", {"i": i}, ttl=60)
    got = store.get_many([("code", f"k{i}") for i in range(41)])
    assert got == [{"i": i} for i in range(40)] + [None]


def test_store_delete_removes_and_tolerates_absent(store: StateStore):
    store.put("code", "k", {"v": 1}, ttl=60)
    store.delete("code", "k")
    store.delete("code", "k")
    assert store.get("code", "k") is None


def test_store_ping_when_up_returns(store: StateStore):
    store.ping()


@pytest.mark.parametrize("ttl", [0, -1, "10", None, True])
def test_store_bad_ttl_raises_value_error(store: StateStore, ttl):
    with pytest.raises(ValueError):
        store.put("code", "k", {}, ttl=ttl)


@pytest.mark.parametrize("kind", ["", "a:b", "x" * 65, "sp ace"])
def test_store_bad_kind_raises_value_error(store: StateStore, kind):
    with pytest.raises(ValueError):
        store.put(kind, "k", {}, ttl=10)


def test_store_non_json_record_raises(store: StateStore):
    with pytest.raises(TypeError):
        store.put("code", "k", {"when": object()}, ttl=10)
    with pytest.raises(TypeError):
        store.put("code", "k", ["not", "a", "dict"], ttl=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.put("code", "k", {"nan": float("nan")}, ttl=10)


# -- TTL --------------------------------------------------------------------------------


@pytest.mark.injected_clock
def test_store_get_after_ttl_returns_none(store: StateStore, clock):
    store.put("code", "k", {"v": 1}, ttl=10)
    clock.advance(9.9)
    assert store.get("code", "k") == {"v": 1}
    clock.advance(0.1)
    assert store.get("code", "k") is None


@pytest.mark.injected_clock
def test_store_get_many_skips_expired_records(store: StateStore, clock):
    store.put("code", "short", {"v": 1}, ttl=10)
    store.put("code", "long", {"v": 2}, ttl=30)
    clock.advance(10)
    assert store.get_many([("code", "short"), ("code", "long")]) == [None, {"v": 2}]


def test_store_get_many_expires_in_real_time(store: StateStore, elapse):
    store.put("code", "short", {"v": 1}, ttl=0.2)
    store.put("code", "long", {"v": 2}, ttl=60)
    elapse(0.3)
    assert store.get_many([("code", "short"), ("code", "long")]) == [None, {"v": 2}]


@pytest.mark.injected_clock
def test_store_take_after_ttl_returns_none(store: StateStore, clock):
    store.put("code", "k", {"v": 1}, ttl=10)
    clock.advance(11)
    assert store.take("code", "k") is None


@pytest.mark.injected_clock
def test_store_put_refreshes_ttl(store: StateStore, clock):
    store.put("code", "k", {"v": 1}, ttl=10)
    clock.advance(8)
    store.put("code", "k", {"v": 2}, ttl=10)
    clock.advance(8)
    assert store.get("code", "k") == {"v": 2}


# Real time: every backend, Redis by its own clock (ms TTLs), the others by `elapse`
# advancing the fake clock. Margins are wide enough for a loaded machine.


def test_store_short_ttl_expires_in_real_time(store: StateStore, elapse):
    store.put("code", "k", {"v": 1}, ttl=0.4)
    elapse(0.1)
    assert store.get("code", "k") == {"v": 1}
    elapse(0.4)
    assert store.get("code", "k") is None
    assert store.take("code", "k") is None


def test_store_put_refreshes_ttl_in_real_time(store: StateStore, elapse):
    # Past the first TTL by 0.3 s, inside the second by 0.6 s: a loaded machine that
    # stalls this process between the second put and the get (0.25 s was seen) must
    # not decide it.
    store.put("code", "k", {"v": 1}, ttl=1.5)
    elapse(0.9)
    store.put("code", "k", {"v": 2}, ttl=1.5)
    elapse(0.9)
    assert store.get("code", "k") == {"v": 2}


def test_store_add_over_expired_record_in_real_time(store: StateStore, elapse):
    assert store.add("lock", "k", {"owner": "a"}, ttl=0.2) is True
    assert store.add("lock", "k", {"owner": "b"}, ttl=0.2) is False
    elapse(0.3)
    assert store.add("lock", "k", {"owner": "b"}, ttl=10) is True
    assert store.get("lock", "k") == {"owner": "b"}


def test_store_sub_millisecond_ttl_is_accepted_and_expires(store: StateStore, elapse):
    store.put("code", "k", {"v": 1}, ttl=0.0001)
    elapse(0.05)
    assert store.get("code", "k") is None


# -- add (insert-if-absent) ---------------------------------------------------------------


def test_store_add_when_absent_inserts(store: StateStore):
    assert store.add("lock", "k", {"owner": "a"}, ttl=10) is True
    assert store.get("lock", "k") == {"owner": "a"}


def test_store_add_when_present_refuses_and_keeps_first(store: StateStore):
    store.add("lock", "k", {"owner": "a"}, ttl=10)
    assert store.add("lock", "k", {"owner": "b"}, ttl=10) is False
    assert store.get("lock", "k") == {"owner": "a"}


def test_store_delete_if_removes_only_the_same_record(store: StateStore):
    store.add("lock", "k", {"owner": "a"}, ttl=10)
    assert store.delete_if("lock", "k", {"owner": "b"}) is False
    assert store.get("lock", "k") == {"owner": "a"}
    assert store.delete_if("lock", "k", {"owner": "a"}) is True
    assert store.get("lock", "k") is None
    assert store.delete_if("lock", "k", {"owner": "a"}) is False


def test_store_delete_if_under_threads_has_one_winner(store: StateStore):
    store.add("lock", "k", {"owner": "a"}, ttl=10)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: store.delete_if("lock", "k", {"owner": "a"}),
                                range(20)))
    assert results.count(True) == 1


@pytest.mark.injected_clock
def test_store_add_over_expired_row_inserts(store: StateStore, clock):
    store.add("lock", "k", {"owner": "a"}, ttl=10)
    clock.advance(10)
    assert store.add("lock", "k", {"owner": "b"}, ttl=10) is True
    assert store.get("lock", "k") == {"owner": "b"}


def test_store_add_under_threads_has_one_winner(store: StateStore):
    results = _race(THREADS, lambda: store.add("lock", "race", {"o": 1}, ttl=30))
    assert results.count(True) == 1


# -- take (atomic read + delete) -----------------------------------------------------------


def test_store_take_returns_once(store: StateStore):
    store.put("code", "k", {"v": 1}, ttl=60)
    assert store.take("code", "k") == {"v": 1}
    assert store.take("code", "k") is None
    assert store.get("code", "k") is None


def test_store_take_under_threads_has_one_winner(store: StateStore):
    for i in range(5):
        store.put("code", f"c{i}", {"i": i}, ttl=60)
        results = _race(THREADS, lambda i=i: store.take("code", f"c{i}"))
        assert [r for r in results if r is not None] == [{"i": i}]


USED = ("code_used", 60)


def test_store_take_used_leaves_the_marker_in_the_same_call(store: StateStore):
    store.put("code", "k", {"grant_id": "g1", "client_id": "c1", "scope": "openid"}, ttl=60)
    assert store.take("code", "k", used=USED) == {"grant_id": "g1", "client_id": "c1",
                                                  "scope": "openid"}
    assert store.get("code", "k") is None
    assert store.get("code_used", "k") == {"grant_id": "g1", "client_id": "c1"}


def test_store_take_used_of_a_missing_record_leaves_no_marker(store: StateStore):
    assert store.take("code", "k", used=USED) is None
    assert store.get("code_used", "k") is None


def test_store_take_used_keeps_the_first_marker_on_a_replay(store: StateStore):
    store.put("code", "k", {"grant_id": "g1", "client_id": "c1"}, ttl=60)
    store.take("code", "k", used=USED)
    assert store.take("code", "k", used=USED) is None
    assert store.get("code_used", "k") == {"grant_id": "g1", "client_id": "c1"}


def test_store_take_used_marker_belongs_to_the_records_grant(store: StateStore):
    store.put("code", "k", {"grant_id": "g1", "client_id": "c1"}, ttl=60)
    store.put("access_token", "a", {"grant_id": "g1"}, ttl=60)
    store.take("code", "k", used=USED)
    assert store.revoke_grant("g1") == 2
    assert store.get("code_used", "k") is None


@pytest.mark.injected_clock
def test_store_take_used_marker_lives_its_own_ttl(store: StateStore, clock):
    store.put("code", "k", {"grant_id": "g1"}, ttl=5)
    store.take("code", "k", used=("code_used", 30))
    clock.advance(29)
    assert store.get("code_used", "k") == {"grant_id": "g1", "client_id": None}
    clock.advance(1)
    assert store.get("code_used", "k") is None


def test_store_take_used_under_threads_has_one_winner_and_one_marker(store: StateStore):
    for i in range(5):
        store.put("code", f"c{i}", {"grant_id": f"g{i}", "client_id": "c"}, ttl=60)
        results = _race(THREADS, lambda i=i: store.take("code", f"c{i}", used=USED))
        assert [r for r in results if r is not None] == [{"grant_id": f"g{i}",
                                                          "client_id": "c"}]
        assert store.get("code_used", f"c{i}") == {"grant_id": f"g{i}", "client_id": "c"}


@pytest.mark.parametrize("used", [("a:b", 60), ("code_used", 0)])
def test_store_take_bad_used_raises_value_error_and_takes_nothing(store: StateStore, used):
    store.put("code", "k", {"grant_id": "g1"}, ttl=60)
    with pytest.raises(ValueError):
        store.take("code", "k", used=used)
    assert store.get("code", "k") == {"grant_id": "g1"}


# -- revoke_grant ----------------------------------------------------------------------


def test_store_revoke_grant_deletes_the_family_only(store: StateStore):
    store.put("code", "c", {"grant_id": "g1"}, ttl=60)
    store.put("access_token", "a", {"grant_id": "g1", "sub": "u"}, ttl=60)
    store.put("refresh_token", "r", {"grant_id": "g1"}, ttl=60)
    store.put("access_token", "other", {"grant_id": "g2"}, ttl=60)
    store.put("login_state", "s", {"no": "grant"}, ttl=60)
    assert store.revoke_grant("g1") == 3
    assert store.get("code", "c") is None
    assert store.get("access_token", "a") is None
    assert store.get("refresh_token", "r") is None
    assert store.get("access_token", "other") == {"grant_id": "g2"}
    assert store.get("login_state", "s") == {"no": "grant"}


def test_store_revoke_grant_unknown_returns_zero(store: StateStore):
    store.put("code", "c", {"grant_id": "g1"}, ttl=60)
    assert store.revoke_grant("nope") == 0
    assert store.revoke_grant("") == 0


def test_store_revoke_grant_outlives_shorter_later_member(store: StateStore, elapse):
    # The family index must live as long as its longest-lived member, not its last one.
    store.put("refresh_token", "long", {"grant_id": "g1"}, ttl=60)
    store.put("code", "short", {"grant_id": "g1"}, ttl=0.1)
    elapse(0.3)
    assert store.revoke_grant("g1") >= 1
    assert store.get("refresh_token", "long") is None


def test_store_revoke_grant_follows_upsert(store: StateStore):
    store.put("access_token", "a", {"grant_id": "g1"}, ttl=60)
    store.put("access_token", "a", {"grant_id": "g2"}, ttl=60)
    assert store.revoke_grant("g1") == 0
    assert store.revoke_grant("g2") == 1


# -- incr (counters: rate limits) ---------------------------------------------------------


def test_store_incr_counts_from_one(store: StateStore):
    assert [store.incr("rate", "ip", ttl=60) for _ in range(3)] == [1, 2, 3]
    assert store.incr("rate", "other", ttl=60) == 1


def test_store_incr_amount_zero_reads_and_amount_adds(store: StateStore):
    assert store.incr("rate", "k", ttl=60, amount=0) == 0
    assert store.incr("rate", "k", ttl=60, amount=5) == 5
    assert store.incr("rate", "k", ttl=60, amount=0) == 5


def test_store_incr_counters_are_apart_from_records(store: StateStore):
    store.put("rate", "k", {"v": 1}, ttl=60)
    assert store.incr("rate", "k", ttl=60) == 1
    assert store.get("rate", "k") == {"v": 1}
    store.delete("rate", "k")
    assert store.incr("rate", "k", ttl=60) == 2


@pytest.mark.parametrize("amount", [-1, 1.5, True])
def test_store_incr_bad_amount_raises_value_error(store: StateStore, amount):
    with pytest.raises(ValueError):
        store.incr("rate", "k", ttl=60, amount=amount)


@pytest.mark.injected_clock
def test_store_incr_window_is_fixed_and_restarts_after_ttl(store: StateStore, clock):
    assert store.incr("rate", "k", ttl=10) == 1
    clock.advance(6)
    assert store.incr("rate", "k", ttl=10) == 2  # a later hit does not extend the window
    clock.advance(4)
    assert store.incr("rate", "k", ttl=10) == 1


def test_store_incr_window_expires_in_real_time(store: StateStore, elapse):
    assert store.incr("rate", "k", ttl=0.4) == 1
    elapse(0.25)
    assert store.incr("rate", "k", ttl=0.4) == 2
    elapse(0.25)
    assert store.incr("rate", "k", ttl=0.4) == 1


def test_store_incr_under_threads_loses_no_count(store: StateStore):
    results = _race(THREADS, lambda: store.incr("rate", "race", ttl=30))
    assert sorted(results) == list(range(1, THREADS + 1))


def test_store_incr_many_counts_each_in_order_and_shares_counters_with_incr(store: StateStore):
    assert store.incr("rate", "b", ttl=60, amount=4) == 4
    assert store.incr_many("rate", [("a", 60, 1, 99), ("b", 60, 0, 99),
                                     ("c", 60, 2, 99)]) == [1, 4, 2]
    assert store.incr_many("rate", [("c", 60, 1, 99), ("a", 60, 1, 99)]) == [3, 2]
    assert store.incr("rate", "b", ttl=60) == 5
    assert store.incr_many("other", [("a", 60, 0, 99)]) == [0]  # kinds stay apart


def test_store_incr_many_counts_a_repeated_key_once_per_mention(store: StateStore):
    assert store.incr_many("rate", [("d", 60, 1, 99), ("e", 60, 1, 99),
                                     ("d", 60, 2, 99)]) == [1, 1, 3]
    # A read sees the counts mentioned before it in the same call, not those after.
    assert store.incr_many("rate", [("f", 60, 0, 99), ("f", 60, 2, 99),
                                     ("f", 60, 0, 99)]) == [0, 2, 2]


def test_store_incr_many_stops_after_the_first_counter_above_its_ceiling(store: StateStore):
    counters = [("ip", 60, 1, 2), ("client", 60, 1, 99)]
    assert store.incr_many("rate", counters) == [1, 1]
    assert store.incr_many("rate", counters) == [2, 2]
    # Over its ceiling, the address's counter still counts; the client's is left alone.
    assert store.incr_many("rate", counters) == [3]
    assert store.incr_many("rate", counters) == [4]
    assert store.incr("rate", "client", ttl=60, amount=0) == 2
    # A counter at its ceiling (not above) lets the next one count.
    assert store.incr_many("rate", [("peek", 60, 0, 0), ("after", 60, 1, 9)]) == [0, 1]


def test_store_incr_many_of_only_reads_stops_after_the_first_counter_above_its_ceiling(
        store: StateStore):
    assert store.incr("rate", "ip", ttl=60, amount=3) == 3
    assert store.incr("rate", "client", ttl=60, amount=1) == 1
    assert store.incr_many("rate", [("none", 60, 0, 0), ("ip", 60, 0, 2),
                                     ("client", 60, 0, 0)]) == [0, 3]
    assert store.incr_many("rate", [("ip", 60, 0, 3), ("client", 60, 0, 0),
                                     ("none", 60, 0, 0)]) == [3, 1]
    assert store.incr_many("rate", [("ip", 60, 0, 9), ("none", 60, 0, 0)]) == [3, 0]


@pytest.mark.parametrize("peek", [
    [("k", 1.0, 0, 99)],
    [("k", 1.0, 0, 99), ("other", 1.0, 1, 99)],  # a read beside a count
], ids=["reads-only", "mixed"])
def test_store_incr_amount_zero_starts_no_window(store: StateStore, elapse, peek):
    """A read leaves an absent counter absent: its window starts at its first count."""
    assert store.incr_many("rate", peek)[0] == 0
    elapse(0.6)
    assert store.incr("rate", "k", ttl=1.0) == 1
    elapse(0.6)  # past a window started by the read, within the one the count started
    assert store.incr("rate", "k", ttl=1.0, amount=0) == 1


@pytest.mark.injected_clock
def test_store_incr_many_keeps_each_counters_own_window(store: StateStore, clock):
    counters = [("short", 5, 1, 99), ("long", 60, 1, 99)]
    assert store.incr_many("rate", counters) == [1, 1]
    clock.advance(6)
    assert store.incr_many("rate", counters) == [1, 2]


def test_store_incr_many_bad_amount_raises_value_error_and_counts_nothing(store: StateStore):
    with pytest.raises(ValueError):
        store.incr_many("rate", [("k", 60, 1, 99), ("j", 60, -1, 99)])
    assert store.incr("rate", "k", ttl=60, amount=0) == 0


def test_store_incr_many_under_threads_loses_no_count(store: StateStore):
    results = _race(THREADS, lambda: store.incr_many(
        "rate", [("x", 30, 1, 10**6), ("y", 30, 2, 10**6)]))
    assert sorted(r[0] for r in results) == list(range(1, THREADS + 1))
    assert sorted(r[1] for r in results) == list(range(2, 2 * THREADS + 1, 2))


# -- index sets (member -> live sessions, members with sessions) ----------------------


def test_store_index_members_lists_added_sorted(store: StateStore):
    store.index_add("member_sessions", "zhangsan", "sid-b", ttl=60)
    store.index_add("member_sessions", "zhangsan", "sid-a", ttl=60)
    store.index_add("member_sessions", "zhangsan", "sid-a", ttl=60)
    assert store.index_members("member_sessions", "zhangsan") == ["sid-a", "sid-b"]
    assert store.index_members("member_sessions", "lisi") == []


def test_store_index_is_separate_from_records_and_other_sets(store: StateStore):
    store.put("member_sessions", "zhangsan", {"v": 1}, ttl=60)
    store.index_add("member_sessions", "zhangsan", "sid-a", ttl=60)
    store.index_add("grant_clients", "zhangsan", "app", ttl=60)
    assert store.get("member_sessions", "zhangsan") == {"v": 1}
    assert store.index_members("member_sessions", "zhangsan") == ["sid-a"]
    store.delete("member_sessions", "zhangsan")
    assert store.index_members("member_sessions", "zhangsan") == ["sid-a"]


def test_store_index_remove_drops_one_and_tolerates_absent(store: StateStore):
    store.index_add("member_sessions", "u", "a", ttl=60)
    store.index_add("member_sessions", "u", "b", ttl=60)
    store.index_remove("member_sessions", "u", "a")
    store.index_remove("member_sessions", "u", "a")
    store.index_remove("member_sessions", "nobody", "a")
    assert store.index_members("member_sessions", "u") == ["b"]


def test_store_index_member_expires_alone(store: StateStore, elapse):
    store.index_add("member_sessions", "u", "short", ttl=0.3)
    store.index_add("member_sessions", "u", "long", ttl=60)
    elapse(0.5)
    assert store.index_members("member_sessions", "u") == ["long"]


def test_store_index_add_again_keeps_later_expiry(store: StateStore, elapse):
    store.index_add("member_sessions", "u", "a", ttl=60)
    store.index_add("member_sessions", "u", "a", ttl=0.2)  # must not shorten it
    store.index_add("member_sessions", "u", "b", ttl=0.2)
    store.index_add("member_sessions", "u", "b", ttl=60)  # lengthens it
    elapse(0.4)
    assert store.index_members("member_sessions", "u") == ["a", "b"]


def test_store_index_add_under_threads_keeps_every_member(store: StateStore):
    n = iter(range(THREADS))
    lock = threading.Lock()

    def add() -> None:
        with lock:
            i = next(n)
        store.index_add("live_members", "all", f"user{i:02d}", ttl=60)

    _race(THREADS, add)
    assert store.index_members("live_members", "all") == [f"user{i:02d}" for i in range(THREADS)]


@pytest.mark.parametrize("member", ["", None, "x" * 257])
def test_store_index_bad_member_raises_value_error(store: StateStore, member):
    with pytest.raises(ValueError):
        store.index_add("member_sessions", "u", member, ttl=60)


def test_store_index_add_many_adds_each_entry_to_its_set(store: StateStore):
    store.index_add("live_members", "all", "lisi", ttl=60)
    store.index_add_many([("member_grants", "zhangsan", "sid-1", 60),
                          ("grant_clients", "sid-1", "app-b", 60),
                          ("grant_clients", "sid-1", "app-a", 60),
                          ("live_members", "all", "zhangsan", 60)])
    store.index_add_many([])
    assert store.index_members("member_grants", "zhangsan") == ["sid-1"]
    assert store.index_members("grant_clients", "sid-1") == ["app-a", "app-b"]
    assert store.index_members("live_members", "all") == ["lisi", "zhangsan"]


def test_store_index_add_many_spans_many_sets(store: StateStore):
    # Enough sets to land in many Redis Cluster slots.
    store.index_add_many([("grant_clients", f"sid-{i}", "app", 60) for i in range(40)])
    assert all(store.index_members("grant_clients", f"sid-{i}") == ["app"] for i in range(40))


def test_store_index_add_many_each_entry_keeps_its_own_expiry(store: StateStore, elapse):
    store.index_add("member_grants", "u", "kept", ttl=60)
    store.index_add_many([("member_grants", "u", "short", 0.2),
                          ("member_grants", "u", "kept", 0.2),  # must not shorten it
                          ("member_grants", "u", "long", 60),
                          ("grant_clients", "s", "short", 0.2)])
    elapse(0.4)
    assert store.index_members("member_grants", "u") == ["kept", "long"]
    assert store.index_members("grant_clients", "s") == []


@pytest.mark.parametrize("member", ["", None, "x" * 257])
def test_store_index_add_many_bad_entry_raises_before_adding_any(store: StateStore, member):
    with pytest.raises(ValueError):
        store.index_add_many([("member_grants", "u", "good", 60),
                              ("member_grants", "u", member, 60)])
    assert store.index_members("member_grants", "u") == []


# -- put_many -------------------------------------------------------------------------


def test_store_put_many_writes_each_record_and_index_entry(store: StateStore):
    store.put("session", "sid-1", {"old": True}, ttl=60)
    store.put_many([("person", "sid-1", {"sub": "zhangsan", "grant_id": "sid-1"}, 60),
                    ("session", "sid-1", {"sub": "zhangsan", "v": "新"}, 60)],
                   index=[("member_grants", "zhangsan", "sid-1", 60),
                          ("live_members", "all", "zhangsan", 60)])
    store.put_many([])
    assert store.get_many([("person", "sid-1"), ("session", "sid-1")]) == [
        {"sub": "zhangsan", "grant_id": "sid-1"}, {"sub": "zhangsan", "v": "新"}]
    assert store.index_members("member_grants", "zhangsan") == ["sid-1"]
    assert store.index_members("live_members", "all") == ["zhangsan"]


def test_store_put_many_records_join_their_grants(store: StateStore):
    store.put_many([("person", "p", {"grant_id": "g1"}, 60),
                    ("code", "c", {"grant_id": "g1"}, 60),
                    ("session", "s", {"no": "grant"}, 60),
                    ("access_token", "a", {"grant_id": "g2"}, 60)])
    assert store.revoke_grant("g1") == 2
    assert store.get_many([("person", "p"), ("code", "c"), ("session", "s"),
                           ("access_token", "a")]) == [
        None, None, {"no": "grant"}, {"grant_id": "g2"}]


def test_store_put_many_spans_many_keys(store: StateStore):
    # Enough keys to land in many Redis Cluster slots.
    store.put_many([("code", f"c{i}", {"i": i}, 60) for i in range(40)],
                   index=[("grant_clients", f"sid-{i}", "app", 60) for i in range(40)])
    assert store.get_many([("code", f"c{i}") for i in range(40)]) == [
        {"i": i} for i in range(40)]
    assert all(store.index_members("grant_clients", f"sid-{i}") == ["app"] for i in range(40))


def test_store_put_many_each_record_keeps_its_own_ttl(store: StateStore, elapse):
    store.put_many([("session", "short", {"v": 1}, 0.2), ("person", "long", {"v": 2}, 60)],
                   index=[("member_grants", "u", "short", 0.2),
                          ("member_grants", "u", "long", 60)])
    elapse(0.4)
    assert store.get_many([("session", "short"), ("person", "long")]) == [None, {"v": 2}]
    assert store.index_members("member_grants", "u") == ["long"]


@pytest.mark.parametrize("bad", [
    {"items": [("session", "s", {"v": 1}, 60), ("person", "p", {"v": 2}, 0)]},
    {"items": [("session", "s", {"v": 1}, 60), ("bad:kind", "p", {}, 60)]},
    {"items": [("session", "s", {"v": 1}, 60), ("person", "p", {"x": {1, 2}}, 60)]},
    {"items": [("session", "s", {"v": 1}, 60)], "index": [("member_grants", "u", "", 60)]},
])
def test_store_put_many_bad_argument_raises_before_writing_any(store: StateStore, bad):
    with pytest.raises((TypeError, ValueError)):
        store.put_many(bad["items"], index=bad.get("index", ()))
    assert store.get("session", "s") is None


def test_store_lock_one_winner_released_only_by_its_owner(store):
    from wecom_oidc.store.lock import store_lock

    with store_lock(store, "lock", "k", ttl=30) as first:
        assert first
        with store_lock(store, "lock", "k", ttl=30) as second:
            assert not second  # held: the second caller loses...
        assert store.get("lock", "k") is not None  # ...and its exit leaves the lock alone
    with store_lock(store, "lock", "k", ttl=30) as again:
        assert again  # released on exit
