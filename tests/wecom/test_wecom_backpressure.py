"""45009 backs the limited API off for every worker sharing the store: the next
calls are refused without reaching WeCom until the back-off ends; it doubles while
WeCom keeps limiting and other APIs are unaffected."""

from __future__ import annotations

import pytest
from wecom_fakes import AGENT_ID, BASE, CORP_ID, SECRET, err, ok, url

from wecom_oidc.wecom.client import WecomClient
from wecom_oidc.wecom.errors import RateLimited


def _calls(mock, api: str) -> int:
    return sum(1 for r in mock.request_history if r.path.endswith("/" + api))


@pytest.fixture
def other_worker(store, clock):
    """A second client (another worker or replica) on the same store."""
    refused: list[str] = []
    c = WecomClient(api_base_url=BASE, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET,
                    store=store, clock=clock, sleep=lambda s: None,
                    backoff_observer=refused.append)
    c.refused = refused
    yield c
    c.close()


def test_backpressure_45009_refuses_every_worker_without_calling_wecom(
        client, other_worker, gettoken, requests_mock):
    requests_mock.get(url("user/get"), [err(45009, "api freq out of limit"),
                                        ok(userid="u", name="U")])
    with pytest.raises(RateLimited):
        client.member("u")
    with pytest.raises(RateLimited) as caught:
        other_worker.member("u")
    assert caught.value.errcode == 45009 and "backs off" in caught.value.errmsg
    assert _calls(requests_mock, "user/get") == 1
    assert other_worker.refused == ["user/get"]


def test_backpressure_ends_and_calls_resume(client, other_worker, gettoken, requests_mock,
                                            clock):
    requests_mock.get(url("user/get"), [err(45009), ok(userid="u", name="U")])
    with pytest.raises(RateLimited):
        client.member("u")
    clock.advance(2)
    assert other_worker.member("u")["userid"] == "u"


def test_backpressure_doubles_while_wecom_keeps_limiting(client, gettoken, requests_mock,
                                                         clock):
    requests_mock.get(url("user/get"), [err(45009), err(45009), ok(userid="u")])
    with pytest.raises(RateLimited):
        client.member("u")
    clock.advance(2)
    with pytest.raises(RateLimited):
        client.member("u")  # sent, limited again: now 4 s
    clock.advance(3)
    with pytest.raises(RateLimited):
        client.member("u")  # not sent
    assert _calls(requests_mock, "user/get") == 2
    clock.advance(1)
    assert client.member("u")["userid"] == "u"


def test_backpressure_only_for_the_limited_api(client, gettoken, requests_mock):
    requests_mock.get(url("user/get"), **err(45009))
    requests_mock.get(url("department/list"), **ok(department=[{"id": 1}]))
    with pytest.raises(RateLimited):
        client.member("u")
    assert client.departments() == [{"id": 1}]
