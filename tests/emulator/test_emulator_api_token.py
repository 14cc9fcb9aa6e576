"""gettoken and the token check every API shares (wecom-api.md §1, §7)."""

from __future__ import annotations

import re

from emu_support import CORP, SECRET, api


def _gettoken(client, **params):
    return client.get("/cgi-bin/gettoken", query_string=params).json


def test_gettoken_valid_credentials_returns_token_for_7200s(client):
    body = _gettoken(client, corpid=CORP, corpsecret=SECRET)
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    assert 0 < len(body["access_token"]) <= 512
    assert body["expires_in"] == 7200


def test_gettoken_again_while_valid_returns_same_token(client):
    first = _gettoken(client, corpid=CORP, corpsecret=SECRET)["access_token"]
    client.post("/_emulator/advance", json={"seconds": 100})
    again = _gettoken(client, corpid=CORP, corpsecret=SECRET)
    assert again["access_token"] == first
    assert again["expires_in"] == 7100


def test_gettoken_after_expiry_returns_new_token(client):
    first = _gettoken(client, corpid=CORP, corpsecret=SECRET)["access_token"]
    client.post("/_emulator/advance", json={"seconds": 7200})
    assert _gettoken(client, corpid=CORP, corpsecret=SECRET)["access_token"] != first


def test_gettoken_wrong_corpid_answers_40013(client):
    assert _gettoken(client, corpid="wwother", corpsecret=SECRET)["errcode"] == 40013


def test_gettoken_wrong_secret_answers_40001(client):
    assert _gettoken(client, corpid=CORP, corpsecret="nope")["errcode"] == 40001


def test_gettoken_missing_corpid_answers_41002(client):
    assert _gettoken(client, corpsecret=SECRET)["errcode"] == 41002


def test_gettoken_missing_secret_answers_41004(client):
    assert _gettoken(client, corpid=CORP)["errcode"] == 41004


def test_error_errmsg_has_wecom_hint_ip_and_link(client):
    body = _gettoken(client, corpid=CORP, corpsecret="nope")
    assert re.fullmatch(
        r"invalid credential, hint: \[[^\]]+\], from ip: 127\.0\.0\.1, "
        r"more info at https://open\.work\.weixin\.qq\.com/devtool/query\?e=40001",
        body["errmsg"])


def test_api_missing_token_answers_41001(client):
    assert api(client, "tag/list", "")["errcode"] == 41001


def test_api_unknown_token_answers_40014(client):
    assert api(client, "tag/list", "made-up")["errcode"] == 40014


def test_api_expired_token_answers_42001(client, token):
    client.post("/_emulator/advance", json={"seconds": 7200})
    assert api(client, "tag/list", token)["errcode"] == 42001


def test_api_revoked_token_answers_40014(client, token):
    client.post("/_emulator/expire-tokens")
    assert api(client, "tag/list", token)["errcode"] == 40014


def test_api_token_expired_by_control_answers_42001(client, token):
    client.post("/_emulator/expire-tokens", json={"mode": "expire"})
    assert api(client, "tag/list", token)["errcode"] == 42001


def test_gettoken_after_revoke_returns_new_token(client, token):
    client.post("/_emulator/expire-tokens")
    fresh = _gettoken(client, corpid=CORP, corpsecret=SECRET)["access_token"]
    assert fresh != token
    assert api(client, "tag/list", fresh)["errcode"] == 0
