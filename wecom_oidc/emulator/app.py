"""`create_emulator_app(config)`: one Flask app serving the paths of all of WeCom's hosts.

The bridge points api_base_url at BASE, authorize_url at BASE/connect/oauth2/authorize and
web_login_url at BASE/wwlogin/sso/login. It imports flask, werkzeug and the standard library
only, never the bridge's WeCom client, so a misreading there cannot be mirrored here.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from . import api, control, pages
from .config import EmulatorConfig
from .faults import DropMiddleware
from .state import EmulatorState


def create_emulator_app(config: EmulatorConfig, *,
                        clock: Callable[[], float] | None = None) -> Flask:
    """The emulator as a WSGI app. `clock` (seconds, like time.time) is for unit tests;
    without it /_emulator/advance moves time forward."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep WeCom's key order
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # raw UTF-8, as WeCom sends
    app.extensions["wecom_emulator"] = EmulatorState(config, clock)
    app.register_blueprint(api.bp)
    app.register_blueprint(control.bp)
    pages.init_app(app)
    app.wsgi_app = DropMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    return app
