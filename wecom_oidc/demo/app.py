"""The sample relying party of `wecom-oidc demo`: an ordinary OpenID Connect
client (Authlib's Flask client) that signs in through the bridge and shows what
it received.

Nothing here knows about WeCom. It reads the bridge's discovery document,
validates the ID token itself (signature from jwks_uri, iss, aud, exp, nonce,
at_hash) and calls /userinfo, which is the point of the demo: a standard
client library works against the bridge with no special case.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, jsonify, redirect, render_template, request, session
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

# Which scopes each sign-in button asks for. Inside the WeCom app, asking for
# email or phone makes the bridge use snsapi_privateinfo, so WeCom shows its
# consent page; profile alone is the silent snsapi_base login.
SCOPES = {
    "full": "openid profile email phone",
    "basic": "openid profile",
}

# Labels for the claims a person will recognise; anything else is shown raw.
CLAIM_LABELS = {
    "sub": "用户ID · subject (WeCom userid)",
    "preferred_username": "用户名 · preferred_username",
    "name": "姓名 · name",
    "email": "邮箱 · email",
    "email_verified": "邮箱已验证 · email_verified",
    "phone_number": "手机 · phone_number",
    "phone_number_verified": "手机已验证 · phone_number_verified",
    "gender": "性别 · gender",
    "picture": "头像 · picture",
    "iss": "签发者 · iss",
    "aud": "受众 · aud",
    "exp": "过期时间 · exp",
    "iat": "签发时间 · iat",
    "auth_time": "登录时间 · auth_time",
    "nonce": "nonce",
    "at_hash": "at_hash",
}
_TIME_CLAIMS = ("exp", "iat", "auth_time")


@dataclass(frozen=True)
class DemoClientConfig:
    """How the sample app is registered at the bridge."""

    issuer: str  # the bridge's issuer URL
    app_url: str  # where this app is served, without a trailing slash
    client_id: str
    client_secret: str
    secret_key: str  # signs this app's own session cookie
    session_cookie: str = "demo_rp_session"

    @property
    def redirect_uri(self) -> str:
        return self.app_url + "/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.app_url + "/"


def create_app(config: DemoClientConfig) -> Flask:
    """The sample relying party: home, login, callback, logout."""
    app = Flask(__name__, template_folder="templates")
    app.config.update(
        SECRET_KEY=config.secret_key,
        # All three demo servers share the host 127.0.0.1, and browsers do not
        # separate cookies by port: a distinct name keeps ours apart.
        SESSION_COOKIE_NAME=config.session_cookie,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    oauth = OAuth(app)
    bridge = oauth.register(
        "bridge",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=config.issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": SCOPES["full"],
            "code_challenge_method": "S256",  # PKCE, although this client has a secret
            "token_endpoint_auth_method": "client_secret_basic",
            "timeout": 10,
        },
    )

    @app.get("/")
    def home() -> str:
        return render_template("home.html", user=session.get("user"), scopes=SCOPES,
                               rows=_rows, issuer=config.issuer)

    @app.get("/login")
    def login() -> Response:
        scope = SCOPES.get(request.args.get("scope", "full"), SCOPES["full"])
        return bridge.authorize_redirect(config.redirect_uri, scope=scope)

    @app.get("/callback")
    def callback() -> Any:
        try:
            _check_iss(bridge.load_server_metadata()["issuer"])
            token = bridge.authorize_access_token()
            userinfo = dict(bridge.userinfo(token=token))
        except OAuthError as e:
            log.info("sign-in failed error=%s", e.error)
            return render_template("failed.html", error=e.error,
                                   description=e.description or ""), 400
        except JoseError as e:  # the ID token failed validation
            log.warning("ID token rejected: %s", e.error)
            return render_template("failed.html", error="invalid_id_token",
                                   description=e.description or e.error), 400
        id_claims = dict(token["userinfo"])  # Authlib's name for the validated ID token claims
        session.clear()
        session["user"] = {"id_token": id_claims, "userinfo": userinfo,
                           "scope": token.get("scope", "")}
        session["id_token_hint"] = token["id_token"]
        log.info("signed in sub=%s", id_claims.get("sub"))
        return redirect("/")

    @app.post("/logout")
    def logout() -> Response:
        hint = session.get("id_token_hint")
        session.clear()
        # RP-initiated logout at the bridge once it advertises end_session_endpoint;
        # until then signing out here only forgets the local session.
        if hint and bridge.load_server_metadata().get("end_session_endpoint"):
            return bridge.logout_redirect(post_logout_redirect_uri=config.post_logout_redirect_uri,
                                          id_token_hint=hint)
        return redirect("/")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app


def _check_iss(issuer: str) -> None:
    """RFC 9207 (the bridge advertises it): an `iss` in the authorization
    response must name our issuer, else it is a mix-up attack."""
    iss = request.args.get("iss")
    if iss is not None and iss != issuer:
        raise OAuthError(error="invalid_issuer",
                         description=f"the response came from {iss!r}, not {issuer!r}")


def _rows(claims: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(claim, label, shown value) for a claims table, known claims first."""
    order = [k for k in CLAIM_LABELS if k in claims] + sorted(k for k in claims
                                                             if k not in CLAIM_LABELS)
    return [(k, CLAIM_LABELS.get(k, k), _show(k, claims[k])) for k in order]


def _show(key: str, value: Any) -> str:
    if key in _TIME_CLAIMS and isinstance(value, int | float):
        when = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{when} ({int(value)})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
