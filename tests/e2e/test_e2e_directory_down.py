"""WeCom refusing the directory APIs (48002 "api forbidden" on department/list: a
token without contacts access) must not gate logins: the bridge under `serve` with
a cold store, the emulator answering the directory calls with the fault."""

from __future__ import annotations

import time

import pytest

from .stack import RelyingParty, browser, qr_login, scan, start_stack

SRE_ONLY = ("sre-only", "sre-only-secret-0123456789-01234", "https://sre.example/cb")
EXTRA = f"""
[[clients]]
client_id = "{SRE_ONLY[0]}"
client_secret = "{SRE_ONLY[1]}"
redirect_uris = ["{SRE_ONLY[2]}"]
allow_departments = ["研发中心/平台部/SRE组"]

[groups]
departments = "path"
tags = true
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("dirdown"), extra_config=EXTRA)
    yield s
    s.stop()


@pytest.fixture
def forbidden(stack):
    stack.emu("POST", "reset")
    stack.emu("POST", "faults", api="department/list", errcode=48002, count=100000)
    yield
    stack.emu("POST", "reset")


def login(stack, rp: RelyingParty, userid: str) -> dict:
    started = rp.start()
    _, claims, _ = rp.finish(qr_login(stack, started["url"], userid), started)
    return claims


def callback(stack, rp: RelyingParty, userid: str):
    """The bridge's answer at the callback (not followed)."""
    b = browser()
    return b.get(scan(stack, b, rp.start()["url"], userid), allow_redirects=False)


def sre_only(stack) -> RelyingParty:
    return RelyingParty(stack, client_id=SRE_ONLY[0], client_secret=SRE_ONLY[1],
                        redirect_uri=SRE_ONLY[2])


def test_e2e_directory_forbidden_plain_client_logs_in_without_reading_it(stack, forbidden):
    assert login(stack, RelyingParty(stack), "lisi")["sub"] == "lisi"
    assert stack.calls("department/list") == 0


def test_e2e_directory_forbidden_groups_client_logs_in_without_groups(stack, forbidden):
    claims = login(stack, RelyingParty(stack, scope="openid groups"), "lisi")
    assert claims["sub"] == "lisi" and claims["groups"] == []
    assert stack.calls("department/list") >= 1


def test_e2e_directory_forbidden_policy_client_refused_503_page_with_errcode(stack, forbidden):
    page = callback(stack, sre_only(stack), "lisi")
    assert page.status_code == 503, page.text[:300]
    assert "48002" in page.text and "通讯录" in page.text


def test_e2e_directory_policy_login_resumes_within_seconds_after_wecom(stack, forbidden):
    assert callback(stack, sre_only(stack), "lisi").status_code == 503
    stack.emu("POST", "reset")  # WeCom grants the directory again
    for _ in range(20):  # the shared back-off after a failed read is 2 s
        page = callback(stack, sre_only(stack), "lisi")
        if page.status_code != 503:
            break
        time.sleep(0.5)
    assert page.status_code == 302 and "code=" in page.headers["Location"]
