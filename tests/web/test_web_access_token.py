"""The request's access token record is found once per request, however many parts of
the bridge ask (rate limiter, /userinfo): a JWT access token costs a signature check
and a store read each time it is looked up."""

from __future__ import annotations

import pytest
from fakes import FakeUpstream, exchange, login, settings_toml

from wecom_oidc.app import create_app
from wecom_oidc.oidc.grants import ACCESS_TOKEN
from wecom_oidc.store import MemoryStore
from wecom_oidc.web.access_token import access_token_record


class CountingStore(MemoryStore):
    """The memory store, counting reads of access token records."""

    def __init__(self, clock):
        super().__init__(clock=clock)
        self.token_reads = 0

    def get(self, kind, key):
        self.token_reads += kind == ACCESS_TOKEN
        return super().get(kind, key)

    def get_many(self, items):
        self.token_reads += sum(kind == ACCESS_TOKEN for kind, _ in items)
        return super().get_many(items)


@pytest.fixture
def bridge(make_settings, keyring, clock):
    store = CountingStore(clock)
    app = create_app(make_settings(settings_toml()), store=store, upstream=FakeUpstream(),
                     keys=keyring, clock=clock)
    return app, store


def test_access_token_record_looked_up_once_per_request(bridge):
    app, store = bridge
    http = app.test_client()
    token = exchange(http, login(http)).get_json()["access_token"]
    with app.test_request_context("/userinfo", headers={"Authorization": f"Bearer {token}"}):
        before = store.token_reads
        first, second = access_token_record(app.extensions["wecom_oidc"]), \
            access_token_record(app.extensions["wecom_oidc"])
        assert first == second and first["sub"] == "zhangsan"
        assert store.token_reads - before == 1


def test_userinfo_request_reads_its_token_record_once(bridge):
    app, store = bridge
    http = app.test_client()
    token = exchange(http, login(http)).get_json()["access_token"]
    before = store.token_reads
    resp = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.get_json()["sub"] == "zhangsan"
    assert store.token_reads - before == 1  # the rate limiter's lookup is the view's


def test_access_token_record_of_a_form_token_on_post_only(bridge):
    app, _ = bridge
    http = app.test_client()
    token = exchange(http, login(http)).get_json()["access_token"]
    provider = app.extensions["wecom_oidc"]
    with app.test_request_context("/userinfo", method="POST", data={"access_token": token}):
        assert access_token_record(provider)["sub"] == "zhangsan"
    with app.test_request_context("/userinfo", query_string={"access_token": token}):
        assert access_token_record(provider) is None
