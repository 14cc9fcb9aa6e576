"""CORS for browser-based apps (single-page apps on oidc-client-ts and the like: public
clients with PKCE, per the OAuth 2.0 for Browser-Based Apps BCP).

Discovery and the JWKS are public documents and answer any origin with `*` (views.py).
The token, userinfo and revocation endpoints answer only the origins a client may run
on: the origin of each public client's redirect URIs, plus any client's
`allowed_origins`. The request's Origin is echoed only when it is one of those, never
a wildcard and never a reflection of whatever came; `Vary: Origin` always, so no cache
hands one origin's answer to another. No credentials (cookies) are allowed: these
endpoints authenticate with the request itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

from ..config import Settings
from .headers import first_header

# endpoint -> the methods a browser app may use on it.
CORS_ENDPOINTS = {"bridge.token": "POST", "bridge.revoke": "POST",
                  "bridge.userinfo": "GET, POST"}
ALLOW_HEADERS = "Authorization, Content-Type"
EXPOSE_HEADERS = "WWW-Authenticate, Retry-After"
MAX_AGE = "600"


def origin_of(url: str) -> str:
    """scheme://host[:port] as a browser sends it in Origin (default port left out)."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origins(settings: Settings) -> frozenset[str]:
    """Every origin some client may call the browser endpoints from."""
    origins: set[str] = set()
    for client in settings.clients:
        if client.is_public:
            origins.update(origin_of(u) for u in client.redirect_uris
                           if u.startswith(("http://", "https://")))
        origins.update(origin_of(o) for o in client.allowed_origins)
    return frozenset(origins)


def add_vary_origin(resp: Response) -> None:
    """`Vary: Origin`, kept with whatever the response already varies on (what
    `resp.vary.add` does, without parsing the header into a set and writing it back;
    a response without Vary, the usual case, has it appended, not searched for twice)."""
    vary = first_header(resp.headers, "Vary")
    if vary is None:
        resp.headers.add("Vary", "Origin")
    elif not vary:
        resp.headers["Vary"] = "Origin"
    elif "origin" not in (v.strip().lower() for v in vary.split(",")):
        resp.headers["Vary"] = vary + ", Origin"


def init_app(app: Flask, settings: Settings) -> None:
    allowed = allowed_origins(settings)

    @app.after_request
    def _cors(resp: Response) -> Response:
        # The request itself, not the proxy: every hook of every request comes here.
        req = request._get_current_object()  # type: ignore[attr-defined]
        methods = CORS_ENDPOINTS.get(req.endpoint or "")
        if methods is None:
            return resp
        add_vary_origin(resp)
        origin = req.environ.get("HTTP_ORIGIN", "")  # what req.headers.get("Origin") reads
        if origin not in allowed:
            return resp
        h = resp.headers
        h["Access-Control-Allow-Origin"] = origin
        if req.method == "OPTIONS":
            h["Access-Control-Allow-Methods"] = methods
            h["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            h["Access-Control-Max-Age"] = MAX_AGE
        else:
            h["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return resp
