"""Rate limits with an injected clock: a window ends, a failure is held, limits can be
turned off, a client's userinfo quota follows its tokens. (The attacks themselves run
end to end in tests/e2e/test_e2e_attacks_limits.py.)"""

from __future__ import annotations

import pytest
from fakes import APP_ID, APP_SECRET, OTHER_ID, basic_auth, exchange, login, settings_toml

from wecom_oidc.config import Rate
from wecom_oidc.errors import ConfigError
from wecom_oidc.ratelimit import RateLimiter
from wecom_oidc.store import MemoryStore

STRICT = """
[limits]
failed_auth_per_client_ip = "3/1h"
failed_auth_delay = 0
userinfo_per_client = "2/1m"
"""


def introspect(http, secret: str, client_id: str = APP_ID):
    return http.post("/introspect", data={"token": "t" * 40},
                     headers=basic_auth(client_id, secret))


def test_limits_lockout_ends_with_its_window(build_app, clock):
    clock.now = 1_700_000_000.0 - 1_700_000_000.0 % 3600  # the start of an hour window
    http = build_app(extra=STRICT)[0].test_client()
    assert [introspect(http, "wrong").status_code for _ in range(3)] == [401] * 3
    locked = introspect(http, APP_SECRET)
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "3600"
    clock.advance(3599)
    assert introspect(http, APP_SECRET).headers["Retry-After"] == "1"
    clock.advance(1)
    assert introspect(http, APP_SECRET).status_code == 200


def test_limits_failed_authentication_is_held_and_success_is_not(build_app, monkeypatch):
    import wecom_oidc.web.rate_limits as rate_limits

    held: list[float] = []
    monkeypatch.setattr(rate_limits.time, "sleep", held.append)
    http = build_app(extra="[limits]\nfailed_auth_delay = 0.5\n")[0].test_client()
    assert introspect(http, APP_SECRET).status_code == 200
    assert held == []
    assert introspect(http, "wrong").status_code == 401
    assert held == [0.5]


def test_limits_disabled_never_refuse(build_app):
    http = build_app(extra=STRICT.replace("[limits]", "[limits]\nenabled = false"))[0]
    http = http.test_client()
    assert {introspect(http, "wrong").status_code for _ in range(6)} == {401}


def test_limits_a_rule_set_off_never_refuses(build_app):
    http = build_app(extra=STRICT.replace('"3/1h"', '"off"'))[0].test_client()
    assert {introspect(http, "wrong").status_code for _ in range(6)} == {401}


def test_limits_lockout_of_one_client_leaves_the_others(build_app):
    http = build_app(extra=STRICT)[0].test_client()
    for _ in range(4):
        introspect(http, "wrong")
    assert introspect(http, APP_SECRET).status_code == 429
    from fakes import OTHER_SECRET

    assert introspect(http, OTHER_SECRET, OTHER_ID).status_code == 200


def test_limits_userinfo_counts_per_client_of_the_token(build_app):
    http = build_app(extra=STRICT)[0].test_client()
    token = exchange(http, login(http)).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert [http.get("/userinfo", headers=bearer).status_code for _ in range(2)] == [200, 200]
    refused = http.get("/userinfo", headers=bearer)
    assert refused.status_code == 429 and refused.get_json()["error"] == (
        "temporarily_unavailable")
    # A junk token names no client: only the per-address limit applies to it.
    assert http.get("/userinfo", headers={"Authorization": "Bearer junk"}).status_code == 401


@pytest.mark.parametrize("text, rate", [("600/1m", Rate(600, 60)), ("10/5m", Rate(10, 300)),
                                        ("5/s", Rate(5, 1)), ("100 / 2h", Rate(100, 7200)),
                                        ("7/1d", Rate(7, 86400))])
def test_limits_rate_parses(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["600", "0/1m", "10/0m", "ten/1m", "10/1w", "-1/1m", ""])
def test_limits_bad_rate_is_a_config_error_naming_the_key(make_settings, text):
    with pytest.raises(ConfigError) as e:
        make_settings(settings_toml(extra=f'[limits]\ntoken_per_ip = "{text}"\n'))
    assert any("limits.token_per_ip" in p for p in e.value.problems)


def test_limits_long_failed_auth_delay_is_refused(make_settings):
    with pytest.raises(ConfigError) as e:
        make_settings(settings_toml(extra="[limits]\nfailed_auth_delay = 5\n"))
    assert any("limits.failed_auth_delay" in p for p in e.value.problems)


def test_limits_limiter_counts_per_rule_and_key_and_reports_refusals(make_settings, clock):
    refused: list[str] = []
    settings = make_settings(settings_toml(extra='[limits]\ntoken_per_ip = "2/1m"\n'))
    limiter = RateLimiter(MemoryStore(clock=clock), settings.limits, clock=clock,
                          on_limited=refused.append)
    assert [limiter.hit("token_per_ip", "a").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("token_per_ip", "b").allowed
    assert limiter.peek("token_per_ip", "b").allowed
    assert not limiter.peek("token_per_ip", "a").allowed
    assert refused == ["token_per_ip", "token_per_ip"]
    with pytest.raises(KeyError):
        limiter.hit("no_such_rule", "a")


OPAQUE = ("opaque-app", "opaque-app-secret-0123456789abcdef", "https://opaque.example.com/cb")


def test_limits_userinfo_counts_per_client_of_an_opaque_token(build_app):
    extra = STRICT + f"""
[[clients]]
client_id = "{OPAQUE[0]}"
client_secret = "{OPAQUE[1]}"
redirect_uris = ["{OPAQUE[2]}"]
access_token_format = "opaque"
"""
    http = build_app(extra=extra)[0].test_client()
    code = login(http, client_id=OPAQUE[0], redirect_uri=OPAQUE[2])
    token = exchange(http, code, OPAQUE[0], OPAQUE[1], OPAQUE[2]).get_json()["access_token"]
    assert "." not in token
    bearer = {"Authorization": f"Bearer {token}"}
    assert [http.get("/userinfo", headers=bearer).status_code for _ in range(3)] == [
        200, 200, 429]


def test_limits_a_request_refused_for_its_address_spends_nothing_of_its_client(build_app):
    """One address over its own limit must not use up its client's quota for everyone:
    the per-client counter only counts requests the per-address one let through."""
    extra = '[limits]\nintrospect_per_ip = "2/1m"\nintrospect_per_client = "3/1m"\n'
    http = build_app(extra=extra)[0].test_client()

    def from_address(ip: str) -> int:
        return http.post("/introspect", data={"token": "t" * 40},
                         headers=basic_auth(APP_ID, APP_SECRET),
                         environ_base={"REMOTE_ADDR": ip}).status_code

    assert [from_address("192.0.2.1") for _ in range(6)] == [200, 200] + [429] * 4
    assert from_address("192.0.2.2") == 200  # the client's third, not its seventh
    assert from_address("192.0.2.3") == 429  # ... and the fourth is over its 3
