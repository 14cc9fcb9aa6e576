"""A person's name split into family and given name, for apps that require both.

Keycloak (24+) requires a last name and, given only `name`, splits it at the last
space: a Chinese name (张三, no space) leaves the last name empty. The extra-claim
sources `family_name` / `given_name` give it the two parts instead.
"""

from __future__ import annotations

# Two-character (复姓) surnames; any other Chinese name has a one-character surname.
COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
    "司徒", "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "申屠", "太史", "司空",
    "闻人", "百里", "呼延", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "钟离", "赫连",
))
# Spaces, and the middle dots of transliterated names (约翰·史密斯, 阿依古丽·买买提).
_SEPARATORS = (" ", "\u3000", "·", "・", "•")


def split_name(name: str) -> tuple[str, str]:
    """(family, given). Han names: the surname first (复姓 when listed). Names with a
    space or a middle dot: the last part is the family name, the rest the given name
    (given-name-first order, as Keycloak itself splits). A name that cannot be split
    (one character, one word) is both, so an app that requires both has a value."""
    name = name.strip()
    for sep in _SEPARATORS:
        if sep in name:
            given, _, family = name.rpartition(sep)
            given, family = given.strip(), family.strip()
            if given and family:
                return family, given
    if len(name) >= 2 and all(_is_han(ch) for ch in name):
        size = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
        return name[:size], name[size:]
    return name, name


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FA1F
            or 0xF900 <= cp <= 0xFAFF)
