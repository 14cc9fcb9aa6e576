"""revoke_member and the reconciliation sweep, on the in-process bridge (memory store,
fake upstream): what is ended, for whom, and who sweeps."""

from __future__ import annotations

import pytest
from fakes import APP_ID, APP_SECRET, basic_auth, exchange, login

from wecom_oidc.oidc.member_index import live_members
from wecom_oidc.oidc.offboard import revoke_member
from wecom_oidc.oidc.sweep import Sweeper

SCOPE = "openid profile offline_access"


def tokens(app, userid: str) -> dict:
    http = app.test_client()
    resp = exchange(http, login(http, userid, scope=SCOPE))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def refresh_status(app, token: dict) -> int:
    return app.test_client().post("/token", headers=basic_auth(APP_ID, APP_SECRET), data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]}).status_code


def userinfo_status(app, token: dict) -> int:
    return app.test_client().get("/userinfo", headers={
        "Authorization": "Bearer " + token["access_token"]}).status_code


@pytest.fixture
def provider(app):
    return app.extensions["wecom_oidc"]


def test_revoke_member_ends_that_members_logins_only(app, provider):
    leaving, leaving2, staying = tokens(app, "zhangsan"), tokens(app, "zhangsan"), \
        tokens(app, "lisi")
    done = revoke_member(provider, "zhangsan", reason="test")
    assert len(done.sessions) == 2 and done.clients == [APP_ID] and done.records >= 4
    for t in (leaving, leaving2):
        assert refresh_status(app, t) == 400
        assert userinfo_status(app, t) == 401
    assert userinfo_status(app, staying) == 200
    assert refresh_status(app, staying) == 200
    assert live_members(provider.store) == ["lisi"]


def test_revoke_member_twice_finds_nothing(app, provider):
    tokens(app, "zhangsan")
    assert revoke_member(provider, "zhangsan", reason="test").sessions
    assert revoke_member(provider, "zhangsan", reason="test").sessions == []


def test_revoke_member_session_already_logged_out_not_reported(app, provider):
    tokens(app, "zhangsan")
    (sid,) = provider.store.index_members("member_grants", "zhangsan")
    provider.store.revoke_grant(sid)  # what /end_session does
    assert revoke_member(provider, "zhangsan", reason="test").sessions == []


def test_revoke_member_refreshed_tokens_revoked_too(app, provider):
    first = tokens(app, "zhangsan")
    http = app.test_client()
    second = http.post("/token", headers=basic_auth(APP_ID, APP_SECRET), data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).get_json()
    revoke_member(provider, "zhangsan", reason="test")
    assert refresh_status(app, second) == 400
    assert userinfo_status(app, second) == 401


def sweeper(provider, check, **kw) -> Sweeper:
    return Sweeper(provider, check, interval=600, rate=1000, sleep=lambda s: None, **kw)


def test_sweep_revokes_gone_members_keeps_others(app, provider):
    gone, kept = tokens(app, "zhangsan"), tokens(app, "lisi")
    revoked = []
    s = sweeper(provider, lambda u: "disabled" if u == "zhangsan" else None,
                on_revoked=revoked.append)
    assert s.sweep() == 1 and revoked == ["sweep"]
    assert userinfo_status(app, gone) == 401
    assert userinfo_status(app, kept) == 200


def test_sweep_upstream_failure_revokes_nothing(app, provider):
    t = tokens(app, "zhangsan")

    def down(userid: str):
        raise RuntimeError("WeCom did not answer")

    assert sweeper(provider, down).sweep() == 0
    assert userinfo_status(app, t) == 200


def test_sweep_one_turn_per_interval_for_sweepers_sharing_a_store(app, provider):
    tokens(app, "zhangsan")
    asked: list[str] = []
    a, b = sweeper(provider, asked.append), sweeper(provider, asked.append)
    assert [a.try_sweep(), b.try_sweep(), a.try_sweep()] == [True, False, False]
    assert asked == ["zhangsan"]
