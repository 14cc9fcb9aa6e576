"""Redis-only guarantees: hashed keys, Redis-side expiry, outages, several processes,
URLs (Sentinel, Cluster, credentials). The shared behaviour is in test_store_contract."""

from __future__ import annotations

import time

import pytest
from redis_server import REDIS_URL, prefixed_url, redis_or_skip
from spawned import run_spawned

from wecom_oidc.errors import StoreUnavailable
from wecom_oidc.store import hash_key, open_store
from wecom_oidc.store.redis import RedisStore
from wecom_oidc.store.redis_url import parse_redis_url

SECRET_KEY = "SplxlOBeZQQYbYS6WxSbIA-raw-code-value"
SECRET_GRANT = "grant-7d1e"


@pytest.fixture
def raw(redis_prefix):
    client = redis_or_skip()
    yield client
    client.close()


@pytest.fixture
def rstore(redis_prefix):
    store = RedisStore.from_url(prefixed_url(REDIS_URL, redis_prefix))
    yield store
    store.close()


def _keys(client, prefix: str) -> list[bytes]:
    return sorted(client.scan_iter(match=prefix + "*"))


def test_redis_keys_are_stored_hashed(rstore, raw, redis_prefix):
    rstore.put("code", SECRET_KEY, {"grant_id": SECRET_GRANT, "sub": "zhangsan"}, ttl=60)
    keys = _keys(raw, redis_prefix)
    record_key = f"{redis_prefix}r:{hash_key('code', SECRET_KEY)}".encode()
    assert record_key in keys
    assert len(keys) == 2  # the record and its grant's index
    assert not any(SECRET_KEY.encode() in k or SECRET_GRANT.encode() in k for k in keys)
    assert b"zhangsan" in raw.get(record_key)  # sanity: we are really reading the data


def test_redis_ttl_is_redis_expiry_in_ms(rstore, raw, redis_prefix):
    rstore.put("code", "k", {}, ttl=60)
    rstore.put("access_token", "a", {"grant_id": "g"}, ttl=1.5)
    assert 59_000 < raw.pttl(f"{redis_prefix}r:{hash_key('code', 'k')}") <= 60_000
    # The index first: read later, the record's remaining time can only be smaller.
    grant_ttl = raw.pttl(f"{redis_prefix}g:{hash_key('grant', 'g')}")
    record_ttl = raw.pttl(f"{redis_prefix}r:{hash_key('access_token', 'a')}")
    assert 1000 < record_ttl <= 1500
    assert grant_ttl >= record_ttl


def test_redis_revoke_grant_removes_the_index(rstore, raw, redis_prefix):
    rstore.put("access_token", "a", {"grant_id": "g"}, ttl=60)
    rstore.put("refresh_token", "r", {"grant_id": "g"}, ttl=60)
    assert rstore.revoke_grant("g") == 2
    assert _keys(raw, redis_prefix) == []


def test_redis_take_leaves_no_key(rstore, raw, redis_prefix):
    rstore.put("login_state", "s", {"v": 1}, ttl=60)
    assert rstore.take("login_state", "s") == {"v": 1}
    assert _keys(raw, redis_prefix) == []


def test_redis_key_prefix_separates_deployments(redis_prefix):
    a = open_store(prefixed_url(REDIS_URL, redis_prefix + "a:"))
    b = open_store(prefixed_url(REDIS_URL, redis_prefix + "b:"))
    a.put("code", "k", {"who": "a"}, ttl=60)
    assert b.get("code", "k") is None
    assert a.get("code", "k") == {"who": "a"}
    a.close()
    b.close()


def test_redis_unreachable_raises_store_unavailable_quickly():
    from redis_server import free_port

    store = open_store(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        store.get("code", SECRET_KEY)
    assert time.monotonic() - started < 3
    assert SECRET_KEY not in str(info.value)
    for call in (store.ping, lambda: store.add("lock", "k", {}, ttl=1),
                 lambda: store.take("code", "k"), lambda: store.revoke_grant("g")):
        with pytest.raises(StoreUnavailable):
            call()
    store.close()


def test_redis_store_recovers_when_the_server_comes_back(tmp_path):
    from redis_server import RedisServer, binary_or_skip

    binary_or_skip()
    server = RedisServer(tmp_path).start()
    store = open_store(server.url)
    try:
        store.put("code", "k", {"v": 1}, ttl=60)  # pooled connections now exist
        server.stop()
        with pytest.raises(StoreUnavailable):
            store.get("code", "k")
        server.start()  # same port, empty (no persistence)
        assert store.get("code", "k") is None
        store.put("code", "k", {"v": 2}, ttl=60)
        assert store.take("code", "k") == {"v": 2}
    finally:
        store.close()
        server.stop()


def test_redis_scripts_lost_by_the_server_are_loaded_again(tmp_path):
    """Scripts run by their SHA; a server that forgot them (restart, SCRIPT FLUSH) gets
    them again on first use. A throwaway server: SCRIPT FLUSH is server-wide."""
    import redis
    from redis_server import RedisServer, binary_or_skip

    binary_or_skip()
    server = RedisServer(tmp_path).start()
    store = open_store(server.url)
    raw = redis.Redis.from_url(server.url)
    try:
        record = {"grant_id": "g1", "v": 1}
        store.put("code", "a", record, ttl=60)
        assert store.incr_many("rate", [("k", 60, 1, 10)]) == [1]
        raw.script_flush()
        store.put("code", "b", record, ttl=60)
        assert store.incr_many("rate", [("k", 60, 1, 10)]) == [2]
        store.index_add_many([("member_grants", "zhangsan", "sid", 60)])
        assert store.index_members("member_grants", "zhangsan") == ["sid"]
        assert store.delete_if("code", "a", record)
        assert store.revoke_grant("g1") == 1
        assert store.get("code", "b") is None
        raw.script_flush()  # a pipeline of scripts: written again, one by one
        store.put_many([("code", "c", record, 60), ("session", "s", {"v": 2}, 60)],
                       index=[("member_grants", "u", "sid", 60)])
        assert store.get_many([("code", "c"), ("session", "s")]) == [record, {"v": 2}]
        assert store.index_members("member_grants", "u") == ["sid"]
        assert store.revoke_grant("g1") == 1
    finally:
        raw.close()
        store.close()
        server.stop()


# -- several OS processes on one Redis ----------------------------------------------------

KEYS = [f"code-{i}" for i in range(30)]


def _take_all(url: str, barrier, results) -> None:
    """Child process: take every key (same order as the sibling), report what it won."""
    store = RedisStore.from_url(url)
    barrier.wait()
    won = [k for k in KEYS if store.take("code", k) is not None]
    won_locks = [k for k in KEYS if store.add("lock", k, {"n": 1}, ttl=60)]
    results.put((won, won_locks))
    store.close()


def test_redis_take_across_processes_has_one_winner_per_key(rstore, redis_prefix):
    for k in KEYS:
        rstore.put("code", k, {"k": k}, ttl=600)
    got = run_spawned(_take_all, prefixed_url(REDIS_URL, redis_prefix))
    assert sorted(k for won, _ in got for k in won) == sorted(KEYS)
    assert sorted(k for _, locks in got for k in locks) == sorted(KEYS)


# -- URLs ---------------------------------------------------------------------------------


def test_redis_url_sentinel_hosts_service_db_and_credentials():
    t = parse_redis_url("redis+sentinel://app:p%40ss@s1:26380,s2,[::1]:26381/mymaster/3")
    assert t.mode == "sentinel"
    assert t.hosts == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert (t.service, t.db, t.ssl) == ("mymaster", 3, False)
    assert t.credentials == {"username": "app", "password": "p@ss"}
    assert "p@ss" not in repr(t)


def test_redis_url_cluster_defaults_and_tls():
    t = parse_redis_url("rediss+cluster://:pw@n1,n2:7001/?key_prefix=prod:")
    assert t.mode == "cluster" and t.ssl
    assert t.hosts == (("n1", 6379), ("n2", 7001))
    assert t.credentials == {"password": "pw"}
    assert t.prefix == "prod:"


def test_redis_url_plain_keeps_redis_py_options_and_drops_ours():
    t = parse_redis_url("rediss://cache:6380/2?key_prefix=x:&socket_timeout=5")
    assert t.mode == "single" and t.prefix == "x:"
    assert t.url == "rediss://cache:6380/2?socket_timeout=5"


@pytest.mark.parametrize("url, words", [
    ("redis+sentinel://s1:26379", "SERVICE"),
    ("redis+sentinel://s1/m/x", "number"),
    ("redis+cluster://n1/5", "only database 0"),
    ("redis+cluster://n1:port", "bad port"),
    ("redis+cluster://n1,,n2", "empty host"),
    ("redis+sentinel://s1/m?socket_timeout=3", "no query"),
    ("redis://", "no Redis host"),
    ("redis://h/0?key_prefix=", "key_prefix"),
])
def test_redis_url_mistakes_raise_clear_value_error(url, words):
    with pytest.raises(ValueError) as info:
        open_store(url)
    assert words in str(info.value)
