"""Rate limits, attacked end to end against the real stack (`serve`, 2 workers, one
SQLite store): online guessing of a client secret (kept as a hash in the config), a
flood of junk WeCom callbacks (each one a WeCom API call: quota amplification), floods
of the browser and program endpoints. The bridge trusts one proxy hop here, so every
test plays its attacker from an address of its own (X-Forwarded-For), as a deployment
behind a proxy sees it.

Windows are a day long, so no test straddles one (windows are aligned on the clock);
the end of a window is tested with an injected clock in tests/web/test_web_rate_limits.py.
"""

from __future__ import annotations

import itertools
import re

import pytest
import requests

from wecom_oidc.config.secret_hash import hash_secret
from wecom_oidc.ratelimit import lease_size

from .stack import (
    CONFIDENTIAL,
    PUBLIC,
    WEB_REDIRECT,
    RelyingParty,
    browser,
    follow_to_client,
    scan,
    start_stack,
)

GUESSES = 5  # failed_auth_per_client_ip below
LEASED = 400  # introspect_per_ip below: large enough for the workers to count by leases
SPREAD = 8  # failed_auth_per_client below
VICTIM = ("payroll", "payroll-secret-0123456789abcdef0123456789", "https://payroll.example/cb")
SPREAD_VICTIM = ("crm", "crm-secret-0123456789abcdef0123456789abc", "https://crm.example/cb")
_addresses = (f"203.0.113.{i}" for i in itertools.count(1))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    extra = f"""
[server]
proxy_hops = 1

[limits]
failed_auth_delay = 0
failed_auth_per_client_ip = "{GUESSES}/1d"
failed_auth_per_client = "{SPREAD}/1d"
failed_auth_per_ip = "20/1d"
callback_per_ip = "3/1d"
callback_per_client = "6/1d"
authorize_per_ip = "30/1d"
token_per_ip = "40/1d"
userinfo_per_ip = "10/1d"
introspect_per_ip = "{LEASED}/1d"

[[clients]]
client_id = "{VICTIM[0]}"
client_secret_hash = "{hash_secret(VICTIM[1])}"
redirect_uris = ["{VICTIM[2]}"]

[[clients]]
client_id = "{SPREAD_VICTIM[0]}"
client_secret = "{SPREAD_VICTIM[1]}"
redirect_uris = ["{SPREAD_VICTIM[2]}"]
"""
    s = start_stack(tmp_path_factory.mktemp("limits"), extra_config=extra)
    yield s
    s.stop()


def from_ip(ip: str, **headers: str) -> requests.Session:
    s = browser()
    s.headers.update({"X-Forwarded-For": ip, **headers})
    return s


def introspect(s: requests.Session, stack, client: tuple[str, ...], secret: str):
    return s.post(stack.bridge_url + "/introspect", data={"token": "x" * 40},
                  auth=(client[0], secret))


def metric(stack, name: str, **labels: str) -> float:
    text = requests.get(stack.bridge_url + "/metrics", timeout=5).text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}_total\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_guessing_a_client_secret_is_stopped_and_the_right_secret_waits_too(stack):
    attacker = from_ip(next(_addresses))
    for i in range(GUESSES):
        r = attacker.post(stack.bridge_url + "/token", data={
            "grant_type": "authorization_code", "code": "c" * 43,
            "redirect_uri": VICTIM[2]}, auth=(VICTIM[0], f"guess-{i:02d}"))
        assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
    refused = attacker.post(stack.bridge_url + "/token", data={
        "grant_type": "authorization_code", "code": "c" * 43, "redirect_uri": VICTIM[2]},
        auth=(VICTIM[0], "guess-next"))
    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    # Even the right secret is refused from there until the window ends, at every
    # endpoint where the client authenticates: guessing right late gains nothing.
    assert introspect(attacker, stack, VICTIM, VICTIM[1]).status_code == 429
    assert attacker.post(stack.bridge_url + "/revoke", data={"token": "x" * 40},
                         auth=(VICTIM[0], VICTIM[1])).status_code == 429
    # The real client, from its own address, is not locked out by someone else.
    app_server = from_ip(next(_addresses))
    ok = introspect(app_server, stack, VICTIM, VICTIM[1])
    assert ok.status_code == 200 and ok.json() == {"active": False}
    # Logged with client and address, never the secret tried; counted in metrics.
    log = (stack.workdir / "bridge.log").read_text(encoding="utf-8")
    assert re.search(rf"client authentication failed client={VICTIM[0]} "
                     rf"ip={re.escape(attacker.headers['X-Forwarded-For'])}", log)
    assert "guess-0" not in log and VICTIM[1] not in log
    assert metric(stack, "wecom_oidc_client_auth_failures", client=VICTIM[0]) >= GUESSES
    assert metric(stack, "wecom_oidc_rate_limited", rule="failed_auth_per_client_ip") >= 3


def test_guessing_from_many_addresses_locks_the_client_not_the_others(stack):
    for _ in range(SPREAD):
        r = introspect(from_ip(next(_addresses)), stack, SPREAD_VICTIM, "wrong-secret")
        assert r.status_code == 401, r.text
    fresh = from_ip(next(_addresses))
    r = introspect(fresh, stack, SPREAD_VICTIM, SPREAD_VICTIM[1])
    assert r.status_code == 429 and "Retry-After" in r.headers
    # Another client is untouched.
    assert introspect(fresh, stack, CONFIDENTIAL, CONFIDENTIAL[1]).status_code == 200


def test_spraying_unknown_client_ids_is_limited_per_address(stack):
    attacker = from_ip(next(_addresses))
    codes = [introspect(attacker, stack, (f"nobody-{i}",), "x").status_code
             for i in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429


def junk_callback(stack, b: requests.Session) -> requests.Response:
    """A fresh login state from /authorize, then the callback with a made-up code:
    without a limit each one costs the bridge a WeCom API call."""
    started = b.get(stack.bridge_url + "/authorize", params={
        "response_type": "code", "client_id": CONFIDENTIAL[0], "redirect_uri": WEB_REDIRECT,
        "scope": "openid", "state": "s", "nonce": "n"}, allow_redirects=False)
    assert started.status_code == 302, started.text
    state = re.search(r"state=([0-9a-f]+)", started.headers["Location"]).group(1)
    return b.get(stack.bridge_url + "/wecom/callback", params={"code": "junk", "state": state},
                 allow_redirects=False)


def test_junk_callbacks_cannot_spend_the_wecom_quota(stack):
    before = stack.calls("auth/getuserinfo")
    attacker = from_ip(next(_addresses))
    answers = [junk_callback(stack, attacker).status_code for _ in range(5)]
    assert answers[:3] != [429] * 3 and answers[3:] == [429, 429]
    assert stack.calls("auth/getuserinfo") - before == 3  # callback_per_ip
    # From many addresses the client's own callback limit bounds the total.
    for _ in range(6):
        junk_callback(stack, from_ip(next(_addresses)))
    assert stack.calls("auth/getuserinfo") - before == 6  # callback_per_client


def test_authorize_flood_gets_a_page_in_the_browsers_language(stack):
    ip = next(_addresses)
    url = stack.bridge_url + "/authorize?client_id=nobody"
    codes = [from_ip(ip).get(url).status_code for _ in range(30)]
    assert 429 not in codes
    zh = from_ip(ip).get(url)
    assert zh.status_code == 429 and zh.headers["Content-Type"].startswith("text/html")
    assert "请求过于频繁" in zh.text and zh.headers["Retry-After"].isdigit()
    en = from_ip(ip, **{"Accept-Language": "en"}).get(url)
    assert en.status_code == 429 and "Too many requests" in en.text


def test_token_and_userinfo_floods_get_oauth_json_errors(stack):
    ip = next(_addresses)
    s = from_ip(ip)
    for _ in range(10):
        assert s.get(stack.bridge_url + "/userinfo",
                     headers={"Authorization": "Bearer junk"}).status_code == 401
    r = s.get(stack.bridge_url + "/userinfo", headers={"Authorization": "Bearer junk"})
    assert r.status_code == 429 and r.json()["error"] == "temporarily_unavailable"
    for _ in range(40):
        s.post(stack.bridge_url + "/token", data={"grant_type": "authorization_code",
                                                   "client_id": PUBLIC, "code": "x"})
    r = s.post(stack.bridge_url + "/token", data={"grant_type": "authorization_code",
                                                   "client_id": PUBLIC, "code": "x"})
    assert r.status_code == 429 and r.json()["error"] == "temporarily_unavailable"
    assert int(r.headers["Retry-After"]) >= 1


def test_a_flood_against_a_leased_limit_stops_at_that_limit_over_both_workers(stack):
    """Each worker takes introspect_per_ip's counts from the store a lease at a time
    (wecom_oidc.ratelimit): the flood still gets no more than the limit through, and
    loses at most what the two workers hold unspent."""
    # A connection a request, so that both workers take their share of the flood.
    s = from_ip(next(_addresses), Connection="close")
    codes = [introspect(s, stack, CONFIDENTIAL, CONFIDENTIAL[1]).status_code
             for _ in range(LEASED + 50)]
    assert set(codes) == {200, 429}
    assert LEASED - 2 * (lease_size(LEASED) - 1) <= codes.count(200) <= LEASED
    assert set(codes[-20:]) == {429}


def test_a_login_to_another_client_still_works_beside_the_attacks(stack):
    # payroll's secret is configured as a hash: the code exchange checks against it.
    # (webapp's callbacks are used up for the day by the junk flood above: the
    # callback limit trades that app's logins for the WeCom quota every app shares.)
    b = from_ip(next(_addresses))
    rp = RelyingParty(stack, client_id=VICTIM[0], client_secret=VICTIM[1],
                      redirect_uri=VICTIM[2])
    started = rp.start()
    back = follow_to_client(b, scan(stack, b, started["url"], "zhangsan"))
    token, claims, _ = rp.finish(back, started)
    assert claims["sub"]
