"""The /_emulator control API: faults, latency, counters, reset, members, login."""

from __future__ import annotations

import time

import pytest
from emu_support import api, mint


def _fault(client, **body):
    response = client.post("/_emulator/faults", json=body)
    assert response.status_code == 200, response.json
    return response


@pytest.mark.parametrize("errcode", [-1, 45009, 45033])
def test_faults_errcode_answers_http_200_with_errcode(client, token, errcode):
    _fault(client, api="tag/list", errcode=errcode, count=1)
    body = api(client, "tag/list", token)
    assert body["errcode"] == errcode
    assert f"?e={errcode}" in body["errmsg"]


def test_faults_count_down_then_calls_succeed(client, token):
    _fault(client, api="tag/list", errcode=45009, count=2)
    codes = [api(client, "tag/list", token)["errcode"] for _ in range(3)]
    assert codes == [45009, 45009, 0]


def test_faults_other_api_is_not_affected(client, token):
    _fault(client, api="user/get", errcode=45009, count=1)
    assert api(client, "tag/list", token)["errcode"] == 0


def test_faults_star_hits_any_api_including_gettoken(client):
    _fault(client, api="*", errcode=-1, count=1)
    body = client.get("/cgi-bin/gettoken", query_string={
        "corpid": "ww_emulated_corp", "corpsecret": "emulated-app-secret"}).json
    assert body["errcode"] == -1


def test_faults_http_500_answers_bare_http_error(client, token):
    _fault(client, api="tag/list", errcode="http_502", count=1)
    response = client.get("/cgi-bin/tag/list", query_string={"access_token": token})
    assert response.status_code == 502
    assert response.mimetype == "text/html"


def test_faults_list_shows_remaining_count(client):
    _fault(client, api="user/get", errcode=45009, count=3)
    body = client.get("/_emulator/faults").json
    assert body["faults"] == [{"api": "user/get", "errcode": 45009, "remaining": 3}]


def test_faults_bad_errcode_answers_400(client):
    response = client.post("/_emulator/faults", json={"api": "*", "errcode": "boom"})
    assert response.status_code == 400 and "errcode" in response.json["error"]


def test_faults_from_config_are_armed_at_start(config):
    from wecom_oidc.emulator.app import create_emulator_app

    config.faults = [{"api": "gettoken", "errcode": -1, "count": 1}]
    client = create_emulator_app(config).test_client()
    body = client.get("/cgi-bin/gettoken", query_string={
        "corpid": "ww_emulated_corp", "corpsecret": "emulated-app-secret"}).json
    assert body["errcode"] == -1


def test_latency_delays_the_api_by_at_least_ms(client, token):
    client.post("/_emulator/latency", json={"api": "tag/list", "ms": 150})
    started = time.monotonic()
    api(client, "tag/list", token)
    assert time.monotonic() - started >= 0.15


def test_latency_zero_removes_it(client):
    client.post("/_emulator/latency", json={"api": "tag/list", "ms": 150})
    client.post("/_emulator/latency", json={"api": "tag/list", "ms": 0})
    assert client.get("/_emulator/faults").json["latency"] == {}


def test_calls_count_each_api(client, token):
    api(client, "tag/list", token)
    api(client, "tag/list", token)
    api(client, "user/get", token, userid="zhangsan")
    calls = client.get("/_emulator/calls").json
    assert calls == {"gettoken": 1, "tag/list": 2, "user/get": 1}


def test_calls_count_failed_and_faulted_calls(client):
    _fault(client, api="tag/list", errcode=45009, count=1)
    api(client, "tag/list", "made-up")
    api(client, "tag/list", "made-up")
    assert client.get("/_emulator/calls").json["tag/list"] == 2


def test_reset_clears_counters_faults_latency_tokens_and_codes(client, token):
    code = mint(client)
    _fault(client, api="user/get", errcode=45009, count=5)
    client.post("/_emulator/latency", json={"api": "*", "ms": 100})
    client.post("/_emulator/members/zhangsan", json={"status": 2})
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get("/_emulator/calls").json == {}
    assert client.get("/_emulator/faults").json == {"faults": [], "latency": {}}
    assert client.get("/_emulator/members/zhangsan").json["status"] == 1
    assert api(client, "tag/list", token)["errcode"] == 40014
    fresh = client.get("/cgi-bin/gettoken", query_string={
        "corpid": "ww_emulated_corp", "corpsecret": "emulated-app-secret"}).json["access_token"]
    assert api(client, "auth/getuserinfo", fresh, code=code)["errcode"] == 40029


def test_members_change_status_shows_in_user_get(client, token):
    response = client.post("/_emulator/members/zhangsan", json={"status": 5})
    assert response.status_code == 200 and response.json["status"] == 5
    assert api(client, "user/get", token, userid="zhangsan")["status"] == 5


def test_members_unknown_userid_answers_404(client):
    assert client.post("/_emulator/members/nobody", json={"status": 2}).status_code == 404


def test_members_changing_userid_answers_400(client):
    response = client.post("/_emulator/members/zhangsan", json={"userid": "other"})
    assert response.status_code == 400


def test_login_returns_code_and_redirect_with_state(client):
    response = client.post("/_emulator/login", json={
        "userid": "zhangsan", "redirect_uri": "https://bridge.example.com/cb?x=1",
        "state": "abc", "mode": "web"})
    code = response.json["code"]
    assert response.json["redirect"] == f"https://bridge.example.com/cb?x=1&code={code}&state=abc"


def test_login_unknown_person_answers_400(client):
    response = client.post("/_emulator/login", json={
        "userid": "nobody", "redirect_uri": "https://bridge.example.com/cb"})
    assert response.status_code == 400


def test_login_relative_redirect_uri_answers_400(client):
    response = client.post("/_emulator/login", json={"userid": "zhangsan", "redirect_uri": "/cb"})
    assert response.status_code == 400


def test_login_bad_scope_answers_400(client):
    response = client.post("/_emulator/login", json={
        "userid": "zhangsan", "redirect_uri": "https://bridge.example.com/cb",
        "scope": "snsapi_userinfo"})
    assert response.status_code == 400


def test_control_body_not_json_object_answers_400(client):
    response = client.post("/_emulator/latency", data=b"[1]", content_type="application/json")
    assert response.status_code == 400


def test_latency_is_the_whole_answer_time_not_added_to_the_work(client, token, monkeypatch):
    # A call whose own work takes 0.2 s answers at the 0.3 s latency, not at 0.5 s:
    # the emulator's work is inside the latency, as real WeCom's is inside its own.
    from wecom_oidc.emulator.state import EmulatorState

    check = EmulatorState.check_token

    def slow_check(self, access_token):
        time.sleep(0.2)
        return check(self, access_token)

    client.post("/_emulator/latency", json={"api": "tag/list", "ms": 300})
    monkeypatch.setattr(EmulatorState, "check_token", slow_check)
    started = time.monotonic()
    api(client, "tag/list", token)
    assert 0.3 <= time.monotonic() - started < 0.45
