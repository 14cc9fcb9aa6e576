"""The ceiling: a minimal Flask app with the four bridge round trips of a login
(authorize, callback, token, userinfo), each answering a constant, under the same
server settings as `wecom-oidc serve`. What the framework and server cost here.
`--bare`: the same answers from a plain WSGI callable, no Flask: the server alone."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, redirect

from wecom_oidc.config.settings import ServerSettings
from wecom_oidc.serving import ServerOptions, serve_wsgi

TOKEN = {"access_token": "a" * 43, "token_type": "Bearer", "expires_in": 3600,
         "id_token": "i" * 800}


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/authorize")
    def authorize():
        return redirect("http://127.0.0.1:1/wwlogin/sso/login?state=s", 302)

    @app.get("/wecom/callback")
    def callback():
        return redirect("https://rp.example/callback?code=c&state=s", 302)

    @app.post("/token")
    def token():
        return jsonify(TOKEN)

    @app.get("/userinfo")
    def userinfo():
        return jsonify(sub="zhangsan", name="Zhang San")

    return app


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The four answers (and /healthz) without a framework."""
    path = environ["PATH_INFO"]
    if path in _BARE_REDIRECTS:
        start_response("302 Found", [("Location", _BARE_REDIRECTS[path]),
                                     ("Content-Length", "0")])
        return []
    body = _BARE_JSON.get(path)
    if body is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return []
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


_BARE_REDIRECTS = {"/authorize": "http://127.0.0.1:1/wwlogin/sso/login?state=s",
                   "/wecom/callback": "https://rp.example/callback?code=c&state=s"}
_BARE_JSON = {"/healthz": b'{"status":"ok"}', "/token": json.dumps(TOKEN).encode(),
              "/userinfo": b'{"name":"Zhang San","sub":"zhangsan"}'}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    # `wecom-oidc serve`'s defaults ([server] workers and threads).
    parser.add_argument("--workers", type=int, default=ServerSettings.workers)
    parser.add_argument("--threads", type=int, default=ServerSettings.threads)
    parser.add_argument("--bare", action="store_true", help="no Flask: a plain WSGI app")
    args = parser.parse_args()
    factory = (lambda: bare_app) if args.bare else create_app
    serve_wsgi(factory, ServerOptions(bind=args.bind, workers=args.workers,
                                      threads=args.threads, graceful_timeout=5))


if __name__ == "__main__":
    main()
