"""The web tests reuse the OIDC layer's fakes and fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import flask
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "oidc"))

from oidc_fixtures import app, build_app, clock, http, upstream  # noqa: E402, F401


@pytest.fixture
def views(app):  # noqa: F811 (the fixture, not a redefinition)
    """The paths of the requests Flask itself handled (not a WSGI front)."""
    seen: list[str] = []

    def started(sender, **extra):
        seen.append(flask.request.path)

    flask.request_started.connect(started, app)
    yield seen
    flask.request_started.disconnect(started, app)
