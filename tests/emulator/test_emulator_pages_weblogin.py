"""The web/QR login pages: /wwlogin/sso/login, legacy /wwopen/sso/qrConnect, and the scan."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from emu_support import CALLBACK, CORP, api, query

LOGIN = "/wwlogin/sso/login"


def _params(**overrides):
    params = {"login_type": "CorpApp", "appid": CORP, "agentid": "1000002",
              "redirect_uri": CALLBACK, "state": "st4te", "lang": "zh"}
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def _buttons(page: str) -> dict[str, str]:
    """data-userid -> href of each "scan as" button."""
    return {m.group(2): htmllib.unescape(m.group(1)) for m in re.finditer(
        r'<a class="btn" href="([^"]+)" data-userid="([^"]+)"', page)}


def test_login_page_lists_every_person_as_scan_button(client):
    page = client.get(LOGIN, query_string=_params()).get_data(as_text=True)
    buttons = _buttons(page)
    assert {"zhangsan", "lisi", "disabled", "departed", "wujiu", "outsider"} <= set(buttons)
    assert "以 张三（zhangsan）身份扫码" in page


def test_login_page_in_english_with_lang_en(client):
    page = client.get(LOGIN, query_string=_params(lang="en")).get_data(as_text=True)
    assert "Scan as 张三 (zhangsan)" in page


def test_login_page_shows_inline_svg_qr(client):
    page = client.get(LOGIN, query_string=_params()).get_data(as_text=True)
    assert re.search(r'<div class="qr" id="qr" data-scan-url="[^"]+"><svg ', page)


def test_scan_button_redirects_with_code_and_state(client, token):
    page = client.get(LOGIN, query_string=_params()).get_data(as_text=True)
    response = client.get(_buttons(page)["zhangsan"])
    assert response.status_code == 302 and response.location.startswith(CALLBACK + "?")
    q = query(response.location)
    assert q["state"] == ["st4te"]
    assert api(client, "auth/getuserinfo", token, code=q["code"][0]) == {
        "errcode": 0, "errmsg": "ok", "userid": "zhangsan"}


def test_scan_code_never_yields_ticket(client, token):
    page = client.get(LOGIN, query_string=_params()).get_data(as_text=True)
    response = client.get(_buttons(page)["lisi"])
    body = api(client, "auth/getuserinfo", token, code=query(response.location)["code"][0])
    assert "user_ticket" not in body


def test_scan_non_member_code_yields_openid(client, token):
    page = client.get(LOGIN, query_string=_params()).get_data(as_text=True)
    response = client.get(_buttons(page)["outsider"])
    body = api(client, "auth/getuserinfo", token, code=query(response.location)["code"][0])
    assert body["openid"] == "oEmUlAtEdOuTsIdEr0000000001"


def test_scan_disabled_member_still_gets_code(client, token):
    page = client.get(LOGIN, query_string=_params()).get_data(as_text=True)
    response = client.get(_buttons(page)["disabled"])
    body = api(client, "auth/getuserinfo", token, code=query(response.location)["code"][0])
    assert body["userid"] == "disabled"  # refusing is the bridge's job, via user/get status


def test_scan_without_userid_or_cookie_shows_picker(client):
    response = client.get("/wwlogin/sso/scan", query_string=_params())
    assert response.status_code == 200
    assert 'data-userid="zhangsan"' in response.get_data(as_text=True)


def test_scan_with_phone_cookie_redirects(client):
    client.set_cookie("emu_userid", "lisi")
    response = client.get("/wwlogin/sso/scan", query_string=_params())
    assert response.status_code == 302 and "code=" in response.location


def test_cancel_link_redirects_with_state_and_no_code(client):
    page = client.get(LOGIN, query_string=_params()).get_data(as_text=True)
    cancel = htmllib.unescape(re.search(r'id="cancel" href="([^"]+)"', page).group(1))
    assert cancel == CALLBACK + "?state=st4te"


def test_legacy_qrconnect_without_login_type_shows_qr_page(client):
    response = client.get("/wwopen/sso/qrConnect", query_string=_params(login_type=None))
    assert response.status_code == 200
    assert "zhangsan" in _buttons(response.get_data(as_text=True))


def test_legacy_qrconnect_scan_redirects_with_code(client):
    page = client.get("/wwopen/sso/qrConnect",
                      query_string=_params(login_type=None)).get_data(as_text=True)
    response = client.get(_buttons(page)["zhangsan"])
    assert response.status_code == 302 and query(response.location)["code"]


@pytest.mark.parametrize(("overrides", "kind"), [
    ({"login_type": None}, "invalid_login_type"),
    ({"login_type": "ServiceApp"}, "invalid_login_type"),
    ({"appid": "wwother"}, "invalid_appid"),
    ({"agentid": None}, "invalid_agentid"),
    ({"agentid": "1"}, "invalid_agentid"),
    ({"redirect_uri": "https://evil.example/cb"}, "domain_err"),
    ({"redirect_uri": "javascript:alert(1)"}, "invalid_redirect_uri"),
])
def test_login_bad_parameter_shows_wecom_error_page(client, overrides, kind):
    response = client.get(LOGIN, query_string=_params(**overrides))
    assert response.status_code == 200
    assert response.headers["X-Emulator-Error"] == kind


def test_scan_untrusted_redirect_shows_domain_error(client):
    response = client.get("/wwlogin/sso/scan",
                          query_string=_params(redirect_uri="https://evil.example/cb",
                                               userid="zhangsan"))
    assert response.headers["X-Emulator-Error"] == "domain_err"


def test_login_any_host_trusted_when_no_trusted_domains():
    from wecom_oidc.emulator.app import create_emulator_app
    from wecom_oidc.emulator.config import EmulatorConfig

    client = create_emulator_app(EmulatorConfig()).test_client()
    response = client.get(LOGIN, query_string=_params(redirect_uri="http://127.0.0.1:5555/cb"))
    assert response.status_code == 200 and "X-Emulator-Error" not in response.headers


def test_index_page_answers_200_with_urls(client):
    page = client.get("/").get_data(as_text=True)
    assert "/wwlogin/sso/login" in page and "ww_emulated_corp" in page
