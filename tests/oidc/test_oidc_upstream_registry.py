"""A second upstream is one module: written only to the `Upstream` protocol,
registered by name, chosen by the `upstream` config key, with its callback at
/<name>/callback. Proven with an upstream that knows nothing of WeCom."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import pytest
from fakes import APP_ID, APP_REDIRECT, APP_SECRET, auth_params, pkce_pair, query, settings_toml

from wecom_oidc.app import create_app
from wecom_oidc.errors import ConfigError, LoginCancelled
from wecom_oidc.identity import Identity
from wecom_oidc.store import MemoryStore
from wecom_oidc.upstream import registry
from wecom_oidc.upstream.base import LoginRequest, Upstream, Wiring


class DirectoryIdP:
    """An upstream exactly as the protocol describes it, no keyword beyond it."""

    name = "corpidp"

    def __init__(self) -> None:
        self.logins: list[LoginRequest] = []

    def login_url(self, login: LoginRequest) -> str:
        self.logins.append(login)
        return "https://idp.corp.test/auth?" + urlencode(
            {"state": login.state, "back": login.callback_url})

    def complete_login(self, params: Mapping[str, str]) -> Identity:
        if not params.get("ticket"):
            raise LoginCancelled("cancelled")
        return Identity(subject=params["ticket"], name="Ada")


@pytest.fixture
def idp():
    made = DirectoryIdP()
    seen: list[Wiring] = []

    def factory(settings, store, wiring):
        seen.append(wiring)
        return made

    registry.register(made.name, factory)
    yield made, seen
    registry._registered.pop(made.name, None)


def test_upstream_written_to_the_protocol_logs_in_through_its_own_callback(
        make_settings, keyring, idp):
    made, seen = idp
    assert isinstance(made, Upstream)
    settings = make_settings('upstream = "corpidp"\n' + settings_toml())
    app = create_app(settings, store=MemoryStore(), keys=keyring)
    http = app.test_client()
    verifier, challenge = pkce_pair()
    resp = http.get("/authorize", query_string=auth_params(
        code_challenge=challenge, code_challenge_method="S256", ui_locales="en"),
        headers={"User-Agent": "Firefox"})
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("https://idp.corp.test/auth?")
    login = made.logins[-1]
    assert login.callback_url == "https://sso.example.com/corpidp/callback"
    assert (login.lang, login.user_agent) == ("en", "Firefox")
    assert seen and seen[0].observe_call is not None  # metrics wired by the root
    back = http.get("/corpidp/callback", query_string={"state": login.state, "ticket": "ada"})
    assert back.status_code == 302 and back.headers["Location"].startswith(APP_REDIRECT)
    token = http.post("/token", data={
        "grant_type": "authorization_code", "code": query(back.headers["Location"])["code"],
        "redirect_uri": APP_REDIRECT, "code_verifier": verifier},
        auth=(APP_ID, APP_SECRET)).get_json()
    info = http.get("/userinfo", headers={"Authorization": "Bearer " + token["access_token"]})
    assert info.get_json()["sub"] == "ada"
    # WeCom's callback is not there when WeCom is not the upstream.
    assert http.get("/wecom/callback", query_string={"state": login.state}).status_code == 404


def test_unknown_upstream_is_a_config_error_naming_the_key(make_settings, keyring):
    settings = make_settings('upstream = "dingtalk"\n' + settings_toml())
    with pytest.raises(ConfigError) as info:
        create_app(settings, store=MemoryStore(), keys=keyring)
    assert "upstream: unknown upstream 'dingtalk' (known: wecom)" in info.value.problems[0]
