"""The everyday code exchange answered in front of Flask: a POST of a plain form with
grant_type=authorization_code from a server-side caller (no Origin: no CORS) whose
client authenticates cleanly (client_secret_basic, client_secret_post, or a public
client by its id), within its rate limits. Every relying party makes this call once
per login; through Flask it cost a request context, the URL map, werkzeug's form
parser and every hook, about half of its CPU beside the ID token's signature.

The exchange itself is Authlib's, as the view runs it (CodeGrant.exchange): the same
checks of the code, redirect_uri and PKCE, in the same order. Anything the front does
not answer goes to Flask with what was already done passed along: the rate-limit
decisions (counted once), the body (read again from a copy) and, once the code has
been taken, the outcome to answer (a refused exchange must not take the code a second
time: that would look like a replay and revoke the login).

The answer is the view's, byte for byte, with the headers the hooks give it, its
audit line and token metric (tests compare the two paths).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from ..config import AUTHORIZATION_CODE
from ..oidc.client_auth import basic_credentials
from ..oidc.models import Client
from ..oidc.provider import RESPONSE_JSON, FormRequest, Provider
from ..ops.audit import audit_request
from ..ratelimit import RateLimiter
from .errors import front_request_id
from .headers import EVERY_RESPONSE, NOT_A_PAGE
from .params import MAX_BODY, check_values
from .rate_limits import FRONT_DECISIONS as DECISIONS
from .rate_limits import basic_user

# Set for the token view when the front ran the exchange and it was refused (an
# OAuth2Error) or failed (a store outage): the view answers that; no header can set it.
OUTCOME = "wecom_oidc.token_outcome"
FORM = "application/x-www-form-urlencoded"
# Authlib's token response headers, then the hooks' (ops: request id; CORS: Vary;
# web/headers.py), as the Flask path writes them.
_HEAD = [("Content-Type", "application/json")]
_TAIL = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
_HOOKS = [("Vary", "Origin"), *EVERY_RESPONSE, NOT_A_PAGE]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TokenFront:
    """WSGI middleware: the everyday code exchange at `path` (the issuer's /token)
    answered here, everything else by `app`."""

    def __init__(self, app: WsgiApp, path: str, provider: Provider, limiter: RateLimiter,
                 hits: Callable[[str, str], list[tuple[str, str, int]]],
                 on_issued: Callable[[str], None],
                 on_request: Callable[[], None] = lambda: None, proxy_ids: bool = False):
        self.app, self._path = app, path
        self._provider, self._limiter, self._hits = provider, limiter, hits
        self._on_issued, self._on_request = on_issued, on_request
        self._proxy_ids = proxy_ids  # [server] proxy_hops: a proxy's X-Request-Id is kept

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        get = environ.get
        if (get("PATH_INFO") != self._path or get("REQUEST_METHOD") != "POST"
                or get("CONTENT_TYPE") != FORM or get("QUERY_STRING")
                or "HTTP_ORIGIN" in environ):
            return self.app(environ, start_response)
        form = read_form(environ)
        if form is None or form.get("grant_type") != AUTHORIZATION_CODE or "code" not in form:
            return self.app(environ, start_response)
        auth = get("HTTP_AUTHORIZATION")
        if auth is not None and auth[:6].lower() != "basic ":
            return self.app(environ, start_response)
        self._on_request()
        ip = get("REMOTE_ADDR") or "-"
        try:
            # Counted before the secret is looked at, as the Flask hook does: a client
            # locked out by guesses is refused whatever it sends.
            decisions = self._limiter.hit_many(self._hits(
                ip, basic_user(auth) if auth else form.get("client_id", "")))
        except Exception:  # a store outage: Flask meets it again and maps it (503)
            return self.app(environ, start_response)
        environ[DECISIONS] = decisions  # whatever Flask answers, counted once
        if not all(d.allowed for d in decisions):
            return self.app(environ, start_response)  # the 429
        found = self._client(environ, auth, form)
        if found is None:  # Flask refuses it, counts the failure and holds the answer
            return self.app(environ, start_response)
        request = FormRequest(form, *found)
        try:
            token = self._provider.exchange_code(request)
        except Exception as e:  # refused (OAuth2Error) or failed: Flask answers it
            environ[OUTCOME] = e
            return self.app(environ, start_response)
        self._on_issued(AUTHORIZATION_CODE)
        rid = front_request_id(environ, self._proxy_ids)
        audit_request("token", ip, rid, sub=request.user.sub, client=found[0].client_id,
                      outcome="success", grant_type=AUTHORIZATION_CODE,
                      scope=token.get("scope", "").replace(" ", "+"))
        body = RESPONSE_JSON(token).encode()
        start_response("200 OK", [*_HEAD, ("Content-Length", str(len(body))), *_TAIL,
                                  ("X-Request-Id", rid), *_HOOKS])
        return [body]

    def _client(self, environ: dict[str, Any], auth: str | None, form: dict[str, str]
                ) -> tuple[Client, str] | None:
        """The client and method Authlib's client authentication would settle on, when
        it is unambiguous and succeeds: Basic credentials (and no secret in the form),
        the form's id and secret, or a public client's id alone; else None."""
        secret: str | None
        if auth is not None:
            client_id, secret = basic_credentials(environ)
            if not secret or "client_secret" in form:
                return None
            method = "client_secret_basic"
        else:
            client_id, secret = form.get("client_id"), form.get("client_secret")
            method = "client_secret_post" if secret else "none"
        client = self._provider.clients.get(client_id or "")
        if client is None or not client.check_endpoint_auth_method(method, "token"):
            return None
        if secret is not None and not client.check_client_secret(secret):
            return None
        return client, method


def read_form(environ: dict[str, Any]) -> dict[str, str] | None:
    """The request's form as the Flask path reads it (werkzeug's parser, empty values
    dropped, web/params.py's checks), leaving a copy of the body for Flask; None when
    Flask should judge it: no or too long a body, not UTF-8, a name sent twice, a
    parameter params.py refuses."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    try:
        body = environ["wsgi.input"].read(length)
    except Exception:  # the client went away: Flask finds the body short (400)
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    if len(body) != length:
        return None
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, errors="strict")
        pairs = [(name, value) for name, value in pairs if value != ""]
        check_values(pairs)
    except Exception:  # UnicodeDecodeError, RequestTooLarge, MalformedParameter
        return None
    form = dict(pairs)
    return form if len(form) == len(pairs) else None
