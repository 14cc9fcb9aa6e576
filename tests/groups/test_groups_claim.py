"""The groups claim: paths, names, parents, tags (incl. departments inside tags),
prefixes, filters, cap and order; selectors."""

from __future__ import annotations

from groups_support import person

from wecom_oidc.config import GroupsSettings
from wecom_oidc.oidc.groups import groups_claim, in_department, matches

LISI = person("lisi", (4,))  # SRE组 < 平台部 < 研发中心; tags 值班, 全体研发 (via 研发中心)
SUNQI = person("sunqi", (6, 5), main=6)


def test_groups_default_paths_then_tags():
    assert groups_claim(LISI, GroupsSettings()) == ["研发中心/平台部/SRE组", "值班", "全体研发"]


def test_groups_names_only():
    assert groups_claim(LISI, GroupsSettings(departments="name", tags=False)) == ["SRE组"]


def test_groups_both_path_and_name():
    assert groups_claim(LISI, GroupsSettings(departments="both", tags=False)) == [
        "研发中心/平台部/SRE组", "SRE组"]


def test_groups_parents_nearest_first():
    assert groups_claim(LISI, GroupsSettings(parents=True, tags=False)) == [
        "研发中心/平台部/SRE组", "研发中心/平台部", "研发中心"]


def test_groups_departments_none_tags_only():
    assert groups_claim(LISI, GroupsSettings(departments="none")) == ["值班", "全体研发"]


def test_groups_main_department_first():
    assert groups_claim(SUNQI, GroupsSettings()) == ["市场部", "研发中心/前端组", "全体研发"]


def test_groups_tag_from_department_inside_tag():
    assert "全体研发" in groups_claim(SUNQI, GroupsSettings())


def test_groups_prefixes():
    got = groups_claim(LISI, GroupsSettings(prefix_department="dept:", prefix_tag="tag:"))
    assert got == ["dept:研发中心/平台部/SRE组", "tag:值班", "tag:全体研发"]


def test_groups_include_filter_on_final_value():
    s = GroupsSettings(prefix_tag="tag:", include=("^tag:",))
    assert groups_claim(LISI, s) == ["tag:值班", "tag:全体研发"]


def test_groups_exclude_filter():
    assert groups_claim(LISI, GroupsSettings(exclude=("值班",))) == [
        "研发中心/平台部/SRE组", "全体研发"]


def test_groups_cap_keeps_the_first():
    assert groups_claim(LISI, GroupsSettings(parents=True, max=2)) == [
        "研发中心/平台部/SRE组", "研发中心/平台部"]


def test_groups_deduplicated():
    s = GroupsSettings(departments="name", parents=True, tags=False)
    twice = person("x", (3, 4))
    assert groups_claim(twice, s) == ["平台部", "研发中心", "SRE组"]


def test_groups_unknown_department_left_out():
    assert groups_claim(person("wujiu", (7,)), GroupsSettings()) == ["财务审批"]


def test_in_department_by_id_includes_sub_departments():
    assert in_department(LISI, "2") and in_department(LISI, "4")
    assert not in_department(LISI, "5")


def test_in_department_by_path_includes_sub_departments():
    assert in_department(LISI, "研发中心/平台部")
    assert in_department(LISI, "研发中心/")
    assert not in_department(LISI, "研发中心/平台")  # a whole segment, not a string prefix


def test_matches_user_case_insensitive():
    assert matches(LISI, "user:LiSi", [])


def test_matches_tag_and_group():
    assert matches(LISI, "tag:值班", [])
    assert matches(LISI, "group:ops", ["ops"])
    assert not matches(LISI, "tag:管理层", [])
