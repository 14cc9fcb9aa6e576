"""The emulated address book (通讯录) and the app's visible range (可见范围).

File format (TOML, or JSON with the same structure; see sample_directory.toml)::

    [corp]            name, name_en: shown on the login pages
    [visible_range]   departments (ids, subtrees included), users (userids), tags (tagids);
                      omitted = the whole corp
    [[departments]]   id, name, name_en, parentid (0 for the root, id 1), order,
                      department_leader (userids)
    [[members]]       userid (required), name (required), department (ids, required), and
                      any user/get field: order, main_department, position, mobile, gender
                      ("0"/"1"/"2"), email, biz_mail, is_leader_in_dept, direct_leader,
                      avatar, thumb_avatar, telephone, alias, english_name, address,
                      qr_code, extattr, external_position, external_profile,
                      status (1 active, 2 disabled, 4 not activated, 5 departed)
    [[tags]]          tagid, tagname, users (userids), departments (ids)
    [[non_members]]   id (what the login pages and /_emulator/login call them), name,
                      openid, external_userid (optional)
"""

from __future__ import annotations

import copy
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).with_name("sample_directory.toml")

# user/get drops these for apps created after 2022-06-20 (wecom-api.md §5).
PRIVATE_FIELDS = ("mobile", "email", "avatar", "thumb_avatar", "gender", "biz_mail",
                  "qr_code", "address")
# What auth/getuserdetail may return after consent (§5): no name, no department.
DETAIL_FIELDS = ("gender", "avatar", "qr_code", "mobile", "email", "biz_mail", "address")
DEFAULT_AVATAR = "https://wework.qpic.cn/wwhead/emulated-default/0"
# Key order of a real user/get answer, so diffs against captures stay readable.
_USER_GET_ORDER = (
    "userid", "name", "department", "order", "position", "mobile", "gender", "email",
    "biz_mail", "is_leader_in_dept", "direct_leader", "avatar", "thumb_avatar", "telephone",
    "alias", "address", "main_department", "extattr", "status", "qr_code", "english_name",
    "external_position", "external_profile",
)


class DirectoryError(ValueError):
    """The directory file is inconsistent; the message lists every problem."""


@dataclass
class Directory:
    corp: dict[str, Any]
    departments: dict[int, dict[str, Any]]
    members: dict[str, dict[str, Any]]  # key: userid lowercased (userids are case-insensitive)
    tags: dict[int, dict[str, Any]]
    non_members: dict[str, dict[str, Any]]  # key: id
    visible: dict[str, list[Any]] = field(default_factory=dict)

    def member(self, userid: str) -> dict[str, Any] | None:
        return self.members.get(userid.lower())

    def subtree(self, dept_id: int) -> list[int]:
        """dept_id and every department below it, parents first."""
        out, todo = [], [dept_id]
        while todo:
            d = todo.pop(0)
            out.append(d)
            todo += [c for c, dep in self.departments.items() if dep["parentid"] == d]
        return out

    def visible_departments(self) -> set[int]:
        depts = set()
        for d in self.visible.get("departments", []):
            depts.update(self.subtree(d))
        for t in self.visible.get("tags", []):
            for d in self.tags.get(t, {}).get("departments", []):
                depts.update(self.subtree(d))
        return depts

    def is_visible(self, member: dict[str, Any]) -> bool:
        """In the app's visible range: by department (subtree), by userid or by tag."""
        userid = member["userid"].lower()
        if userid in {u.lower() for u in self.visible.get("users", [])}:
            return True
        for t in self.visible.get("tags", []):
            if userid in {u.lower() for u in self.tags.get(t, {}).get("users", [])}:
                return True
        return bool(self.visible_departments() & set(member["department"]))

    def people(self) -> list[tuple[str, str, bool]]:
        """(login id, name, is_member) for every person who can open a login page."""
        out = [(m["userid"], m["name"], True) for m in self.members.values()]
        return out + [(n["id"], n["name"], False) for n in self.non_members.values()]


def user_get_view(member: dict[str, Any], *, drop_private: bool) -> dict[str, Any]:
    """The body of user/get for one member (errcode/errmsg added by the caller)."""
    view = {k: copy.deepcopy(member[k]) for k in _USER_GET_ORDER if k in member}
    view["enable"] = 0 if member["status"] == 2 else 1
    if drop_private:
        for k in PRIVATE_FIELDS:
            view.pop(k, None)
    return view


def detail_view(member: dict[str, Any]) -> dict[str, Any]:
    """auth/getuserdetail: gender as a string, default avatar, no name (§5)."""
    view: dict[str, Any] = {"userid": member["userid"], "gender": str(member.get("gender", "0"))}
    view["avatar"] = member.get("avatar") or DEFAULT_AVATAR
    for k in DETAIL_FIELDS:
        if k not in view and member.get(k):
            view[k] = member[k]
    return view


def load_directory(path: str | Path | None = None) -> Directory:
    """Load a TOML or JSON directory (None = the shipped sample) and check it."""
    path = Path(path) if path else SAMPLE
    if path.suffix.lower() == ".json":
        raw = json.loads(path.read_text(encoding="utf-8"))
    else:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    return build_directory(raw, source=path.name)


def build_directory(raw: dict[str, Any], source: str = "directory") -> Directory:
    problems: list[str] = []
    depts = {}
    for d in raw.get("departments", []):
        d = {"name_en": "", "parentid": 1, "order": 0, "department_leader": [], **d}
        depts[int(d["id"])] = d
    if 1 not in depts:
        problems.append("no root department (id 1)")
    for d in depts.values():
        if d["id"] != 1 and d["parentid"] not in depts:
            problems.append(f"department {d['id']}: parent {d['parentid']} unknown")
    members = {}
    for m in raw.get("members", []):
        missing = [k for k in ("userid", "name", "department") if k not in m]
        if missing:
            problems.append(f"member {m.get('userid', '?')}: missing {', '.join(missing)}")
            continue
        members[m["userid"].lower()] = _member_defaults(m)
        for d in m["department"]:
            if d not in depts:
                problems.append(f"member {m['userid']}: department {d} unknown")
    tags = {int(t["tagid"]): {"users": [], "departments": [], **t} for t in raw.get("tags", [])}
    non_members = {n["id"]: dict(n) for n in raw.get("non_members", [])}
    for n in non_members:
        if n.lower() in members:
            problems.append(f"non-member {n}: same id as a member")
    if problems:
        raise DirectoryError(f"{source}: " + "; ".join(problems))
    visible = raw.get("visible_range") or {"departments": [1]}
    return Directory(dict(raw.get("corp", {})), depts, members, tags, non_members, visible)


def _member_defaults(m: dict[str, Any]) -> dict[str, Any]:
    n = len(m["department"])
    base: dict[str, Any] = {
        "order": [0] * n, "is_leader_in_dept": [0] * n, "direct_leader": [], "position": "",
        "alias": "", "telephone": "", "status": 1, "main_department": m["department"][0],
        "extattr": {"attrs": []},
    }
    return {**base, **copy.deepcopy(m)}
