"""The ceiling: a minimal Flask app with the four bridge round trips of a login
(authorize, callback, token, userinfo), each answering a constant, under the same
gunicorn settings as `wecom-oidc serve`. What the framework and server cost here."""

from __future__ import annotations

import argparse

from flask import Flask, jsonify, redirect

from wecom_oidc.cli import gunicorn_options, run_gunicorn

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    run_gunicorn(create_app, gunicorn_options(bind=args.bind, workers=args.workers,
                                              threads=args.threads, graceful_timeout=5))


if __name__ == "__main__":
    main()
