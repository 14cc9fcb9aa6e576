"""Claims per scope and the email policy: WeCom's address, else biz_mail, else the
template; verified only when the admin declares it."""

from __future__ import annotations

from wecom_oidc.config import ClaimsSettings
from wecom_oidc.identity import Identity
from wecom_oidc.oidc.claims import all_claims, claims_for_scope

PERSON = Identity(subject="ZhangSan", name="张三", email="zs@corp.example", phone="138",
                  gender="male", picture="https://img.example/zs.png")


def test_claims_email_from_wecom_unverified_by_default():
    c = all_claims(PERSON, ClaimsSettings())
    assert c["email"] == "zs@corp.example" and c["email_verified"] is False


def test_claims_email_from_wecom_verified_when_declared():
    c = all_claims(PERSON, ClaimsSettings(wecom_email_verified=True))
    assert c["email_verified"] is True


def test_claims_biz_mail_used_when_no_email():
    who = Identity(subject="ww", biz_mail="ww@mail.corp.example")
    c = all_claims(who, ClaimsSettings(wecom_email_verified=True, email_template="{userid}@x"))
    assert c["email"] == "ww@mail.corp.example" and c["email_verified"] is True


def test_claims_template_used_when_wecom_gives_no_address():
    c = all_claims(Identity(subject="lisi"), ClaimsSettings(email_template="{userid}@corp.example",
                                                            wecom_email_verified=True))
    assert c["email"] == "lisi@corp.example"
    assert c["email_verified"] is False


def test_claims_template_verified_only_when_declared():
    settings = ClaimsSettings(email_template="{userid}@corp.example", template_email_verified=True)
    assert all_claims(Identity(subject="lisi"), settings)["email_verified"] is True


def test_claims_no_address_and_no_template_has_no_email():
    c = all_claims(Identity(subject="lisi"), ClaimsSettings())
    assert "email" not in c and "email_verified" not in c


def test_claims_phone_verified_per_config():
    assert all_claims(PERSON, ClaimsSettings())["phone_number_verified"] is False
    assert all_claims(PERSON, ClaimsSettings(wecom_phone_verified=True))[
        "phone_number_verified"] is True


def test_claims_preferred_username_lowercased_when_configured():
    c = all_claims(PERSON, ClaimsSettings(lowercase_username=True))
    assert c["preferred_username"] == "zhangsan" and c["sub"] == "ZhangSan"


def test_claims_preferred_username_kept_by_default():
    assert all_claims(PERSON, ClaimsSettings())["preferred_username"] == "ZhangSan"


def test_claims_for_scope_profile_only():
    c = claims_for_scope(all_claims(PERSON, ClaimsSettings()), "openid profile")
    assert set(c) == {"sub", "name", "preferred_username", "picture", "gender"}


def test_claims_for_scope_unknown_scope_releases_nothing_more():
    c = claims_for_scope(all_claims(PERSON, ClaimsSettings()), "openid groups address")
    assert c == {"sub": "ZhangSan"}
