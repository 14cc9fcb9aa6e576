"""/userinfo: Bearer in the header (GET and POST) or the form body, RFC 6750
challenges, only the granted scopes' claims, never cached."""

from __future__ import annotations

from fakes import exchange, login
from flask import jsonify


def token_for(http, userid: str = "zhangsan", scope: str = "openid profile email") -> str:
    return exchange(http, login(http, userid=userid, scope=scope)).get_json()["access_token"]


def test_userinfo_get_with_bearer_header_returns_claims(http):
    resp = http.get("/userinfo", headers={"Authorization": f"Bearer {token_for(http)}"})
    assert resp.status_code == 200
    assert resp.get_json() == {"sub": "zhangsan", "name": "张三", "preferred_username": "zhangsan",
                               "gender": "male", "email": "zhangsan@corp.example",
                               "email_verified": False}


def test_userinfo_body_is_what_jsonify_writes(http, app):
    resp = http.get("/userinfo", headers={"Authorization": f"Bearer {token_for(http)}"})
    with app.app_context():
        expected = jsonify(resp.get_json())
    assert resp.mimetype == "application/json"
    assert resp.data == expected.data and b"\\u5f20\\u4e09" in resp.data  # sorted, ASCII


def test_userinfo_bearer_scheme_is_case_insensitive(http):
    resp = http.get("/userinfo", headers={"Authorization": f"bearer {token_for(http)}"})
    assert resp.status_code == 200


def test_userinfo_post_with_bearer_header_returns_claims(http):
    resp = http.post("/userinfo", headers={"Authorization": f"Bearer {token_for(http)}"})
    assert resp.status_code == 200 and resp.get_json()["sub"] == "zhangsan"


def test_userinfo_post_with_form_token_returns_claims(http):
    resp = http.post("/userinfo", data={"access_token": token_for(http)})
    assert resp.status_code == 200 and resp.get_json()["sub"] == "zhangsan"


def test_userinfo_get_with_query_token_is_refused(http):
    resp = http.get("/userinfo", query_string={"access_token": token_for(http)})
    assert resp.status_code == 401


def test_userinfo_response_is_not_cacheable(http):
    resp = http.get("/userinfo", headers={"Authorization": f"Bearer {token_for(http)}"})
    assert resp.headers["Cache-Control"] == "no-store"


def test_userinfo_missing_token_is_401_bare_bearer_challenge(http):
    resp = http.get("/userinfo")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert resp.headers["Cache-Control"] == "no-store"


def test_userinfo_bad_token_is_401_invalid_token_challenge(http):
    resp = http.get("/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert resp.get_json()["error"] == "invalid_token"


def test_userinfo_basic_auth_is_treated_as_missing_token(http):
    resp = http.get("/userinfo", headers={"Authorization": "Basic YTpi"})
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Bearer"


def test_userinfo_profile_without_email_has_no_email(http):
    token = token_for(http, scope="openid profile")
    claims = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert "email" not in claims and claims["name"] == "张三"


def test_userinfo_biz_mail_is_the_email_when_no_personal_one(http):
    token = token_for(http, userid="wangwu", scope="openid email")
    claims = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert claims == {"sub": "wangwu", "email": "wangwu@mail.corp.example",
                      "email_verified": False}


def test_userinfo_email_template_for_person_without_address(build_app):
    app, _ = build_app(extra='[claims]\nemail_template = "{userid}@corp.example"\n'
                             "template_email_verified = true\n")
    http = app.test_client()
    token = token_for(http, userid="lisi", scope="openid email")
    claims = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert claims["email"] == "lisi@corp.example" and claims["email_verified"] is True


def test_userinfo_wecom_email_verified_when_declared(build_app):
    app, _ = build_app(extra="[claims]\nwecom_email_verified = true\n")
    http = app.test_client()
    token = token_for(http, scope="openid email")
    claims = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert claims["email_verified"] is True


def test_userinfo_claims_in_id_token_off_still_serves_claims(build_app):
    app, _ = build_app(extra="[claims]\nclaims_in_id_token = false\n")
    http = app.test_client()
    token = token_for(http, scope="openid profile")
    claims = http.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert claims["name"] == "张三"
