"""WeCom as the upstream: the in-app OAuth page inside the WeCom client, the
web/QR login anywhere else, and the callback turned into an Identity."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote_plus, urlencode

from ..config import Settings, WecomSettings
from ..errors import DirectoryUnavailable, LoginCancelled, UpstreamDenied, UpstreamError
from ..identity import Identity
from ..store.base import StateStore
from ..wecom.client import WecomClient
from ..wecom.errors import (
    BadCode,
    MemberNotVisible,
    NoSuchUser,
    RateLimited,
    Transport,
    WecomApiError,
)
from .base import LoginRequest, Wiring
from .directory import DirectoryCache

log = logging.getLogger(__name__)

# user/get status (wecom-api.md §6): 1 active, 2 disabled, 4 not activated, 5 left the corp.
_STATUS_REFUSED = {2: "disabled", 4: "not_activated", 5: "departed"}
_GENDER = {"1": "male", "2": "female"}
_CONSENTED = ("email", "biz_mail", "phone", "gender", "picture")


def is_wecom_client(user_agent: str) -> bool:
    """Inside the WeCom app? Its UA always carries `wxwork`; `MicroMessenger`
    alone may be personal WeChat (wecom-api.md §8)."""
    return "wxwork" in user_agent.lower()


class WecomUpstream:
    """The Upstream for a WeCom self-built app (自建应用)."""

    def __init__(self, settings: WecomSettings, client: WecomClient,
                 directory: DirectoryCache | None = None):
        self.settings = settings
        self.client = client
        self.directory = directory  # departments and tags for groups; None: ids only

    name = "wecom"

    def callback_has_fragment(self, user_agent: str) -> bool:
        """In-app logins come back from a URL ending in #wechat_redirect (login_url)."""
        return is_wecom_client(user_agent)

    def login_url(self, login: LoginRequest) -> str:
        s = self.settings
        state = quote_plus(login.state)
        if is_wecom_client(login.user_agent):
            private = any(sc in s.privateinfo_scopes for sc in login.scopes)
            head, tail = _in_app_url(s.authorize_url, s.corp_id, s.agent_id,
                                     login.callback_url, private)
        else:
            head, tail = _web_login_url(s.web_login_url, s.corp_id, s.agent_id,
                                        login.callback_url,
                                        "en" if login.lang.lower().startswith("en") else "zh")
        return f"{head}{state}{tail}"

    def complete_login(self, params: Mapping[str, str]) -> Identity:
        code = params.get("code", "")
        if not code:
            # A declined login comes back without a code (wecom-api.md §3b).
            raise LoginCancelled()
        try:
            found = self.client.user_from_code(code)
            if not found.userid:
                raise UpstreamDenied(
                    "not_member", "non-member (openid) at code exchange",
                    hint="Only members of the corp's directory can sign in. Invite the person "
                         "to the company in WeCom if they should have access.")
            detail = self._detail(found.user_ticket) if found.user_ticket else {}
            return self._identity(found.userid, self._member(found.userid), detail)
        except WecomApiError as e:
            raise upstream_error(e) from None

    def refresh(self, identity: Identity) -> Identity:
        """Re-read the member from the directory (refresh tokens re-check this)."""
        try:
            fresh = self._identity(identity.subject, self._member(identity.subject), {})
        except WecomApiError as e:
            raise upstream_error(e) from None
        # user/get no longer returns consented fields (email, mobile...) to apps
        # created after 2022-06-20 (wecom-api.md §5): keep what the login gave.
        kept = {k: getattr(identity, k) for k in _CONSENTED if not getattr(fresh, k)}
        return replace(fresh, **kept)

    def place(self, identity: Identity) -> Identity:
        """`identity` with its department paths, lineage and tags from the cached
        directory (oidc.client_claims asks only for clients that use them). Raises
        DirectoryUnavailable when WeCom will not give the directory."""
        if self.directory is None or not identity.unplaced:
            return identity
        try:
            placed = self.directory.snapshot().place(identity.subject, identity.departments)
        except WecomApiError as e:
            raise DirectoryUnavailable(f"directory read failed: {e}", code=e.errcode,
                                       hint=e.hint) from None
        return replace(identity, department_paths=placed.paths,
                       department_lineage=placed.lineage, tags=placed.tags, unplaced=False)

    def member_gone(self, userid: str) -> str | None:
        """Why the member may no longer sign in (not_visible, disabled, departed...),
        or None while they may. UpstreamError when WeCom cannot say (never a reason
        to revoke)."""
        try:
            self._member(userid)
        except UpstreamDenied as e:
            return e.reason
        except WecomApiError as e:
            raise upstream_error(e) from None
        return None

    def _member(self, userid: str) -> dict[str, Any]:
        try:
            member = self.client.member(userid)
        except (MemberNotVisible, NoSuchUser) as e:
            raise UpstreamDenied(
                "not_visible", str(e), code=e.errcode,
                hint="The member is outside the WeCom app's visible range (可见范围). "
                     "Add them, or their department, to the app's visible range.") from None
        status = int(member.get("status", 1))
        if status in _STATUS_REFUSED or member.get("enable", 1) == 0:
            raise UpstreamDenied(_STATUS_REFUSED.get(status, "disabled"),
                                 f"member status={status} enable={member.get('enable')}")
        return member

    def _detail(self, user_ticket: str) -> dict[str, Any]:
        """Sensitive fields the member consented to; the login goes on without them
        if WeCom will not give them (92000/92001, expired ticket): user/get still
        names the member (wecom-api.md §5, §7)."""
        try:
            return self.client.user_detail(user_ticket)
        except (BadCode, MemberNotVisible) as e:
            log.warning("wecom getuserdetail skipped: errcode=%s", e.errcode)
        except WecomApiError as e:
            if e.errcode not in (92000, 92001):
                raise
            log.warning("wecom getuserdetail skipped: errcode=%s", e.errcode)
        return {}

    def _identity(self, userid: str, member: dict[str, Any], detail: dict[str, Any]) -> Identity:
        def pick(key: str) -> str:
            return str(detail.get(key) or member.get(key) or "")

        departments = tuple(int(d) for d in member.get("department", []) or [])
        return Identity(
            subject=userid, name=str(member.get("name") or ""), email=pick("email"),
            biz_mail=pick("biz_mail"), phone=pick("mobile"),
            gender=_GENDER.get(pick("gender"), ""), picture=pick("avatar"),
            position=str(member.get("position") or ""), alias=str(member.get("alias") or ""),
            departments=departments,
            main_department=member.get("main_department") or (departments[0] if departments
                                                              else None),
            # Only what user/get says; place() adds the directory for clients using it.
            department_lineage=departments, unplaced=self.directory is not None,
            attributes=attributes(member, departments),
        )


# A login URL is the same but for its state: the rest is encoded once per callback URL
# (urlencode was most of login_url's instructions).

@functools.lru_cache(maxsize=64)
def _in_app_url(authorize_url: str, corp_id: str, agent_id: int | str, callback_url: str,
                private: bool) -> tuple[str, str]:
    """The in-app OAuth page's URL around the state. Parameter order as documented;
    the fragment must stay last (§2)."""
    head = urlencode([("appid", corp_id), ("redirect_uri", callback_url),
                      ("response_type", "code"),
                      ("scope", "snsapi_privateinfo" if private else "snsapi_base")])
    tail = urlencode([("agentid", str(agent_id))])
    return f"{authorize_url}?{head}&state=", f"&{tail}#wechat_redirect"


@functools.lru_cache(maxsize=64)
def _web_login_url(web_login_url: str, corp_id: str, agent_id: int | str, callback_url: str,
                   lang: str) -> tuple[str, str]:
    """The web (QR) login page's URL around the state."""
    head = urlencode([("login_type", "CorpApp"), ("appid", corp_id),
                      ("agentid", str(agent_id)), ("redirect_uri", callback_url)])
    return f"{web_login_url}?{head}&state=", "&" + urlencode([("lang", lang)])


def attributes(member: dict[str, Any], departments: tuple[int, ...]) -> dict[str, Any]:
    """user/get fields for claim mapping under neutral names (see Identity.attributes)."""
    flags = [int(f or 0) for f in member.get("is_leader_in_dept") or []]
    out: dict[str, Any] = {
        "is_leader": any(flags),
        "leader_of": [d for d, f in zip(departments, flags, strict=False) if f],
        "direct_leader": [str(u) for u in member.get("direct_leader") or []],
    }
    for key in ("english_name", "telephone"):
        if member.get(key):
            out[key] = str(member[key])
    # extattr.attrs: type 0 text {value}, type 1 web {url, title}, type 2 miniprogram (§6).
    for attr in (member.get("extattr") or {}).get("attrs") or []:
        name, kind = attr.get("name"), attr.get("type", 0)
        value = (attr.get("text") or {}).get("value") if kind == 0 else \
            (attr.get("web") or {}).get("url") if kind == 1 else None
        if name and value:
            out[f"extattr.{name}"] = str(value)
    return out


def upstream_error(e: WecomApiError) -> UpstreamError:
    """A WeCom API failure as the bridge reports it: the errcode, what it means
    and what the admin should fix; never the token, code or ticket."""
    if isinstance(e, BadCode):
        return UpstreamError("bad_code", str(e), code=e.errcode, hint=e.hint, status=400)
    if isinstance(e, Transport):
        return UpstreamError("transport", str(e), hint=e.hint, status=502)
    if isinstance(e, RateLimited):
        return UpstreamError("rate_limited", str(e), code=e.errcode, hint=e.hint, status=503)
    return UpstreamError("refused", str(e), code=e.errcode, hint=e.hint, status=502)


def from_settings(settings: Settings, store: StateStore, wiring: Wiring) -> WecomUpstream:
    """The registry's factory: the WeCom client (shared token cache in the store),
    the cached directory when groups need it, and the upstream around them."""
    w = settings.wecom
    client = WecomClient(api_base_url=w.api_base_url, corp_id=w.corp_id, agent_id=w.agent_id,
                         secret=w.secret.reveal(), store=store, timeout=(3.05, w.timeout),
                         clock=wiring.clock, observer=wiring.observe_call,
                         token_observer=wiring.observe_token,
                         backoff_observer=wiring.observe_backoff)
    directory = None
    if w.directory:
        directory = DirectoryCache(client, store, cache_key=f"{w.corp_id}:{w.agent_id}",
                                   ttl=w.directory_ttl, max_stale=w.directory_max_stale,
                                   clock=wiring.clock)
    return WecomUpstream(w, client, directory)
