"""The WeCom client's observer hooks: one call -> one (api, errcode, seconds) report;
the token cache says hit or miss. These feed /metrics without wecom/ importing it."""

from __future__ import annotations

import pytest
import requests

from wecom_oidc.store import MemoryStore
from wecom_oidc.wecom.client import WecomClient
from wecom_oidc.wecom.errors import ConfigProblem, Transport

BASE = "https://qyapi.example.test"


def _url(api: str) -> str:
    return f"{BASE}/cgi-bin/{api}"


@pytest.fixture
def seen():
    return {"calls": [], "lookups": []}


@pytest.fixture
def client(seen):
    store = MemoryStore()
    c = WecomClient(api_base_url=BASE, corp_id="ww1", agent_id=1, secret="s3cret", store=store,
                    session=requests.Session(), sleep=lambda s: None,
                    observer=lambda api, errcode, elapsed: seen["calls"].append(
                        (api, errcode, elapsed)),
                    token_observer=seen["lookups"].append)
    yield c
    c.close()
    store.close()


def test_observer_business_call_reports_gettoken_then_api_with_errcodes(client, seen,
                                                                      requests_mock):
    requests_mock.get(_url("gettoken"), json={"errcode": 0, "access_token": "T",
                                              "expires_in": 7200})
    requests_mock.get(_url("department/list"), json={"errcode": 0, "department": []})
    client.departments()
    assert [(a, e) for a, e, _ in seen["calls"]] == [("gettoken", 0), ("department/list", 0)]
    assert all(elapsed >= 0 for _, _, elapsed in seen["calls"])


def test_observer_errcode_and_transport_failure_are_reported(client, seen, requests_mock):
    requests_mock.get(_url("gettoken"), json={"errcode": 40001, "errmsg": "bad"})
    with pytest.raises(ConfigProblem):
        client.fetch_token()
    requests_mock.get(_url("gettoken"), status_code=404)
    with pytest.raises(Transport):
        client.fetch_token()
    assert [(a, e) for a, e, _ in seen["calls"]] == [("gettoken", 40001), ("gettoken", None)]


def test_token_observer_first_get_misses_then_hits(client, seen, requests_mock):
    requests_mock.get(_url("gettoken"), json={"errcode": 0, "access_token": "T",
                                              "expires_in": 7200})
    assert client.access_token() == "T"
    assert client.access_token() == "T"
    assert seen["lookups"] == [False, True]


def test_observer_that_raises_does_not_break_the_call(requests_mock):
    def broken(*args):
        raise RuntimeError("metrics down")

    store = MemoryStore()
    c = WecomClient(api_base_url=BASE, corp_id="ww1", agent_id=1, secret="s", store=store,
                    session=requests.Session(), observer=broken, token_observer=broken)
    requests_mock.get(_url("gettoken"), json={"errcode": 0, "access_token": "T",
                                              "expires_in": 7200})
    assert c.access_token() == "T"
    c.close()
    store.close()
