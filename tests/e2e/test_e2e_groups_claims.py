"""Groups, roles, extra claims and access policies end to end: the emulator's sample
directory (nested departments, tags holding users and departments), the bridge under
`serve`, and Authlib's client validating every ID token against the JWKS."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from .stack import RelyingParty, browser, follow_to_client, qr_login, start_stack

GRAFANA = ("grafana", "grafana-secret-0123456789-012345", "https://grafana.example/login/generic_oauth")
SRE_ONLY = ("sre-only", "sre-only-secret-0123456789-01234", "https://sre.example/cb")

EXTRA = f"""
[[clients]]
client_id = "{GRAFANA[0]}"
client_secret = "{GRAFANA[1]}"
redirect_uris = ["{GRAFANA[2]}"]
groups = "always"
extra_claims = {{ title = "position", employee_no = "extattr.工号", leader = "is_leader" }}
roles = {{ Admin = ["tag:管理层"], Editor = ["dept:研发中心"] }}
role_default = "Viewer"

[[clients]]
client_id = "{SRE_ONLY[0]}"
client_secret = "{SRE_ONLY[1]}"
redirect_uris = ["{SRE_ONLY[2]}"]
allow_departments = ["研发中心/平台部/SRE组"]
allow_users = ["wangwu"]

[groups]
departments = "path"
tags = true
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("groups"), extra_config=EXTRA)
    yield s
    s.stop()


def rp_for(stack, client, scope="openid profile email") -> RelyingParty:
    return RelyingParty(stack, client_id=client[0], client_secret=client[1],
                        redirect_uri=client[2], scope=scope)


def login(stack, rp: RelyingParty, userid: str, b=None) -> tuple[dict, dict]:
    started = rp.start()
    _, claims, userinfo = rp.finish(qr_login(stack, started["url"], userid, b=b), started)
    return claims, userinfo


def scan(stack, b, auth_url: str, userid: str):
    """The QR login up to the bridge's callback answer (not followed)."""
    to_wecom = b.get(auth_url, allow_redirects=False)
    assert to_wecom.status_code == 302, to_wecom.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(to_wecom.headers["Location"]).query).items()}
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": userid}), allow_redirects=False)
    assert scanned.status_code == 302, scanned.text
    return b.get(scanned.headers["Location"], allow_redirects=False)


def back_link(page) -> str:
    found = re.search(r'id="back" href="([^"]+)"', page.text)
    assert found, page.text[:500]
    return html.unescape(found.group(1))


def test_e2e_groups_in_id_token_and_userinfo_with_scope(stack):
    claims, userinfo = login(stack, RelyingParty(stack, scope="openid groups"), "lisi")
    # SRE组 is under 平台部 under 研发中心; 值班 lists lisi, 全体研发 lists 研发中心.
    assert claims["groups"] == ["研发中心/平台部/SRE组", "值班", "全体研发"]
    assert userinfo["groups"] == claims["groups"]


def test_e2e_groups_absent_without_scope(stack):
    claims, userinfo = login(stack, RelyingParty(stack, scope="openid profile"), "lisi")
    assert "groups" not in claims and "groups" not in userinfo


def test_e2e_groups_discovery_advertises_scope_and_claim(stack):
    import requests

    meta = requests.get(stack.bridge_url + "/.well-known/openid-configuration", timeout=5).json()
    assert "groups" in meta["scopes_supported"] and "groups" in meta["claims_supported"]


def test_e2e_groups_always_client_role_and_extra_claims(stack):
    claims, userinfo = login(stack, rp_for(stack, GRAFANA), "zhangsan")
    assert claims["groups"] == ["研发中心/平台部", "全体研发", "管理层"]  # no groups scope asked
    assert claims["role"] == "Admin"
    assert (claims["title"], claims["employee_no"], claims["leader"]) == ("平台部经理", "E0001",
                                                                         True)
    assert userinfo["role"] == "Admin"


def test_e2e_groups_role_from_department(stack):
    claims, _ = login(stack, rp_for(stack, GRAFANA), "zhaoliu")
    assert claims["role"] == "Editor"
    assert claims["groups"] == ["研发中心/前端组", "全体研发"]


def test_e2e_groups_directory_read_once_across_logins(stack):
    # The first login reads the directory unless an earlier test already did; from then
    # on it comes from the store, whichever worker answers.
    login(stack, RelyingParty(stack, scope="openid groups"), "zhangsan")
    read = stack.calls("department/list")
    for userid in ("zhaoliu", "sunqi", "lisi"):
        login(stack, RelyingParty(stack, scope="openid groups"), userid)
    assert stack.calls("department/list") == read


def test_e2e_groups_policy_allows_member_of_sub_department(stack):
    claims, _ = login(stack, rp_for(stack, SRE_ONLY), "lisi")
    assert claims["sub"] == "lisi"


def test_e2e_groups_policy_denied_page_then_access_denied_to_client(stack):
    rp = rp_for(stack, SRE_ONLY)
    started = rp.start()
    page = scan(stack, browser(), started["url"], "sunqi")
    assert page.status_code == 403
    assert "没有使用此应用的权限" in page.text
    back = urlsplit(back_link(page))
    assert f"{back.scheme}://{back.netloc}{back.path}" == SRE_ONLY[2]
    query = parse_qs(back.query)
    assert query["error"] == ["access_denied"] and query["state"] == [started["state"]]


def test_e2e_groups_policy_denied_page_in_english(stack):
    rp = rp_for(stack, SRE_ONLY)
    b = browser()
    b.headers["Accept-Language"] = "en"
    page = scan(stack, b, rp.start()["url"], "zhaoliu")
    assert page.status_code == 403 and "do not have access" in page.text


def test_e2e_groups_policy_enforced_on_bridge_session(stack):
    b = browser()
    login(stack, RelyingParty(stack), "sunqi", b=b)  # a bridge session as sunqi
    pages = stack.calls("wwlogin/sso/login")
    started = rp_for(stack, SRE_ONLY).start()
    page = b.get(started["url"], allow_redirects=False)
    assert page.status_code == 403  # answered from the session: no WeCom scan
    assert stack.calls("wwlogin/sso/login") == pages
    assert parse_qs(urlsplit(back_link(page)).query)["error"] == ["access_denied"]


def test_e2e_groups_policy_prompt_none_redirects_access_denied(stack):
    b = browser()
    login(stack, RelyingParty(stack), "sunqi", b=b)
    started = rp_for(stack, SRE_ONLY).start(prompt="none")
    r = b.get(started["url"], allow_redirects=False)
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["access_denied"]


def test_e2e_groups_session_answers_allowed_member_with_their_claims(stack):
    b = browser()
    login(stack, RelyingParty(stack), "wangwu", b=b)
    rp = rp_for(stack, GRAFANA)
    started = rp.start()
    _, claims, _ = rp.finish(follow_to_client(b, started["url"]), started)
    assert claims["role"] == "Admin" and claims["title"] == "研发总监"


def test_e2e_groups_kept_in_refreshed_id_token(stack):
    rp = RelyingParty(stack, public=True, scope="openid groups offline_access")
    started = rp.start()
    token, claims, _ = rp.finish(qr_login(stack, started["url"], "lisi"), started)
    refreshed = rp.refresh(token["refresh_token"])
    assert rp.id_claims(refreshed)["groups"] == claims["groups"] == [
        "研发中心/平台部/SRE组", "值班", "全体研发"]
