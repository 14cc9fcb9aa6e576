"""Fixtures for the ops tests: WeCom emulators on loopback ports, a keys folder."""

from __future__ import annotations

import pytest

from wecom_oidc.emulator.config import EmulatorConfig
from wecom_oidc.emulator.server import serve
from wecom_oidc.oidc.keys import generate_key


@pytest.fixture
def emulator():
    """start(**EmulatorConfig fields) -> base URL; every server is shut down after."""
    servers = []

    def start(**config) -> str:
        server, url = serve(EmulatorConfig(**config))
        servers.append(server)
        return url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def keys_dir(tmp_path):
    path = tmp_path / "keys"
    generate_key(path)
    return path
