"""A fake upstream: the Upstream protocol over an in-memory directory, for
testing the OIDC layer without WeCom."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from wecom_oidc.errors import LoginCancelled, UpstreamDenied
from wecom_oidc.identity import Identity

PEOPLE = {
    "zhangsan": Identity(subject="zhangsan", name="张三", email="zhangsan@corp.example",
                         phone="13800000001", gender="male", departments=(2,)),
    "lisi": Identity(subject="lisi", name="李四"),
}


class FakeUpstream:
    """`code` at the callback is the userid of who logged in; 'outsider' is refused."""

    def __init__(self) -> None:
        self.last_login: dict[str, object] = {}

    def login_url(self, *, state, callback_url, user_agent, scopes, lang=""):
        self.last_login = {"state": state, "callback_url": callback_url, "scopes": scopes,
                           "user_agent": user_agent}
        return "https://upstream.test/login?" + urlencode({"state": state})

    def complete_login(self, params: Mapping[str, str]) -> Identity:
        code = params.get("code", "")
        if not code:
            raise LoginCancelled("cancelled")
        if code not in PEOPLE:
            raise UpstreamDenied("You are not a member.", "non-member", hint="invite them")
        return PEOPLE[code]
