"""Redis goes away under two running replicas, then comes back on the same port: the
bridge answers 503 (an HTML page for people, JSON for programs) without calling WeCom,
and serves again by itself once Redis is back, with no restart."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from contract.redis_server import RedisServer, binary_or_skip, prefixed_url
from e2e.stack import CONFIDENTIAL, DESKTOP_UA, WEB_REDIRECT, RelyingParty, browser

from .pair import hop_login, on, shared_keys, start_replicas

JSON = {"Accept": "application/json"}


@pytest.fixture
def outage(tmp_path):
    """Replicas on a redis-server of our own, so the test may stop it."""
    binary_or_skip()
    server = RedisServer(tmp_path / "redis").start()
    try:
        stack, urls = start_replicas(tmp_path, prefixed_url(server.url, "outage:"),
                                     shared_keys(tmp_path))
    except Exception:
        server.stop()
        raise
    yield server, stack, urls
    stack.stop()
    server.stop()


def _to_callback(stack, first: str) -> str:
    """Start a login on `first` and scan at WeCom; the callback URL, not yet followed."""
    b = browser(DESKTOP_UA)
    to_wecom = b.get(on(RelyingParty(stack).start()["url"], first), allow_redirects=False)
    assert to_wecom.status_code == 302, to_wecom.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(to_wecom.headers["Location"]).query).items()}
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": "zhangsan"}), allow_redirects=False)
    assert scanned.status_code == 302
    return scanned.headers["Location"]


def _authorize_url(stack) -> str:
    return RelyingParty(stack).start()["url"]


def test_replicas_redis_down_answers_503_then_recovers_by_itself(outage):
    server, stack, (a, b) = outage
    pending_callback = _to_callback(stack, a)
    wecom_calls = stack.emu("GET", "calls")
    server.stop()

    page = requests.get(on(pending_callback, b), headers={"User-Agent": DESKTOP_UA},
                        allow_redirects=False, timeout=10)
    assert page.status_code == 503
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Retry-After"]
    assert "temporarily unavailable" in page.text or "暂时不可用" in page.text

    started = requests.get(on(_authorize_url(stack), a), headers=JSON,
                           allow_redirects=False, timeout=10)
    assert started.status_code == 503
    assert started.json()["error"] == "temporarily_unavailable"

    token = requests.post(b + "/token", auth=CONFIDENTIAL, timeout=10, data={
        "grant_type": "authorization_code", "code": "whatever", "redirect_uri": WEB_REDIRECT})
    assert token.status_code == 503
    assert token.json()["error"] == "temporarily_unavailable"
    # Never a half-done login: the callback stopped before it spent the WeCom code.
    assert stack.emu("GET", "calls") == wecom_calls

    server.start()  # same port, empty: nothing persisted
    deadline = time.monotonic() + 15
    while True:
        r = requests.get(on(_authorize_url(stack), b), allow_redirects=False, timeout=10)
        if r.status_code == 302 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 302  # no restart of the bridge needed
    _, claims, userinfo = hop_login(stack, first=b, second=a)
    assert claims["sub"] == userinfo["sub"] == "zhangsan"
    # The login interrupted by the outage lost its state with Redis: it is refused
    # cleanly and the person starts again.
    again = requests.get(on(pending_callback, a), headers=JSON, allow_redirects=False,
                         timeout=10)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_state"


def test_replica_booting_while_redis_is_down_starts_and_serves_once_it_is_back(tmp_path):
    # A worker restarted by the server during an outage boots the same way: if it could
    # not, the server would stop the whole replica.
    binary_or_skip()
    server = RedisServer(tmp_path / "redis").start()
    server.stop()
    stack, (a,) = start_replicas(tmp_path, prefixed_url(server.url, "boot:"),
                                    shared_keys(tmp_path), count=1)
    try:
        assert requests.get(a + "/readyz", timeout=10).status_code == 503
        server.start()
        deadline = time.monotonic() + 15
        while requests.get(a + "/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the replica did not recover by itself"
            time.sleep(0.2)
        started = requests.get(on(_authorize_url(stack), a), allow_redirects=False, timeout=10)
        assert started.status_code == 302
    finally:
        stack.stop()
        server.stop()
