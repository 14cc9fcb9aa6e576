"""The real stack for end-to-end tests: the WeCom emulator on one loopback port,
the bridge under `wecom-oidc serve` (real worker processes) on another, and Authlib's OIDC
client as the relying party, all talking through sockets."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask

from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve

DESKTOP_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0 Safari/537.36")
WECOM_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148 wxwork/4.1.6 MicroMessenger/7.0.1 Language/zh")
WEB_REDIRECT = "https://rp.example/callback"
CLI_REDIRECT = "http://127.0.0.1:18000/callback"
CONFIDENTIAL = ("webapp", "webapp-secret-0123456789-0123456")
PUBLIC = "cli"


# Building a Flask app compiles its URL rules with ast.parse, which CPython 3.11 does
# not make safe across threads ("AST constructor recursion depth mismatch"): tests that
# start relying parties from a thread pool build them one at a time.
_FLASK_SETUP = threading.Lock()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def bridge_config(port: int, emulator_url: str, workdir: Path, extra: str = "",
                  issuer: str | None = None) -> str:
    return f"""
issuer = "{issuer or f'http://127.0.0.1:{port}'}"

[wecom]
corp_id = "ww_emulated_corp"
agent_id = 1000002
secret = "emulated-app-secret"
api_base_url = "{emulator_url}"
authorize_url = "{emulator_url}/connect/oauth2/authorize"
web_login_url = "{emulator_url}/wwlogin/sso/login"
timeout = 5

[store]
url = "sqlite:///{workdir}/bridge.db"

[keys]
dir = "{workdir}/keys"

[claims]
email_template = "{{userid}}@corp.example"

[[clients]]
client_id = "{CONFIDENTIAL[0]}"
client_secret = "{CONFIDENTIAL[1]}"
redirect_uris = ["{WEB_REDIRECT}"]

[[clients]]
client_id = "{PUBLIC}"
redirect_uris = ["{CLI_REDIRECT}"]
{extra}
"""


@dataclass
class Stack:
    bridge_url: str
    emulator_url: str
    workdir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    servers: list = field(default_factory=list)
    files: list = field(default_factory=list)
    issuer: str = ""  # when it differs from bridge_url (an https issuer in front of plain http)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for s in self.servers:
            s.shutdown()
            s.server_close()
        for f in self.files:
            f.close()

    # --- the emulator's control API -------------------------------------------------
    def emu(self, method: str, path: str, **json) -> dict:
        r = requests.request(method, f"{self.emulator_url}/_emulator/{path}", json=json or None,
                             timeout=5)
        r.raise_for_status()
        return r.json()

    def calls(self, api: str) -> int:
        return int(self.emu("GET", "calls").get(api, 0))


def start_stack(workdir: Path, *, workers: int = 2, extra_config: str = "",
                issuer_scheme: str = "http", issuer_path: str = "") -> Stack:
    """Emulator in a thread, bridge under `serve` in a subprocess. `issuer_scheme`
    "https" names an https issuer while the server still serves plain http (as behind
    a TLS-terminating proxy); `issuer_path` mounts the bridge below a path."""
    port = free_port()
    server, emulator_url = serve(EmulatorConfig(trusted_domains=[f"127.0.0.1:{port}"]))
    config = workdir / "bridge.toml"
    issuer = f"{issuer_scheme}://127.0.0.1:{port}{issuer_path}"
    config.write_text(bridge_config(port, emulator_url, workdir, extra_config, issuer),
                      encoding="utf-8")
    log = open(workdir / "bridge.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "wecom_oidc.cli", "--config", str(config), "serve",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stack = Stack(f"http://127.0.0.1:{port}{issuer_path}", emulator_url, workdir, [proc],
                  [server], [log], issuer=issuer)
    try:
        wait_http(stack.bridge_url + "/healthz", proc)
    except Exception:
        stack.stop()
        raise
    return stack


class RelyingParty:
    """A relying party built on Authlib's OIDC client, which validates the ID token
    itself (signature via JWKS, iss, aud, exp, nonce, at_hash)."""

    def __init__(self, stack: Stack, *, public: bool = False, scope: str = "openid profile email",
                 client_id: str | None = None, client_secret: str | None = None,
                 redirect_uri: str | None = None):
        """The registered `webapp` (or `cli` when `public`), or any client given by
        `client_id` (public unless `client_secret`) and its `redirect_uri`."""
        self.stack = stack
        with _FLASK_SETUP:
            self.app = Flask("relying-party")
        self.app.secret_key = secrets.token_hex(16)
        oauth = OAuth(self.app)
        kwargs = {"scope": scope, "code_challenge_method": "S256"}
        if client_id is None:
            client_id = PUBLIC if public else CONFIDENTIAL[0]
            client_secret = None if public else CONFIDENTIAL[1]
            redirect_uri = CLI_REDIRECT if public else WEB_REDIRECT
        if client_secret is None:
            kwargs["token_endpoint_auth_method"] = "none"
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uri = redirect_uri
        self.client = oauth.register(
            "bridge", client_id=client_id, client_secret=client_secret,
            server_metadata_url=stack.bridge_url + "/.well-known/openid-configuration",
            client_kwargs=kwargs)

    def start(self, **params) -> dict:
        """The authorization URL plus the state, nonce and verifier to check later."""
        with self.app.app_context():
            return self.client.create_authorization_url(self.redirect_uri, **params)

    def finish(self, callback_url: str, started: dict) -> tuple[dict, dict, dict]:
        """Code -> tokens -> validated ID token claims -> userinfo."""
        query = parse_qs(urlsplit(callback_url).query)
        assert query["state"] == [started["state"]]
        assert query["iss"] == [self.stack.bridge_url]
        with self.app.app_context():
            token = self.client.fetch_access_token(
                redirect_uri=self.redirect_uri, code=query["code"][0],
                code_verifier=started.get("code_verifier"))
            claims = self.client.parse_id_token(token, nonce=started["nonce"])
            userinfo = self.client.userinfo(token=token)
        return token, dict(claims), dict(userinfo)

    def refresh(self, refresh_token: str, **params) -> dict:
        """A refresh token grant through Authlib's client (raises OAuthError on an
        error response); `scope` defaults to the client's registered scope."""
        with self.app.app_context():
            return self.client.fetch_access_token(grant_type="refresh_token",
                                                  refresh_token=refresh_token, **params)

    def id_claims(self, token: dict, nonce: str | None = None) -> dict:
        """The ID token of `token`, validated by Authlib's client against the JWKS."""
        with self.app.app_context():
            return dict(self.client.parse_id_token(token, nonce=nonce))


def browser(user_agent: str = DESKTOP_UA) -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = user_agent
    return s


def scan(stack: Stack, b: requests.Session, auth_url: str, userid: str) -> str:
    """Desktop: the bridge sends the browser to WeCom's QR page and `userid` 'scans'.
    Returns the bridge callback URL WeCom redirects the browser to."""
    to_wecom = b.get(auth_url, allow_redirects=False)
    assert to_wecom.status_code == 302, to_wecom.text
    page = urlsplit(to_wecom.headers["Location"])
    assert page.path == "/wwlogin/sso/login"
    assert b.get(to_wecom.headers["Location"]).status_code == 200
    params = {k: v[0] for k, v in parse_qs(page.query).items()}
    scanned = b.get(f"{stack.emulator_url}/wwlogin/sso/scan?"
                    + urlencode({**params, "userid": userid}), allow_redirects=False)
    assert scanned.status_code == 302, scanned.text
    return scanned.headers["Location"]


def qr_login(stack: Stack, auth_url: str, userid: str, ua: str = DESKTOP_UA,
             b: requests.Session | None = None) -> str:
    """A desktop QR login; returns where the bridge finally redirects the browser.
    Pass `b` to keep the browser (and the bridge session cookie it receives)."""
    b = b if b is not None else browser(ua)
    return follow_to_client(b, scan(stack, b, auth_url, userid))


def inapp_login(stack: Stack, auth_url: str, userid: str) -> str:
    """Inside the WeCom app: the phone is signed in as `userid`; snsapi_base is silent."""
    b = browser(WECOM_UA)
    b.cookies.set("emu_userid", userid)
    to_wecom = b.get(auth_url, allow_redirects=False)
    assert to_wecom.status_code == 302, to_wecom.text
    location = to_wecom.headers["Location"]
    assert urlsplit(location).path == "/connect/oauth2/authorize"
    assert location.endswith("#wechat_redirect")
    r = b.get(location.split("#")[0], allow_redirects=False)
    if r.status_code == 200:  # snsapi_privateinfo: the consent page
        r = consent(b, r)
    assert r.status_code == 302, r.text
    return follow_page_to_client(b, r.headers["Location"])


def follow_page_to_client(b: requests.Session, callback: str) -> str:
    """The in-app callback: the bridge answers with a page that moves on with a Refresh
    header (a new navigation drops WeCom's #wechat_redirect, which a redirect would
    carry on to the app); returns the URL it goes to."""
    r = b.get(callback, allow_redirects=False)
    assert r.status_code == 200, f"{r.status_code}: {r.text[:500]}"
    assert r.headers["Cache-Control"] == "no-store"
    delay, _, url = r.headers["Refresh"].partition("; url=")
    assert delay == "0" and url, r.headers["Refresh"]
    return url


def consent(b: requests.Session, page: requests.Response) -> requests.Response:
    """Press 'Allow' on the emulator's consent page (its form posts the decision)."""
    import html
    import re

    form = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S)
    assert form, "no consent form"
    fields = {k: html.unescape(v) for k, v in
              re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2))}
    action = html.unescape(form.group(1))
    url = action if action.startswith("http") else page.url.split("/connect")[0] + action
    fields["action"] = "allow"
    return b.post(url, data=fields, allow_redirects=False)


def follow_to_client(b: requests.Session, callback: str) -> str:
    """Let the bridge's callback run and return the Location it sends the browser to."""
    r = b.get(callback, allow_redirects=False)
    assert r.status_code == 302, f"{r.status_code}: {r.text[:500]}"
    return r.headers["Location"]


class StackClock:
    """The bridge's clock for `start_live_stack`: real time minus an offset that
    only shrinks, so a test can let time pass at once (`advance`) while every
    token the bridge signs stays in the past for the relying party's checks."""

    def __init__(self, behind: float = 3600.0):
        self.behind = behind

    def __call__(self) -> float:
        return time.time() - self.behind

    def advance(self, seconds: float) -> None:
        if seconds > self.behind:
            raise ValueError("the bridge's clock may not run ahead of the real one")
        self.behind -= seconds


def start_live_stack(workdir: Path, clock: StackClock, extra_config: str = "") -> Stack:
    """The bridge in this process on a real loopback socket (werkzeug's threaded
    server) with an injected clock, and the emulator beside it: for the tests that
    let time pass without sleeping. Everything else uses `serve` (start_stack)."""
    from werkzeug.serving import make_server

    from wecom_oidc.app import create_app
    from wecom_oidc.config import load_settings

    port = free_port()
    emulator, emulator_url = serve(EmulatorConfig(trusted_domains=[f"127.0.0.1:{port}"]))
    config = workdir / "bridge.toml"
    config.write_text(bridge_config(port, emulator_url, workdir, extra_config),
                      encoding="utf-8")
    app = create_app(load_settings(str(config), env={}), clock=clock)
    bridge = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=bridge.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    stack = Stack(f"http://127.0.0.1:{port}", emulator_url, workdir,
                  servers=[bridge, emulator], issuer=f"http://127.0.0.1:{port}")
    wait_http(stack.bridge_url + "/healthz")
    return stack


class Receiver:
    """An app's back-channel logout endpoint: records every POST it gets."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                received.append({"path": self.path, "headers": dict(self.headers),
                                 "form": {k: v[0] for k, v in parse_qs(body).items()}})
                self.send_response(200)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel-logout"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
