"""Identity: the neutral result of an upstream login, free of WeCom specifics
(no user_ticket, no access_token), so the OIDC layer never imports the upstream."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
    departments: tuple[int, ...] = ()
    main_department: int | None = None
    # Upstream fields kept for claim mapping (extattr, direct_leader...), JSON-safe.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict for the store."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Identity:
        data = dict(record)
        data["departments"] = tuple(data.get("departments", ()))
        return cls(**data)
