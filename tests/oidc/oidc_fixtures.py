"""Fixtures for the OIDC-layer and web tests: a bridge app over the memory store and the
fake upstream, with an injectable clock."""

from __future__ import annotations

import pytest
from fakes import FakeClock, FakeUpstream, settings_toml

from wecom_oidc.app import create_app
from wecom_oidc.store import MemoryStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
def build_app(make_settings, keyring, clock, upstream):
    """build_app(issuer=..., extra=...) -> (app, store), sharing clock and keys."""

    def build(issuer: str | None = None, extra: str = "", env: dict[str, str] | None = None):
        text = settings_toml(issuer, extra) if issuer else settings_toml(extra=extra)
        settings = make_settings(text, env)
        store = MemoryStore(clock=clock)
        app = create_app(settings, store=store, upstream=upstream, keys=keyring, clock=clock)
        return app, store

    return build


@pytest.fixture
def app(build_app):
    return build_app()[0]


@pytest.fixture
def http(app):
    return app.test_client()
