"""WecomClient: the WeCom server API a self-built app needs for login.

Every call goes through `_call`, which owns the one retry policy (STYLE.md, wecom-api.md
§7): token invalid -> fresh token, retry once; busy/connection/5xx -> bounded jittered
backoff; a code exchange is never re-sent once it may have reached WeCom; 45009 is
raised at once and backs that API off for the whole bridge (backpressure.py).
Nothing here logs or raises the secret, access_token, code or ticket.
"""

from __future__ import annotations

import json as jsonlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlencode

import requests

from .. import redact
from ..store.base import StateStore
from .backpressure import BackPressure
from .errors import Busy, TokenInvalid, Transport, WecomApiError, error_for
from .token import AccessTokenSource
from .transport import HttpTransport, PooledTransport, SessionTransport, Timeout

log = logging.getLogger(__name__)

# Called once per HTTP call to WeCom with (api, errcode, seconds); errcode None when
# no WeCom answer came back (timeout, connection, HTTP error, not JSON). Metrics hook.
CallObserver = Callable[[str, "int | None", float], None]

# Query/body fields whose values must never appear in logs or error text.
_SENSITIVE = ("access_token", "corpsecret", "code", "user_ticket")
_MAX_ERRMSG = 300
# urllib3 logs each request line (our query carries access_token, corpsecret, code) at
# DEBUG: the shared redaction filter blanks them, also where create_app never ran.
redact.install()


@dataclass(frozen=True)
class CodeUser:
    """Who a login code belongs to (auth/getuserinfo, wecom-api.md §4): a member has
    `userid` (+ `user_ticket` with snsapi_privateinfo), a non-member `openid`."""

    userid: str | None = None
    openid: str | None = None
    user_ticket: str | None = field(default=None, repr=False)
    external_userid: str | None = None


class WecomClient:
    """The WeCom API for one self-built app (corp_id + agent_id + the app's secret)."""

    def __init__(self, *, api_base_url: str, corp_id: str, agent_id: int | str, secret: Any,
                 store: StateStore, session: requests.Session | None = None,
                 timeout: Timeout = (3.05, 10),
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 busy_retries: int = 3, backoff: float = 0.2,
                 observer: CallObserver | None = None,
                 token_observer: Callable[[bool], None] | None = None,
                 backoff_observer: Callable[[str], None] | None = None):
        self._base = api_base_url.rstrip("/") + "/cgi-bin/"
        self.corp_id = corp_id
        self.agent_id = agent_id
        # Accept config's Secret (has .reveal()) or a plain str; never kept in a repr.
        self.__secret = secret.reveal() if hasattr(secret, "reveal") else str(secret)
        # A given session (requests-mock in tests) is used as is; otherwise the pool.
        self._http: HttpTransport = (SessionTransport(session, timeout) if session is not None
                                     else PooledTransport(self._base, timeout))
        self._quoted_token: tuple[str, str] | None = None
        self._fetches = 0  # gettoken calls from this process: tells a cached token from a new one
        self._sleep = sleep
        self._busy_retries = max(1, busy_retries)
        self._backoff = backoff
        self._observer = observer
        # The refresh lock must outlive the winner's whole gettoken (all its tries), or a
        # second worker would start another one; waiters wait as long as it may take.
        per_try = sum(timeout) if isinstance(timeout, tuple) else 2 * timeout
        max_delays = 1.5 * backoff * (2 ** (self._busy_retries - 1) - 1)  # see _with_backoff
        lock_ttl = self._busy_retries * per_try + max_delays + 1
        # 45009 backs the API off for every worker and replica (backpressure.py).
        self.pressure = BackPressure(store, f"{corp_id}:{agent_id}", clock, backoff_observer)
        # Keyed by corp+agent, never by the secret (STYLE.md: no secrets in cache keys).
        self.tokens = AccessTokenSource(store, self.fetch_token,
                                        cache_key=f"{corp_id}:{agent_id}", clock=clock,
                                        sleep=sleep, lock_ttl=lock_ttl,
                                        wait_timeout=lock_ttl, on_lookup=token_observer)

    def __repr__(self) -> str:
        return f"WecomClient(corp_id={self.corp_id!r}, agent_id={self.agent_id!r})"

    def close(self) -> None:
        self._http.close()

    # -- public API ----------------------------------------------------------------------

    def fetch_token(self) -> tuple[str, int]:
        """gettoken (§1): (access_token, expires_in). Used by AccessTokenSource only."""
        self._fetches += 1
        body = self._call("gettoken", "GET",
                          {"corpid": self.corp_id, "corpsecret": self.__secret},
                          use_token=False)
        token, expires_in = body.get("access_token"), body.get("expires_in", 7200)
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise Transport("gettoken", "answer without a usable access_token", transient=False)
        return token, expires_in

    def access_token(self) -> str:
        return self.tokens.get()

    def user_from_code(self, code: str) -> CodeUser:
        """auth/getuserinfo (§4): exchange a login code. Lowercase keys; the legacy
        PascalCase keys of user/getuserinfo are accepted too. Never re-sent once it may
        have reached WeCom: the code is single use (§2)."""
        body = self._call("auth/getuserinfo", "GET", {"code": code}, retry_transport=False)

        def pick(*keys: str) -> str | None:
            return next((str(body[k]) for k in keys if body.get(k)), None)

        return CodeUser(userid=pick("userid", "UserId"), openid=pick("openid", "OpenId"),
                        user_ticket=pick("user_ticket"),
                        external_userid=pick("external_userid"))

    def user_detail(self, user_ticket: str) -> dict[str, Any]:
        """auth/getuserdetail (§5): consented sensitive fields (gender is a string)."""
        return _payload(self._call("auth/getuserdetail", "POST",
                                   json={"user_ticket": user_ticket}))

    def member(self, userid: str) -> dict[str, Any]:
        """user/get (§6): name, department, status... (60011 -> MemberNotVisible)."""
        return _payload(self._call("user/get", "GET", {"userid": userid}))

    def departments(self, department_id: int | None = None) -> list[dict[str, Any]]:
        """department/list (§6): the departments the app can see (a subtree if given)."""
        params = {"id": department_id} if department_id is not None else None
        return list(self._call("department/list", "GET", params).get("department") or [])

    def tags(self) -> list[dict[str, Any]]:
        """tag/list (§6): [{tagid, tagname}]."""
        return list(self._call("tag/list", "GET").get("taglist") or [])

    def tag_members(self, tagid: int) -> dict[str, Any]:
        """tag/get (§6): {tagname, userlist: [{userid, name}], partylist: [dept ids]}."""
        return _payload(self._call("tag/get", "GET", {"tagid": tagid}))

    # -- the one call path -------------------------------------------------------------

    def _call(self, api: str, method: str, params: dict[str, Any] | None = None,
              json: dict[str, Any] | None = None, *, use_token: bool = True,
              retry_transport: bool = True) -> dict[str, Any]:
        """Send one API call with the retry policy; the JSON body on errcode 0, else a
        typed WecomApiError. `retry_transport=False`: re-send only if never sent."""
        if not use_token:
            return self._with_backoff(api, method, params, json, None, retry_transport)
        token = self.tokens.get()
        try:
            return self._with_backoff(api, method, params, json, token, retry_transport)
        except TokenInvalid:
            # WeCom may revoke tokens early (§1). Drop ours and retry once with a
            # fresh token. If the "fresh" one came from the shared cache (fetched
            # earlier by another worker) and is dead too, drop it and fetch: a second
            # retry, only then. Never a loop.
            for _ in range(2):
                self.tokens.invalidate(token)
                fetches = self._fetches
                token = self.tokens.get()
                try:
                    return self._with_backoff(api, method, params, json, token,
                                              retry_transport)
                except TokenInvalid:
                    if self._fetches != fetches:
                        raise
            raise

    def _with_backoff(self, api: str, method: str, params: dict[str, Any] | None,
                      json: dict[str, Any] | None, token: str | None,
                      retry_transport: bool) -> dict[str, Any]:
        for attempt in range(1, self._busy_retries + 1):
            try:
                return self._once(api, method, params, json, token)
            except (Busy, Transport) as exc:
                if attempt == self._busy_retries or not _may_retry(exc, retry_transport):
                    raise
            # Exponential backoff with jitter so workers don't retry in lockstep (§7).
            delay = self._backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            log.info("wecom retry api=%s attempt=%d delay_ms=%d", api, attempt + 1,
                     delay * 1000)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _once(self, api: str, method: str, params: dict[str, Any] | None,
              json: dict[str, Any] | None, token: str | None) -> dict[str, Any]:
        self.pressure.check(api)
        query = urlencode(params) if params else ""
        if token is not None:
            query += ("&" if query else "") + "access_token=" + self._quoted(token)
        started = time.monotonic()
        body: dict[str, Any] = {}
        failure: Transport | None = None
        try:
            status, content = self._http.send(
                api, method, self._base + api + "?" + query,
                None if json is None else jsonlib.dumps(json, ensure_ascii=False).encode(),
                _HEADERS if json is None else _JSON_HEADERS)
        except Transport as exc:
            failure = exc
        if failure is None:
            body, failure = _parse(api, status, content)
        elapsed = time.monotonic() - started
        ms = elapsed * 1000
        self._observe(api, None if failure is not None else body.get("errcode", 0), elapsed)
        if failure is not None:
            log.info("wecom api=%s error=%r ms=%d", api, failure.reason, ms)
            raise failure
        errcode = body.get("errcode", 0)
        if errcode == 0:
            log.debug("wecom api=%s errcode=0 ms=%d", api, ms)
            return body
        log.info("wecom api=%s errcode=%s ms=%d", api, errcode, ms)
        sent = {**(params or {}), "access_token": token}
        hidden = [v for v in (*_values(sent), *_values(json or {}), self.__secret) if v]
        error = error_for(api, errcode, _scrub(str(body.get("errmsg", "")), hidden))
        self.pressure.tripped(api, error)
        raise error

    def _quoted(self, token: str) -> str:
        """The access_token as the query carries it: quoted once per token, not per
        call (quoting its ~128 characters cost ~22k instructions a call)."""
        memo = self._quoted_token
        if memo is None or memo[0] != token:
            memo = self._quoted_token = (token, quote_plus(token))
        return memo[1]

    def _observe(self, api: str, errcode: int | None, elapsed: float) -> None:
        if self._observer is None:
            return
        try:
            self._observer(api, errcode, elapsed)
        except Exception:  # a metrics hook must never break a login
            log.exception("wecom call observer failed api=%s", api)


_HEADERS = {"User-Agent": "wecom-oidc", "Accept": "application/json"}
_JSON_HEADERS = {**_HEADERS, "Content-Type": "application/json"}


def _parse(api: str, status: int, content: bytes) -> tuple[dict[str, Any], Transport | None]:
    if status >= 500:
        return {}, Transport(api, f"HTTP {status}", status=status)
    if status != 200:  # WeCom answers errors with 200 (§0): a proxy or a wrong base URL
        return {}, Transport(api, f"HTTP {status}", status=status, transient=False)
    try:
        body = jsonlib.loads(content)
    except ValueError:
        return {}, Transport(api, "answer is not JSON", status=status, transient=False)
    if not isinstance(body, dict) or not isinstance(body.get("errcode", 0), int):
        return {}, Transport(api, "answer is not a WeCom JSON object", transient=False)
    return body, None


def _may_retry(exc: WecomApiError, retry_transport: bool) -> bool:
    if isinstance(exc, Busy):
        return True
    assert isinstance(exc, Transport)
    return exc.transient and (retry_transport or not exc.sent)


def _values(mapping: dict[str, Any]) -> list[str]:
    return [str(mapping[k]) for k in _SENSITIVE if mapping.get(k)]


def _scrub(errmsg: str, secrets: list[str]) -> str:
    """WeCom's errmsg is safe in practice (§0), but never trust it to not echo input."""
    return redact.values(errmsg, secrets)[:_MAX_ERRMSG]


def _payload(body: dict[str, Any]) -> dict[str, Any]:
    """The answer without the errcode/errmsg envelope."""
    return {k: v for k, v in body.items() if k not in ("errcode", "errmsg")}
