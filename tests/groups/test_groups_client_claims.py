"""Per-client claims and policy: groups by scope or always, extra-claim mapping,
roles, access policy; and the config syntax for them."""

from __future__ import annotations

import pytest
from groups_support import client, person, settings

from wecom_oidc.config import load_settings
from wecom_oidc.errors import ConfigError, PolicyDenied
from wecom_oidc.oidc.claims import claims_for_scope
from wecom_oidc.oidc.client_claims import for_client
from wecom_oidc.oidc.models import User

ZHANGSAN = person(
    "zhangsan", (3,), name="张三", position="平台部经理", alias="三哥",
    attributes={"is_leader": True, "leader_of": [3], "direct_leader": ["wangwu"],
                "extattr.工号": "E0001"})


def user(identity=ZHANGSAN) -> User:
    return User(identity.subject, {"sub": identity.subject, "name": identity.name}, 1, "sid",
                identity.to_record())


def test_for_client_groups_only_with_scope():
    s = settings(client())
    assert "groups" not in for_client(s, user(), "app", "openid").claims
    assert for_client(s, user(), "app", "openid groups").claims["groups"] == [
        "研发中心/平台部", "全体研发", "管理层"]


def test_for_client_groups_always():
    s = settings(client(groups="always"))
    assert "groups" in for_client(s, user(), "app", "openid").claims


def test_for_client_groups_never():
    s = settings(client(groups="never"))
    assert "groups" not in for_client(s, user(), "app", "openid groups").claims


def test_for_client_groups_survive_scope_filter():
    claims = for_client(settings(client()), user(), "app", "openid groups").claims
    assert claims_for_scope(claims, "openid groups")["groups"]


def test_for_client_extra_claims_mapping():
    c = client(extra_claims=(("title", "position"), ("leader", "is_leader"),
                             ("employee_no", "extattr.工号"), ("dept", "main_department"),
                             ("manager", "direct_leader"), ("leads", "leader_of"),
                             ("nick", "alias"), ("dept_id", "main_department_id")))
    claims = for_client(settings(c), user(), "app", "openid").claims
    assert {k: claims[k] for k in ("title", "leader", "employee_no", "dept", "manager",
                                   "leads", "nick", "dept_id")} == {
        "title": "平台部经理", "leader": True, "employee_no": "E0001", "dept": "研发中心/平台部",
        "manager": ["wangwu"], "leads": ["研发中心/平台部"], "nick": "三哥", "dept_id": 3}


def test_for_client_extra_claim_missing_source_left_out():
    c = client(extra_claims=(("badge", "extattr.门禁卡"), ("nick", "alias")))
    claims = for_client(settings(c), user(person("lisi", (4,))), "app", "openid").claims
    assert "badge" not in claims and "nick" not in claims


def test_for_client_extra_claims_released_without_extra_scope():
    c = client(extra_claims=(("title", "position"),))
    claims = for_client(settings(c), user(), "app", "openid").claims
    assert claims_for_scope(claims, "openid") == {"sub": "zhangsan", "title": "平台部经理"}


def test_for_client_is_idempotent_and_drops_stale_extras():
    once = for_client(settings(client(extra_claims=(("title", "position"),))), user(),
                      "app", "openid")
    again = for_client(settings(client()), once, "app", "openid")
    assert again.claims == {"sub": "zhangsan", "name": "张三"}


def test_role_first_match_in_config_order():
    c = client(roles=(("Admin", ("tag:管理层",)), ("Editor", ("dept:研发中心",))))
    assert for_client(settings(c), user(), "app", "openid").claims["role"] == "Admin"
    lisi = person("lisi", (4,))
    assert for_client(settings(c), user(lisi), "app", "openid").claims["role"] == "Editor"


def test_role_default_when_nothing_matches():
    c = client(roles=(("Admin", ("user:wangwu",)),), role_default="Viewer",
               role_claim="grafana_role")
    claims = for_client(settings(c), user(), "app", "openid").claims
    assert claims["grafana_role"] == "Viewer" and "role" not in claims


def test_role_without_default_no_claim():
    c = client(roles=(("Admin", ("user:wangwu",)),))
    assert "role" not in for_client(settings(c), user(), "app", "openid").claims


def test_policy_empty_allows_everyone():
    for_client(settings(client()), user(person("sunqi", (6,))), "app", "openid")


def test_policy_department_includes_sub_departments():
    c = client(allow_departments=("研发中心",))
    for_client(settings(c), user(person("lisi", (4,))), "app", "openid")
    with pytest.raises(PolicyDenied) as e:
        for_client(settings(c), user(person("sunqi", (6,))), "app", "openid")
    assert e.value.reason == "policy" and e.value.status == 403


def test_policy_department_by_id():
    c = client(allow_departments=("3",))
    for_client(settings(c), user(person("lisi", (4,))), "app", "openid")
    with pytest.raises(PolicyDenied):
        for_client(settings(c), user(person("zhaoliu", (5,))), "app", "openid")


def test_policy_users_case_insensitive_and_tags():
    c = client(allow_users=("SunQi",), allow_tags=("值班",))
    for_client(settings(c), user(person("sunqi", (6,))), "app", "openid")
    for_client(settings(c), user(person("lisi", (4,))), "app", "openid")
    with pytest.raises(PolicyDenied):
        for_client(settings(c), user(person("zhaoliu", (5,))), "app", "openid")


def test_for_client_unknown_client_unchanged():
    u = user()
    assert for_client(settings(client()), u, "nobody", "openid groups") is u


# --- config syntax ----------------------------------------------------------------------

BASE = """
issuer = "https://sso.example.com"
[wecom]
corp_id = "ww1"
agent_id = 1
secret = "s"
"""


def load(tmp_path, text: str, env: dict | None = None):
    p = tmp_path / "c.toml"
    p.write_text(BASE + text, encoding="utf-8")
    return load_settings(str(p), env=env or {})


def test_config_client_groups_claims_roles_policy(tmp_path):
    s = load(tmp_path, """
[groups]
departments = "both"
parents = true
prefix_tag = "tag:"
exclude = ["^临时"]
max = 20

[[clients]]
client_id = "grafana"
redirect_uris = ["https://g.example.com/cb"]
groups = "always"
extra_claims = { title = "position", employee_no = "extattr.工号" }
roles = { Admin = ["tag:管理层"], Editor = ["dept:研发中心", "dept:6"] }
role_default = "Viewer"
allow_departments = [2, "市场部"]
allow_tags = ["值班"]
""")
    c = s.clients[0]
    assert c.groups == "always"
    assert c.extra_claims == (("title", "position"), ("employee_no", "extattr.工号"))
    assert c.roles == (("Admin", ("tag:管理层",)), ("Editor", ("dept:研发中心", "dept:6")))
    assert c.allow_departments == ("2", "市场部") and c.restricted
    assert s.groups.departments == "both" and s.groups.max == 20 and s.groups.parents


def test_config_roles_and_extra_claims_from_environment(tmp_path):
    env = {"WECOM_OIDC_CLIENTS": '[{"client_id": "a", "redirect_uris": ["https://a/cb"], '
                                 '"extra_claims": "{\\"title\\": \\"position\\"}", '
                                 '"roles": {"Admin": ["user:wangwu"]}}]'}
    s = load(tmp_path, "", env)
    assert s.clients[0].extra_claims == (("title", "position"),)
    assert s.clients[0].roles == (("Admin", ("user:wangwu",)),)


def test_config_reports_every_groups_problem(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, """
[groups]
departments = "tree"
include = ["("]
max = 0

[claims]
email_sources = ["email", "mobile"]

[[clients]]
client_id = "a"
redirect_uris = ["https://a/cb"]
groups = "sometimes"
extra_claims = { email = "position", x = "salary" }
roles = { Admin = ["team:ops"] }
""")
    text = "\n".join(e.value.problems)
    for key in ("groups.departments", "groups.include[0]", "groups.max", "claims.email_sources",
                "clients[0].groups", "clients[0].extra_claims.email",
                "clients[0].extra_claims.x", "clients[0].roles.Admin[0]"):
        assert key in text, key


def test_config_example_documents_groups_roles_and_policy():
    s = load_settings("config.example.toml", env={})
    grafana, kubelogin = s.clients
    assert s.groups.departments == "path" and s.wecom.directory_ttl == 600
    assert grafana.roles[0] == ("Admin", ("tag:管理层",)) and grafana.role_default == "Viewer"
    assert kubelogin.groups == "always" and kubelogin.restricted
