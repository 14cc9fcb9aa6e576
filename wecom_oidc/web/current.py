"""The app's collaborators, as the views reach them: create_app puts the provider
and the upstream in app.extensions before registering the blueprints."""

from __future__ import annotations

from flask import Flask, current_app

from ..oidc.provider import Provider
from ..upstream.base import Upstream

PROVIDER = "wecom_oidc"
UPSTREAM = "wecom_oidc_upstream"


def provider() -> Provider:
    """This app's provider: Authlib's authorization server with the bridge's state."""
    found: Provider = _app().extensions[PROVIDER]
    return found


def upstream() -> Upstream:
    """This app's upstream login (WeCom)."""
    found: Upstream = _app().extensions[UPSTREAM]
    return found


def _app() -> Flask:
    # The app itself, not the proxy: an attribute read through current_app costs
    # several times this call, and every view asks.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app
