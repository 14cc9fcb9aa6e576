"""The fuzzer's side of the wire: live values of a real login, sending a `Case`
through a socket, and the properties every answer must have."""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from e2e.stack import RelyingParty, Stack, browser, qr_login, scan
from fuzz_targets import EVENTS_AES_KEY, EVENTS_TOKEN, PORTAL, REGISTERED, TV, Target
from fuzz_values import ATTR_PROBE, HTML_PROBE, Case, Live

from wecom_oidc.emulator.callbacks import encrypt, envelope, event_xml, sign

COOKIE = "wecom_oidc_session"
CORP = "ww_emulated_corp"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
TRIED: Counter[str] = Counter()  # requests sent per target, for the summary


@dataclass
class FuzzEnv:
    """The stack, a signed-in browser and the tokens of its login; logs in again
    when a fuzzed request ended that session (logout, revocation)."""

    stack: Stack
    rp: RelyingParty = field(init=False)
    b: requests.Session = field(init=False)
    tokens: dict[str, str] = field(default_factory=dict)
    log_offset: int = 0

    def __post_init__(self) -> None:
        self.rp = RelyingParty(self.stack, client_id=PORTAL[0], client_secret=PORTAL[1],
                               redirect_uri=PORTAL[2], scope="openid profile email")
        self.login()

    def login(self) -> None:
        self.b = browser()
        started = self.rp.start()
        token, _, _ = self.rp.finish(qr_login(self.stack, started["url"], "zhangsan",
                                              b=self.b), started)
        self.tokens = {k: token[k] for k in ("access_token", "refresh_token", "id_token")}

    def fresh_code(self) -> tuple[str, str]:
        """A new code of the signed-in browser (its session answers at once)."""
        for _ in range(2):
            started = self.rp.start()
            r = self.b.get(started["url"], allow_redirects=False)
            query = parse_qs(urlsplit(r.headers.get("Location", "")).query)
            if "code" in query:
                return query["code"][0], started["code_verifier"]
            self.login()  # the session was ended by an earlier case
        raise AssertionError("no code even after a fresh login")

    def new_log(self) -> str:
        path = self.stack.workdir / "bridge.log"
        with Path(path).open("rb") as f:
            f.seek(self.log_offset)
            data = f.read()
        self.log_offset += len(data)
        return data.decode("utf-8", "replace")


class Resolver:
    """Fills in the `Live` values of one case, each computed at most once."""

    def __init__(self, env: FuzzEnv, http: requests.Session):
        self.env, self.http, self.done = env, http, {}

    def __call__(self, value: object) -> Any:
        if not isinstance(value, Live):
            return value
        if value.name not in self.done:
            self.done.update(self._make(value.name))
        return self.done[value.name]

    def _make(self, name: str) -> dict[str, Any]:
        env = self.env
        if name in ("code", "code_verifier"):
            code, verifier = env.fresh_code()
            return {"code": code, "code_verifier": verifier}
        if name in ("login_state", "wecom_code"):
            # A login this case's browser started, scanned at WeCom: the callback's
            # real state (bound to this browser) and a real WeCom code.
            url = RelyingParty(env.stack).start()["url"]
            query = parse_qs(urlsplit(scan(env.stack, self.http, url, "lisi")).query)
            return {"login_state": query["state"][0], "wecom_code": query["code"][0]}
        if name in ("device_code", "user_code"):
            r = requests.post(env.stack.bridge_url + "/device/code",
                              data={"client_id": TV, "scope": "openid"}, timeout=10)
            started = r.json()
            return {"device_code": started["device_code"], "user_code": started["user_code"]}
        if name.startswith("ev_"):
            return wecom_event()
        if name == "session":
            env.fresh_code()  # signs in again if an earlier case ended the session
            return {"session": env.b.cookies.get(COOKIE)}
        # Tokens of their own for each case: an earlier case may have spent or
        # revoked the last ones (a replayed refresh token ends the whole login).
        code, verifier = env.fresh_code()
        r = requests.post(env.stack.bridge_url + "/token", auth=PORTAL[:2], timeout=10, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": PORTAL[2],
            "code_verifier": verifier})
        tokens = r.json()
        return {k: tokens[k] for k in ("access_token", "refresh_token", "id_token")}


def wecom_event() -> dict[str, object]:
    """A URL verification and a contact-change event as WeCom signs them (with the
    emulator's own encryption), about a member nobody signed in as."""
    ts, nonce = str(int(time.time())), secrets.token_hex(4)
    echostr = encrypt(EVENTS_AES_KEY, CORP, b"fuzz-echo")
    fields = {"Event": "change_contact", "ChangeType": "delete_user", "UserID": "fuzz-nobody"}
    sealed = encrypt(EVENTS_AES_KEY, CORP, event_xml(CORP, fields, int(ts)))
    return {"ev_timestamp": ts, "ev_nonce": nonce, "ev_echostr": echostr,
            "ev_signature": sign(EVENTS_TOKEN, ts, nonce, echostr),
            "ev_post_signature": sign(EVENTS_TOKEN, ts, nonce, sealed),
            "ev_body": envelope(CORP, 1000002, sealed)}


def send(env: FuzzEnv, target: Target, case: Case) -> requests.Response:
    http = requests.Session()
    live = Resolver(env, http)
    pairs = [(live(n), live(v)) for n, v in case.params]
    url = env.stack.bridge_url + target.path
    headers = {k: v.replace("{access_token}", live(Live("access_token"))) if
               "{access_token}" in v else v for k, v in case.headers.items()}
    if case.cookie is not None:
        http.cookies.set(COOKIE, live(case.cookie))
    kwargs: dict[str, Any] = {}
    body = live(case.raw_body)
    raw = body if isinstance(body, bytes) else str(body).encode()
    if case.placement == "query" or case.method in ("GET", "HEAD"):
        url += "?" + urlencode(pairs)
        if case.method not in ("GET", "HEAD"):
            kwargs["data"] = raw
    elif case.placement == "form":
        kwargs["data"] = urlencode(pairs).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif case.placement == "multipart":
        kwargs["files"] = [(_text(n), (None, v if isinstance(v, bytes) else str(v).encode()))
                           for n, v in pairs]
    elif case.placement == "json":
        kwargs["data"] = json.dumps({_text(n): _text(v) for n, v in pairs}).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        kwargs["data"] = raw
    TRIED[target.name] += 1
    return http.request(case.method, url, headers=headers, allow_redirects=False, timeout=30,
                        **kwargs)


def _text(value: object) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def allowed_target(env: FuzzEnv, url: str) -> bool:
    """Where the bridge may send a browser: itself, the (emulated) WeCom login, or a
    URI a client registered (http loopback ones on any port, RFC 8252 §7.3)."""
    if url.startswith("/"):
        return not url.startswith(("//", "/\\"))
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if url.startswith((env.stack.bridge_url + "/", env.stack.emulator_url + "/")) and \
            origin in (_origin(env.stack.bridge_url), _origin(env.stack.emulator_url)):
        return True
    bare = f"{origin}{parts.path}"
    for registered in REGISTERED:
        r = urlsplit(registered)
        if bare == registered:
            return True
        if r.scheme == parts.scheme == "http" and r.hostname in LOOPBACK and \
                parts.hostname == r.hostname and parts.path == r.path and \
                "@" not in parts.netloc:
            return True
    return False


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def check(env: FuzzEnv, target: Target, case: Case, r: requests.Response) -> None:
    """The properties every answer has, whatever was sent."""
    where = f"{case.method} {target.path} -> {r.status_code}"
    log = env.new_log()  # read first, so a failure here cannot spill into the next case
    text = r.content.decode("utf-8", "replace")
    assert r.status_code < 500, f"{where}: {text[:500]}"
    assert "Traceback (most recent call last)" not in text, where
    location = r.headers.get("Location")
    if location:
        assert allowed_target(env, location), f"{where} redirects to {location!r}"
    refresh = r.headers.get("Refresh", "")
    if "url=" in refresh:
        assert allowed_target(env, refresh.split("url=", 1)[1]), f"{where}: {refresh!r}"
    if r.headers.get("Content-Type", "").startswith("text/html"):
        assert HTML_PROBE not in text and ATTR_PROBE not in text, f"{where} reflects input raw"
    # Only the app's own answers (they carry X-Request-Id): the server refuses an
    # over-long request head (431) before the app sees it, with its own answer.
    if target.programmatic and r.status_code >= 400 and case.method != "HEAD" and \
            "X-Request-Id" in r.headers:
        assert r.headers.get("Content-Type", "").startswith("application/json"), \
            f"{where}: {r.headers.get('Content-Type')} {text[:200]}"
        body = json.loads(text)
        assert isinstance(body, dict) and isinstance(body.get("error"), str), f"{where}: {text}"
    assert "Traceback" not in log and "unhandled error" not in log, f"{where}: {log[-3000:]}"
