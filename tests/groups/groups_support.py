"""Shared data for the groups tests: a directory shaped like the emulator's sample
(nested departments, tags holding users and departments) and a fake directory API."""

from __future__ import annotations

from typing import Any

from wecom_oidc.config import ClientSettings, Secret, Settings, WecomSettings
from wecom_oidc.identity import Identity
from wecom_oidc.upstream.directory import Snapshot, fetch_snapshot
from wecom_oidc.wecom.errors import Busy, MemberNotVisible

DEPARTMENTS = [
    {"id": 1, "name": "示例科技", "parentid": 0},
    {"id": 2, "name": "研发中心", "parentid": 1},
    {"id": 3, "name": "平台部", "parentid": 2},
    {"id": 4, "name": "SRE组", "parentid": 3},
    {"id": 5, "name": "前端组", "parentid": 2},
    {"id": 6, "name": "市场部", "parentid": 1},
]
TAGS = {
    1: ("全体研发", [], [2]),
    2: ("值班", ["LiSi"], []),
    3: ("管理层", ["wangwu", "zhangsan"], []),
    4: ("财务审批", ["wujiu"], [7]),
}


class FakeDirectoryApi:
    """department/list, tag/list, tag/get over the data above; `fail` makes every
    call raise (WeCom busy), `hidden` tag ids answer 60011."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.hidden: set[int] = set()
        self.departments_data = [dict(d) for d in DEPARTMENTS]

    def _call(self, api: str) -> None:
        self.calls += 1
        if self.fail:
            raise Busy(api, -1, "system busy")

    def departments(self) -> list[dict[str, Any]]:
        self._call("department/list")
        return [dict(d) for d in self.departments_data]

    def tags(self) -> list[dict[str, Any]]:
        self._call("tag/list")
        return [{"tagid": i, "tagname": t[0]} for i, t in TAGS.items()]

    def tag_members(self, tagid: int) -> dict[str, Any]:
        self._call("tag/get")
        if tagid in self.hidden:
            raise MemberNotVisible("tag/get", 60011, "no privilege")
        name, users, depts = TAGS[tagid]
        return {"tagname": name, "userlist": [{"userid": u, "name": u} for u in users],
                "partylist": depts}


def snapshot() -> Snapshot:
    return fetch_snapshot(FakeDirectoryApi(), 1000.0)


def person(userid: str, departments: tuple[int, ...], main: int | None = None,
           **kwargs: Any) -> Identity:
    """An Identity placed in the sample directory, as WecomUpstream builds it."""
    placed = snapshot().place(userid, departments)
    return Identity(subject=userid, departments=departments,
                    main_department=main if main is not None else departments[0],
                    department_paths=placed.paths, department_lineage=placed.lineage,
                    tags=placed.tags, **kwargs)


def settings(*clients: ClientSettings, **kwargs: Any) -> Settings:
    return Settings(issuer="https://sso.example.com",
                    wecom=WecomSettings(corp_id="ww1", agent_id=1, secret=Secret("s")),
                    clients=clients, **kwargs)


def client(**kwargs: Any) -> ClientSettings:
    return ClientSettings(client_id="app", redirect_uris=("https://app.example.com/cb",),
                          **kwargs)
