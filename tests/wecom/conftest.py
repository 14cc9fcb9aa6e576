"""Fixtures for the WeCom client tests: a fake clock, a memory store, a client whose
sleeps are recorded instead of slept, and helpers to answer WeCom calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from wecom_fakes import AGENT_ID, BASE, CORP_ID, SECRET, TOKEN_1, TOKEN_2, FakeClock, ok, url

from wecom_oidc.store import MemoryStore
from wecom_oidc.wecom.client import WecomClient


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock) -> Iterator[MemoryStore]:
    s = MemoryStore(clock=clock)
    yield s
    s.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(store, clock, sleeps) -> Iterator[WecomClient]:
    c = WecomClient(api_base_url=BASE, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET,
                    store=store, session=requests.Session(), clock=clock,
                    sleep=sleeps.append, busy_retries=3, backoff=0.2)
    yield c
    c.close()


@pytest.fixture
def gettoken(requests_mock):
    """gettoken answering TOKEN_1, then TOKEN_2 (a fresh token after invalidation)."""
    return requests_mock.get(url("gettoken"), [
        ok(access_token=TOKEN_1, expires_in=7200),
        ok(access_token=TOKEN_2, expires_in=7200),
    ])
