"""A fake upstream: the Upstream protocol over an in-memory directory, for
testing the OIDC layer without WeCom. Plus the small helpers the OIDC and web
tests share: a settings text, an app builder, a clock and a login walker."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from wecom_oidc.errors import LoginCancelled, UpstreamDenied, UpstreamError
from wecom_oidc.identity import Identity

PEOPLE = {
    "zhangsan": Identity(subject="zhangsan", name="张三", email="zhangsan@corp.example",
                         phone="13800000001", gender="male", departments=(2,)),
    "lisi": Identity(subject="lisi", name="李四"),
    "wangwu": Identity(subject="wangwu", name="王五", biz_mail="wangwu@mail.corp.example"),
}

# `code` values at the callback that make the fake fail like WeCom would.
BROKEN = "broken"  # -> UpstreamError with an errcode and an admin hint
BROKEN_ERRCODE = 60020
BROKEN_HINT = "Add the egress IP 203.0.113.7 to the app's trusted IPs."


class FakeUpstream:
    """`code` at the callback is the userid of who logged in; 'outsider' is refused."""

    def __init__(self) -> None:
        self.last_login: dict[str, object] = {}

    name = "wecom"

    def login_url(self, login):
        self.last_login = {"state": login.state, "callback_url": login.callback_url,
                           "scopes": login.scopes, "user_agent": login.user_agent}
        return "https://upstream.test/login?" + urlencode({"state": login.state})

    def complete_login(self, params: Mapping[str, str]) -> Identity:
        code = params.get("code", "")
        if not code:
            raise LoginCancelled("cancelled")
        if code == BROKEN:
            raise UpstreamError("refused", "errcode=60020 from 203.0.113.7", code=BROKEN_ERRCODE,
                                hint=BROKEN_HINT)
        if code not in PEOPLE:
            raise UpstreamDenied("not_member", "non-member", hint="invite them")
        return PEOPLE[code]


# --- settings ------------------------------------------------------------------------

ISSUER = "https://sso.example.com"
APP_ID, APP_SECRET, APP_REDIRECT = "app", "app-secret-4f1c9a7e-0123456789ab", "https://app.example.com/cb"
OTHER_ID, OTHER_SECRET = "other", "other-secret-8d2b-0123456789abcd"
OTHER_REDIRECT = "https://other.example.com/cb"
CLI_ID, CLI_REDIRECT = "cli", "http://127.0.0.1:8000/callback"


def settings_toml(issuer: str = ISSUER, extra: str = "") -> str:
    """A complete config: two confidential clients and one public (PKCE) client."""
    return f"""
issuer = "{issuer}"
{extra}
[wecom]
corp_id = "ww0123456789abcdef"
agent_id = 1000002
secret = "corp-secret-not-used-by-fakes"

[store]
url = "memory://"

[[clients]]
client_id = "{APP_ID}"
client_secret = "{APP_SECRET}"
redirect_uris = ["{APP_REDIRECT}"]

[[clients]]
client_id = "{OTHER_ID}"
client_secret = "{OTHER_SECRET}"
redirect_uris = ["{OTHER_REDIRECT}"]

[[clients]]
client_id = "{CLI_ID}"
redirect_uris = ["{CLI_REDIRECT}"]
"""


class FakeClock:
    """Injected time: starts at a fixed instant and moves only when told."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- PKCE ----------------------------------------------------------------------------

def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- walking a login -------------------------------------------------------------------

def query(url: str) -> dict[str, str]:
    """The query parameters of a URL, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def auth_params(client_id: str = APP_ID, redirect_uri: str = APP_REDIRECT,
                **extra: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": "openid profile email", "state": "st-123", "nonce": "n-456"}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def start_login(http: Any, prefix: str = "", **params: str) -> str:
    """GET /authorize and return the login state the bridge sent upstream."""
    resp = http.get(prefix + "/authorize", query_string=auth_params(**params))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return query(resp.headers["Location"])["state"]


def finish_login(http: Any, state: str, userid: str = "zhangsan", prefix: str = "") -> Any:
    """The upstream's redirect back to the bridge: the callback response."""
    args = {"state": state}
    if userid:
        args["code"] = userid
    return http.get(prefix + "/wecom/callback", query_string=args)


def login(http: Any, userid: str = "zhangsan", prefix: str = "", **params: str) -> str:
    """A full browser login; returns the authorization code the client received."""
    resp = finish_login(http, start_login(http, prefix, **params), userid, prefix)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return query(resp.headers["Location"])["code"]


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def exchange(http: Any, code: str, client_id: str = APP_ID, secret: str | None = APP_SECRET,
             redirect_uri: str = APP_REDIRECT, prefix: str = "", **form: str) -> Any:
    """POST /token with client_secret_basic (or `none` when secret is None)."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    headers = {}
    if secret is None:
        data["client_id"] = client_id
    else:
        headers = basic_auth(client_id, secret)
    data.update(form)
    return http.post(prefix + "/token", data=data, headers=headers)


def front_of(flask_app, cls):
    """The WSGI layer of class `cls` (a front) in `flask_app.wsgi_app`'s chain."""
    layer = flask_app.wsgi_app
    while not isinstance(layer, cls):
        layer = layer.app
    return layer
