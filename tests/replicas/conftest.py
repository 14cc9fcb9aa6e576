"""Replica tests share the real Redis (REDIS_URL, DB 15 by default) under a key prefix of
their own per stack, deleted afterwards; unreachable Redis skips them (fails under CI)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from contract.redis_server import REDIS_URL, delete_prefix, prefixed_url, redis_or_skip

from .pair import shared_keys, start_replicas


@pytest.fixture
def redis_store_url() -> Iterator[str]:
    """A store URL on the shared Redis with a fresh prefix: a cold start every time."""
    client = redis_or_skip()
    prefix = f"wecom-oidc-replicas:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefixed_url(REDIS_URL, prefix)
    finally:
        delete_prefix(client, prefix)
        client.close()


@pytest.fixture
def replicas(tmp_path, redis_store_url):
    stack, urls = start_replicas(tmp_path, redis_store_url, shared_keys(tmp_path))
    yield stack, urls
    stack.stop()
