"""The HTTP endpoints. The only layer that touches flask.request; the protocol
decisions stay in Authlib (oidc/) and the WeCom ones in the upstream."""

from __future__ import annotations

import logging
import secrets

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, jsonify, redirect, request

from ..errors import LoginCancelled, LoginStateError, UpstreamDenied
from ..oidc.provider import Provider
from ..upstream.base import Upstream
from .errors import denied_page, oauth_error_page, request_id

log = logging.getLogger("wecom_oidc.web")

LOGIN = "login"


def new_login_state() -> str:
    """192 random bits as hex: within WeCom's state rule (a-zA-Z0-9, at most 128
    bytes, wecom-api.md §2) and cheaper than picking characters one by one."""
    return secrets.token_hex(24)


def _public(resp: Response, max_age: int = 300) -> Response:
    """Discovery and keys are public: cacheable and readable by browser apps."""
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp


def make_blueprint(provider: Provider, upstream: Upstream) -> Blueprint:
    """The bridge's endpoints, bound to one provider and upstream."""
    bp = Blueprint("bridge", __name__)
    server, store, settings = provider.server, provider.store, provider.settings
    callback_url = provider.url("/wecom/callback")

    @bp.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return _public(jsonify(provider.discovery()))

    @bp.get("/jwks.json")
    def jwks() -> Response:
        return _public(jsonify(provider.keys.public_jwks()))

    @bp.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @bp.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Response:
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as err:
            return _authorization_error(err)
        state = new_login_state()
        store.put(LOGIN, state, {"params": request.values.to_dict()},
                  settings.tokens.login_state_ttl)
        target = upstream.login_url(
            state=state, callback_url=callback_url,
            user_agent=request.headers.get("User-Agent", ""),
            scopes=tuple((grant.request.scope or "").split()),
            lang=request.values.get("ui_locales", "") or (
                request.accept_languages.best_match(["zh", "en"]) or ""),
        )
        log.info("authorize client=%s -> upstream rid=%s", grant.request.client.client_id,
                 request_id())
        return redirect(target, 302)

    @bp.get("/wecom/callback")
    def wecom_callback() -> Response:
        state = request.args.get("state", "")
        pending = store.take(LOGIN, state) if 0 < len(state) <= 128 else None
        if pending is None:
            raise LoginStateError()
        oauth_request = provider.resumed_request(pending["params"])
        try:
            identity = upstream.complete_login(request.args)
        except LoginCancelled:
            return _respond(oauth_request, None)
        except UpstreamDenied as e:
            return denied_page(e, back_url=_respond(oauth_request, None).headers.get(
                "Location", ""))
        user = provider.user_for(identity)
        log.info("login client=%s sub=%s rid=%s", pending["params"].get("client_id"),
                 user.sub, request_id())
        return _respond(oauth_request, user)

    def _respond(oauth_request, user) -> Response:
        """Finish the saved authorization request: a code for `user`, or
        access_denied when there is none."""
        try:
            grant = server.get_consent_grant(request=oauth_request, end_user=user)
        except OAuth2Error as err:
            return _authorization_error(err)
        return provider.with_iss(server.create_authorization_response(
            request=oauth_request, grant_user=user, grant=grant))

    def _authorization_error(err: OAuth2Error) -> Response:
        # RFC 6749 §4.1.2.1: redirect only once client and redirect_uri are known good.
        if not err.redirect_uri:
            return oauth_error_page(err)
        status, _, headers = err()
        return provider.with_iss(Response(status=status, headers=headers))

    @bp.post("/token")
    def token() -> Response:
        return server.create_token_response()

    @bp.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        token_value = _bearer_token()
        claims = provider.userinfo(token_value) if token_value else None
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

    return bp


def _bearer_token() -> str:
    """RFC 6750: the Authorization header, or the form body of a POST."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if request.method == "POST":
        return request.form.get("access_token", "")
    return ""


def make_root_blueprint(verify_files: tuple[tuple[str, str], ...]) -> Blueprint:
    """WeCom's WW_verify_*.txt ownership files, served at the domain root (§9)."""
    bp = Blueprint("root", __name__)
    for i, (name, text) in enumerate(verify_files):
        # Flask endpoint names may not contain "."; every file name ends in ".txt".
        bp.add_url_rule("/" + name, endpoint=f"verify_file_{i}",
                        view_func=lambda text=text: Response(text, mimetype="text/plain"))
    return bp
