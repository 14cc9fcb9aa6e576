"""Every failure mapped to a response in one place: an HTML page for people, a
JSON error for programs. Secrets never reach either, nor the log."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Flask, Response, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import (
    AccessDenied,
    LoginFromOtherBrowser,
    LoginStateError,
    MalformedParameter,
    RequestTooLarge,
    StoreUnavailable,
    TooManyRequests,
    UpstreamError,
)
from ..ops.audit import audit
from .i18n import page_lang, reason_text, texts

log = logging.getLogger("wecom_oidc.web")

PROGRAM_PATHS = ("/token", "/device/code", "/userinfo", "/revoke", "/introspect", "/jwks.json",
                 "/.well-known/openid-configuration", "/healthz", "/readyz")


# What a trusted proxy's X-Request-Id may be: enough for nginx's $request_id or a UUID,
# nothing that could forge a log line.
PROXY_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def front_request_id(environ: dict[str, Any], trust_proxy: bool) -> str:
    """request_id() for an answer given in front of Flask (web/*_front.py): a trusted
    proxy's X-Request-Id as ops/hooks.py takes it, else one made here."""
    given = environ.get("HTTP_X_REQUEST_ID", "") if trust_proxy else ""
    return given if given and PROXY_REQUEST_ID.match(given) else secrets.token_hex(6)


def request_id() -> str:
    """This request's id (X-Request-Id, log lines): a trusted proxy's, else made here."""
    # The globals themselves, not the proxy: every request asks at least once.
    ctx_g = g._get_current_object()
    rid: str | None = ctx_g.get("request_id")
    if rid is None:
        rid = ctx_g.request_id = secrets.token_hex(6)
    return rid


def wants_json() -> bool:
    """Programs get JSON: the machine endpoints, and anyone preferring JSON to HTML."""
    if request.path.endswith(PROGRAM_PATHS):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, error: str, message: str, *, heading: str = "error",
                   hint: str = "", errcode: int | None = None, advice: str = "",
                   back_url: str = "") -> Response:
    """The one renderer for error pages and JSON errors."""
    if wants_json():
        body: dict[str, str | int] = {"error": error, "error_description": message}
        if errcode is not None:
            body["errcode"] = errcode
        if hint:
            body["hint"] = hint
        resp = jsonify(body)
    else:
        t = texts()
        resp = Response(render_template(
            "error.html", t=t, lang=page_lang(), heading=t[heading], message=message,
            advice=advice, hint=hint, errcode=errcode, back_url=back_url,
            request_id=request_id()), mimetype="text/html")
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def oauth_error_page(err: OAuth2Error) -> Response:
    """An authorization error we must not redirect (unknown client, bad redirect_uri)."""
    log.info("authorize refused error=%s description=%s rid=%s", err.error, err.description,
             request_id())
    return error_response(400, err.error, err.description or err.error,
                          advice=texts()["bad_request"])


def denied_page(e: AccessDenied, back_url: str = "") -> Response:
    log.warning("login denied reason=%s errcode=%s rid=%s", e.detail, e.code, request_id())
    audit("denied", outcome="denied", reason=e.reason, errcode=e.code)
    return error_response(403, "access_denied", reason_text(e.reason, e.code),
                          heading="denied", hint=e.hint,
                          errcode=e.code, back_url=back_url)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AccessDenied)
    def _denied(e: AccessDenied) -> Response:
        return denied_page(e)

    @app.errorhandler(UpstreamError)
    def _upstream(e: UpstreamError) -> Response:
        log.error("upstream error status=%s errcode=%s detail=%s rid=%s", e.status, e.code,
                  e.detail, request_id())
        audit("login", outcome="error", reason=e.reason, errcode=e.code)
        resp = error_response(e.status, "upstream_error",
                              reason_text(e.reason, e.code), hint=e.hint,
                              errcode=e.code,
                              advice=texts()["restart"])
        if e.status == 503:  # rate limited or directory down: both pass within a minute
            resp.headers["Retry-After"] = "60" if e.reason == "rate_limited" else "5"
        return resp

    @app.errorhandler(LoginStateError)
    def _state(e: LoginStateError) -> Response:
        t = texts()
        audit("login", outcome="error", reason="other_browser" if isinstance(
            e, LoginFromOtherBrowser) else "invalid_state")
        if isinstance(e, LoginFromOtherBrowser):
            log.warning("callback opened in a browser that did not start the login "
                        "(possible login CSRF); nothing changed rid=%s", request_id())
            return error_response(400, "invalid_state", t["other_browser"],
                                  advice=t["restart_here"])
        log.info("callback with unknown or used login state rid=%s", request_id())
        return error_response(400, "invalid_state", t["login_state"], advice=t["restart"])

    @app.errorhandler(RequestTooLarge)
    def _too_large(e: RequestTooLarge) -> Response:
        log.info("request refused: %s rid=%s", e, request_id())
        return error_response(400, "invalid_request",
                              texts()["too_long"].format(name=e.name, limit=e.limit),
                              advice=texts()["bad_request"])

    @app.errorhandler(TooManyRequests)
    def _too_many(e: TooManyRequests) -> Response:
        log.warning("rate limited rule=%s ip=%s retry_after=%d rid=%s", e.rule,
                    request.remote_addr, e.retry_after, request_id())
        t = texts()
        resp = error_response(429, "temporarily_unavailable",
                              t["too_many"].format(seconds=e.retry_after),
                              advice=t["too_many_advice"])
        resp.headers["Retry-After"] = str(e.retry_after)
        return resp

    @app.errorhandler(MalformedParameter)
    def _malformed(e: MalformedParameter) -> Response:
        log.info("request refused: %s rid=%s", e, request_id())
        return error_response(400, "invalid_request", texts()["malformed"].format(name=e.name),
                              advice=texts()["bad_request"])

    @app.errorhandler(StoreUnavailable)
    def _store(e: StoreUnavailable) -> Response:
        log.error("state store unavailable: %s rid=%s", e, request_id())
        resp = error_response(503, "temporarily_unavailable", texts()["store_down"])
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response:
        message = texts()["not_found"] if e.code == 404 else (e.description or e.name)
        resp = error_response(e.code or 500, e.name.lower().replace(" ", "_"), message)
        # Keep the exception's own headers (Allow on 405, WWW-Authenticate on 401...).
        for name, value in e.get_headers():
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(Exception)
    def _crash(e: Exception) -> Response:
        log.exception("unhandled error rid=%s", request_id())
        return error_response(500, "server_error", texts()["internal"])
