"""The person of a login is stored once (oidc/person.py): the session, codes and
tokens refer to it by the session id, and it lives as long as the longest of them."""

from __future__ import annotations

import json

import pytest
from fakes import (
    APP_ID,
    APP_SECRET,
    OTHER_ID,
    OTHER_REDIRECT,
    OTHER_SECRET,
    auth_params,
    basic_auth,
    exchange,
    login,
    query,
    settings_toml,
)

from wecom_oidc.app import create_app
from wecom_oidc.config import SessionSettings, TokenSettings
from wecom_oidc.oidc.member_index import live_members
from wecom_oidc.store import MemoryStore

SCOPE = "openid profile email offline_access"
LIFETIME = SessionSettings().lifetime
CODE_TTL = TokenSettings().code_ttl
REFRESH_TTL = TokenSettings().refresh_token_ttl


class Counting(MemoryStore):
    """The memory store, logging each write as (operation, kind); the used marker a
    take leaves is a put of its kind."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.writes: list[tuple[str, str]] = []

    def put(self, kind, key, record, ttl):
        self.writes.append(("put", kind))
        super().put(kind, key, record, ttl)

    def put_many(self, items, index=()):
        self.writes.extend(("put", kind) for kind, _, _, _ in items)
        self.writes.extend(("index_add", kind) for kind, _, _, _ in index)
        super().put_many(items, index)

    def take(self, kind, key, used=None):
        record = super().take(kind, key, used)
        if record is not None and used is not None:
            self.writes.append(("put", used[0]))
        return record

    def index_add(self, kind, key, member, ttl):
        self.writes.append(("index_add", kind))
        super().index_add(kind, key, member, ttl)

    def index_add_many(self, entries):
        self.writes.extend(("index_add", kind) for kind, _, _, _ in entries)
        super().index_add_many(entries)


@pytest.fixture
def bridge(build_app):
    return build_app()


def records(store, kind=None) -> list[tuple[str, dict]]:
    """(kind, record) of every live record (the memory store's own rows)."""
    now = store._clock()
    return [(r.kind, json.loads(r.text)) for r in store._rows.values()
            if r.expires_at > now and (kind is None or r.kind == kind)]


def refresh(http, token: dict, client=(APP_ID, APP_SECRET)):
    return http.post("/token", headers=basic_auth(*client), data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})


def userinfo(http, token: dict):
    return http.get("/userinfo", headers={"Authorization": "Bearer " + token["access_token"]})


def test_person_identity_and_claims_are_stored_once_per_login(bridge):
    app, store = bridge
    http = app.test_client()
    assert exchange(http, login(http, scope=SCOPE)).status_code == 200
    assert [k for k, r in records(store) if "identity" in r] == ["person"]
    # The name is a claim: in the person, and in the access token's userinfo answer.
    assert sorted(k for k, r in records(store) if "张三" in json.dumps(r, ensure_ascii=False)) \
        == ["access_token", "person"]


@pytest.fixture
def counting(make_settings, keyring, clock, upstream):
    store = Counting(clock=clock)
    app = create_app(make_settings(settings_toml()), store=store, upstream=upstream,
                     keys=keyring, clock=clock)
    return app, store


def test_person_token_exchange_writes_only_the_tokens(counting):
    app, store = counting
    http = app.test_client()
    code = login(http, scope="openid profile email")
    del store.writes[:]
    assert exchange(http, code).status_code == 200
    # The login wrote the person and the offboarding index for as long as its access
    # tokens may live, so the exchange adds only what it issues.
    assert sorted(kind for op, kind in store.writes if op == "put") == [
        "access_token", "code_used"]
    assert [w for w in store.writes if w[0] == "index_add"] == []


def test_person_refresh_token_extends_the_person_and_the_index_once(counting):
    app, store = counting
    http = app.test_client()
    code = login(http, scope=SCOPE)
    del store.writes[:]
    assert exchange(http, code).status_code == 200
    assert sorted(kind for op, kind in store.writes if op == "put") == [
        "access_token", "code_used", "person", "refresh_token"]
    assert sorted(kind for op, kind in store.writes if op == "index_add") == [
        "grant_clients", "live_members", "member_grants"]


def test_person_of_a_login_without_refresh_token_is_not_kept_for_their_ttl(bridge, clock):
    app, store = bridge
    http = app.test_client()
    token = exchange(http, login(http, scope="openid profile")).get_json()
    assert "refresh_token" not in token
    settings = app.extensions["wecom_oidc"].settings.tokens
    clock.advance(LIFETIME + max(settings.code_ttl, settings.device_code_ttl)
                  + settings.access_token_ttl)
    assert records(store, "person") == []
    assert live_members(store) == []


def test_person_refresh_works_after_the_session_ended(bridge, clock):
    app, store = bridge
    http = app.test_client()
    token = exchange(http, login(http, scope=SCOPE)).get_json()
    clock.advance(LIFETIME + 60)
    assert records(store, "session") == []
    resp = refresh(http, token)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert userinfo(http, resp.get_json()).get_json()["name"] == "张三"


def test_person_outlives_a_refresh_token_from_the_sessions_last_code(bridge, clock):
    app, store = bridge
    http = app.test_client()
    exchange(http, login(http, scope=SCOPE))
    clock.advance(LIFETIME - 1)  # the session's last second: another app signs in
    resp = http.get("/authorize", query_string=auth_params(
        client_id=OTHER_ID, redirect_uri=OTHER_REDIRECT, scope=SCOPE))
    code = query(resp.headers["Location"])["code"]
    clock.advance(CODE_TTL - 1)  # the code's last second
    token = exchange(http, code, client_id=OTHER_ID, secret=OTHER_SECRET,
                     redirect_uri=OTHER_REDIRECT).get_json()
    clock.advance(REFRESH_TTL - 1)  # the refresh token's last second
    resp = refresh(http, token, (OTHER_ID, OTHER_SECRET))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert userinfo(http, resp.get_json()).get_json()["name"] == "张三"


def test_person_rotated_refresh_token_keeps_the_person_alive(bridge, clock):
    app, _ = bridge
    http = app.test_client()
    token = exchange(http, login(http, scope=SCOPE)).get_json()
    for _ in range(3):  # each rotation's token lives a whole TTL, past the login's horizon
        clock.advance(REFRESH_TTL - 1)
        resp = refresh(http, token)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        token = resp.get_json()


def test_person_index_for_offboarding_lives_as_long_as_the_person(bridge, clock):
    from wecom_oidc.oidc.offboard import revoke_member

    app, store = bridge
    http = app.test_client()
    token = exchange(http, login(http, scope=SCOPE)).get_json()
    clock.advance(REFRESH_TTL - 1)
    token = refresh(http, token).get_json()
    clock.advance(REFRESH_TTL - 1)  # long past the login's horizon: only the rotation's
    done = revoke_member(app.extensions["wecom_oidc"], "zhangsan", reason="test")
    assert done.sessions and done.clients == [APP_ID]
    assert refresh(http, token).status_code == 400
    assert records(store, "person") == []


def test_person_goes_with_the_login_at_logout(bridge):
    app, store = bridge
    http = app.test_client()
    token = exchange(http, login(http, scope=SCOPE)).get_json()
    assert len(records(store, "person")) == 1
    resp = http.get("/end_session", query_string={"id_token_hint": token["id_token"]})
    assert resp.status_code == 200
    assert records(store, "person") == [] and records(store, "session") == []
    assert refresh(http, token).status_code == 400


def test_session_cookie_with_its_sid_but_another_secret_is_no_session(bridge):
    app, store = bridge
    http = app.test_client()
    login(http, scope=SCOPE)
    cookie = http.get_cookie("wecom_oidc_session").value
    sid = cookie.partition(".")[0]
    forged = app.test_client()
    forged.set_cookie("wecom_oidc_session", sid + ".not-the-secret")
    resp = forged.get("/authorize", query_string=auth_params(prompt="none"))
    assert query(resp.headers["Location"]).get("error") == "login_required"
    forged.get("/end_session")  # nothing to end for a cookie that does not match
    resp = http.get("/authorize", query_string=auth_params(prompt="none"))
    assert "code" in query(resp.headers["Location"])
    assert len(records(store, "session")) == 1


def test_person_refresh_token_from_before_person_records_still_refreshes(bridge):
    app, store = bridge
    http = app.test_client()
    token = exchange(http, login(http, scope=SCOPE)).get_json()
    # What an earlier version stored: the person inside the refresh token, no record.
    (sid,) = [r["grant_id"] for _, r in records(store, "person")]
    who = store.take("person", sid)
    old = store.get("refresh_token", token["refresh_token"])
    store.put("refresh_token", token["refresh_token"], {
        **old, "claims": who["claims"], "identity": who["identity"]}, ttl=3600)
    resp = refresh(http, token)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert userinfo(http, resp.get_json()).get_json()["name"] == "张三"
    assert len(records(store, "person")) == 1  # written at that first refresh
