"""The in-app OAuth page /connect/oauth2/authorize (wecom-api.md §2)."""

from __future__ import annotations

import re

import pytest
from emu_support import CALLBACK, CORP, api, query

AUTHORIZE = "/connect/oauth2/authorize"


def _params(**overrides):
    params = {"appid": CORP, "redirect_uri": CALLBACK, "response_type": "code",
              "scope": "snsapi_base", "state": "st4te", "agentid": "1000002"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def _as(client, userid):
    client.set_cookie("emu_userid", userid)


def test_authorize_base_signed_in_phone_redirects_with_code_and_state(client, token):
    _as(client, "zhangsan")
    response = client.get(AUTHORIZE, query_string=_params())
    assert response.status_code == 302
    assert response.location.startswith(CALLBACK + "?")
    q = query(response.location)
    assert q["state"] == ["st4te"]
    assert api(client, "auth/getuserinfo", token, code=q["code"][0])["userid"] == "zhangsan"


def test_authorize_empty_state_still_sends_state_param(client):
    _as(client, "zhangsan")
    response = client.get(AUTHORIZE, query_string=_params(state=None))
    assert query(response.location)["state"] == [""]


def test_authorize_keeps_redirect_uri_query(client):
    _as(client, "zhangsan")
    response = client.get(AUTHORIZE, query_string=_params(redirect_uri=CALLBACK + "?next=a"))
    q = query(response.location)
    assert q["next"] == ["a"] and q["code"]


def test_authorize_no_phone_cookie_shows_member_picker(client):
    response = client.get(AUTHORIZE, query_string=_params())
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-userid="zhangsan"' in html and 'data-userid="outsider"' in html


def test_picker_choice_sets_cookie_and_continues(client):
    next_url = client.get(AUTHORIZE, query_string=_params()).request.full_path
    response = client.post("/connect/oauth2/phone", data={"userid": "zhangsan",
                                                           "next": next_url})
    assert response.status_code == 302 and response.location == next_url
    assert client.get_cookie("emu_userid").value == "zhangsan"
    assert client.get(next_url).status_code == 302  # now silent


def test_picker_external_next_is_not_followed(client):
    response = client.post("/connect/oauth2/phone", data={"userid": "zhangsan",
                                                           "next": "https://evil.example/"})
    assert response.location == "/"


def test_phone_get_signs_out(client):
    _as(client, "zhangsan")
    client.get("/connect/oauth2/phone", query_string={"next": "/"})
    assert client.get_cookie("emu_userid") is None


def test_authorize_privateinfo_shows_consent_with_allow_and_deny(client):
    _as(client, "lisi")
    response = client.get(AUTHORIZE, query_string=_params(scope="snsapi_privateinfo"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="allow"' in html and 'id="deny"' in html and "lisi" in html


def _confirm(client, action, **overrides):
    return client.post("/connect/oauth2/authorize/confirm",
                       data={**_params(scope="snsapi_privateinfo", **overrides),
                             "action": action})


def test_consent_allow_redirects_with_code_that_yields_ticket(client, token):
    _as(client, "lisi")
    response = _confirm(client, "allow")
    q = query(response.location)
    body = api(client, "auth/getuserinfo", token, code=q["code"][0])
    assert body["userid"] == "lisi" and body["user_ticket"]
    assert q["state"] == ["st4te"]


def test_consent_deny_redirects_with_state_and_no_code(client):
    _as(client, "lisi")
    response = _confirm(client, "deny")
    assert response.status_code == 302
    assert query(response.location) == {"state": ["st4te"]}


def test_authorize_privateinfo_without_agentid_is_silent_base(client, token):
    _as(client, "lisi")
    response = client.get(AUTHORIZE, query_string=_params(scope="snsapi_privateinfo",
                                                          agentid=None))
    assert response.status_code == 302
    body = api(client, "auth/getuserinfo", token, code=query(response.location)["code"][0])
    assert body["userid"] == "lisi" and "user_ticket" not in body


def test_authorize_privateinfo_outside_visible_range_shows_error(client):
    _as(client, "wujiu")
    response = client.get(AUTHORIZE, query_string=_params(scope="snsapi_privateinfo"))
    assert response.status_code == 200
    assert response.headers["X-Emulator-Error"] == "not_in_visible_range"


def test_authorize_base_outside_visible_range_still_redirects(client):
    _as(client, "wujiu")
    assert client.get(AUTHORIZE, query_string=_params()).status_code == 302


def test_authorize_non_member_gets_code_yielding_openid(client, token):
    _as(client, "outsider")
    response = client.get(AUTHORIZE, query_string=_params())
    body = api(client, "auth/getuserinfo", token, code=query(response.location)["code"][0])
    assert body["openid"] and "userid" not in body


def test_authorize_untrusted_redirect_shows_domain_error_not_redirect(client):
    _as(client, "zhangsan")
    response = client.get(AUTHORIZE, query_string=_params(redirect_uri="https://evil.example/cb"))
    assert response.status_code == 200
    assert response.headers["X-Emulator-Error"] == "domain_err"
    assert "redirect_uri需使用应用可信域名" in response.get_data(as_text=True)


@pytest.mark.parametrize(("overrides", "kind"), [
    ({"appid": "wwother"}, "invalid_appid"),
    ({"agentid": "42"}, "invalid_agentid"),
    ({"agentid": "abc"}, "invalid_agentid"),
    ({"response_type": "token"}, "invalid_response_type"),
    ({"scope": "snsapi_userinfo"}, "invalid_scope"),
    ({"redirect_uri": "/relative"}, "invalid_redirect_uri"),
    ({"redirect_uri": None}, "invalid_redirect_uri"),
])
def test_authorize_bad_parameter_shows_wecom_error_page(client, overrides, kind):
    _as(client, "zhangsan")
    response = client.get(AUTHORIZE, query_string=_params(**overrides))
    assert response.status_code == 200
    assert response.headers["X-Emulator-Error"] == kind
    assert f'data-error="{kind}"' in response.get_data(as_text=True)


def test_authorize_page_is_english_for_english_browser(client):
    _as(client, "lisi")
    response = client.get(AUTHORIZE, query_string=_params(scope="snsapi_privateinfo"),
                          headers={"Accept-Language": "en-US,en;q=0.9"})
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html and ">Allow<" in html


def test_authorize_page_is_chinese_by_default(client):
    _as(client, "lisi")
    html = client.get(AUTHORIZE, query_string=_params(scope="snsapi_privateinfo")).get_data(
        as_text=True)
    assert '<html lang="zh-CN">' in html and ">同意<" in html


def test_pages_have_mobile_viewport(client):
    html = client.get(AUTHORIZE, query_string=_params()).get_data(as_text=True)
    assert re.search(r'<meta name="viewport" content="width=device-width', html)


def test_pages_are_counted(client):
    _as(client, "zhangsan")
    client.get(AUTHORIZE, query_string=_params())
    assert client.get("/_emulator/calls").json["connect/oauth2/authorize"] == 1


def test_consent_allow_non_member_code_yields_openid_without_ticket(client, token):
    _as(client, "outsider")
    response = _confirm(client, "allow")
    body = api(client, "auth/getuserinfo", token, code=query(response.location)["code"][0])
    assert body["openid"] and "user_ticket" not in body


def test_consent_without_phone_cookie_goes_back_to_authorize(client):
    response = _confirm(client, "allow")
    assert response.status_code == 302
    assert response.location.startswith(AUTHORIZE + "?") and "action" not in response.location


def test_consent_switch_link_signs_phone_out_and_returns(client):
    _as(client, "lisi")
    page = client.get(AUTHORIZE, query_string=_params(scope="snsapi_privateinfo"))
    switch = re.search(r'<a href="([^"]+)">切换成员</a>', page.get_data(as_text=True)).group(1)
    response = client.get(switch.replace("&amp;", "&"))
    assert client.get_cookie("emu_userid") is None
    assert response.location.startswith(AUTHORIZE + "?")
