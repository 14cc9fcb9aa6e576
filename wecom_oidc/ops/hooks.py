"""How ops plugs into the app without touching the views: request ids, and login and
token outcomes read off the responses of the callback and token endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from ..upstream.base import callback_path
from ..upstream.wecom import is_wecom_client
from ..web.errors import PROXY_REQUEST_ID, request_id
from ..web.headers import first_header
from .audit import audit
from .health import make_ops_blueprint
from .metrics import Metrics


def init_app(app: Flask, metrics: Metrics) -> None:
    """Register /readyz, /metrics and the request hooks on the bridge `app`."""
    provider = app.extensions["wecom_oidc"]
    settings = provider.settings
    prefix = settings.issuer_path
    app.register_blueprint(make_ops_blueprint(provider, metrics), url_prefix=prefix or None)
    trust_proxy = settings.server.proxy_hops > 0
    callback, token_path = prefix + callback_path(settings.upstream), prefix + "/token"
    revoke_path = prefix + "/revoke"

    def _take_request_id() -> None:
        # Only a trusted proxy may name the request (the same rule as X-Forwarded-*).
        given = request.headers.get("X-Request-Id", "")
        if given and PROXY_REQUEST_ID.match(given):
            g.request_id = given

    if trust_proxy:  # else there is nothing to take: no hook to run on every request
        app.before_request(_take_request_id)

    @app.after_request
    def _observe(resp: Response) -> Response:
        # The request itself, not the proxy: every request comes here.
        req = request._get_current_object()  # type: ignore[attr-defined]
        path = req.path
        if path == callback:
            metrics.login(login_outcome(resp), login_mode(req.headers))
        elif path == token_path and req.method == "POST":
            if resp.status_code == 200:
                metrics.token_issued(_form("grant_type"))
            audit_token_response(resp)
        elif path == revoke_path and req.method == "POST" and resp.status_code != 200:
            audit("revoke", client=request_client(), outcome="failure",
                  reason=_error_of(resp))
        if first_header(resp.headers, "X-Request-Id") is None:
            resp.headers.add("X-Request-Id", request_id())
        return resp


# Device-grant polling answers these every few seconds: not events worth a line.
_QUIET_ERRORS = ("authorization_pending", "slow_down")


def audit_token_response(resp: Response) -> None:
    """One audit line per /token answer: `token` (code, device) or `refresh`, who
    got it, or why not. Every grant's tokens are recorded by Provider.save_token,
    which leaves who got them in g, so every grant and token format is covered."""
    grant = _form("grant_type")
    event = "refresh" if grant == "refresh_token" else "token"
    if resp.status_code == 200:
        issued = g.get("issued_token")
        sub, client, scope = issued or ("", request_client(), "")
        audit(event, sub=sub, client=client, outcome="success", grant_type=grant,
              scope=scope.replace(" ", "+"))
        return
    reason = _error_of(resp)
    if reason not in _QUIET_ERRORS:
        audit(event, client=request_client(), outcome="failure", grant_type=grant, reason=reason)


def request_client() -> str:
    """The client a token-endpoint request names (Basic auth or the form)."""
    try:
        auth = request._get_current_object().authorization  # type: ignore[attr-defined]
    except Exception:  # undecodable Basic credentials: the endpoint refuses them anyway
        auth = None
    return (auth.username if auth and auth.username else "") or _form("client_id")


def _form(name: str) -> str:
    """A field of the request's form, or "" when the body was refused (too large, cut
    short): the answer being observed already says so, and an after-request hook must
    not turn it into a 500."""
    try:
        return str(request._get_current_object().form.get(name, ""))  # type: ignore[attr-defined]
    except HTTPException:
        return ""


def _error_of(resp: Response) -> str:
    body = resp.get_json(silent=True)
    return str(body.get("error", resp.status_code)) if isinstance(body, dict) else str(
        resp.status_code)


def login_mode(headers: Any) -> str:
    """inapp inside the WeCom client (its User-Agent says wxwork), else qr (wecom-api.md §8)."""
    return "inapp" if is_wecom_client(headers.get("User-Agent", "")) else "qr"


def login_outcome(resp: Response) -> str:
    """success: back to the app with a code; denied: access_denied (declined, refused
    member); error: anything else (bad state, WeCom or store failure). In-app logins
    leave by a page with a Refresh header (web/fragment.py) instead of a redirect."""
    h = resp.headers
    moving_on = (first_header(h, "Refresh") or "").partition("url=")[2]
    if resp.status_code in (301, 302, 303, 307) or moving_on:
        target = urlsplit(first_header(h, "Location") or moving_on)
        errors = []
        for name, value in _fields(target.query or target.fragment):
            if name == "code":
                return "success"
            if name == "error":
                errors.append(unquote(value.replace("+", " ")))
        return "denied" if errors == ["access_denied"] else "error"
    return "denied" if resp.status_code == 403 else "error"


def _fields(query: str) -> Any:
    """The (name, raw value) of each field parse_qs(query) keeps (one with a value),
    the name decoded as parse_qs does: only the names decoded and the error's value
    (parse_qs decoded every field, about 40k instructions per callback)."""
    for field in query.split("&"):
        name, eq, value = field.partition("=")
        if eq and value:
            yield unquote(name.replace("+", " ")), value
