"""The emulator on a real loopback socket, driven with requests."""

from __future__ import annotations

import time

import pytest
import requests
from emu_support import CORP, SECRET

TIMEOUT = 5


def _token(base: str) -> str:
    body = requests.get(f"{base}/cgi-bin/gettoken", params={"corpid": CORP, "corpsecret": SECRET},
                        timeout=TIMEOUT).json()
    return body["access_token"]


def test_serve_login_exchange_and_user_get_over_sockets(live):
    token = _token(live)
    minted = requests.post(f"{live}/_emulator/login", timeout=TIMEOUT, json={
        "userid": "lisi", "scope": "snsapi_privateinfo", "mode": "inapp",
        "redirect_uri": "https://bridge.example.com/wecom/callback", "state": "xyz"}).json()
    who = requests.get(f"{live}/cgi-bin/auth/getuserinfo", timeout=TIMEOUT,
                       params={"access_token": token, "code": minted["code"]}).json()
    assert who["userid"] == "lisi"
    detail = requests.post(f"{live}/cgi-bin/auth/getuserdetail", timeout=TIMEOUT,
                           params={"access_token": token},
                           json={"user_ticket": who["user_ticket"]}).json()
    assert detail["email"] == "lisi@example.com"
    member = requests.get(f"{live}/cgi-bin/user/get", timeout=TIMEOUT,
                          params={"access_token": token, "userid": "lisi"})
    assert member.status_code == 200
    assert member.headers["Content-Type"].startswith("application/json")
    assert member.json()["name"] == "李四"


def test_serve_drop_fault_closes_connection_without_response(live):
    token = _token(live)
    requests.post(f"{live}/_emulator/faults", timeout=TIMEOUT,
                  json={"api": "user/get", "errcode": "drop", "count": 1})
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{live}/cgi-bin/user/get", timeout=TIMEOUT,
                     params={"access_token": token, "userid": "zhangsan"})
    # The server keeps serving, and the fault was used up.
    after = requests.get(f"{live}/cgi-bin/user/get", timeout=TIMEOUT,
                         params={"access_token": token, "userid": "zhangsan"})
    assert after.json()["errcode"] == 0


def test_serve_drop_fault_on_kept_alive_connection_closes_it(live):
    token = _token(live)
    with requests.Session() as session:
        session.get(f"{live}/cgi-bin/tag/list", params={"access_token": token}, timeout=TIMEOUT)
        session.post(f"{live}/_emulator/faults", timeout=TIMEOUT,
                     json={"api": "tag/list", "errcode": "drop", "count": 1})
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            session.get(f"{live}/cgi-bin/tag/list", params={"access_token": token},
                        timeout=TIMEOUT)
        assert time.monotonic() - started < TIMEOUT  # closed, not left hanging


def test_serve_http_500_fault_answers_500(live):
    requests.post(f"{live}/_emulator/faults", timeout=TIMEOUT,
                  json={"api": "gettoken", "errcode": "http_500", "count": 1})
    response = requests.get(f"{live}/cgi-bin/gettoken", timeout=TIMEOUT,
                            params={"corpid": CORP, "corpsecret": SECRET})
    assert response.status_code == 500


def test_serve_latency_delays_response_over_sockets(live):
    requests.post(f"{live}/_emulator/latency", json={"api": "gettoken", "ms": 200},
                  timeout=TIMEOUT)
    started = time.monotonic()
    _token(live)
    assert time.monotonic() - started >= 0.2


def test_serve_counts_calls_from_concurrent_clients(live):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: _token(live), range(20)))
    calls = requests.get(f"{live}/_emulator/calls", timeout=TIMEOUT).json()
    assert calls["gettoken"] == 20


def test_serve_same_token_for_concurrent_gettoken(live):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        tokens = set(pool.map(lambda _: _token(live), range(12)))
    assert len(tokens) == 1


def test_serve_inapp_flow_picker_consent_allow_over_sockets(live):
    """A phone with no member yet: picker, then consent, then Allow -> code with a ticket."""
    from urllib.parse import parse_qs, urlsplit

    authorize = f"{live}/connect/oauth2/authorize"
    params = {"appid": CORP, "redirect_uri": "https://bridge.example.com/wecom/callback",
              "response_type": "code", "scope": "snsapi_privateinfo", "state": "p1",
              "agentid": "1000002"}
    with requests.Session() as phone:
        picker = phone.get(authorize, params=params, timeout=TIMEOUT)
        assert 'data-userid="lisi"' in picker.text
        next_url = urlsplit(picker.url)._replace(scheme="", netloc="").geturl()
        consent = phone.post(f"{live}/connect/oauth2/phone", timeout=TIMEOUT,
                             data={"userid": "lisi", "next": next_url})
        assert 'id="allow"' in consent.text
        done = phone.post(f"{live}/connect/oauth2/authorize/confirm", timeout=TIMEOUT,
                          data={**params, "action": "allow"}, allow_redirects=False)
    code = parse_qs(urlsplit(done.headers["Location"]).query)["code"][0]
    who = requests.get(f"{live}/cgi-bin/auth/getuserinfo", timeout=TIMEOUT,
                       params={"access_token": _token(live), "code": code}).json()
    assert who["userid"] == "lisi" and who["user_ticket"]
