"""error_for: every errcode of wecom-api.md §7 lands in the class that decides its handling."""

from __future__ import annotations

import pytest

from wecom_oidc.wecom.errors import (
    BadCode,
    Busy,
    ConfigProblem,
    MemberNotVisible,
    NoSuchUser,
    RateLimited,
    TokenInvalid,
    Transport,
    WecomApiError,
    describe,
    error_for,
)


@pytest.mark.parametrize("errcode, cls", [
    (-1, Busy),
    (40001, TokenInvalid), (40014, TokenInvalid), (42001, TokenInvalid),
    (40029, BadCode), (41008, BadCode), (84014, BadCode), (84015, BadCode), (84090, BadCode),
    (45009, RateLimited), (45033, RateLimited),
    (40013, ConfigProblem), (40091, ConfigProblem), (40056, ConfigProblem),
    (50001, ConfigProblem), (50003, ConfigProblem), (60020, ConfigProblem),
    (48002, ConfigProblem), (48006, ConfigProblem), (301002, ConfigProblem),
    (92001, ConfigProblem),
    (60011, MemberNotVisible), (50002, MemberNotVisible), (92000, MemberNotVisible),
    (60111, NoSuchUser),
])
def test_error_for_business_api_maps_class(errcode, cls):
    e = error_for("user/get", errcode, "x")
    assert type(e) is cls
    assert (e.api, e.errcode, e.errmsg) == ("user/get", errcode, "x")
    assert e.meaning and e.hint


def test_error_for_40001_at_gettoken_is_wrong_secret():
    e = error_for("gettoken", 40001, "invalid credential")
    assert isinstance(e, ConfigProblem)
    assert "secret" in e.meaning and "wecom.secret" in e.hint


def test_error_for_40013_at_gettoken_is_wrong_corp_id():
    e = error_for("gettoken", 40013, "invalid corpid")
    assert isinstance(e, ConfigProblem)
    assert "corp id" in e.meaning


def test_error_for_60020_hint_carries_ip_from_errmsg():
    e = error_for("auth/getuserinfo", 60020,
                  "not allow to access from your ip, hint: [1700_ab], from ip: 198.51.100.23, "
                  "more info at https://open.work.weixin.qq.com/devtool/query?e=60020")
    assert "198.51.100.23" in e.hint and "198.51.100.23" in e.meaning
    assert "企业可信IP" in e.hint


def test_error_for_60020_without_ip_still_explains():
    e = error_for("user/get", 60020, "not allow to access from your ip")
    assert "企业可信IP" in e.hint and "{ip}" not in e.hint


def test_error_for_50001_names_trusted_domain():
    assert "trusted domain" in error_for("auth/getuserinfo", 50001, "").hint


def test_error_for_45009_says_retry_later():
    assert "later" in error_for("user/get", 45009, "").hint.lower()


def test_error_for_unknown_errcode_is_base_with_doc_link():
    e = error_for("user/get", 123456, "strange")
    assert type(e) is WecomApiError
    assert "e=123456" in e.hint


def test_error_message_names_api_and_errcode():
    text = str(error_for("user/get", 60011, "no privilege to access/modify contact/party/agent"))
    assert "user/get" in text and "60011" in text


def test_transport_carries_safe_reason():
    e = Transport("auth/getuserinfo", "read timeout")
    assert e.errcode is None and e.sent and e.transient
    assert str(e) == "WeCom auth/getuserinfo: read timeout"
    assert e.hint


def test_describe_gives_meaning_and_hint():
    meaning, hint = describe(60111)
    assert "userid" in meaning and hint
