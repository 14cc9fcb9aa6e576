"""user/get, department/list and simplelist, tag/list and tag/get (§5, §6)."""

from __future__ import annotations

from emu_support import CORP, SECRET, api

from wecom_oidc.emulator.app import create_emulator_app
from wecom_oidc.emulator.config import EmulatorConfig

PRIVATE = ("mobile", "email", "avatar", "thumb_avatar", "gender", "biz_mail", "qr_code",
           "address")


def test_user_get_new_app_returns_member_without_private_fields(client, token):
    body = api(client, "user/get", token, userid="zhangsan")
    assert body["errcode"] == 0
    assert body["name"] == "张三" and body["department"] == [3] and body["status"] == 1
    assert body["main_department"] == 3 and body["direct_leader"] == ["wangwu"]
    assert body["extattr"]["attrs"][0]["text"]["value"] == "E0001"
    assert not [k for k in PRIVATE if k in body]


def test_user_get_old_app_returns_private_fields():
    client = create_emulator_app(EmulatorConfig(app_created_after_2022_06_20=False)).test_client()
    token = client.get("/cgi-bin/gettoken", query_string={"corpid": CORP,
                                                          "corpsecret": SECRET}).json
    body = api(client, "user/get", token["access_token"], userid="zhangsan")
    assert body["mobile"] == "13800000001" and body["email"] == "zhangsan@example.com"
    assert body["gender"] == "1" and body["avatar"]


def test_user_get_userid_is_case_insensitive(client, token):
    assert api(client, "user/get", token, userid="ZhangSan")["userid"] == "zhangsan"


def test_user_get_outside_visible_range_answers_60011(client, token):
    assert api(client, "user/get", token, userid="wujiu")["errcode"] == 60011


def test_user_get_unknown_user_answers_60111(client, token):
    assert api(client, "user/get", token, userid="nobody")["errcode"] == 60111


def test_user_get_non_member_id_answers_60111(client, token):
    assert api(client, "user/get", token, userid="outsider")["errcode"] == 60111


def test_user_get_missing_userid_answers_41009(client, token):
    assert api(client, "user/get", token)["errcode"] == 41009


def test_user_get_disabled_member_has_status_2_and_enable_0(client, token):
    body = api(client, "user/get", token, userid="disabled")
    assert body["status"] == 2 and body["enable"] == 0


def test_user_get_departed_member_has_status_5(client, token):
    assert api(client, "user/get", token, userid="departed")["status"] == 5


def test_user_get_not_activated_member_has_status_4(client, token):
    assert api(client, "user/get", token, userid="zhengshi")["status"] == 4


def test_user_get_untrusted_ip_answers_60020(app, client, token):
    app.extensions["wecom_emulator"].config.trusted_ips = ["10.0.0.1"]
    body = api(client, "user/get", token, userid="zhangsan")
    assert body["errcode"] == 60020 and "from ip: 127.0.0.1" in body["errmsg"]


def test_gettoken_untrusted_ip_still_succeeds(app, client):
    app.extensions["wecom_emulator"].config.trusted_ips = ["10.0.0.1"]
    body = client.get("/cgi-bin/gettoken", query_string={"corpid": CORP,
                                                         "corpsecret": SECRET}).json
    assert body["errcode"] == 0


def test_user_get_trusted_ip_succeeds(app, client, token):
    app.extensions["wecom_emulator"].config.trusted_ips = ["127.0.0.1"]
    assert api(client, "user/get", token, userid="zhangsan")["errcode"] == 0


def test_department_list_all_returns_visible_tree_only(client, token):
    body = api(client, "department/list", token)
    ids = [d["id"] for d in body["department"]]
    assert sorted(ids) == [2, 3, 4, 5, 6]  # Finance (7) and the root are outside the range
    sre = next(d for d in body["department"] if d["id"] == 4)
    assert sre == {"id": 4, "name": "SRE组", "name_en": "SRE", "department_leader": ["lisi"],
                   "parentid": 3, "order": 99997000}


def test_department_list_with_id_returns_subtree(client, token):
    ids = [d["id"] for d in api(client, "department/list", token, id=3)["department"]]
    assert ids == [3, 4]


def test_department_list_unknown_id_answers_60003(client, token):
    body = api(client, "department/list", token, id=99)
    assert body["errcode"] == 60003 and body["department"] == []


def test_department_list_invisible_id_answers_60011(client, token):
    assert api(client, "department/list", token, id=7)["errcode"] == 60011


def test_department_simplelist_returns_ids_without_names(client, token):
    body = api(client, "department/simplelist", token, id=2)
    assert body["department_id"] == [{"id": 2, "parentid": 1, "order": 99999000},
                                     {"id": 3, "parentid": 2, "order": 99998000},
                                     {"id": 5, "parentid": 2, "order": 99996000},
                                     {"id": 4, "parentid": 3, "order": 99997000}]


def test_department_simplelist_invisible_id_answers_60011(client, token):
    body = api(client, "department/simplelist", token, id=7)
    assert body["errcode"] == 60011 and body["department_id"] == []


def test_tag_list_returns_all_tags(client, token):
    body = api(client, "tag/list", token)
    assert {"tagid": 1, "tagname": "全体研发"} in body["taglist"]
    assert len(body["taglist"]) == 4


def test_tag_get_lists_visible_users_and_departments(client, token):
    body = api(client, "tag/get", token, tagid=4)
    assert body["tagname"] == "财务审批"
    assert body["userlist"] == []  # wujiu is outside the visible range
    assert body["partylist"] == [7]


def test_tag_get_users_have_userid_and_name(client, token):
    body = api(client, "tag/get", token, tagid=2)
    assert body["userlist"] == [{"userid": "lisi", "name": "李四"},
                                {"userid": "zhengshi", "name": "郑十"}]


def test_tag_get_unknown_tag_answers_40068(client, token):
    assert api(client, "tag/get", token, tagid=99)["errcode"] == 40068
