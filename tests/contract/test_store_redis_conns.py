"""The Redis store's own connection lending (store/redis_conns.py): what the pool's
checkout guarded against stays guarded."""

from __future__ import annotations

import os
import time

import pytest
import redis
from redis_server import REDIS_URL, RedisServer, binary_or_skip, prefixed_url, redis_or_skip

from wecom_oidc.store import open_store
from wecom_oidc.store.redis import connection_options
from wecom_oidc.store.redis_conns import Lender


@pytest.fixture
def lender():
    redis_or_skip().close()
    client = redis.Redis.from_url(REDIS_URL, **{**connection_options(), "socket_timeout": 0.2})
    lender = Lender(client.connection_pool)
    yield lender
    lender.close()
    client.close()


def test_redis_lender_reply_late_after_a_timeout_never_answers_the_next_command(
        lender, redis_prefix):
    key, empty = f"{redis_prefix}k", f"{redis_prefix}empty"
    lender.call(("SET", key, "mine"))
    with pytest.raises(redis.TimeoutError):
        lender.call(("BLPOP", empty, 1))  # Redis answers nil after 1 s; we gave up at 0.2
    time.sleep(1.1)  # that nil is on its way (or arrived) on the connection that timed out
    assert lender.call(("GET", key)) == "mine"


def test_redis_lender_error_reply_keeps_the_connection(lender, redis_prefix):
    key = f"{redis_prefix}k"
    lender.call(("SET", key, "not a number"))
    before = lender.call(("CLIENT", "ID"))
    with pytest.raises(redis.ResponseError):
        lender.call(("INCR", key))
    assert lender.call(("CLIENT", "ID")) == before
    failed, value = lender.call_many([("INCR", key), ("GET", key)])
    assert isinstance(failed, redis.ResponseError) and value == "not a number"
    assert lender.call(("CLIENT", "ID")) == before


def test_redis_lender_forked_child_never_uses_the_parents_connection(lender):
    parent_id = lender.call(("CLIENT", "ID"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its connection's id, never raise into pytest
        code = 1
        try:
            os.write(write, str(lender.call(("CLIENT", "ID"))).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child_id = int(os.read(read, 64))
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_id != parent_id
    assert lender.call(("CLIENT", "ID")) == parent_id  # the child left the parent's socket open


def _wait(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _failover(sentinel: redis.Redis) -> bool:
    try:
        return bool(sentinel.execute_command("SENTINEL", "FAILOVER", "m"))
    except redis.ResponseError as e:  # NOGOODSLAVE until it has looked at the replica
        if "NOGOODSLAVE" not in str(e):
            raise
        return False


def test_redis_sentinel_store_writes_to_the_new_master_after_a_failover(tmp_path):
    binary_or_skip()
    master = RedisServer(tmp_path / "master").start()
    replica = RedisServer(tmp_path / "replica",
                          args=("--replicaof", "127.0.0.1", str(master.port))).start()
    sentinel = RedisServer(tmp_path / "sentinel", args=("--sentinel",), config=(
        f"sentinel monitor m 127.0.0.1 {master.port} 1\n"
        "sentinel down-after-milliseconds m 5000\n")).start()
    ask = redis.Redis(port=sentinel.port, decode_responses=True)
    store = open_store(prefixed_url(f"redis+sentinel://127.0.0.1:{sentinel.port}/m/0", "f:"))
    try:
        store.put("code", "before", {"grant_id": "g", "v": 1}, ttl=60)  # connections lent
        _wait(lambda: _failover(ask), "the Sentinel to accept a failover")
        _wait(lambda: ask.sentinel_get_master_addr_by_name("m")[1] == replica.port,
              "the replica to be promoted")
        # What the Sentinel does to the old master at its next look (up to 10 s later).
        old = redis.Redis(port=master.port)
        old.replicaof("127.0.0.1", replica.port)
        old.close()
        store.put("code", "after", {"v": 2}, ttl=60)  # a plain SET, then the grant's script
        store.put("code", "family", {"grant_id": "g", "v": 3}, ttl=60)
        assert store.take("code", "after") == {"v": 2}
        assert redis.Redis(port=replica.port).dbsize() >= 2  # written to the new master
    finally:
        store.close()
        ask.close()
        sentinel.stop()
        master.stop()  # a replica now: stopped first, else its master waits for it to catch up
        replica.stop()
