"""Fixtures for the StateStore conformance suite: every backend is one `store` param.

To add a backend, add its name to BACKENDS and a branch in `_open`.

Time: memory and SQLite measure TTLs with the injected clock, Redis with its server's
clock. Tests marked `injected_clock` (exact boundaries, no sleeping) run only on
CLOCK_DRIVEN backends; the `elapse` fixture moves time for every backend (advances the
fake clock, or really sleeps for Redis), so the real-time TTL tests run everywhere.

Redis: REDIS_URL (default redis://127.0.0.1:6379/15); every test gets its own key prefix
and its keys are deleted afterwards (never FLUSHDB: the database may be shared). An
unreachable Redis skips the Redis tests, except under CI, where it fails them.
redis-sentinel and redis-cluster run on throwaway redis-server processes started for the
session (redis_server.py); without the redis-server binary they skip (fail under CI).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis_server
from redis_server import REDIS_URL, delete_prefix, prefixed_url, redis_or_skip

from wecom_oidc.store import MemoryStore, SqliteStore, StateStore

BACKENDS = ["memory", "sqlite", "redis", "redis-sentinel", "redis-cluster"]
CLOCK_DRIVEN = {"memory", "sqlite"}

RUN_PREFIX = f"wecom-oidc-test:{uuid.uuid4().hex[:8]}:"


class FakeClock:
    """A settable clock so TTL tests never sleep."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "injected_clock: the test drives TTLs with the fake clock; it runs only "
                   "on backends that measure TTLs with the injected clock")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" not in metafunc.fixturenames:
        return
    needs_clock = metafunc.definition.get_closest_marker("injected_clock") is not None
    backends = [b for b in BACKENDS if b in CLOCK_DRIVEN or not needs_clock]
    metafunc.parametrize("store", backends, indirect=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own for one test, its keys deleted afterwards."""
    client = redis_or_skip()
    prefix = f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}:"
    try:
        yield prefix
    finally:
        delete_prefix(client, prefix)
        client.close()


def _spawn(setup_class, tmp_path_factory):
    redis_server.binary_or_skip()
    setup = setup_class(tmp_path_factory.mktemp("redis"))
    try:
        setup.start()
    except BaseException:
        setup.stop()
        raise
    return setup


@pytest.fixture(scope="session")
def sentinel_url(tmp_path_factory) -> Iterator[str]:
    setup = _spawn(redis_server.SentinelSetup, tmp_path_factory)
    yield setup.url
    setup.stop()


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory) -> Iterator[str]:
    setup = _spawn(redis_server.ClusterSetup, tmp_path_factory)
    yield setup.url
    setup.stop()


def _open(backend: str, request, tmp_path, clock: FakeClock) -> StateStore:
    if backend == "memory":
        return MemoryStore(clock=clock)
    if backend == "sqlite":
        return SqliteStore(tmp_path / "state" / "store.db", clock=clock)
    if backend == "redis":
        from wecom_oidc.store.redis import RedisStore

        prefix = request.getfixturevalue("redis_prefix")
        return RedisStore.from_url(prefixed_url(REDIS_URL, prefix))
    if backend in ("redis-sentinel", "redis-cluster"):
        from wecom_oidc.store.redis import RedisStore

        # Throwaway servers, stopped after the session: a fresh prefix isolates each test.
        url = request.getfixturevalue(backend.replace("redis-", "") + "_url")
        return RedisStore.from_url(prefixed_url(url, f"t{uuid.uuid4().hex[:8]}:"))
    raise AssertionError(backend)


@pytest.fixture
def store(request, tmp_path, clock) -> Iterator[StateStore]:
    s = _open(request.param, request, tmp_path, clock)
    yield s
    s.close()


@pytest.fixture
def backend(request) -> str:
    return request.node.callspec.params["store"]


@pytest.fixture
def elapse(backend: str, clock: FakeClock) -> Callable[[float], None]:
    """Let `seconds` pass for the store under test."""
    if backend in CLOCK_DRIVEN:
        return clock.advance
    return time.sleep
