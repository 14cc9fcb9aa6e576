"""Virtual users over real HTTP (asyncio + aiohttp), each with its own cookie jar.

A QR login: authorize -> the emulator's QR page -> the 'scan' -> the bridge callback
-> token -> userinfo. An in-app login: authorize -> the emulator's in-app OAuth page
(signed in by its emu_userid cookie) -> callback -> token -> userinfo. Every login is
a new browser (the jar is cleared), so each one goes through WeCom."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from yarl import URL

SECRET = "webapp-secret-0123456789-0123456"
REDIRECT = "https://rp.example/callback"
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36"
WECOM_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 "
            "wxwork/4.1.6 MicroMessenger/7.0.1 Language/zh")
PEOPLE = ("zhangsan", "lisi", "wangwu", "zhaoliu", "sunqi", "zhouba")
# A window opens once every user has finished one operation, or after this many seconds.
STEADY_WITHIN = 60.0


class Failed(Exception):
    pass


def _q(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


@dataclass
class Target:
    bridge: str
    emulator: str
    client_id: str = "webapp"  # "webapp-opaque": the same client with opaque access tokens

    @property
    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.client_id}:{SECRET}".encode()).decode()


async def _get_redirect(http: aiohttp.ClientSession, url: str, **kw) -> str:
    """Where the answer sends the browser: a 302, or (the in-app callback, which must
    shed WeCom's #wechat_redirect fragment) a page with `Refresh: 0; url=...`."""
    async with http.get(url, allow_redirects=False, **kw) as r:
        await r.read()
        if r.status == 302:
            return r.headers["Location"]
        refresh = r.headers.get("Refresh", "")
        if r.status == 200 and "url=" in refresh:
            return refresh.split("url=", 1)[1]
        raise Failed(f"GET {urlsplit(url).path}: {r.status}")


def authorize_url(t: Target, scope: str, challenge: str) -> str:
    return t.bridge + "/authorize?" + urlencode({
        "response_type": "code", "client_id": t.client_id, "scope": scope,
        "redirect_uri": REDIRECT, "state": secrets.token_hex(8),
        "nonce": secrets.token_hex(8), "code_challenge": challenge,
        "code_challenge_method": "S256"})


async def exchange(http: aiohttp.ClientSession, t: Target, code: str, verifier: str) -> dict:
    async with http.post(t.bridge + "/token", headers={"Authorization": t.basic}, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}) as r:
        body = await r.json()
        if r.status != 200:
            raise Failed(f"token: {r.status} {body.get('error')}")
        return body


async def userinfo(http: aiohttp.ClientSession, t: Target, access_token: str) -> dict:
    async with http.get(t.bridge + "/userinfo",
                        headers={"Authorization": "Bearer " + access_token}) as r:
        body = await r.json()
        if r.status != 200:
            raise Failed(f"userinfo: {r.status}")
        return body


async def qr_login(http: aiohttp.ClientSession, t: Target, userid: str,
                   wecom: list[float] | None = None) -> dict:
    """The desktop QR login, start to userinfo; returns the token response. The time
    spent at WeCom's own pages (the QR page, the scan) is added to `wecom`."""
    http.cookie_jar.clear()
    verifier, challenge = _pkce()
    to_wecom = await _get_redirect(
        http, authorize_url(t, "openid profile email", challenge))
    started = time.perf_counter()
    async with http.get(to_wecom) as page:  # the QR page a browser shows
        await page.read()
        if page.status != 200:
            raise Failed(f"QR page: {page.status}")
    scan = t.emulator + "/wwlogin/sso/scan?" + urlencode({**_q(to_wecom), "userid": userid})
    callback = await _get_redirect(http, scan)
    if wecom is not None:
        wecom.append(time.perf_counter() - started)
    back = await _get_redirect(http, callback)
    token = await exchange(http, t, _q(back)["code"], verifier)
    await userinfo(http, t, token["access_token"])
    return token


async def inapp_login(http: aiohttp.ClientSession, t: Target, userid: str,
                      wecom: list[float] | None = None) -> dict:
    """Inside the WeCom app: snsapi_base, silent (no consent page). The time at WeCom's
    OAuth page is added to `wecom`."""
    http.cookie_jar.clear()
    http.cookie_jar.update_cookies({"emu_userid": userid}, URL(t.emulator))
    verifier, challenge = _pkce()
    to_wecom = await _get_redirect(http, authorize_url(t, "openid profile", challenge),
                                   headers={"User-Agent": WECOM_UA})
    started = time.perf_counter()
    callback = await _get_redirect(http, to_wecom.split("#")[0],
                                   headers={"User-Agent": WECOM_UA})
    if wecom is not None:
        wecom.append(time.perf_counter() - started)
    back = await _get_redirect(http, callback, headers={"User-Agent": WECOM_UA})
    token = await exchange(http, t, _q(back)["code"], verifier)
    await userinfo(http, t, token["access_token"])
    return token


async def sso_code(http: aiohttp.ClientSession, t: Target) -> tuple[str, str]:
    """A code from the bridge session this browser already has (no WeCom)."""
    verifier, challenge = _pkce()
    back = await _get_redirect(http, authorize_url(t, "openid profile email", challenge))
    return _q(back)["code"], verifier


@dataclass
class Result:
    users: int
    seconds: float
    durations: list[float] = field(default_factory=list)  # per operation, seconds
    # Per operation, the seconds of it spent outside the bridge (at WeCom's pages), as
    # the operation returned it.
    outside: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.durations) / self.seconds if self.seconds else 0.0

    def pct(self, p: float, *, inside: bool = False) -> float:
        """The p-th percentile of the operations' durations (`inside`: less the time
        each spent outside the bridge)."""
        if not self.durations:
            return float("nan")
        d = sorted([t - o for t, o in zip(self.durations, self.outside, strict=True)]
                   if inside else self.durations)
        return d[min(len(d) - 1, int(p / 100 * len(d)))]


def new_session(users: int, trace: aiohttp.TraceConfig | None = None) -> aiohttp.ClientSession:
    # unsafe=True: keep cookies set by an IP-address host (everything is on 127.0.0.1).
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=0, force_close=False),
        headers={"User-Agent": DESKTOP_UA}, timeout=aiohttp.ClientTimeout(total=60),
        trace_configs=[trace] if trace else None)


# An operation; it may return the seconds it spent outside the bridge (a float).
Op = Callable[[aiohttp.ClientSession, int, int], Awaitable[object]]


async def run_users(op: Op, users: int, *, seconds: float | None = None,
                    count: int | None = None, warmup: float = 1.0,
                    on_window: Callable[[bool], None] | None = None,
                    trace: aiohttp.TraceConfig | None = None) -> Result:
    """`users` concurrent loops of `op(http, user, i)`; each user has its own session.
    With `seconds`: after `warmup` and once every user has finished one operation (the
    pipeline full: with 256 users and seconds-long logins, a window opened earlier
    counts the CPU of a ramp that has not completed yet), the operations that end
    inside the window count (throughput = completions / window, as for a long steady
    run), and `on_window(True/False)` marks its start and end (CPU readings).
    `trace`: hooks every request of every user's session (latency_trace.py).
    With `count`: run that many operations in all, every one counted."""
    sessions = [new_session(users, trace) for _ in range(users)]
    result = Result(users, 0.0)
    window = {"open": False, "t0": 0.0, "t1": float("inf")}
    done = {"n": 0}
    finished_one: set[int] = set()
    stop = asyncio.Event()

    async def loop(u: int) -> None:
        i = 0
        while not stop.is_set():
            if count is not None:
                if done["n"] >= count:
                    return
                done["n"] += 1
            start = time.perf_counter()
            try:
                outside = await op(sessions[u], u, i)
            except (TimeoutError, Failed, aiohttp.ClientError, KeyError) as e:
                result.errors.append(f"{type(e).__name__}: {e}"[:200])
                continue
            finally:
                i += 1
                finished_one.add(u)
            end = time.perf_counter()
            if count is not None or (window["open"] and window["t0"] <= end <= window["t1"]):
                result.durations.append(end - start)
                result.outside.append(outside if isinstance(outside, float) else 0.0)

    tasks = [asyncio.create_task(loop(u)) for u in range(users)]
    try:
        if seconds is not None:
            await asyncio.sleep(warmup)
            ready_by = time.perf_counter() + STEADY_WITHIN
            while len(finished_one) < users and time.perf_counter() < ready_by:
                await asyncio.sleep(0.05)
            if on_window:
                on_window(True)
            window.update(open=True, t0=time.perf_counter())
            await asyncio.sleep(seconds)
            window["t1"] = time.perf_counter()
            if on_window:
                on_window(False)
            result.seconds = window["t1"] - window["t0"]
            stop.set()
            await asyncio.gather(*tasks)
        else:
            t0 = time.perf_counter()
            if on_window:
                on_window(True)
            await asyncio.gather(*tasks)
            result.seconds = time.perf_counter() - t0
            if on_window:
                on_window(False)
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        for s in sessions:
            await s.close()
    return result
