"""WeCom API errors: one class per distinct handling, errcode -> (meaning, admin hint).

WeCom answers errors as HTTP 200 with a JSON errcode (wecom-api.md §0); the client turns
every non-zero errcode into one of these via `error_for`. Messages carry the api name,
errcode and WeCom's errmsg (the client scrubs known secrets from it first), never a
token, code, ticket or secret. `meaning` and `hint` are what the web layer shows admins.
"""

from __future__ import annotations

import re

DOC_QUERY = "https://open.work.weixin.qq.com/devtool/query?e={errcode}"
CONSOLE = "the WeCom admin console (管理后台): App management (应用管理) → your app"


class WecomApiError(Exception):
    """A WeCom API call failed. `errcode` is WeCom's (None for Transport)."""

    def __init__(self, api: str, errcode: int | None, errmsg: str = "", *,
                 meaning: str = "", hint: str = ""):
        self.api = api
        self.errcode = errcode
        self.errmsg = errmsg
        self.meaning = meaning or (f"WeCom error {errcode}" if errcode is not None else "")
        self.hint = hint
        super().__init__(self._text())

    def _text(self) -> str:
        return f"WeCom {self.api}: errcode {self.errcode} ({self.meaning}): {self.errmsg}"


class TokenInvalid(WecomApiError):
    """The access_token is invalid or expired: drop it, fetch a fresh one, retry once (§7)."""


class BadCode(WecomApiError):
    """The login code or user_ticket is invalid, used or expired: the user logs in again."""


class RateLimited(WecomApiError):
    """WeCom throttles this corp/IP (45009, 45033): do not hammer, try again later (§10)."""


class Busy(WecomApiError):
    """WeCom is busy (-1): transient, retried with backoff (§7)."""


class ConfigProblem(WecomApiError):
    """The app's setup is wrong (corp id, secret, trusted IP or domain, permissions):
    retrying cannot help; the hint says what the admin must change."""


class MemberNotVisible(WecomApiError):
    """The member is outside the app's visible range (可见范围) (60011, 50002, 92000)."""


class NoSuchUser(WecomApiError):
    """The userid does not exist in the corp (60111)."""


class Transport(WecomApiError):
    """No usable answer: connection error, timeout, HTTP 5xx or a body that is not JSON.
    `reason` is safe to log (never the URL, which carries access_token/code).
    `sent` is False only when the request certainly never reached WeCom (connect error);
    `transient` says whether trying again may help (timeouts, drops, 5xx)."""

    def __init__(self, api: str, reason: str, *, status: int | None = None,
                 sent: bool = True, transient: bool = True, hint: str | None = None):
        self.reason = reason
        self.status = status
        self.sent = sent
        self.transient = transient
        super().__init__(
            api, None, reason, meaning="WeCom could not be reached or gave no valid answer",
            hint=hint or "Check that this server can reach the WeCom API (api_base_url): "
                         "DNS, firewall, outbound proxy. If WeCom itself is down, try again "
                         "later.")

    def _text(self) -> str:
        return f"WeCom {self.api}: {self.reason}"


_IP_HINT = ("This server's IP {ip} is not in the app's trusted IPs (企业可信IP). "
            f"Add {{ip}} in {CONSOLE} → 企业可信IP (apps created after 2022-06-20 must "
            "list every egress IP of the bridge).")
_DOMAIN_HINT = (f"Set the bridge's host as the app's trusted domain (可信域名) or web-login "
                f"callback domain (授权回调域) in {CONSOLE}; the host must match exactly, "
                "port included.")
_VISIBLE_HINT = (f"Add the member or their department to the app's visible range (可见范围) "
                 f"in {CONSOLE}.")
_TOKEN_HINT = "The bridge fetches a fresh access_token automatically; no action needed."
_LOGIN_AGAIN = "The user should start the login again from the app."
_RATE_HINT = ("Wait and retry later; if it persists, check for a loop calling WeCom or lift "
              "a block at open.work.weixin.qq.com/wwopen/devtool/checkCorpSpamBlock.")

# errcode -> (class, meaning, hint). Sources: wecom-api.md §1 (gettoken), §4, §5, §7, §9.
_TABLE: dict[int, tuple[type[WecomApiError], str, str]] = {
    -1: (Busy, "WeCom is busy", "Transient; retried automatically. Try again shortly."),
    40001: (TokenInvalid, "invalid access_token (credential)", _TOKEN_HINT),
    40014: (TokenInvalid, "invalid access_token", _TOKEN_HINT),
    42001: (TokenInvalid, "access_token expired", _TOKEN_HINT),
    41001: (WecomApiError, "access_token missing", "A bridge bug: please report it."),
    40013: (ConfigProblem, "invalid corp id (CorpID)",
            "Check wecom.corp_id: it is shown under My company (我的企业) → Company info, "
            "usually starting with 'ww'."),
    40091: (ConfigProblem, "secret is invalid (e.g. from another company)",
            f"Copy the app's own Secret from {CONSOLE} into wecom.secret."),
    41002: (ConfigProblem, "corp id missing", "Set wecom.corp_id."),
    41004: (ConfigProblem, "secret missing", "Set wecom.secret."),
    40056: (ConfigProblem, "invalid agentid",
            f"Check wecom.agent_id: it is the AgentId shown in {CONSOLE}."),
    50001: (ConfigProblem, "the redirect domain is not the app's trusted domain",
            "The redirect domain is not the app's trusted domain (or the code was issued for "
            "another app). " + _DOMAIN_HINT),
    50003: (ConfigProblem, "the app is disabled", f"Enable the app in {CONSOLE}."),
    60020: (ConfigProblem, "this server's IP is not in the app's trusted IPs", _IP_HINT),
    48002: (ConfigProblem, "API not permitted for this app",
            "This app's secret may not call this API; check the app's permissions."),
    48006: (ConfigProblem, "API permission revoked (app unused for a long time)",
            f"Re-enable the app's API permissions in {CONSOLE}."),
    301002: (ConfigProblem, "the token's app has no permission on this agentid",
             "Check that wecom.agent_id and wecom.secret belong to the same app."),
    92001: (ConfigProblem, "the app lacks permission to read sensitive member fields",
            f"Select the sensitive fields (mobile, email, ...) in {CONSOLE} → privacy "
            "settings, or don't request the email/phone scopes."),
    40029: (BadCode, "invalid login code (used, expired after 5 minutes, or another app's)",
            _LOGIN_AGAIN),
    41008: (BadCode, "login code missing", _LOGIN_AGAIN),
    84014: (BadCode, "user_ticket expired", _LOGIN_AGAIN),
    84015: (BadCode, "user_ticket invalid", _LOGIN_AGAIN),
    84090: (BadCode, "user_ticket missing", _LOGIN_AGAIN),
    45009: (RateLimited, "rate limited: API call frequency exceeded", _RATE_HINT),
    45033: (RateLimited, "rate limited: too many concurrent calls",
            "Lower concurrency ([server] threads/workers) and retry later."),
    60011: (MemberNotVisible, "the member is outside the app's visible range", _VISIBLE_HINT),
    50002: (MemberNotVisible, "the member is outside the app's permission scope", _VISIBLE_HINT),
    92000: (MemberNotVisible, "the member is outside the app's visible range", _VISIBLE_HINT),
    60111: (NoSuchUser, "no such userid in the company",
            "The member may have been deleted from the directory."),
}

# At gettoken, 40001 means a wrong secret, not a stale token (§1, §7): never retried.
_GETTOKEN: dict[int, tuple[type[WecomApiError], str, str]] = {
    40001: (ConfigProblem, "wrong secret for this app",
            f"Copy the Secret of this app (not another app's, nor the contacts-sync one) "
            f"from {CONSOLE} into wecom.secret."),
    40013: (ConfigProblem, "wrong corp id (CorpID)", _TABLE[40013][2]),
}

# errmsg style: "..., hint: [...], from ip: 1.2.3.4, more info at ..." (§0)
_FROM_IP = re.compile(r"from ip:\s*([0-9A-Fa-f:.]{3,45})")


def error_for(api: str, errcode: int, errmsg: str = "") -> WecomApiError:
    """The typed error for a non-zero errcode returned by `api` (e.g. "gettoken",
    "auth/getuserinfo")."""
    entry = (_GETTOKEN.get(errcode) if api == "gettoken" else None) or _TABLE.get(errcode)
    if entry is None:
        return WecomApiError(api, errcode, errmsg, meaning=f"WeCom error {errcode}",
                             hint=f"Look the errcode up at {DOC_QUERY.format(errcode=errcode)}")
    cls, meaning, hint = entry
    if errcode == 60020:
        match = _FROM_IP.search(errmsg)
        ip = match.group(1) if match else "(this server's egress IP)"
        meaning = f"this server's IP {ip} is not in the app's trusted IPs (企业可信IP)"
        hint = hint.format(ip=ip)
    return cls(api, errcode, errmsg, meaning=meaning, hint=hint)


def describe(errcode: int, api: str = "") -> tuple[str, str]:
    """(meaning, hint) for an errcode, for pages and docs listing known errors."""
    err = error_for(api, errcode, "")
    return err.meaning, err.hint
