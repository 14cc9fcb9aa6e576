"""Code exchange (auth/getuserinfo, old user/getuserinfo) and auth/getuserdetail (§3d-§5)."""

from __future__ import annotations

import pytest
from emu_support import AGENT, api, mint


def _detail(client, token, ticket):
    response = client.post("/cgi-bin/auth/getuserdetail", query_string={"access_token": token},
                           json={"user_ticket": ticket})
    assert response.status_code == 200
    return response.json


def _ticket(client, token, userid="lisi"):
    code = mint(client, userid, scope="snsapi_privateinfo", mode="inapp")
    return api(client, "auth/getuserinfo", token, code=code)["user_ticket"]


def test_getuserinfo_base_code_returns_userid_without_ticket(client, token):
    body = api(client, "auth/getuserinfo", token, code=mint(client, mode="inapp"))
    assert body == {"errcode": 0, "errmsg": "ok", "userid": "zhangsan"}


def test_getuserinfo_privateinfo_inapp_code_returns_ticket(client, token):
    body = api(client, "auth/getuserinfo", token,
               code=mint(client, "lisi", scope="snsapi_privateinfo", mode="inapp"))
    assert body["userid"] == "lisi"
    assert 0 < len(body["user_ticket"]) <= 512


def test_getuserinfo_web_login_code_has_no_ticket(client, token):
    body = api(client, "auth/getuserinfo", token,
               code=mint(client, "lisi", scope="snsapi_privateinfo", mode="web"))
    assert "user_ticket" not in body


def test_getuserinfo_privateinfo_outside_visible_range_has_no_ticket(client, token):
    body = api(client, "auth/getuserinfo", token,
               code=mint(client, "wujiu", scope="snsapi_privateinfo", mode="inapp"))
    assert body["userid"] == "wujiu"  # the visible range is not enforced here (§4)
    assert "user_ticket" not in body


def test_getuserinfo_non_member_returns_openid_and_external_userid(client, token):
    body = api(client, "auth/getuserinfo", token, code=mint(client, "outsider"))
    assert body["openid"] == "oEmUlAtEdOuTsIdEr0000000001"
    assert body["external_userid"] == "wmEmUlAtEdOuTsIdEr000001"
    assert "userid" not in body


def test_getuserinfo_reused_code_answers_40029(client, token):
    code = mint(client)
    api(client, "auth/getuserinfo", token, code=code)
    assert api(client, "auth/getuserinfo", token, code=code)["errcode"] == 40029


def test_getuserinfo_code_after_5_minutes_answers_40029(client, token):
    code = mint(client)
    client.post("/_emulator/advance", json={"seconds": 300})
    assert api(client, "auth/getuserinfo", token, code=code)["errcode"] == 40029


def test_getuserinfo_unknown_code_answers_40029(client, token):
    assert api(client, "auth/getuserinfo", token, code="nope")["errcode"] == 40029


def test_getuserinfo_missing_code_answers_41008(client, token):
    assert api(client, "auth/getuserinfo", token)["errcode"] == 41008


def test_getuserinfo_untrusted_redirect_host_answers_50001(client, token):
    code = mint(client, redirect_uri="https://evil.example.net/cb")
    assert api(client, "auth/getuserinfo", token, code=code)["errcode"] == 50001


def test_getuserinfo_trusted_host_with_other_port_answers_50001(client, token):
    code = mint(client, redirect_uri="https://bridge.example.com:8443/cb")
    assert api(client, "auth/getuserinfo", token, code=code)["errcode"] == 50001


def test_getuserinfo_code_of_other_app_answers_50001(client, token):
    code = mint(client, agentid=AGENT + 1)
    assert api(client, "auth/getuserinfo", token, code=code)["errcode"] == 50001


def test_old_getuserinfo_member_returns_pascalcase_keys(client, token):
    body = api(client, "user/getuserinfo", token, code=mint(client))
    assert body["UserId"] == "zhangsan"
    assert body["DeviceId"]
    assert "userid" not in body and "user_ticket" not in body


def test_old_getuserinfo_privateinfo_returns_ticket_and_expires_in(client, token):
    body = api(client, "user/getuserinfo", token,
               code=mint(client, "lisi", scope="snsapi_privateinfo", mode="inapp"))
    assert body["user_ticket"] and body["expires_in"] == 1800


def test_old_getuserinfo_non_member_returns_openid(client, token):
    body = api(client, "user/getuserinfo", token, code=mint(client, "outsider"))
    assert body["OpenId"] == "oEmUlAtEdOuTsIdEr0000000001" and body["DeviceId"]
    assert "UserId" not in body


def test_old_getuserinfo_reused_code_answers_40029(client, token):
    code = mint(client)
    api(client, "user/getuserinfo", token, code=code)
    assert api(client, "user/getuserinfo", token, code=code)["errcode"] == 40029


def test_getuserdetail_valid_ticket_returns_private_fields_without_name(client, token):
    body = _detail(client, token, _ticket(client, token))
    assert body["userid"] == "lisi"
    assert body["gender"] == "2"  # a string here, unlike nothing else (§5)
    assert body["email"] == "lisi@example.com" and body["mobile"] == "13800000002"
    assert body["biz_mail"] and body["avatar"] and body["qr_code"] and body["address"]
    assert "name" not in body and "department" not in body


def test_getuserdetail_ticket_reusable_until_expiry(client, token):
    ticket = _ticket(client, token)
    _detail(client, token, ticket)
    assert _detail(client, token, ticket)["errcode"] == 0


def test_getuserdetail_expired_ticket_answers_84014(client, token):
    ticket = _ticket(client, token)
    client.post("/_emulator/advance", json={"seconds": 1800})
    fresh = client.get("/cgi-bin/gettoken", query_string={
        "corpid": "ww_emulated_corp", "corpsecret": "emulated-app-secret"}).json["access_token"]
    assert _detail(client, fresh, ticket)["errcode"] == 84014


def test_getuserdetail_unknown_ticket_answers_84015(client, token):
    assert _detail(client, token, "made-up")["errcode"] == 84015


def test_getuserdetail_missing_ticket_answers_84090(client, token):
    response = client.post("/cgi-bin/auth/getuserdetail", query_string={"access_token": token},
                           json={})
    assert response.json["errcode"] == 84090


def test_getuserdetail_body_not_json_answers_47001(client, token):
    response = client.post("/cgi-bin/auth/getuserdetail", query_string={"access_token": token},
                           data=b"user_ticket=x", content_type="application/x-www-form-urlencoded")
    assert response.json["errcode"] == 47001


def test_getuserdetail_member_left_visible_range_answers_92000(client, token):
    ticket = _ticket(client, token)
    client.post("/_emulator/members/lisi", json={"department": [7]})
    assert _detail(client, token, ticket)["errcode"] == 92000


@pytest.mark.parametrize("path", ["auth/getuserinfo", "user/getuserinfo"])
def test_exchange_untrusted_ip_answers_60020_with_ip(app, client, token, path):
    app.extensions["wecom_emulator"].config.trusted_ips = ["10.0.0.1"]
    body = api(client, path, token, code=mint(client))
    assert body["errcode"] == 60020
    assert "from ip: 127.0.0.1" in body["errmsg"]
