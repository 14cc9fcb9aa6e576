"""The HTTP endpoints. The only layer that touches flask.request; the protocol
decisions stay in Authlib (oidc/) and the WeCom ones in the upstream."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, jsonify, redirect, request

# werkzeug's Response: what redirect() returns (Flask's is a subclass of it).
from werkzeug.wrappers import Response

from ..errors import AccessDenied, LoginCancelled
from ..oidc.client_claims import for_client
from ..oidc.models import User
from ..oidc.provider import Provider, ResumedRequest
from ..oidc.session import Session
from ..ops.audit import audit, audit_context
from ..upstream.base import LoginRequest, Upstream, callback_has_fragment, callback_path
from .access_token import access_token_record, bearer_token
from .errors import denied_page, oauth_error_page, request_id
from .fragment import navigate_without_fragment
from .login_state import bind_browser, save_login, take_login
from .logout import add_logout_route
from .rate_limits import limit_client
from .session_check import still_member
from .session_cookie import session_cookie, set_session_cookie

log = logging.getLogger("wecom_oidc.web")


def make_blueprint(provider: Provider, upstream: Upstream) -> Blueprint:
    """The bridge's endpoints, bound to one provider and upstream."""
    bp = Blueprint("bridge", __name__)
    server, settings = provider.server, provider.settings
    callback = callback_path(upstream.name)
    callback_url = provider.url(callback)

    # Discovery and JWKS are answered in front of Flask (web/static_json.py, app.py).

    @bp.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @bp.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Response:
        session = provider.sessions.load(session_cookie(provider))
        user = _session_user(session, request.values)
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as err:
            return _authorization_error(err)
        if user is not None and session is not None:
            # A bridge session answers without another WeCom scan (prompt=none too).
            provider.sessions.add_client(session, grant.request.client.client_id)
            return _issue(grant, user)
        state, browser_key = save_login(provider, request.values)
        target = upstream.login_url(login_request(
            state, callback_url, scopes=tuple((grant.request.scope or "").split())))
        log.info("authorize client=%s -> upstream rid=%s", grant.request.client.client_id,
                 request_id())
        return bind_browser(provider, redirect(target, 302), browser_key)

    def _session_user(session: Session | None, params: Mapping[str, str]) -> User | None:
        """The session's person, unless this request demands a fresh WeCom login:
        prompt=login, max_age exceeded, or an id_token_hint naming someone else."""
        if session is None:
            return None
        if "login" in params.get("prompt", "").split():
            return None
        max_age = params.get("max_age", "")
        if max_age.isdigit() and (int(max_age) == 0 or
                                  provider.clock() - session.auth_time > int(max_age)):
            return None
        hint = params.get("id_token_hint")
        if hint:
            claims = provider.jwts.decode(hint, check_exp=False)
            if claims is None or claims.get("sub") != session.sub:
                return None
        return still_member(provider, session, session.user())

    @bp.get(callback, endpoint="upstream_callback")
    def upstream_callback() -> Response:
        resp = _finish_login()
        if callback_has_fragment(upstream, request.headers.get("User-Agent", "")):
            return navigate_without_fragment(resp)
        return resp

    def _finish_login() -> Response:
        params = take_login(provider, request.args.get("state", ""))
        limit_client(params.get("client_id", ""))  # before WeCom is asked anything
        oauth_request = provider.resumed_request(params)
        audit_context(client=params.get("client_id"))
        try:
            identity = upstream.complete_login(request.args)
        except LoginCancelled:
            audit("login", outcome="cancelled")
            return _respond(oauth_request, None)
        except AccessDenied as e:
            return denied_page(e, back_url=_respond(oauth_request, None).headers.get(
                "Location", ""))
        client_id = params.get("client_id", "")
        # A fresh login replaces whatever session this browser had.
        provider.sessions.end(session_cookie(provider))
        user = provider.user_for(identity)
        session = provider.sessions.start(sub=user.sub, claims=user.claims,
                                          identity=user.identity, auth_time=user.auth_time,
                                          client_id=client_id)
        user = session.user()
        log.info("login client=%s sub=%s rid=%s", client_id, user.sub, request_id())
        audit("login", sub=user.sub, outcome="success", sid=session.sid)
        resp = _respond(oauth_request, user)
        set_session_cookie(provider, resp, session.cookie)
        return resp

    def _respond(oauth_request: ResumedRequest, user: User | None) -> Response:
        """Finish the saved authorization request: a code for `user`, or
        access_denied when there is none."""
        try:
            grant = server.get_consent_grant(request=oauth_request, end_user=user)
        except OAuth2Error as err:
            return _authorization_error(err)
        return _issue(grant, user)

    def _issue(grant: Any, user: User | None) -> Response:
        """The authorization response of an already validated request, for `user`
        as this client sees them (claims, access policy) or access_denied."""
        if user is not None:
            try:
                user = for_client(settings, user, grant.request.client.client_id,
                                  grant.request.scope or "", provider.place)
            except AccessDenied as e:
                if "none" in grant.request.payload.data.get("prompt", "").split():
                    return _issue(grant, None)  # no page may be shown with prompt=none
                return denied_page(e, back_url=_issue(grant, None).headers.get("Location", ""))
        try:
            status, body, headers = grant.create_authorization_response(grant.redirect_uri, user)
        except OAuth2Error as err:
            err.state = grant.request.payload.state
            return _authorization_error(err)
        return server.authorization_response(status, body, headers)

    def _authorization_error(err: OAuth2Error) -> Response:
        # RFC 6749 §4.1.2.1: redirect only once client and redirect_uri are known good.
        if not err.redirect_uri:
            return oauth_error_page(err)
        return server.authorization_response(*err())

    @bp.post("/token")
    def token() -> Response:
        return server.create_token_response()

    @bp.post("/revoke")
    def revoke() -> Response:
        return server.create_endpoint_response("revocation")

    @bp.post("/introspect")
    def introspect() -> Response:
        resp = server.create_endpoint_response("introspection")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @bp.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        token_value = bearer_token()
        claims = provider.userinfo(access_token_record(provider))
        if claims is None:
            resp = jsonify(error="invalid_token",
                           error_description="The access token is missing, expired or revoked.")
            resp.status_code = 401
            challenge = 'Bearer error="invalid_token"' if token_value else "Bearer"
            resp.headers["WWW-Authenticate"] = challenge
        else:
            resp = jsonify(claims)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    add_logout_route(bp, provider)
    return bp


def login_request(state: str, callback_url: str, scopes: tuple[str, ...] = ()) -> LoginRequest:
    """The upstream's view of this browser's login: its user agent (in-app or
    desktop) and language (ui_locales first, then Accept-Language)."""
    return LoginRequest(state=state, callback_url=callback_url,
                        user_agent=request.headers.get("User-Agent", ""), scopes=scopes,
                        lang=request.values.get("ui_locales", "") or (
                            request.accept_languages.best_match(["zh", "en"]) or ""))


def make_root_blueprint(verify_files: tuple[tuple[str, str], ...]) -> Blueprint:
    """WeCom's WW_verify_*.txt ownership files, served at the domain root (§9)."""
    bp = Blueprint("root", __name__)
    for i, (name, text) in enumerate(verify_files):
        # Flask endpoint names may not contain "."; every file name ends in ".txt".
        bp.add_url_rule("/" + name, endpoint=f"verify_file_{i}",
                        view_func=lambda text=text: Response(text, mimetype="text/plain"))
    return bp
