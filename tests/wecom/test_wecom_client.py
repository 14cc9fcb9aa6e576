"""WecomClient under requests-mock: the retry policy per errcode class, parsing, secrecy."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from wecom_fakes import CORP_ID, SECRET, TOKEN_1, TOKEN_2, err, ok, url

from wecom_oidc.wecom.client import CodeUser
from wecom_oidc.wecom.errors import (
    BadCode,
    Busy,
    ConfigProblem,
    MemberNotVisible,
    NoSuchUser,
    RateLimited,
    TokenInvalid,
    Transport,
)

CODE = "CODE-5bd1f0c2e8a94f7d-login-code"
TICKET = "TICKET-a8f3e1-user-ticket-value"


def _qs(request) -> dict[str, list[str]]:
    """The query string, case kept (requests-mock's .qs lowercases values)."""
    return parse_qs(urlsplit(request.url).query)


def _tokens_used(mock, api: str) -> list[str]:
    return [_qs(r)["access_token"][0] for r in mock.request_history
            if r.path.endswith("/" + api)]


def _calls(mock, api: str) -> int:
    return sum(1 for r in mock.request_history if r.path.endswith("/" + api))


# -- happy paths -------------------------------------------------------------------------


def test_client_user_from_code_member_returns_userid_and_ticket(client, gettoken, requests_mock):
    requests_mock.get(url("auth/getuserinfo"), **ok(userid="zhangsan", user_ticket=TICKET))
    found = client.user_from_code(CODE)
    assert found == CodeUser(userid="zhangsan", user_ticket=TICKET)
    assert _qs(requests_mock.last_request)["code"] == [CODE]
    assert _tokens_used(requests_mock, "auth/getuserinfo") == [TOKEN_1]


def test_client_user_from_code_non_member_returns_openid(client, gettoken, requests_mock):
    requests_mock.get(url("auth/getuserinfo"),
                      **ok(openid="oAbC123", external_userid="wmXyZ"))
    found = client.user_from_code(CODE)
    assert (found.userid, found.openid, found.external_userid) == (None, "oAbC123", "wmXyZ")
    assert found.user_ticket is None


def test_client_user_from_code_legacy_pascal_case_keys(client, gettoken, requests_mock):
    requests_mock.get(url("auth/getuserinfo"), **ok(UserId="lisi", DeviceId="d1"))
    assert client.user_from_code(CODE).userid == "lisi"


def test_code_user_repr_hides_ticket():
    assert TICKET not in repr(CodeUser(userid="u", user_ticket=TICKET))


def test_client_user_detail_posts_ticket(client, gettoken, requests_mock):
    requests_mock.post(url("auth/getuserdetail"),
                       **ok(userid="zhangsan", gender="1", email="z@corp.example"))
    detail = client.user_detail(TICKET)
    assert detail == {"userid": "zhangsan", "gender": "1", "email": "z@corp.example"}
    assert requests_mock.last_request.json() == {"user_ticket": TICKET}


def test_client_member_returns_fields_without_envelope(client, gettoken, requests_mock):
    requests_mock.get(url("user/get"), **ok(userid="zhangsan", name="张三", status=1,
                                            department=[1, 2]))
    assert client.member("zhangsan") == {"userid": "zhangsan", "name": "张三", "status": 1,
                                         "department": [1, 2]}
    assert requests_mock.last_request.qs["userid"] == ["zhangsan"]


def test_client_directory_lists(client, gettoken, requests_mock):
    requests_mock.get(url("department/list"), **ok(department=[{"id": 1, "name": "总部"}]))
    requests_mock.get(url("tag/list"), **ok(taglist=[{"tagid": 7, "tagname": "ops"}]))
    requests_mock.get(url("tag/get"), **ok(tagname="ops", userlist=[{"userid": "u"}],
                                           partylist=[3]))
    assert client.departments() == [{"id": 1, "name": "总部"}]
    assert client.tags() == [{"tagid": 7, "tagname": "ops"}]
    assert client.tag_members(7)["partylist"] == [3]
    assert requests_mock.last_request.qs["tagid"] == ["7"]


def test_client_token_is_cached_across_calls(client, gettoken, requests_mock):
    requests_mock.get(url("user/get"), **ok(userid="u"))
    for _ in range(5):
        client.member("u")
    assert gettoken.call_count == 1
    assert _qs(gettoken.last_request)["corpid"] == [CORP_ID]


def test_client_sets_timeouts(client, gettoken, requests_mock):
    requests_mock.get(url("user/get"), **ok(userid="u"))
    client.member("u")
    assert requests_mock.last_request.timeout == (3.05, 10)


# -- token invalid: one retry with a fresh token -----------------------------------------


@pytest.mark.parametrize("errcode", [42001, 40014, 40001])
def test_client_token_invalid_retries_once_with_fresh_token(client, gettoken, requests_mock,
                                                            errcode):
    requests_mock.get(url("user/get"), [err(errcode), ok(userid="u")])
    assert client.member("u") == {"userid": "u"}
    assert gettoken.call_count == 2
    assert _calls(requests_mock, "user/get") == 2
    assert _tokens_used(requests_mock, "user/get") == [TOKEN_1, TOKEN_2]


def test_client_token_invalid_twice_raises_without_loop(client, gettoken, requests_mock):
    requests_mock.get(url("user/get"), **err(42001))
    with pytest.raises(TokenInvalid):
        client.member("u")
    assert gettoken.call_count == 2
    assert _calls(requests_mock, "user/get") == 2


def test_client_gettoken_40001_is_config_problem_not_retried(client, requests_mock):
    gettoken = requests_mock.get(url("gettoken"), **err(40001, "invalid credential"))
    requests_mock.get(url("user/get"), **ok(userid="u"))
    with pytest.raises(ConfigProblem) as info:
        client.member("u")
    assert "secret" in info.value.hint
    assert gettoken.call_count == 1
    assert _calls(requests_mock, "user/get") == 0


def test_client_gettoken_40013_says_corp_id(client, requests_mock):
    requests_mock.get(url("gettoken"), **err(40013, "invalid corpid"))
    with pytest.raises(ConfigProblem) as info:
        client.access_token()
    assert "corp id" in info.value.meaning.lower()


# -- bad code, rate limit, member errors: never retried ------------------------------------


def test_client_bad_code_40029_not_retried(client, gettoken, requests_mock, sleeps):
    requests_mock.get(url("auth/getuserinfo"), **err(40029, "invalid code"))
    with pytest.raises(BadCode):
        client.user_from_code(CODE)
    assert _calls(requests_mock, "auth/getuserinfo") == 1
    assert gettoken.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize("errcode", [45009, 45033])
def test_client_rate_limited_raises_at_once(client, gettoken, requests_mock, sleeps, errcode):
    requests_mock.get(url("user/get"), **err(errcode, "api freq out of limit"))
    with pytest.raises(RateLimited) as info:
        client.member("u")
    assert info.value.errcode == errcode
    assert _calls(requests_mock, "user/get") == 1
    assert sleeps == []


@pytest.mark.parametrize("errcode, cls", [(60011, MemberNotVisible), (60111, NoSuchUser)])
def test_client_member_errors_are_typed(client, gettoken, requests_mock, errcode, cls):
    requests_mock.get(url("user/get"), **err(errcode))
    with pytest.raises(cls):
        client.member("u")
    assert _calls(requests_mock, "user/get") == 1


def test_client_60020_hint_names_server_ip(client, gettoken, requests_mock):
    requests_mock.get(url("user/get"), **err(
        60020, "not allow to access from your ip, hint: [1700000000_12_abc], "
               "from ip: 203.0.113.7, more info at "
               "https://open.work.weixin.qq.com/devtool/query?e=60020"))
    with pytest.raises(ConfigProblem) as info:
        client.member("u")
    assert "203.0.113.7" in info.value.hint
    assert "企业可信IP" in info.value.hint


# -- busy and transport: bounded backoff -------------------------------------------------------


def test_client_busy_retries_bounded(client, gettoken, requests_mock, sleeps):
    requests_mock.get(url("user/get"), **err(-1, "system busy"))
    with pytest.raises(Busy):
        client.member("u")
    assert _calls(requests_mock, "user/get") == 3
    assert len(sleeps) == 2
    assert all(0 < s < 1 for s in sleeps)


def test_client_busy_then_ok_succeeds(client, gettoken, requests_mock, sleeps):
    requests_mock.get(url("user/get"), [err(-1), err(-1), ok(userid="u")])
    assert client.member("u") == {"userid": "u"}
    assert len(sleeps) == 2


def test_client_backoff_grows(client, gettoken, requests_mock, sleeps):
    requests_mock.get(url("user/get"), **err(-1))
    with pytest.raises(Busy):
        client.member("u")
    # 0.2 * 2**n with +-50% jitter: the ranges [0.1, 0.3] and [0.2, 0.6]
    assert 0.1 <= sleeps[0] <= 0.3 and 0.2 <= sleeps[1] <= 0.6


@pytest.mark.parametrize("status", [500, 502, 503])
def test_client_5xx_retried_then_ok(client, gettoken, requests_mock, status):
    requests_mock.get(url("user/get"), [{"status_code": status, "text": "bad gateway"},
                                        ok(userid="u")])
    assert client.member("u") == {"userid": "u"}
    assert _calls(requests_mock, "user/get") == 2


def test_client_5xx_bounded(client, gettoken, requests_mock):
    requests_mock.get(url("user/get"), status_code=502, text="bad gateway")
    with pytest.raises(Transport) as info:
        client.member("u")
    assert info.value.status == 502
    assert _calls(requests_mock, "user/get") == 3


@pytest.mark.parametrize("exc", [requests.exceptions.ConnectionError,
                                 requests.exceptions.ConnectTimeout,
                                 requests.exceptions.ReadTimeout])
def test_client_connection_errors_retried_for_user_get(client, gettoken, requests_mock, exc):
    requests_mock.get(url("user/get"), [{"exc": exc}, ok(userid="u")])
    assert client.member("u") == {"userid": "u"}
    assert _calls(requests_mock, "user/get") == 2


@pytest.mark.parametrize("exc", [requests.exceptions.ReadTimeout,
                                 requests.exceptions.ConnectionError])
def test_client_code_exchange_not_resent_after_send(client, gettoken, requests_mock, sleeps,
                                                     exc):
    requests_mock.get(url("auth/getuserinfo"), [{"exc": exc}, ok(userid="u")])
    with pytest.raises(Transport):
        client.user_from_code(CODE)
    assert _calls(requests_mock, "auth/getuserinfo") == 1
    assert sleeps == []


def test_client_code_exchange_502_not_resent(client, gettoken, requests_mock):
    requests_mock.get(url("auth/getuserinfo"), [{"status_code": 502}, ok(userid="u")])
    with pytest.raises(Transport):
        client.user_from_code(CODE)
    assert _calls(requests_mock, "auth/getuserinfo") == 1


def test_client_code_exchange_connect_timeout_retried(client, gettoken, requests_mock):
    requests_mock.get(url("auth/getuserinfo"),
                      [{"exc": requests.exceptions.ConnectTimeout}, ok(userid="u")])
    assert client.user_from_code(CODE).userid == "u"
    assert _calls(requests_mock, "auth/getuserinfo") == 2


def test_client_code_exchange_busy_retried(client, gettoken, requests_mock):
    # An explicit -1 answer: WeCom did not process the code (a spent code would say 40029).
    requests_mock.get(url("auth/getuserinfo"), [err(-1), ok(userid="u")])
    assert client.user_from_code(CODE).userid == "u"


@pytest.mark.parametrize("answer", [{"text": "<html>proxy</html>"}, {"status_code": 404},
                                    {"json": ["not", "an", "object"]}])
def test_client_garbage_answer_is_transport_not_retried(client, gettoken, requests_mock,
                                                        answer):
    requests_mock.get(url("user/get"), **answer)
    with pytest.raises(Transport):
        client.member("u")
    assert _calls(requests_mock, "user/get") == 1


def test_client_gettoken_without_token_is_transport(client, requests_mock):
    requests_mock.get(url("gettoken"), **ok(expires_in=7200))
    with pytest.raises(Transport):
        client.access_token()


# -- secrecy ---------------------------------------------------------------------------------


def _assert_clean(text: str) -> None:
    for secret in (SECRET, TOKEN_1, TOKEN_2, CODE, TICKET):
        assert secret not in text
        assert secret.lower() not in text.lower()


def test_client_errors_never_show_secrets(client, gettoken, requests_mock):
    echo = f"invalid code {CODE} for token {TOKEN_1} and secret {SECRET}"
    requests_mock.get(url("auth/getuserinfo"), **err(40029, echo))
    with pytest.raises(BadCode) as info:
        client.user_from_code(CODE)
    e = info.value
    _assert_clean(f"{e} {e!r} {e.errmsg} {e.hint} {e.meaning}")
    assert "40029" in str(e) and "auth/getuserinfo" in str(e)


def test_client_transport_error_never_shows_url(client, gettoken, requests_mock):
    requests_mock.get(url("auth/getuserinfo"), exc=requests.exceptions.ReadTimeout(
        f"HTTPSConnectionPool: Read timed out. (url: /cgi-bin/auth/getuserinfo?"
        f"access_token={TOKEN_1}&code={CODE})"))
    with pytest.raises(Transport) as info:
        client.user_from_code(CODE)
    e = info.value
    _assert_clean(f"{e} {e!r}")
    assert e.__cause__ is None and e.__context__ is None
    assert "read timeout" in str(e)


def test_client_gettoken_error_never_shows_secret(client, requests_mock):
    requests_mock.get(url("gettoken"), **err(40001, f"invalid credential {SECRET}"))
    with pytest.raises(ConfigProblem) as info:
        client.access_token()
    _assert_clean(f"{info.value} {info.value!r}")


def test_client_logs_never_show_secrets(client, gettoken, requests_mock, caplog):
    caplog.set_level(logging.DEBUG)
    requests_mock.get(url("auth/getuserinfo"), [err(42001), ok(userid="u", user_ticket=TICKET)])
    requests_mock.post(url("auth/getuserdetail"), **err(84014))
    client.user_from_code(CODE)
    with pytest.raises(BadCode):
        client.user_detail(TICKET)
    # requests-mock's own adapter logs full URLs: a test-only logger, not ours.
    text = "\n".join(r.getMessage() for r in caplog.records
                     if not r.name.startswith("requests_mock"))
    assert "auth/getuserinfo" in text
    _assert_clean(text)


def test_client_repr_never_shows_secret(client):
    _assert_clean(repr(client))


def test_client_refresh_lock_outlives_a_slow_gettoken(client):
    # 3 tries of (3.05 + 10) s plus backoff: a second worker must not start another gettoken.
    assert client.tokens.lock_ttl > 3 * 13.05


def test_client_stale_shared_token_is_replaced_by_a_fresh_fetch(client, store, requests_mock):
    """Another worker cached TOKEN_2 in the shared store, then WeCom revoked every
    token: our TOKEN_1 fails, the cached TOKEN_2 fails, a fetched one succeeds."""
    requests_mock.get(url("gettoken"), [ok(access_token=TOKEN_1, expires_in=7200),
                                        ok(access_token="ACCESS-TOKEN-THREE", expires_in=7200)])
    assert client.access_token() == TOKEN_1
    # What another worker's refresh leaves behind: a different token in the store.
    from wecom_oidc.wecom.token import KIND
    record = store.get(KIND, f"{CORP_ID}:{client.agent_id}")
    store.put(KIND, f"{CORP_ID}:{client.agent_id}", {**record, "token": TOKEN_2}, 3600)
    requests_mock.get(url("user/get"), [err(42001), err(40014), ok(userid="u", name="U")])
    assert client.member("u")["userid"] == "u"
    assert _tokens_used(requests_mock, "user/get") == [TOKEN_1, TOKEN_2, "ACCESS-TOKEN-THREE"]
