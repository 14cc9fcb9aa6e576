"""Per-client claims and access policy through the Flask app over the fake upstream:
the code path, the ID token, and refresh (the member is re-checked and may lose access)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import (
    APP_ID,
    APP_REDIRECT,
    APP_SECRET,
    PEOPLE,
    FakeUpstream,
    basic_auth,
    exchange,
    finish_login,
    login,
    start_login,
)

from wecom_oidc.identity import Identity

RESTRICTED = """
[[clients]]
client_id = "hr"
client_secret = "hr-secret-0123456789-0123456789a"
redirect_uris = ["https://hr.example.com/cb"]
allow_departments = ["2"]
extra_claims = { dept = "department_ids" }
"""
HR = ("hr", "hr-secret-0123456789-0123456789a", "https://hr.example.com/cb")


class MovingUpstream(FakeUpstream):
    """Refresh re-reads the member; `moved` puts them in another department."""

    moved = False

    def refresh(self, identity: Identity) -> Identity:
        current = PEOPLE[identity.subject]
        return replace(current, departments=(6,), main_department=6) if self.moved else current


@pytest.fixture
def upstream() -> MovingUpstream:
    return MovingUpstream()


@pytest.fixture
def hr_app(build_app):
    return build_app(extra=RESTRICTED)[0].test_client()


def hr_tokens(http, userid="zhangsan"):
    code = login(http, userid, client_id=HR[0], redirect_uri=HR[2],
                 scope="openid groups offline_access")
    resp = exchange(http, code, client_id=HR[0], secret=HR[1], redirect_uri=HR[2])
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def refresh(http, refresh_token):
    return http.post("/token", data={"grant_type": "refresh_token",
                                     "refresh_token": refresh_token},
                     headers=basic_auth(HR[0], HR[1]))


def test_policy_member_of_allowed_department_gets_code_and_extra_claim(hr_app):
    body = hr_tokens(hr_app)
    userinfo = hr_app.get("/userinfo", headers={
        "Authorization": f"Bearer {body['access_token']}"}).get_json()
    assert userinfo["dept"] == [2] and userinfo["groups"] == []


def test_policy_outsider_gets_403_page_with_access_denied_back_link(hr_app):
    state = start_login(hr_app, client_id=HR[0], redirect_uri=HR[2])
    page = finish_login(hr_app, state, "lisi")  # lisi has no department
    assert page.status_code == 403
    assert "access_denied" in page.get_data(as_text=True)


def test_policy_other_client_unaffected(hr_app):
    code = login(hr_app, "lisi")
    assert exchange(hr_app, code, APP_ID, APP_SECRET, APP_REDIRECT).status_code == 200


def test_policy_rechecked_at_refresh(hr_app, upstream):
    body = hr_tokens(hr_app)
    upstream.moved = True  # moved to a department outside allow_departments
    resp = refresh(hr_app, body["refresh_token"])
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_grant"


def test_policy_extra_claims_kept_at_refresh(hr_app):
    body = refresh(hr_app, hr_tokens(hr_app)["refresh_token"]).get_json()
    userinfo = hr_app.get("/userinfo", headers={
        "Authorization": f"Bearer {body['access_token']}"}).get_json()
    assert userinfo["dept"] == [2] and "groups" in userinfo


def test_discovery_lists_configured_custom_claims(build_app):
    extra = RESTRICTED.replace('extra_claims = { dept = "department_ids" }',
                               'extra_claims = { dept = "department_ids" }\n'
                               'roles = { Admin = ["tag:管理层"] }\nrole_claim = "grafana_role"')
    meta = build_app(extra=extra)[0].test_client().get(
        "/.well-known/openid-configuration").get_json()
    assert {"dept", "grafana_role", "groups", "sub"} <= set(meta["claims_supported"])
    assert len(meta["claims_supported"]) == len(set(meta["claims_supported"]))
