"""OIDC-layer fixtures (shared with tests/web)."""

from oidc_fixtures import app, build_app, clock, http, upstream  # noqa: F401
