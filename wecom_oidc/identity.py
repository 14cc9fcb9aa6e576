"""Identity: the neutral result of an upstream login, free of WeCom specifics
(no user_ticket, no access_token), so the OIDC layer never imports the upstream."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Identity:
    """Who logged in, as the upstream directory describes them right now."""

    subject: str  # stable and unique in the corp: the WeCom userid
    name: str = ""
    email: str = ""  # personal or corp email the upstream handed over
    biz_mail: str = ""  # corp-managed mailbox (WeCom 企业邮箱)
    phone: str = ""
    gender: str = ""  # "male" / "female" / "" (unknown)
    picture: str = ""
    position: str = ""
    alias: str = ""
    departments: tuple[int, ...] = ()  # direct memberships, in the directory's order
    main_department: int | None = None
    # Where the person sits in the organisation (filled when the upstream has a
    # directory): each direct department as its names from the top, parallel to
    # `departments` (() where the directory does not know it), e.g.
    # ("研发中心", "平台部", "SRE组"); every department id they belong to directly or
    # through a sub-department (policies include sub-departments); and the names of
    # the groups/tags they hold, directly or through a department.
    department_paths: tuple[tuple[str, ...], ...] = ()
    department_lineage: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    # True while the fields above are only what user/get said (paths and tags empty,
    # lineage = direct departments): the upstream places a person in the directory
    # only for a client that needs it (oidc.client_claims), so optional directory
    # data never gates a login.
    unplaced: bool = False
    # Other directory attributes for claim mapping, JSON-safe, by neutral name:
    # "is_leader" (bool), "leader_of" (department ids), "direct_leader" (userids),
    # "english_name", "telephone", "extattr.<name>" (str).
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict for the store. Built field by field, not with asdict(),
        which deep-copies every tuple on each of the several calls per login; the
        fields are immutable, and `attributes` (flat, JSON-safe) is copied."""
        record = {name: getattr(self, name) for name in _FIELDS}
        record["attributes"] = dict(self.attributes)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Identity:
        """Back from the store; keys of another version are ignored, so records
        written before an upgrade still load."""
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in record.items() if k in known}
        for key in ("departments", "department_lineage", "tags"):
            data[key] = tuple(data.get(key, ()))
        data["department_paths"] = tuple(tuple(p) for p in data.get("department_paths", ()))
        return cls(**data)


_FIELDS = tuple(f.name for f in fields(Identity))
