"""Email policy (source order, verified domains, template) and the WeCom upstream's
directory fields: placement, neutral attributes, consented fields kept at refresh."""

from __future__ import annotations

import pytest
from groups_support import FakeDirectoryApi

from wecom_oidc.config import ClaimsSettings, Secret, WecomSettings
from wecom_oidc.errors import DirectoryUnavailable
from wecom_oidc.identity import Identity
from wecom_oidc.oidc.claims import all_claims
from wecom_oidc.store import MemoryStore
from wecom_oidc.upstream.directory import DirectoryCache
from wecom_oidc.upstream.wecom import WecomUpstream, attributes

BOTH = Identity(subject="lisi", email="lisi@gmail.example", biz_mail="lisi@corp.example")


def test_email_default_order_email_first():
    assert all_claims(BOTH, ClaimsSettings())["email"] == "lisi@gmail.example"


def test_email_sources_biz_mail_first():
    c = all_claims(BOTH, ClaimsSettings(email_sources=("biz_mail", "email")))
    assert c["email"] == "lisi@corp.example"


def test_email_sources_biz_mail_only_falls_back_to_template():
    who = Identity(subject="lisi", email="lisi@gmail.example")
    c = all_claims(who, ClaimsSettings(email_sources=("biz_mail",),
                                       email_template="{userid}@corp.example"))
    assert c["email"] == "lisi@corp.example" and c["email_verified"] is False


def test_email_verified_by_domain():
    s = ClaimsSettings(email_sources=("biz_mail", "email"),
                       verified_email_domains=("corp.example",))
    assert all_claims(BOTH, s)["email_verified"] is True
    s = ClaimsSettings(verified_email_domains=("corp.example",))
    assert all_claims(BOTH, s)["email_verified"] is False  # gmail.example comes first


def test_email_wecom_verified_covers_every_wecom_address():
    assert all_claims(BOTH, ClaimsSettings(wecom_email_verified=True))["email_verified"] is True


MEMBER = {
    "userid": "zhangsan", "name": "张三", "department": [3], "main_department": 3,
    "is_leader_in_dept": [1], "direct_leader": ["wangwu"], "position": "平台部经理",
    "status": 1, "english_name": "Zhang San",
    "extattr": {"attrs": [{"type": 0, "name": "工号", "text": {"value": "E0001"}},
                          {"type": 1, "name": "主页", "web": {"url": "https://e.example/~zs",
                                                              "title": "主页"}}]},
}


def test_attributes_neutral_names():
    assert attributes(MEMBER, (3,)) == {
        "is_leader": True, "leader_of": [3], "direct_leader": ["wangwu"],
        "english_name": "Zhang San", "extattr.工号": "E0001", "extattr.主页": "https://e.example/~zs"}


class FakeWecom(FakeDirectoryApi):
    def member(self, userid: str) -> dict:
        return dict(MEMBER)


def upstream(api) -> WecomUpstream:
    store = MemoryStore()
    directory = DirectoryCache(api, store, cache_key="k", spawn=lambda fn: fn())
    return WecomUpstream(WecomSettings(corp_id="ww1", agent_id=1, secret=Secret("s")), api,
                         directory)


def test_refresh_reads_only_the_member_not_the_directory():
    api = FakeWecom()
    fresh = upstream(api).refresh(Identity(subject="zhangsan"))
    assert api.calls == 0  # department/list, tag/list, tag/get are left to place()
    assert fresh.unplaced and fresh.department_paths == () and fresh.tags == ()
    assert fresh.department_lineage == fresh.departments == (3,)


def test_place_adds_paths_lineage_and_tags():
    wecom = upstream(FakeWecom())
    placed = wecom.place(wecom.refresh(Identity(subject="zhangsan")))
    assert not placed.unplaced
    assert placed.department_paths == (("研发中心", "平台部"),)
    assert placed.department_lineage == (1, 2, 3)
    assert placed.tags == ("全体研发", "管理层")


def test_place_directory_refused_raises_directory_unavailable_with_errcode():
    api = FakeWecom()
    wecom = upstream(api)
    identity = wecom.refresh(Identity(subject="zhangsan"))
    api.fail = True
    with pytest.raises(DirectoryUnavailable) as caught:
        wecom.place(identity)
    assert caught.value.status == 503 and caught.value.code == -1


def test_refresh_keeps_consented_fields_user_get_no_longer_returns():
    before = Identity(subject="zhangsan", email="zs@corp.example", phone="138", gender="male")
    fresh = upstream(FakeWecom()).refresh(before)
    assert (fresh.email, fresh.phone, fresh.gender) == ("zs@corp.example", "138", "male")
    assert fresh.position == "平台部经理"


def test_identity_record_round_trip_and_old_records_load():
    fresh = upstream(FakeWecom()).refresh(Identity(subject="zhangsan"))
    assert Identity.from_record(fresh.to_record()) == fresh
    old = {"subject": "lisi", "departments": [4], "extra": {"extattr": {}}}
    assert Identity.from_record(old).departments == (4,)
