"""One error mapping: HTML pages for people (zh/en), JSON for programs, no
internals in either, 503 when the store is down."""

from __future__ import annotations

import pytest
from fakes import (
    FakeUpstream,
    auth_params,
    exchange,
    finish_login,
    login,
    settings_toml,
    start_login,
)

from wecom_oidc.app import create_app
from wecom_oidc.errors import StoreUnavailable
from wecom_oidc.store import MemoryStore


class DownStore(MemoryStore):
    """A store whose backend has gone away."""

    def __init__(self, down: bool = True) -> None:
        super().__init__()
        self.down = down

    def _fail(self) -> None:
        if self.down:
            raise StoreUnavailable("database is locked")

    def put(self, *a, **k):
        self._fail()
        return super().put(*a, **k)

    def take(self, *a, **k):
        self._fail()
        return super().take(*a, **k)

    def get(self, *a, **k):
        self._fail()
        return super().get(*a, **k)


class CrashingUpstream(FakeUpstream):
    def complete_login(self, params):
        raise RuntimeError("internal detail /var/lib/secret-path")


@pytest.fixture
def make(make_settings, keyring):
    def build(store=None, upstream=None):
        return create_app(make_settings(settings_toml()),
                          store=MemoryStore() if store is None else store,
                          upstream=upstream or FakeUpstream(), keys=keyring).test_client()
    return build


def test_errors_unknown_page_is_404_html_in_chinese_by_default(http):
    resp = http.get("/no-such-page")
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert "页面不存在" in resp.get_data(as_text=True)


def test_errors_unknown_page_in_english_for_english_browser(http):
    resp = http.get("/no-such-page", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "There is no such page." in resp.get_data(as_text=True)


def test_errors_ui_locales_picks_page_language(http):
    resp = http.get("/authorize", query_string=auth_params(client_id="nobody", ui_locales="en"),
                    headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 400
    assert "The application sent an invalid sign-in request" in resp.get_data(as_text=True)


def test_errors_unknown_page_json_for_programs(http):
    resp = http.get("/no-such-page", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"


def test_errors_token_wrong_method_is_405_json_with_allow(http):
    resp = http.get("/token")
    assert resp.status_code == 405
    assert resp.get_json()["error"] == "method_not_allowed"
    assert "POST" in resp.headers["Allow"]


def test_errors_crash_in_upstream_is_500_page_without_internals(make):
    http = make(upstream=CrashingUpstream())
    resp = finish_login(http, start_login(http))
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "secret-path" not in body and "RuntimeError" not in body
    assert "Location" not in resp.headers


def test_errors_store_down_at_authorize_is_503_with_retry_after(make):
    resp = make(store=DownStore()).get("/authorize", query_string=auth_params())
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert "Location" not in resp.headers
    assert "database is locked" not in resp.get_data(as_text=True)


def test_errors_store_down_at_token_is_503_json(make):
    store = DownStore(down=False)
    http = make(store=store)
    code = login(http)
    store.down = True
    resp = exchange(http, code)
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "temporarily_unavailable"


def test_errors_store_down_at_userinfo_is_503_not_401(make):
    store = DownStore(down=False)
    http = make(store=store)
    token = exchange(http, login(http)).get_json()["access_token"]
    store.down = True
    resp = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 503


def test_errors_error_pages_carry_a_request_id(http):
    resp = finish_login(http, "UnknownState")
    assert "请求编号: " in resp.get_data(as_text=True)


def test_errors_denied_page_json_for_programs(http):
    state = start_login(http)
    resp = http.get("/wecom/callback", query_string={"state": state, "code": "outsider"},
                    headers={"Accept": "application/json"})
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "access_denied"


def test_views_and_hooks_are_checked_for_async_once_not_per_request(build_app, monkeypatch):
    import flask.app

    asked: list = []
    real = flask.app.iscoroutinefunction
    monkeypatch.setattr(flask.app, "iscoroutinefunction",
                        lambda f: asked.append(f) or real(f))
    http = build_app()[0].test_client()
    assert http.get("/healthz").status_code == 200
    first = len(asked)
    assert first > 1  # the view and the hooks, once
    assert http.get("/healthz").status_code == 200
    assert len(asked) == first


def test_the_bridge_makes_no_flask_session_per_request_and_none_can_be_written(build_app):
    import flask

    app = build_app()[0]
    seen = []
    for _ in range(2):
        with app.test_request_context("/healthz"):
            app.preprocess_request()
            seen.append(flask.session._get_current_object())
            with pytest.raises(RuntimeError):
                flask.session["user"] = "x"
    assert seen[0] is seen[1] and not seen[0]
