"""/userinfo answered in front of Flask when the request is the everyday one: GET with
a Bearer token that resolves, within its rate limits, from a server-side caller (no
Origin: no CORS), with no query or body. Resource servers and proxies (oauth2-proxy,
mod_auth_openidc, Grafana) call it on every session check; through
Flask each call cost a request context, the URL map and every hook, about a third of
its CPU. Everything else, and any answer but 200, goes to Flask as before, with what
was already decided passed along (the token's record, the rate-limit decisions) so
nothing is looked up or counted twice.

The answer is the view's, byte for byte, with the headers the hooks give it (a test
compares the two paths, so a hook added later that changes this answer fails there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..oidc.provider import Provider
from ..ratelimit import RateLimiter
from .access_token import FRONT_RECORD as RECORD
from .errors import front_request_id
from .headers import EVERY_RESPONSE, NOT_A_PAGE
from .rate_limits import FRONT_DECISIONS as DECISIONS
from .views import CLAIMS_JSON

# The view's headers, then the hooks' (ops: request id; CORS: Vary; web/headers.py).
_HEAD = [("Content-Type", "application/json")]
_TAIL = [("Vary", "Origin"), *EVERY_RESPONSE, NOT_A_PAGE, ("Pragma", "no-cache")]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class UserinfoFront:
    """WSGI middleware: the everyday GET `path` (the issuer's /userinfo) answered
    here, everything else by `app`."""

    def __init__(self, app: WsgiApp, path: str, provider: Provider, limiter: RateLimiter,
                 hits: Callable[[str, str], list[tuple[str, str, int]]],
                 on_request: Callable[[], None] = lambda: None, proxy_ids: bool = False):
        self.app, self._path = app, path
        self._provider, self._limiter, self._hits = provider, limiter, hits
        self._on_request = on_request
        self._proxy_ids = proxy_ids  # [server] proxy_hops: a proxy's X-Request-Id is kept

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        get = environ.get
        if (get("PATH_INFO") != self._path or get("REQUEST_METHOD") != "GET"
                or get("QUERY_STRING") or get("CONTENT_TYPE") or "HTTP_ORIGIN" in environ):
            return self.app(environ, start_response)
        auth = get("HTTP_AUTHORIZATION", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token:
            return self.app(environ, start_response)
        self._on_request()
        provider = self._provider
        try:
            record = provider.access_token_record(token)
            claims = provider.userinfo(record)
            if claims is not None:
                assert record is not None
                decisions = self._limiter.hit_many(
                    self._hits(get("REMOTE_ADDR") or "-", str(record.get("client_id", ""))))
        except Exception:  # a store outage: Flask meets it again and maps it (503)
            return self.app(environ, start_response)
        environ[RECORD] = record
        if claims is None:  # the view's 401 (and its rate limits) from Flask
            return self.app(environ, start_response)
        if not all(d.allowed for d in decisions):  # the 429 from Flask, counted once
            environ[DECISIONS] = decisions
            return self.app(environ, start_response)
        body = (CLAIMS_JSON(claims) + "\n").encode()  # the view's body, newline included
        rid = front_request_id(environ, self._proxy_ids)
        start_response("200 OK", [*_HEAD, ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store"), ("X-Request-Id", rid), *_TAIL])
        return [body]
