"""The bridge's HTTP endpoints: one module-level blueprint, the only layer that
touches flask.request. Views find the provider and the upstream through the app
(web/current.py); the protocol decisions stay in Authlib and oidc/, the WeCom ones
in the upstream."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, jsonify, request
from flask import Response as FlaskResponse
from flask.blueprints import BlueprintSetupState

# werkzeug's Response: what the bare redirects are (Flask's is a subclass of it).
from werkzeug.wrappers import Response

from ..errors import AccessDenied, LoginCancelled
from ..oidc.authorization import (
    authorization_request,
    code_url,
    denied_url,
    error_url,
    resume,
)
from ..oidc.client_claims import for_client
from ..oidc.models import User
from ..oidc.provider import Provider
from ..oidc.session import Session
from ..oidc.tokens import json_encoder
from ..ops.audit import audit, audit_context
from ..upstream.base import LoginRequest, Upstream, callback_has_fragment, callback_path
from .access_token import access_token_record, bearer_token
from .current import UPSTREAM, provider, upstream
from .errors import denied_page, oauth_error_page, request_id
from .fragment import navigate_without_fragment
from .login_state import bind_browser, save_login, take_login
from .logout import end_session
from .rate_limits import limit_client
from .redirect import Redirect
from .session_check import still_member
from .session_cookie import session_cookie, set_session_cookie
from .token_front import OUTCOME as FRONT_OUTCOME

log = logging.getLogger("wecom_oidc.web")

bp = Blueprint("bridge", __name__)


@bp.record
def _callback_route(state: BlueprintSetupState) -> None:
    """The callback route is named by the app's upstream (/wecom/callback).
    Discovery and JWKS are answered in front of Flask (web/static_json.py, app.py)."""
    up: Upstream = state.app.extensions[UPSTREAM]
    state.add_url_rule(callback_path(up.name), "upstream_callback", upstream_callback,
                       methods=["GET"])


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    """Authlib validates the request; a bridge session answers it at once, else
    it is saved and the browser goes to the upstream login."""
    p = provider()
    req = request._get_current_object()  # type: ignore[attr-defined]
    oauth_request = authorization_request(p, req.method, req.headers, req.values.lists())
    params = oauth_request.payload.data
    session = p.sessions.load(session_cookie(p))
    user = _session_user(p, session, params)
    try:
        grant = p.get_consent_grant(oauth_request, end_user=user)
    except OAuth2Error as err:
        return _authorization_error(p, err)
    if user is not None and session is not None:
        # A bridge session answers without another WeCom scan (prompt=none too).
        p.sessions.add_client(session, grant.request.client.client_id)
        return _answer(grant, user)
    state, browser_key = save_login(p, params)
    up = upstream()
    target = up.login_url(login_request(state, p.url(callback_path(up.name)),
                                        scopes=tuple((grant.request.scope or "").split())))
    log.info("authorize client=%s -> upstream rid=%s", grant.request.client.client_id,
             request_id())
    return bind_browser(p, _redirect(target), browser_key)


def _session_user(p: Provider, session: Session | None,
                  params: Mapping[str, str]) -> User | None:
    """The session's person, unless this request demands a fresh WeCom login:
    prompt=login, max_age exceeded, or an id_token_hint naming someone else."""
    if session is None:
        return None
    if "login" in params.get("prompt", "").split():
        return None
    max_age = params.get("max_age", "")
    if max_age.isdigit() and (int(max_age) == 0 or
                              p.clock() - session.auth_time > int(max_age)):
        return None
    hint = params.get("id_token_hint")
    if hint:
        claims = p.jwts.decode(hint, check_exp=False)
        if claims is None or claims.get("sub") != session.sub:
            return None
    return still_member(p, session, session.user())


def upstream_callback() -> Response:
    """Back from the upstream login (the route is named by the upstream)."""
    resp = _finish_login()
    req = request._get_current_object()  # type: ignore[attr-defined]
    if callback_has_fragment(upstream(), _user_agent(req)):
        return navigate_without_fragment(resp)
    return resp


def _finish_login() -> Response:
    """Resume the saved authorization request once: a code for the person who
    signed in, or access_denied when they cancelled."""
    p = provider()
    params = take_login(p, request.args.get("state", ""))
    limit_client(params.get("client_id", ""))  # before WeCom is asked anything
    audit_context(client=params.get("client_id"))
    try:
        grant = resume(p, params)
    except OAuth2Error as err:
        return _authorization_error(p, err)
    try:
        identity = upstream().complete_login(request.args)
    except LoginCancelled:
        audit("login", outcome="cancelled")
        return _redirect(denied_url(grant))
    except AccessDenied as e:
        return denied_page(e, back_url=denied_url(grant))
    client_id = grant.request.client.client_id
    # A fresh login replaces whatever session this browser had.
    p.sessions.end(session_cookie(p))
    user = p.user_for(identity)
    session = p.sessions.start(sub=user.sub, claims=user.claims, identity=user.identity,
                               auth_time=user.auth_time, client_id=client_id)
    user = session.user()
    log.info("login client=%s sub=%s rid=%s", client_id, user.sub, request_id())
    audit("login", sub=user.sub, outcome="success", sid=session.sid)
    resp = _answer(grant, user)
    set_session_cookie(p, resp, session.cookie)
    return resp


def _answer(grant: Any, user: User) -> Response:
    """The authorization response of a validated request: a code for `user` as
    this client sees them (claims, access policy), or access_denied."""
    p: Provider = grant.server
    try:
        user = for_client(p.settings, user, grant.request.client.client_id,
                          grant.request.scope or "", p.place)
    except AccessDenied as e:
        if "none" in grant.request.payload.data.get("prompt", "").split():
            return _redirect(denied_url(grant))  # no page may be shown with prompt=none
        return denied_page(e, back_url=denied_url(grant))
    return _redirect(code_url(grant, user))


def _authorization_error(p: Provider, err: OAuth2Error) -> Response:
    # RFC 6749 §4.1.2.1: redirect only once client and redirect_uri are known good.
    if not err.redirect_uri:
        return oauth_error_page(err)
    return _redirect(error_url(p, err))


def _redirect(location: str) -> Response:
    """An authorization response, or the way to the upstream login (web/redirect.py)."""
    return Redirect(location)


@bp.post("/token")
def token() -> Response:
    # The token front (web/token_front.py) ran this exchange and it was refused or
    # failed: answered here with every hook, the code not taken a second time.
    outcome = request.environ.get(FRONT_OUTCOME)
    if isinstance(outcome, OAuth2Error):
        return provider().handle_error_response(None, outcome)
    if isinstance(outcome, Exception):
        raise outcome
    return provider().create_token_response()


@bp.post("/revoke")
def revoke() -> Response:
    return provider().create_endpoint_response("revocation")


@bp.post("/introspect")
def introspect() -> Response:
    resp = provider().create_endpoint_response("introspection")
    resp.headers["Cache-Control"] = "no-store"
    return resp


# What jsonify() writes (Flask's default JSON provider: sorted keys, compact, ASCII);
# the /userinfo front (userinfo_front.py) answers with the same.
CLAIMS_JSON = json_encoder(sort_keys=True, separators=(",", ":"))


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    p = provider()
    claims = p.userinfo(access_token_record(p))
    if claims is None:
        resp = jsonify(error="invalid_token",
                       error_description="The access token is missing, expired or revoked.")
        resp.status_code = 401
        challenge = 'Bearer error="invalid_token"' if bearer_token() else "Bearer"
        resp.headers["WWW-Authenticate"] = challenge
        resp.headers["Cache-Control"] = "no-store"
        return resp
    # jsonify()'s body, final newline included, without its per-call lookups of the
    # app's JSON provider; a new response has no Cache-Control to search for.
    resp = FlaskResponse(CLAIMS_JSON(claims) + "\n", content_type="application/json")
    resp.headers.add("Cache-Control", "no-store")
    return resp


bp.add_url_rule("/end_session", view_func=end_session, methods=["GET", "POST"])


def login_request(state: str, callback_url: str, scopes: tuple[str, ...] = ()) -> LoginRequest:
    """The upstream's view of this browser's login: its user agent (in-app or
    desktop) and language (ui_locales first, then Accept-Language)."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    lang = req.values.get("ui_locales", "")
    # Without an Accept-Language there is no match to look for (parsing and matching
    # nothing cost ~35k instructions).
    if not lang and req.environ.get("HTTP_ACCEPT_LANGUAGE"):
        lang = req.accept_languages.best_match(["zh", "en"]) or ""
    return LoginRequest(state=state, callback_url=callback_url, user_agent=_user_agent(req),
                        scopes=scopes, lang=lang)


def _user_agent(req: Any) -> str:
    return str(req.environ.get("HTTP_USER_AGENT", ""))  # what req.headers.get reads


def make_root_blueprint(verify_files: tuple[tuple[str, str], ...]) -> Blueprint:
    """WeCom's WW_verify_*.txt ownership files, served at the domain root (§9)."""
    bp = Blueprint("root", __name__)
    for i, (name, text) in enumerate(verify_files):
        # Flask endpoint names may not contain "."; every file name ends in ".txt".
        bp.add_url_rule("/" + name, endpoint=f"verify_file_{i}",
                        view_func=lambda text=text: Response(text, mimetype="text/plain"))
    return bp
