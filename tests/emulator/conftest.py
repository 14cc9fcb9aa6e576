"""Fixtures for the WeCom emulator: a Flask test client for unit tests, a real loopback
server for the end-to-end ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emu_support import CORP, SECRET
from flask import Flask
from flask.testing import FlaskClient

from wecom_oidc.emulator.app import create_emulator_app
from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(trusted_domains=["bridge.example.com"])


@pytest.fixture
def app(config: EmulatorConfig) -> Flask:
    return create_emulator_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token(client: FlaskClient) -> str:
    body = client.get("/cgi-bin/gettoken", query_string={"corpid": CORP,
                                                         "corpsecret": SECRET}).json
    assert body["errcode"] == 0
    return body["access_token"]


@pytest.fixture
def live(config: EmulatorConfig) -> Iterator[str]:
    """The emulator on a real loopback socket; yields its base URL."""
    server, base_url = serve(config)
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
