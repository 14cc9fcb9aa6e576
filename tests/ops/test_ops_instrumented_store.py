"""The metrics wrapper around the store passes every operation through and counts
the backend's failures by operation."""

from __future__ import annotations

import pytest

from wecom_oidc.errors import StoreUnavailable
from wecom_oidc.ops.metrics import InstrumentedStore
from wecom_oidc.store import MemoryStore


class DownForReads(MemoryStore):
    def get_many(self, items):
        raise StoreUnavailable("down")


def test_instrumented_store_get_many_passes_through():
    inner = MemoryStore()
    inner.put("code", "a", {"v": 1}, ttl=60)
    store = InstrumentedStore(inner, lambda op: None)
    assert store.get_many([("code", "a"), ("code", "b")]) == [{"v": 1}, None]


def test_instrumented_store_get_many_failure_is_counted_by_operation():
    failed: list[str] = []
    store = InstrumentedStore(DownForReads(), failed.append)
    with pytest.raises(StoreUnavailable):
        store.get_many([("code", "a")])
    assert failed == ["get_many"]


def test_instrumented_store_index_add_many_passes_through():
    inner = MemoryStore()
    store = InstrumentedStore(inner, lambda op: None)
    store.index_add_many([("member_grants", "u", "sid", 60), ("live_members", "all", "u", 60)])
    assert inner.index_members("member_grants", "u") == ["sid"]
    assert inner.index_members("live_members", "all") == ["u"]


def test_instrumented_store_take_used_passes_the_marker_through():
    inner = MemoryStore()
    inner.put("code", "a", {"grant_id": "g", "client_id": "c"}, ttl=60)
    store = InstrumentedStore(inner, lambda op: None)
    assert store.take("code", "a", used=("code_used", 60)) == {"grant_id": "g",
                                                               "client_id": "c"}
    assert inner.get("code_used", "a") == {"grant_id": "g", "client_id": "c"}


def test_instrumented_store_put_many_passes_through():
    inner = MemoryStore()
    store = InstrumentedStore(inner, lambda op: None)
    store.put_many([("session", "sid", {"v": 1}, 60)],
                   index=[("member_grants", "u", "sid", 60)])
    assert inner.get("session", "sid") == {"v": 1}
    assert inner.index_members("member_grants", "u") == ["sid"]
