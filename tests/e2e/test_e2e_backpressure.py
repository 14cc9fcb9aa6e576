"""WeCom's 45009 (call frequency exceeded) under `serve` with two workers: the
person sees "try again in a minute" (503, Retry-After), the next logins are refused
by every worker without calling WeCom until the back-off ends, /metrics shows it."""

from __future__ import annotations

import time

import pytest
import requests

from .stack import RelyingParty, browser, qr_login, scan, start_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("backpressure"))
    yield s
    s.stop()


def scanned(stack) -> tuple[requests.Session, str]:
    """A browser at the point of coming back from WeCom: (it, the callback URL)."""
    b = browser()
    return b, scan(stack, b, RelyingParty(stack).start()["url"], "lisi")


def callback(stack, at: tuple[requests.Session, str] | None = None) -> requests.Response:
    b, url = at or scanned(stack)
    return b.get(url, allow_redirects=False)


def test_e2e_45009_try_again_page_shared_backoff_then_logins_resume(stack):
    # The next logins are brought to their callback first: the back-off lasts 2 s, and
    # on a loaded machine a login's way there (authorize, QR page, scan) can take 0.7 s.
    waiting = [scanned(stack) for _ in range(4)]
    stack.emu("POST", "faults", api="auth/getuserinfo", errcode=45009, count=1)
    first = callback(stack)
    assert first.status_code == 503 and "一分钟后再试" in first.text and "45009" in first.text
    assert first.headers["Retry-After"] == "60"
    sent = stack.calls("auth/getuserinfo")
    for at in waiting:  # both workers: refused without calling WeCom
        assert callback(stack, at).status_code == 503
    assert stack.calls("auth/getuserinfo") == sent
    metrics = requests.get(stack.bridge_url + "/metrics", timeout=5).text
    assert 'wecom_oidc_wecom_backoff_total{api="auth/getuserinfo"} 4.0' in metrics
    time.sleep(2.1)  # the first back-off (2 s) ends: logins go through again
    rp = RelyingParty(stack)
    started = rp.start()
    _, claims, _ = rp.finish(qr_login(stack, started["url"], "lisi"), started)
    assert claims["sub"] == "lisi"
