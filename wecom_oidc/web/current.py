"""The app's collaborators, as the views reach them: create_app puts the provider
and the upstream in app.extensions before registering the blueprints."""

from __future__ import annotations

from flask import current_app

from ..oidc.provider import Provider
from ..upstream.base import Upstream

PROVIDER = "wecom_oidc"
UPSTREAM = "wecom_oidc_upstream"


def provider() -> Provider:
    """This app's provider: Authlib's authorization server with the bridge's state."""
    found: Provider = current_app.extensions[PROVIDER]
    return found


def upstream() -> Upstream:
    """This app's upstream login (WeCom)."""
    found: Upstream = current_app.extensions[UPSTREAM]
    return found
