"""CPU per complete login: authorize -> WeCom callback (2 WeCom API calls over
keep-alive HTTP, the access_token cached) -> token (ID token and JWT access token
signed) -> userinfo. The code is minted by the
emulator before the timer starts; everything timed is the bridge's work."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

from e2e.stack import CONFIDENTIAL, WEB_REDIRECT

BASIC = "Basic " + base64.b64encode(":".join(CONFIDENTIAL).encode()).decode()
AUTHORIZE = ("/authorize?response_type=code&client_id=webapp&scope=openid+profile+email"
             f"&redirect_uri={WEB_REDIRECT}&state=s1&nonce=n1"
             "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
             "&code_challenge_method=S256")
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def one_login(client, callback_host: str, code: str) -> None:
    to_wecom = client.get(AUTHORIZE)
    state = parse_qs(urlsplit(to_wecom.headers["Location"]).query)["state"][0]
    back = client.get(f"/wecom/callback?code={code}&state={state}")
    our_code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    token = client.post("/token", headers={"Authorization": BASIC}, data={
        "grant_type": "authorization_code", "code": our_code, "redirect_uri": WEB_REDIRECT,
        "code_verifier": VERIFIER}).get_json()
    info = client.get("/userinfo", headers={"Authorization": "Bearer " + token["access_token"]})
    assert info.status_code == 200 and token["id_token"]


def test_bench_complete_login_cpu(benchmark, bridge, mint_code):
    callback = "http://127.0.0.1:8000/wecom/callback"
    one_login(bridge.test_client(), callback, mint_code("zhangsan", callback))  # warm

    def setup():
        # A new browser each round: no bridge session, so every login goes to WeCom.
        return (bridge.test_client(), callback, mint_code("zhangsan", callback)), {}

    benchmark.pedantic(one_login, setup=setup, rounds=200, warmup_rounds=5)


def sso_login(client) -> None:
    """A second app in the same browser: the bridge session answers at once."""
    back = client.get(AUTHORIZE)
    our_code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    token = client.post("/token", headers={"Authorization": BASIC}, data={
        "grant_type": "authorization_code", "code": our_code, "redirect_uri": WEB_REDIRECT,
        "code_verifier": VERIFIER}).get_json()
    assert token["id_token"]


def test_bench_sso_login_with_bridge_session_cpu(benchmark, bridge, mint_code):
    client = bridge.test_client()
    callback = "http://127.0.0.1:8000/wecom/callback"
    one_login(client, callback, mint_code("zhangsan", callback))  # the session
    benchmark.pedantic(sso_login, args=(client,), rounds=200, warmup_rounds=5)
