"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) at /end_session.

Without an ID token of the session's person as id_token_hint, any site could end
the session by linking here; so then the person confirms on a page whose form
carries a token only this browser's session cookie yields (§2: the OP SHOULD ask).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from authlib.common.urls import add_params_to_uri
from flask import redirect, render_template, request

# werkzeug's Response: what redirect() returns (Flask's is a subclass of it).
from werkzeug.wrappers import Response

from ..oidc.logout import frontchannel_urls, notify_backchannel
from ..oidc.provider import Provider
from ..oidc.session import Session
from ..ops.audit import audit
from .current import provider as current_provider
from .errors import error_response, request_id
from .headers import allow_form_target, allow_frames
from .i18n import page_lang, texts
from .session_cookie import clear_session_cookie, session_cookie

log = logging.getLogger("wecom_oidc.web")


def end_session() -> Response:
    """End the browser's bridge session (or the one an ID token names), tell the
    session's apps, and go back to the app's post_logout_redirect_uri."""
    provider = current_provider()
    v = request.values
    hint = v.get("id_token_hint", "")
    claims: dict[str, Any] | None = None
    if hint:
        claims = provider.jwts.decode(hint, check_exp=False)
        if claims is None:
            return _bad("id_token_hint is not an ID token issued by this server.")
    client_id = v.get("client_id", "")
    if claims is not None:
        aud = claims.get("aud")
        hinted = aud[0] if isinstance(aud, list) and aud else aud
        if client_id and client_id != hinted:
            return _bad("client_id does not match the id_token_hint's audience.")
        client_id = client_id or str(hinted or "")
    target = v.get("post_logout_redirect_uri", "")
    if target:
        client = provider.clients.get(client_id)
        if client is None:
            return _bad("post_logout_redirect_uri needs client_id or id_token_hint.")
        # Exact match only: anything else would be an open redirect.
        if target not in client.settings.post_logout_redirect_uris:
            return _bad("post_logout_redirect_uri is not registered for this client.")
    cookie = session_cookie(provider)
    current = provider.sessions.load(cookie)
    if current is not None and not _confirmed(current, claims, v):
        return _confirm_page(provider, current, client_id, target)
    session = provider.sessions.end(cookie)
    if session is None and claims is not None:
        # No cookie (an app's server calling, e.g. oauth2-proxy's backend logout):
        # the ID token's sid names the session to end.
        session = provider.sessions.end_by_sid(str(claims.get("sid") or ""),
                                               str(claims.get("sub") or ""))
    frames: list[str] = []
    if session is not None:
        n = provider.store.revoke_grant(session.sid)
        notify_backchannel(provider, session)
        frames = frontchannel_urls(provider, session)
        log.info("logout sub=%s client=%s revoked=%d rid=%s", session.sub, client_id, n,
                 request_id())
        audit("logout", sub=session.sub, client=client_id, outcome="success",
              sid=session.sid, revoked=n, by="hint" if current is None or claims else
              "confirmation")
    else:
        audit("logout", client=client_id, outcome="no_session")
    if target:
        if v.get("state"):
            target = add_params_to_uri(target, {"state": v["state"]})
        resp = redirect(target, 302) if not frames else _page(frames, target)
    else:
        resp = _page(frames, "")
    clear_session_cookie(provider, resp)
    resp.headers["Cache-Control"] = "no-store"
    return resp


CONFIRM_FIELD = "logout_confirm"
_CARRIED = ("client_id", "post_logout_redirect_uri", "state", "ui_locales")


def confirm_token(session: Session) -> str:
    """The confirmation form's CSRF token: derived from the session cookie, which
    another site can neither read nor send cross-site (HttpOnly, SameSite=Lax)."""
    return hmac.new(session.cookie.encode(), b"end_session confirm",
                    hashlib.sha256).hexdigest()


def _confirmed(session: Session, claims: dict[str, Any] | None, v: Any) -> bool:
    """An ID token of this person as the hint, or the confirmation form posted."""
    if claims is not None and claims.get("sub") == session.sub:
        return True
    given = v.get(CONFIRM_FIELD, "") if request.method == "POST" else ""
    return hmac.compare_digest(given.encode(), confirm_token(session).encode())


def _confirm_page(provider: Provider, session: Session, client_id: str,
                  target: str) -> Response:
    t = texts()
    values = {**request.values.to_dict(), "client_id": client_id}
    fields = [(k, values[k]) for k in _CARRIED if values.get(k)]
    client = provider.clients.get(client_id)
    if target:
        allow_form_target(target)
    log.info("logout asks for confirmation client=%s rid=%s", client_id or "-", request_id())
    audit("logout", sub=session.sub, client=client_id, outcome="confirmation_asked")
    resp = Response(render_template(
        "confirm_logout.html", t=t, lang=page_lang(), heading=t["confirm_logout_title"],
        action=request.path, csrf=confirm_token(session), fields=fields,
        client_name=(client.settings.name or client_id) if client else ""),
        mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _bad(message: str) -> Response:
    return error_response(400, "invalid_request", message, advice=texts()["bad_request"])


def _page(frames: list[str], continue_url: str) -> Response:
    """The logged-out page; it loads the apps' front-channel logout URLs, then
    continues to the app's post_logout_redirect_uri if there is one."""
    allow_frames(frames)
    return Response(render_template("logged_out.html", t=texts(), lang=page_lang(),
                                    heading=texts()["logged_out_title"], frames=frames,
                                    continue_url=continue_url), mimetype="text/html")
