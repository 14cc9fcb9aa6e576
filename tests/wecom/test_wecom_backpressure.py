"""45009 backs the limited API off for every worker sharing the store: the next
calls are refused without reaching WeCom until the back-off ends; it doubles while
WeCom keeps limiting and other APIs are unaffected."""

from __future__ import annotations

import pytest
import requests
from wecom_fakes import AGENT_ID, BASE, CORP_ID, SECRET, err, ok, url

from wecom_oidc.wecom.backpressure import KIND, RECHECK
from wecom_oidc.wecom.client import WecomClient
from wecom_oidc.wecom.errors import RateLimited


def _calls(mock, api: str) -> int:
    return sum(1 for r in mock.request_history if r.path.endswith("/" + api))


@pytest.fixture
def other_worker(store, clock):
    """A second client (another worker or replica) on the same store."""
    refused: list[str] = []
    c = WecomClient(api_base_url=BASE, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET,
                    store=store, session=requests.Session(), clock=clock, sleep=lambda s: None,
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


def test_backpressure_seen_by_a_worker_that_just_found_none_within_recheck(
        client, other_worker, gettoken, requests_mock, clock, store):
    """A worker trusts "no back-off" for RECHECK seconds without a store read per call,
    then sees the back-off another worker recorded; its call answered 45009 in between
    joins that back-off rather than doubling it."""
    requests_mock.get(url("user/get"), [ok(userid="u"), err(45009), err(45009),
                                        ok(userid="u")])
    assert other_worker.member("u")["userid"] == "u"  # found no back-off: trusted a while
    reads = []
    real_get = store.get
    store.get = lambda kind, key: reads.append(kind) or real_get(kind, key)
    with pytest.raises(RateLimited):
        client.member("u")  # the back-off starts: 2 s
    with pytest.raises(RateLimited):
        other_worker.member("u")  # in flight before it knew: sent, 45009
    assert _calls(requests_mock, "user/get") == 3
    clock.advance(RECHECK)
    with pytest.raises(RateLimited):
        other_worker.member("u")  # now it reads the store: not sent
    assert _calls(requests_mock, "user/get") == 3
    clock.advance(2 - RECHECK)
    assert other_worker.member("u")["userid"] == "u"  # still the first 2 s, not doubled
    assert reads.count(KIND) >= 2


def test_backpressure_costs_no_store_read_per_call_while_wecom_is_fine(
        client, gettoken, requests_mock, store):
    requests_mock.get(url("user/get"), **ok(userid="u"))
    reads = []
    real_get = store.get
    store.get = lambda kind, key: reads.append(kind) or real_get(kind, key)
    for _ in range(5):
        client.member("u")
    assert reads.count(KIND) == 2  # once per API (gettoken, user/get), not once a call
