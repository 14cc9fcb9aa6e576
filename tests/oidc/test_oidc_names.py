"""family_name / given_name split from a member's name (Keycloak requires a last name)."""

from __future__ import annotations

import pytest

from wecom_oidc.oidc.names import split_name


@pytest.mark.parametrize(("name", "family", "given"), [
    ("张三", "张", "三"),
    ("王小明", "王", "小明"),
    ("欧阳修", "欧阳", "修"),          # a listed two-character surname
    ("司马相如", "司马", "相如"),
    ("欧阳", "欧", "阳"),              # two characters: never all surname
    ("Alice Smith", "Smith", "Alice"),  # given-name-first, as Keycloak splits
    ("Mary Ann Lee", "Lee", "Mary Ann"),
    ("约翰·史密斯", "史密斯", "约翰"),   # middle-dot transliteration
    ("张三 ", "张", "三"),
])
def test_split_name_family_and_given(name, family, given):
    assert split_name(name) == (family, given)


@pytest.mark.parametrize("name", ["张", "Alice", "ZHANG"])
def test_split_name_unsplittable_is_both(name):
    # An app that requires both (Keycloak's default user profile) still gets a value.
    assert split_name(name) == (name, name)
