"""Fixtures for the StateStore conformance suite: every backend is one `store` param.

To add a backend (e.g. Redis), add its name to BACKENDS and a branch in `_open`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wecom_oidc.store import MemoryStore, SqliteStore, StateStore

BACKENDS = ["memory", "sqlite"]


class FakeClock:
    """A settable clock so TTL tests never sleep."""

    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _open(backend: str, tmp_path, clock: FakeClock) -> StateStore:
    if backend == "memory":
        return MemoryStore(clock=clock)
    if backend == "sqlite":
        return SqliteStore(tmp_path / "state" / "store.db", clock=clock)
    raise AssertionError(backend)


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path, clock) -> Iterator[StateStore]:
    s = _open(request.param, tmp_path, clock)
    yield s
    s.close()
