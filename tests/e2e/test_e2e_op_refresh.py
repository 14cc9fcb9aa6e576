"""Refresh tokens end to end: which clients get them, rotation, family revocation on
reuse, scope narrowing, and the member re-check against the WeCom emulator."""

from __future__ import annotations

import time

import pytest
import requests
from authlib.integrations.base_client import OAuthError

from .stack import RelyingParty, qr_login, start_stack

RECHECK_TTL = 2
OFFLINE = "openid profile email offline_access"
ALWAYS = ("always", "always-secret-0123456789-0123456", "https://always.example/callback")
NEVER = ("never", "never-secret-0123456789-01234567", "https://never.example/callback")
OTHER = ("other", "other-secret-0123456789-01234567", "https://other.example/callback")

EXTRA = f"""
[tokens]
member_recheck_ttl = {RECHECK_TTL}
""" + "".join(f"""
[[clients]]
client_id = "{cid}"
client_secret = "{secret}"
redirect_uris = ["{uri}"]
refresh_tokens = "{mode}"
""" for (cid, secret, uri), mode in ((ALWAYS, "always"), (NEVER, "never"),
                                     (OTHER, "offline_access")))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("op-refresh"), extra_config=EXTRA)
    yield s
    s.stop()


def rp_for(stack, client=None, scope: str = OFFLINE) -> RelyingParty:
    if client is None:
        return RelyingParty(stack, scope=scope)
    return RelyingParty(stack, scope=scope, client_id=client[0], client_secret=client[1],
                        redirect_uri=client[2])


def login(stack, rp: RelyingParty, userid: str = "zhangsan") -> tuple[dict, dict]:
    started = rp.start()
    token, claims, _ = rp.finish(qr_login(stack, started["url"], userid), started)
    return token, claims


def refused(rp: RelyingParty, refresh_token: str, **params) -> str:
    with pytest.raises(OAuthError) as e:
        rp.refresh(refresh_token, **params)
    return e.value.error


def userinfo_status(stack, access_token: str) -> int:
    return requests.get(stack.bridge_url + "/userinfo", timeout=5,
                        headers={"Authorization": "Bearer " + access_token}).status_code


def test_refresh_offline_access_scope_issues_refresh_token(stack):
    token, _ = login(stack, rp_for(stack))
    assert token.get("refresh_token")
    assert "offline_access" in token["scope"].split()


def test_refresh_without_offline_access_no_refresh_token(stack):
    token, _ = login(stack, rp_for(stack, scope="openid profile email"))
    assert "refresh_token" not in token


def test_refresh_client_always_gets_refresh_token_without_offline_access(stack):
    token, _ = login(stack, rp_for(stack, ALWAYS, scope="openid profile"))
    assert token.get("refresh_token")


def test_refresh_client_never_gets_none_even_with_offline_access(stack):
    token, _ = login(stack, rp_for(stack, NEVER))
    assert "refresh_token" not in token
    assert "offline_access" not in token["scope"].split()


def test_refresh_rotates_and_new_id_token_keeps_sub_auth_time_sid(stack):
    rp = rp_for(stack)
    token, first = login(stack, rp)
    new = rp.refresh(token["refresh_token"])
    assert new["refresh_token"] and new["refresh_token"] != token["refresh_token"]
    assert new["access_token"] != token["access_token"]
    claims = rp.id_claims(new)  # signature, iss, aud, exp, at_hash checked by Authlib
    assert claims["sub"] == first["sub"] == "zhangsan"
    assert claims["auth_time"] == first["auth_time"]
    assert claims["sid"] == first["sid"]
    assert "nonce" not in claims
    assert userinfo_status(stack, new["access_token"]) == 200


def test_refresh_rotated_token_works_again(stack):
    rp = rp_for(stack)
    token, _ = login(stack, rp)
    second = rp.refresh(token["refresh_token"])
    third = rp.refresh(second["refresh_token"])
    assert third["refresh_token"] not in (token["refresh_token"], second["refresh_token"])


def test_refresh_reuse_of_rotated_token_invalid_grant_and_family_revoked(stack):
    rp = rp_for(stack)
    token, _ = login(stack, rp)
    new = rp.refresh(token["refresh_token"])
    assert refused(rp, token["refresh_token"]) == "invalid_grant"
    assert refused(rp, new["refresh_token"]) == "invalid_grant"
    assert userinfo_status(stack, new["access_token"]) == 401
    assert userinfo_status(stack, token["access_token"]) == 401


def test_refresh_narrowing_scope_allowed(stack):
    rp = rp_for(stack)
    token, _ = login(stack, rp)
    new = rp.refresh(token["refresh_token"], scope="openid offline_access")
    assert set(new["scope"].split()) == {"openid", "offline_access"}
    info = requests.get(stack.bridge_url + "/userinfo", timeout=5,
                        headers={"Authorization": "Bearer " + new["access_token"]}).json()
    assert "email" not in info and "name" not in info
    assert "name" not in rp.id_claims(new)


def test_refresh_widening_scope_invalid_scope(stack):
    rp = rp_for(stack, scope="openid profile offline_access")
    token, _ = login(stack, rp)
    assert refused(rp, token["refresh_token"], scope="openid profile email offline_access") \
        == "invalid_scope"


def test_refresh_widening_scope_refused_token_stays_usable(stack):
    rp = rp_for(stack, scope="openid profile offline_access")
    token, _ = login(stack, rp)
    refused(rp, token["refresh_token"], scope="openid profile email offline_access")
    new = rp.refresh(token["refresh_token"])
    assert new["refresh_token"]
    assert userinfo_status(stack, token["access_token"]) == 200


def test_refresh_token_of_another_client_invalid_grant(stack):
    token, _ = login(stack, rp_for(stack))
    assert refused(rp_for(stack, OTHER), token["refresh_token"]) == "invalid_grant"


def test_refresh_public_client_with_offline_access_refreshes(stack):
    rp = RelyingParty(stack, public=True, scope="openid profile offline_access")
    token, first = login(stack, rp)
    new = rp.refresh(token["refresh_token"])
    assert rp.id_claims(new)["sub"] == first["sub"]
    assert new["refresh_token"] != token["refresh_token"]


def test_refresh_member_disabled_invalid_grant_and_family_revoked(stack):
    rp = rp_for(stack)
    token, _ = login(stack, rp, "sunqi")
    stack.emu("POST", "members/sunqi", status=2)
    assert refused(rp, token["refresh_token"]) == "invalid_grant"
    assert userinfo_status(stack, token["access_token"]) == 401
    stack.emu("POST", "members/sunqi", status=1)
    assert refused(rp, token["refresh_token"]) == "invalid_grant"


def test_refresh_member_departed_invalid_grant(stack):
    rp = rp_for(stack)
    token, _ = login(stack, rp, "zhouba")
    stack.emu("POST", "members/zhouba", status=5)
    assert refused(rp, token["refresh_token"]) == "invalid_grant"


def test_refresh_member_recheck_cached_within_ttl(stack):
    rp = rp_for(stack)
    token, _ = login(stack, rp, "zhaoliu")
    before = stack.calls("user/get")
    second = rp.refresh(token["refresh_token"])
    # At least one call: a worker may first try a WeCom token the emulator's reset
    # invalidated, and retry with a fresh one.
    checked = stack.calls("user/get")
    assert checked > before
    third = rp.refresh(second["refresh_token"])
    assert stack.calls("user/get") == checked  # within member_recheck_ttl: cached
    time.sleep(RECHECK_TTL + 0.2)
    rp.refresh(third["refresh_token"])
    assert stack.calls("user/get") > checked


def test_refresh_id_token_claims_reflect_directory_after_recheck_window(stack):
    rp = rp_for(stack)
    token, first = login(stack, rp, "lisi")
    second = rp.refresh(token["refresh_token"])  # re-checked now, cached for the window
    assert rp.id_claims(second)["name"] == first["name"]
    stack.emu("POST", "members/lisi", name="李四新")
    time.sleep(RECHECK_TTL + 0.2)
    third = rp.refresh(second["refresh_token"])
    assert rp.id_claims(third)["name"] == "李四新"
    info = requests.get(stack.bridge_url + "/userinfo", timeout=5,
                        headers={"Authorization": "Bearer " + third["access_token"]}).json()
    assert info["name"] == "李四新"
