"""The device grant's web side (RFC 8628): the device authorization endpoint and
the verification page people reach from the device's QR code or by typing its URL.

The page works three ways: inside the WeCom app (silent in-app login with
snsapi_base), in a desktop browser (WeCom's QR web login), or at once with a
bridge session. Then it names the app, repeats the code and asks Approve or Deny
(RFC 8628 §5.4: the person must see what they are about to let in).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request

# werkzeug's Response: what redirect() returns (Flask's is a subclass of it).
from werkzeug.wrappers import Response

from ..errors import AccessDenied, LoginCancelled
from ..oidc.client_claims import for_client
from ..oidc.device import PENDING, DeviceRequest, decide, find_request, normalise_user_code
from ..oidc.models import User
from ..oidc.session import Session
from ..ops.audit import audit
from ..ratelimit import Decision, RateLimiter
from ..store.kinds import Kind
from ..upstream.base import LoginRequest
from .current import provider as current_provider
from .current import upstream as current_upstream
from .device_texts import device_texts
from .errors import request_id
from .i18n import page_lang, reason_text
from .login_state import bind_browser, save_bound, take_bound
from .session_check import still_member
from .session_cookie import session_cookie, set_session_cookie

log = logging.getLogger("wecom_oidc.web")

DEVICE_LOGIN = Kind.DEVICE_LOGIN
# The [limits] rule counting wrong user codes per address (only failures count).
WRONG_CODES = "device_user_code_per_ip"


bp = Blueprint("device", __name__)


@bp.post("/device/code")
def device_authorization() -> Response:
    return current_provider().create_endpoint_response("device_authorization")


@bp.get("/device")
def verification() -> Response:
    provider = current_provider()
    typed = request.args.get("user_code")
    if typed is None:
        return _page("device_entry.html", code="")
    limit = _guesses_exhausted()
    if not limit.allowed:
        log.warning("device code entry rate limited ip=%s rid=%s", request.remote_addr,
                    request_id())
        resp = _page("device_entry.html", 429, code=typed, error="too_many")
        resp.headers["Retry-After"] = str(limit.retry_after)
        return resp
    code = normalise_user_code(typed)
    found = find_request(provider, code) if code else None
    if found is None:
        _count_wrong_guess()
        return _page("device_entry.html", 400, code=typed, error="unknown_code")
    if found.status != PENDING:
        return _page("device_done.html", 409, outcome="already")
    session = provider.sessions.load(session_cookie(provider))
    member = _member(session)
    if session is None or member is None:
        return _start_login(found)  # a departed member's login then says why
    user = _for_client(member, found)
    if user is None:
        decide(provider, found.user_code, None)
        return _denied(found, member.sub)
    return _page("device_confirm.html", req=found, client=provider.clients[found.client_id],
                 person=member.claims.get("name") or member.sub,
                 csrf=_csrf(session, found.user_code))


@bp.post("/device")
def decision() -> Response:
    provider = current_provider()
    session = provider.sessions.load(session_cookie(provider))
    code = normalise_user_code(request.form.get("user_code", ""))
    found = find_request(provider, code) if code else None
    if session is None or found is None or not hmac.compare_digest(
            request.form.get("csrf", ""), _csrf(session, found.user_code)):
        # A forged or stale form (login CSRF, another tab): nothing is decided.
        return _page("device_done.html", 400, outcome="invalid")
    if request.form.get("action") != "approve":
        decide(provider, found.user_code, None)
        _audit("denied", found, session.sub)
        return _page("device_done.html", outcome="denied")
    member = _member(session)
    if member is None:
        return _page("device_done.html", 400, outcome="invalid")
    user = _for_client(member, found)
    if user is None:
        decide(provider, found.user_code, None)
        return _denied(found, member.sub)
    if not decide(provider, found.user_code, user):
        return _page("device_done.html", 409, outcome="already")
    provider.sessions.add_client(session, found.client_id)
    _audit("approved", found, session.sub)
    return _page("device_done.html", outcome="approved",
                 client=provider.clients[found.client_id])


@bp.get("/device/callback")
def device_callback() -> Response:
    provider = current_provider()
    # Bound to this browser like /authorize's logins: someone else's unfinished
    # login is refused (login CSRF, RFC 9700 §4.7).
    pending = take_bound(provider, DEVICE_LOGIN, request.args.get("state", ""))
    again = provider.url("/device?" + urlencode({"user_code": pending["user_code"]}))
    try:
        identity = current_upstream().complete_login(request.args)
    except LoginCancelled:
        audit("login", client=pending["client_id"], outcome="cancelled", flow="device")
        return _page("device_done.html", outcome="cancelled", retry=again)
    provider.sessions.end(session_cookie(provider))
    user = provider.user_for(identity)
    session = provider.sessions.start(sub=user.sub, claims=user.claims,
                                      identity=user.identity, auth_time=user.auth_time,
                                      client_id=pending["client_id"])
    audit("login", sub=user.sub, client=pending["client_id"], outcome="success",
          sid=session.sid, flow="device")
    resp = redirect(again, 303)
    set_session_cookie(provider, resp, session.cookie)
    return resp


def _start_login(found: DeviceRequest) -> Response:
    """To WeCom, bound to this browser; back at /device/callback."""
    provider = current_provider()
    state, key = save_bound(provider, DEVICE_LOGIN, {"user_code": found.user_code,
                                                     "client_id": found.client_id})
    # No scopes: in WeCom the login stays silent (snsapi_base), never a consent page.
    target = current_upstream().login_url(LoginRequest(
        state=state, callback_url=provider.url("/device/callback"),
        user_agent=request.headers.get("User-Agent", ""), lang=page_lang()))
    return bind_browser(provider, redirect(target, 302), key)


def _member(session: Session | None) -> User | None:
    """The session's person as WeCom describes them now; None (and the session
    ended) when they may no longer sign in."""
    provider = current_provider()
    if session is None:
        return None
    return still_member(provider, session, session.user())


def _for_client(user: User, found: DeviceRequest) -> User | None:
    """`user` as this client sees them, or None when its access policy leaves
    them out."""
    provider = current_provider()
    try:
        return for_client(provider.settings, user, found.client_id, found.scope,
                          provider.place)
    except AccessDenied as e:
        log.warning("device denied by policy client=%s reason=%s rid=%s",
                    found.client_id, e.detail, request_id())
        return None


def _denied(found: DeviceRequest, sub: str) -> Response:
    _audit("denied_by_policy", found, sub)
    return _page("device_done.html", 403, outcome="policy",
                 message=reason_text("policy"))


def _guesses_exhausted() -> Decision:
    return _limiter().peek(WRONG_CODES, request.remote_addr or "-")


def _count_wrong_guess() -> None:
    _limiter().hit(WRONG_CODES, request.remote_addr or "-")


def _limiter() -> RateLimiter:
    """The app's rate limiter (web/rate_limits.py registers it on the app)."""
    limiter: RateLimiter = current_app.extensions["rate_limiter"]
    return limiter


def _csrf(session: Session, user_code: str) -> str:
    """The confirmation form's token: bound to this browser's session (its cookie
    is HttpOnly, so another site can neither read nor forge it) and to the code."""
    return hmac.new(session.cookie.encode(), f"device:{user_code}".encode(),
                    hashlib.sha256).hexdigest()


def _audit(outcome: str, found: DeviceRequest, sub: str) -> None:
    """The person's answer to a device, on the audit log (never the codes)."""
    audit("device", sub=sub, client=found.client_id, outcome=outcome)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    t = device_texts()
    resp = Response(render_template(template, t=t, lang=page_lang(), heading=t["device_title"],
                                    **context), status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    # The Approve button must not be clickable through another site's frame.
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return resp
